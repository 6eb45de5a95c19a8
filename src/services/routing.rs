//! The routing engine: which group a handed-off chat joins, which agent gets it,
//! and telling the buyer where they stand. Assignment itself is one database
//! transaction (storage::assign), so any number of server processes may run
//! `dispatch` at once.

use super::chat::{Actor, ChatError, ChatService, ConversationView};
use super::events::{ChatEvent, EventPayload};
use super::hub::LiveFrame;
use super::staff::StaffUser;
use crate::domain::conversation::{ConversationId, ConversationState, Transition};
use crate::domain::message::Sender;
use crate::domain::routing::{
    self, AssignOutcome, AssignPlan, Candidate, GroupSnapshot, Head, Presence, QueueEntry,
    RouteHints, RouteRule, Strategy,
};
use crate::domain::staff::Permission;
use crate::ports::Clock;
use crate::ports::repositories::{RepoError, RoutingQueue, SkillGroupRecords};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A waiting chat with no queue entry for this long is put back in the queue.
const ORPHAN_GRACE_MS: i64 = 5_000;
/// Most assignments one dispatch makes before yielding.
const DISPATCH_BATCH: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum RoutingError {
    #[error("no such skill group")]
    GroupNotFound,
    #[error("no such agent")]
    AgentNotFound,
    #[error("no such routing rule")]
    RuleNotFound,
    #[error("visitor not found")]
    VisitorNotFound,
    #[error("a skill group with that name exists")]
    GroupNameTaken,
    #[error("{0}")]
    Invalid(String),
    #[error("the target agent is {0}")]
    AgentUnavailable(&'static str),
    #[error("stored routing data has a bad {0}")]
    Corrupt(&'static str),
    #[error(transparent)]
    Chat(#[from] ChatError),
    #[error(transparent)]
    Records(#[from] RepoError),
}

/// Where a waiting buyer stands; pushed over the conversation socket as it changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueStatus {
    pub conversation_id: String,
    pub group_id: String,
    /// 1 = next to be served.
    pub position: i64,
    /// None while no agent of the group is online: there is no wait to promise,
    /// the chat is kept and answered when someone comes online.
    pub expected_wait_ms: Option<i64>,
    /// Agents of the group online now; 0 tells the buyer nobody is there yet.
    pub agents_online: i64,
    pub vip: bool,
}

/// Where a transferred chat goes.
#[derive(Debug, Clone)]
pub enum TransferTarget {
    Agent(String),
    Group(String),
}

pub struct RoutingService {
    queue: Arc<dyn RoutingQueue>,
    /// The groups' settings and the agents' loads.
    groups: Arc<dyn SkillGroupRecords>,
    chat: Arc<ChatService>,
    clock: Arc<dyn Clock>,
    /// What was last pushed per waiting conversation, so only changes are sent.
    pushed: Mutex<HashMap<String, QueueStatus>>,
}

impl RoutingService {
    pub fn new<R>(records: Arc<R>, chat: Arc<ChatService>, clock: Arc<dyn Clock>) -> Self
    where
        R: RoutingQueue + SkillGroupRecords + 'static,
    {
        Self {
            queue: records.clone(),
            groups: records,
            chat,
            clock,
            pushed: Mutex::new(HashMap::new()),
        }
    }

    /// A waiting chat joins the queue of the group its hints route to (the
    /// default group otherwise), and an agent is assigned at once if one has
    /// room. Asking again is harmless. Only the conversation service's
    /// hand-off calls it, once the chat waits.
    pub async fn enqueue(
        &self,
        conversation_id: &ConversationId,
        hints: RouteHints,
    ) -> Result<ConversationView, RoutingError> {
        let conversation = self.chat.conversation(conversation_id).await?;
        if conversation.state != ConversationState::Waiting {
            return Ok(conversation);
        }
        let group_id = self.group_for(&hints).await?;
        let vip = hints.vip || self.queue.is_vip(conversation_id.as_str()).await?;
        self.queue_in(conversation_id.as_str(), &group_id, vip)
            .await?;
        self.dispatch(&group_id).await?;
        Ok(self.chat.conversation(conversation_id).await?)
    }

    async fn group_for(&self, hints: &RouteHints) -> Result<String, RoutingError> {
        let rules = self.rules().await?;
        if let Some(group) = routing::route(&rules, hints) {
            return Ok(group.to_owned());
        }
        match self.queue.default_group_id().await? {
            Some(group) => Ok(group),
            None => Err(RoutingError::GroupNotFound),
        }
    }

    async fn queue_in(
        &self,
        conversation_id: &str,
        group_id: &str,
        vip: bool,
    ) -> Result<(), RoutingError> {
        let group = match self.groups.group(group_id).await {
            Err(RepoError::NotFound) => return Err(RoutingError::GroupNotFound),
            other => other?,
        };
        let now = self.clock.now_ms();
        let overflow_at = group
            .overflow_group_id
            .and(group.overflow_after_ms)
            .map(|ms| now + ms);
        let entry = QueueEntry {
            conversation_id: conversation_id.to_owned(),
            group_id: group_id.to_owned(),
            vip,
            first_enqueued_at: now,
            group_since: now,
        };
        Ok(self.queue.enqueue(&entry, overflow_at).await?)
    }

    pub async fn rules(&self) -> Result<Vec<RouteRule>, RoutingError> {
        self.queue
            .rules()
            .await?
            .into_iter()
            .map(|r| {
                Ok(RouteRule {
                    kind: r
                        .match_kind
                        .parse()
                        .map_err(|_| RoutingError::Corrupt("routing rule kind"))?,
                    id: r.id,
                    pattern: r.pattern,
                    group_id: r.group_id,
                    priority: r.priority,
                })
            })
            .collect()
    }

    /// Assigns waiting chats of the group while agents have room; returns how many.
    pub async fn dispatch(&self, group_id: &str) -> Result<usize, RoutingError> {
        let mut assigned = 0;
        for _ in 0..DISPATCH_BATCH {
            let now = self.clock.now_ms();
            let decide = |head: &Head, group: &GroupSnapshot, candidates: &[Candidate]| {
                let strategy = group.strategy.parse().unwrap_or(Strategy::Saturation);
                let agent = routing::pick(strategy, candidates, group.rr_last_agent.as_deref())?;
                let payload = assignment_payload(&agent.agent_id);
                Some(AssignPlan {
                    agent_id: agent.agent_id.clone(),
                    sealed_body: self.chat.seal_payload(&head.conversation_id, &payload),
                })
            };
            match self.queue.assign_next(group_id, now, &decide).await? {
                AssignOutcome::Assigned(done) => {
                    metrics::counter!("xiaoer_routing_assignments_total").increment(1);
                    metrics::histogram!("xiaoer_routing_wait_seconds")
                        .record(done.waited_ms as f64 / 1000.0);
                    let event = ChatEvent {
                        conversation_id: done.conversation_id,
                        seq: done.seq,
                        sender: Sender::System,
                        client_msg_id: None,
                        created_at: now,
                        payload: assignment_payload(&done.agent_id),
                    };
                    self.chat
                        .publish_committed(event, ConversationState::WithAgent);
                    assigned += 1;
                }
                AssignOutcome::Stale => continue,
                AssignOutcome::Empty | AssignOutcome::NoAgent => break,
            }
        }
        self.push_positions(group_id).await?;
        Ok(assigned)
    }

    /// One round of background work; every process runs it on a timer.
    pub async fn sweep(&self) -> Result<(), RoutingError> {
        let now = self.clock.now_ms();
        if let Some(default) = self.queue.default_group_id().await? {
            self.queue
                .requeue_orphans(&default, now - ORPHAN_GRACE_MS)
                .await?;
        }
        self.queue.overflow_due(now).await?;
        for group in self.queue.busy_groups().await? {
            self.dispatch(&group).await?;
        }
        Ok(())
    }

    /// Runs `sweep` every `every` until shutdown flips.
    pub async fn run_sweeper(
        self: Arc<Self>,
        every: Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(error) = self.sweep().await {
                        tracing::warn!(%error, "routing sweep failed");
                    }
                }
                _ = shutdown.changed() => break,
            }
        }
    }

    /// Pushes each waiting buyer of the group their place and expected wait, when
    /// it changed since the last push from this process.
    async fn push_positions(&self, group_id: &str) -> Result<(), RoutingError> {
        let statuses = self.group_statuses(group_id).await?;
        let mut pushed = self.pushed.lock().expect("routing lock");
        // Forget this group's chats that left its queue, so a chat that comes back
        // is told its place again.
        pushed.retain(|id, last| {
            last.group_id != group_id || statuses.iter().any(|s| &s.conversation_id == id)
        });
        for status in statuses {
            if pushed.insert(status.conversation_id.clone(), status.clone()) == Some(status.clone())
            {
                continue;
            }
            let id = status.conversation_id.clone();
            self.chat
                .hub()
                .publish_to_conversation(&id, LiveFrame::Queue(Arc::new(status)));
        }
        Ok(())
    }

    async fn group_statuses(&self, group_id: &str) -> Result<Vec<QueueStatus>, RoutingError> {
        let entries = self.queue.queue_of(group_id, 1000).await?;
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let mean = self.queue.recent_mean_wait(group_id).await?;
        let online = self.queue.online_members(group_id).await?;
        Ok(entries
            .into_iter()
            .enumerate()
            .map(|(i, e)| QueueStatus {
                position: i as i64 + 1,
                expected_wait_ms: (online > 0)
                    .then(|| routing::expected_wait_ms(i as i64 + 1, mean, online)),
                agents_online: online,
                conversation_id: e.conversation_id,
                group_id: e.group_id,
                vip: e.vip,
            })
            .collect())
    }

    /// The buyer's place in the queue, or None when not waiting.
    pub async fn status(&self, conversation_id: &str) -> Result<Option<QueueStatus>, RoutingError> {
        let entry = match self.queue.queue_entry(conversation_id).await {
            Ok(entry) => entry,
            Err(RepoError::NotFound) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let statuses = self.group_statuses(&entry.group_id).await?;
        Ok(statuses
            .into_iter()
            .find(|s| s.conversation_id == conversation_id))
    }

    /// Presence changes; an agent coming online is offered waiting chats at once.
    pub async fn set_presence(
        &self,
        agent: &StaffUser,
        presence: Presence,
    ) -> Result<(), RoutingError> {
        self.queue
            .set_presence(&agent.id, presence.as_str(), self.clock.now_ms())
            .await?;
        if presence == Presence::Online {
            self.agent_freed(&agent.id).await?;
        }
        Ok(())
    }

    /// An agent has room again (a chat ended or moved): serve their groups.
    pub async fn agent_freed(&self, agent_id: &str) -> Result<(), RoutingError> {
        for group in self.queue.groups_of(agent_id).await? {
            self.dispatch(&group).await?;
        }
        Ok(())
    }

    /// After a claim, resolve, hand-back or close: drop a stale queue entry and
    /// let the previous owner take the next chat.
    pub async fn after_change(
        &self,
        conversation: &ConversationView,
        previous_agent: Option<&str>,
    ) -> Result<(), RoutingError> {
        if conversation.state != ConversationState::Waiting
            && let Ok(entry) = self.queue.queue_entry(&conversation.id).await
        {
            self.queue.dequeue(&conversation.id).await?;
            self.push_positions(&entry.group_id).await?;
        }
        if let Some(agent) = previous_agent {
            self.agent_freed(agent).await?;
        }
        Ok(())
    }

    /// Moves a chat to another agent or back into a group's queue, with a note
    /// only staff see. Owners transfer their own chats; supervisors any.
    pub async fn transfer(
        &self,
        staff: &StaffUser,
        id: &ConversationId,
        target: TransferTarget,
        note: Option<String>,
    ) -> Result<ConversationView, RoutingError> {
        let capacity = match &target {
            TransferTarget::Agent(agent_id) => Some(self.check_can_take(agent_id).await?),
            TransferTarget::Group(_) => None,
        };
        self.move_chat(staff, id, target, note, capacity).await
    }

    async fn move_chat(
        &self,
        staff: &StaffUser,
        id: &ConversationId,
        target: TransferTarget,
        note: Option<String>,
        capacity: Option<i64>,
    ) -> Result<ConversationView, RoutingError> {
        let conversation = self.chat.visible(Actor::Staff(staff), id).await?;
        let owner = conversation.agent_id.clone();
        if owner.as_deref() != Some(staff.id.as_str()) && !staff.can(Permission::ViewAllChats) {
            return Err(ChatError::Forbidden.into());
        }
        let sender = Sender::Agent {
            id: staff.id.clone(),
        };
        let moved = match target {
            // Within the target's capacity, under the routing lock.
            TransferTarget::Agent(agent_id) if let Some(capacity) = capacity => self
                .chat
                .hand_to_agent(
                    staff,
                    &conversation,
                    Transition::Transfer,
                    &agent_id,
                    capacity,
                    note,
                )
                .await
                .map_err(|e| match e {
                    ChatError::AtCapacity(_) => RoutingError::AgentUnavailable("at capacity"),
                    other => other.into(),
                })?,
            TransferTarget::Agent(agent_id) => {
                self.chat
                    .transition_with_note(
                        &conversation,
                        Transition::Transfer,
                        sender,
                        Some(agent_id),
                        note,
                    )
                    .await?
            }
            TransferTarget::Group(group_id) => {
                self.groups.group(&group_id).await.map_err(|e| match e {
                    RepoError::NotFound => RoutingError::GroupNotFound,
                    other => other.into(),
                })?;
                let moved = self
                    .chat
                    .transition_with_note(&conversation, Transition::Requeue, sender, None, note)
                    .await?;
                let vip = self.queue.is_vip(id.as_str()).await?;
                self.queue_in(id.as_str(), &group_id, vip).await?;
                self.dispatch(&group_id).await?;
                moved
            }
        };
        if let Some(previous) = owner {
            self.agent_freed(&previous).await?;
        }
        Ok(self.chat.conversation(id).await.unwrap_or(moved))
    }

    /// The target agent exists and is not offline; returns their capacity.
    async fn check_can_take(&self, agent_id: &str) -> Result<i64, RoutingError> {
        let loads = self.groups.agent_loads().await?;
        let agent = loads
            .iter()
            .find(|a| a.agent_id == agent_id)
            .ok_or(RoutingError::AgentNotFound)?;
        if agent.status == Presence::Offline.as_str() {
            return Err(RoutingError::AgentUnavailable("offline"));
        }
        if agent.active >= agent.max_chats {
            return Err(RoutingError::AgentUnavailable("at capacity"));
        }
        Ok(agent.max_chats)
    }

    /// A supervisor takes a chat over from whoever has it (capacity does not apply).
    pub async fn take_over(
        &self,
        supervisor: &StaffUser,
        id: &ConversationId,
    ) -> Result<ConversationView, RoutingError> {
        // No note: the event itself says it (a supervisor moved the chat to
        // themselves), and the console words it in the reader's language.
        let me = TransferTarget::Agent(supervisor.id.clone());
        self.move_chat(supervisor, id, me, None, None).await
    }

    /// Marks a buyer VIP (their chats go ahead in the queue) or not.
    pub async fn set_vip(&self, visitor_id: &str, vip: bool) -> Result<(), RoutingError> {
        match self.queue.set_visitor_vip(visitor_id, vip).await {
            Err(RepoError::NotFound) => Err(RoutingError::VisitorNotFound),
            other => Ok(other?),
        }
    }
}

fn assignment_payload(agent_id: &str) -> EventPayload {
    EventPayload::StateChanged {
        from: ConversationState::Waiting,
        to: ConversationState::WithAgent,
        agent_id: Some(agent_id.to_owned()),
        note: None,
    }
}
