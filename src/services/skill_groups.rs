//! Routing configuration (skill groups, members, rules) and the supervisor board.

use super::routing::{RoutingError, RoutingService};
use crate::domain::routing::{AlertReason, AlertThresholds, MatchKind, RouteRule, Strategy};
use crate::ports::Clock;
use crate::ports::repositories::{
    AgentLoad, OpenChatTimes, RepoError, SkillGroupRecords, StoredGroup,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// The board's reply speed looks this far back.
const REPLY_WINDOW_MS: i64 = 15 * 60_000;

#[derive(Debug, Clone, Serialize)]
pub struct SkillGroup {
    pub id: String,
    pub name: String,
    pub strategy: Strategy,
    pub is_default: bool,
    pub overflow_group_id: Option<String>,
    pub overflow_after_ms: Option<i64>,
    pub members: Vec<Member>,
    pub waiting: i64,
    /// The longest wait of a chat in the queue now (since its first hand-off).
    pub longest_wait_ms: Option<i64>,
    pub alert_waiting: Option<i64>,
    pub alert_wait_ms: Option<i64>,
    /// The queue alert standing now: why, and since when it was raised.
    pub alert: Option<QueueAlert>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueueAlert {
    pub reason: AlertReason,
    /// When the sweeper raised it (None: past a threshold, not raised yet).
    pub since: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub agent_id: String,
    pub level: i64,
    pub weight: i64,
    pub assigned: i64,
}

/// A group as an admin writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupInput {
    pub name: String,
    pub strategy: Strategy,
    pub overflow_group_id: Option<String>,
    pub overflow_after_ms: Option<i64>,
    /// Alert supervisors at this many waiting chats (absent: never).
    #[serde(default)]
    pub alert_waiting: Option<i64>,
    /// Alert supervisors when a chat has waited this long (absent: never).
    #[serde(default)]
    pub alert_wait_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentStatus {
    pub agent_id: String,
    pub display_name: String,
    pub status: String,
    pub active: i64,
    pub max_chats: i64,
    /// Their answers to buyers in the last 15 minutes, over their current
    /// chats: how many, and the average time from the buyer's message.
    pub replies_15m: i64,
    pub reply_avg_15m_ms: Option<i64>,
}

impl From<AgentLoad> for AgentStatus {
    fn from(r: AgentLoad) -> Self {
        Self {
            agent_id: r.agent_id,
            display_name: r.display_name,
            status: r.status,
            active: r.active,
            max_chats: r.max_chats,
            replies_15m: 0,
            reply_avg_15m_ms: None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LiveChat {
    pub conversation_id: String,
    pub state: String,
    pub agent_id: Option<String>,
    pub group_id: Option<String>,
    /// Milliseconds in the queue so far (waiting chats).
    pub queued_ms: Option<i64>,
    /// Milliseconds the buyer's last message has gone unanswered.
    pub unanswered_ms: Option<i64>,
    /// Milliseconds from the buyer's last message to the agent's answer after it.
    pub last_reply_ms: Option<i64>,
}

impl LiveChat {
    fn from_times(r: OpenChatTimes, now: i64) -> Self {
        let buyer = r.last_buyer_at;
        let agent = r.last_agent_at;
        let unanswered = match (buyer, agent) {
            (Some(b), Some(a)) if a >= b => None,
            (Some(b), _) => Some(now - b),
            (None, _) => None,
        };
        Self {
            queued_ms: r.queued_since.map(|t| now - t),
            last_reply_ms: r.reply_at.zip(r.answered_buyer_at).map(|(a, b)| a - b),
            unanswered_ms: unanswered,
            conversation_id: r.conversation_id,
            state: r.state,
            agent_id: r.agent_id,
            group_id: r.group_id,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Board {
    pub groups: Vec<SkillGroup>,
    pub agents: Vec<AgentStatus>,
    pub chats: Vec<LiveChat>,
}

pub struct SkillGroups {
    records: Arc<dyn SkillGroupRecords>,
    /// Re-dispatches a group's queue once a change may let agents take more.
    routing: Arc<RoutingService>,
    clock: Arc<dyn Clock>,
}

fn not_found(e: RepoError, what: RoutingError) -> RoutingError {
    match e {
        RepoError::NotFound => what,
        other => RoutingError::Records(other),
    }
}

impl SkillGroups {
    pub fn new(
        records: Arc<dyn SkillGroupRecords>,
        routing: Arc<RoutingService>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            records,
            routing,
            clock,
        }
    }

    pub async fn list(&self) -> Result<Vec<SkillGroup>, RoutingError> {
        let mut out = Vec::new();
        for row in self.records.groups().await? {
            out.push(self.view(row).await?);
        }
        Ok(out)
    }

    async fn view(&self, row: StoredGroup) -> Result<SkillGroup, RoutingError> {
        let members = self.records.members(&row.id).await?;
        let queue = self.records.queue_waits(&row.id, 10_000).await?;
        let waiting = queue.len() as i64;
        let now = self.clock.now_ms();
        let longest_wait_ms = queue.iter().map(|since| now - since).max();
        let thresholds = AlertThresholds {
            waiting: row.alert_waiting,
            wait_ms: row.alert_wait_ms,
        };
        let alert = thresholds
            .check(waiting, longest_wait_ms)
            .map(|reason| QueueAlert {
                reason,
                since: row.alert_since,
            });
        Ok(SkillGroup {
            longest_wait_ms,
            alert_waiting: row.alert_waiting,
            alert_wait_ms: row.alert_wait_ms,
            alert,
            strategy: row.strategy,
            members: members
                .into_iter()
                .map(|m| Member {
                    agent_id: m.agent_id,
                    level: m.level,
                    weight: m.weight,
                    assigned: m.assigned,
                })
                .collect(),
            id: row.id,
            name: row.name,
            is_default: row.is_default,
            overflow_group_id: row.overflow_group_id,
            overflow_after_ms: row.overflow_after_ms,
            waiting,
        })
    }

    fn validate(&self, input: &GroupInput, own_id: Option<&str>) -> Result<(), RoutingError> {
        let n = input.name.trim().chars().count();
        if !(1..=64).contains(&n) {
            return Err(RoutingError::Invalid(
                "group name must be 1 to 64 characters".into(),
            ));
        }
        if input.overflow_group_id.is_some() != input.overflow_after_ms.is_some() {
            return Err(RoutingError::Invalid(
                "overflow_group_id and overflow_after_ms go together".into(),
            ));
        }
        if input
            .overflow_after_ms
            .is_some_and(|ms| !(1_000..=86_400_000).contains(&ms))
        {
            return Err(RoutingError::Invalid(
                "overflow_after_ms must be 1 s to 24 h".into(),
            ));
        }
        AlertThresholds::parse(input.alert_waiting, input.alert_wait_ms)
            .map_err(|e| RoutingError::Invalid(e.into()))?;
        if own_id.is_some() && input.overflow_group_id.as_deref() == own_id {
            return Err(RoutingError::Invalid(
                "a group cannot overflow into itself".into(),
            ));
        }
        Ok(())
    }

    pub async fn create(&self, input: GroupInput) -> Result<SkillGroup, RoutingError> {
        self.validate(&input, None)?;
        if let Some(target) = &input.overflow_group_id {
            self.records
                .group(target)
                .await
                .map_err(|e| not_found(e, RoutingError::GroupNotFound))?;
        }
        let row = StoredGroup {
            id: uuid::Uuid::now_v7().to_string(),
            name: input.name.trim().to_owned(),
            strategy: input.strategy,
            is_default: false,
            overflow_group_id: input.overflow_group_id,
            overflow_after_ms: input.overflow_after_ms,
            created_at: self.clock.now_ms(),
            alert_waiting: input.alert_waiting,
            alert_wait_ms: input.alert_wait_ms,
            alert_since: None,
        };
        self.records.add_group(&row).await.map_err(|e| match e {
            RepoError::AlreadyExists => RoutingError::GroupNameTaken,
            other => other.into(),
        })?;
        self.view(row).await
    }

    /// Changes a group's strategy, overflow and alerts, then dispatches its
    /// queue under the new settings. The group is shown as it was before that.
    pub async fn update(&self, id: &str, input: GroupInput) -> Result<SkillGroup, RoutingError> {
        self.validate(&input, Some(id))?;
        let mut row = self
            .records
            .group(id)
            .await
            .map_err(|e| not_found(e, RoutingError::GroupNotFound))?;
        if let Some(target) = &input.overflow_group_id {
            self.records
                .group(target)
                .await
                .map_err(|e| not_found(e, RoutingError::GroupNotFound))?;
        }
        row.strategy = input.strategy;
        row.overflow_group_id = input.overflow_group_id;
        row.overflow_after_ms = input.overflow_after_ms;
        row.alert_waiting = input.alert_waiting;
        row.alert_wait_ms = input.alert_wait_ms;
        self.records.update_group(&row).await?;
        let group = self.view(row).await?;
        self.routing.dispatch(id).await?;
        Ok(group)
    }

    /// Adds an agent to a group (or changes their level and weight), then
    /// dispatches the group's queue: the agent may take chats waiting there.
    pub async fn set_member(
        &self,
        group_id: &str,
        agent_id: &str,
        level: i64,
        weight: i64,
    ) -> Result<(), RoutingError> {
        if !(0..=100).contains(&level) || !(1..=10_000).contains(&weight) {
            return Err(RoutingError::Invalid(
                "level must be 0..100 and weight 1..10000".into(),
            ));
        }
        self.records
            .group(group_id)
            .await
            .map_err(|e| not_found(e, RoutingError::GroupNotFound))?;
        self.records
            .staff_exists(agent_id)
            .await
            .map_err(|e| not_found(e, RoutingError::AgentNotFound))?;
        self.records
            .set_member(group_id, agent_id, level, weight)
            .await?;
        self.routing.dispatch(group_id).await?;
        Ok(())
    }

    pub async fn remove_member(&self, group_id: &str, agent_id: &str) -> Result<(), RoutingError> {
        self.records
            .remove_member(group_id, agent_id)
            .await
            .map_err(|e| not_found(e, RoutingError::AgentNotFound))
    }

    pub async fn add_rule(
        &self,
        kind: MatchKind,
        pattern: &str,
        group_id: &str,
        priority: i64,
    ) -> Result<RouteRule, RoutingError> {
        let pattern = pattern.trim();
        if !(1..=200).contains(&pattern.chars().count()) {
            return Err(RoutingError::Invalid(
                "pattern must be 1 to 200 characters".into(),
            ));
        }
        self.records
            .group(group_id)
            .await
            .map_err(|e| not_found(e, RoutingError::GroupNotFound))?;
        let rule = RouteRule {
            id: uuid::Uuid::now_v7().to_string(),
            kind,
            pattern: pattern.to_owned(),
            group_id: group_id.to_owned(),
            priority,
        };
        self.records.add_rule(&rule, self.clock.now_ms()).await?;
        Ok(rule)
    }

    pub async fn delete_rule(&self, id: &str) -> Result<(), RoutingError> {
        self.records
            .delete_rule(id)
            .await
            .map_err(|e| not_found(e, RoutingError::RuleNotFound))
    }

    pub async fn agents(&self) -> Result<Vec<AgentStatus>, RoutingError> {
        Ok(self
            .records
            .agent_loads()
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    pub async fn board(&self) -> Result<Board, RoutingError> {
        let now = self.clock.now_ms();
        let rows = self.records.open_chats(500).await?;
        let mut agents = self.agents().await?;
        // Reply speed over the last 15 minutes, from each live chat's last answer.
        let mut speeds: HashMap<&str, (i64, i64)> = HashMap::new();
        for r in &rows {
            if let (Some(agent), Some(reply), Some(buyer)) =
                (r.agent_id.as_deref(), r.reply_at, r.answered_buyer_at)
                && reply >= now - REPLY_WINDOW_MS
            {
                let speed = speeds.entry(agent).or_default();
                speed.0 += 1;
                speed.1 += reply - buyer;
            }
        }
        for agent in &mut agents {
            if let Some((n, sum)) = speeds.get(agent.agent_id.as_str()) {
                agent.replies_15m = *n;
                agent.reply_avg_15m_ms = Some(sum / n);
            }
        }
        let chats = rows
            .into_iter()
            .map(|r| LiveChat::from_times(r, now))
            .collect();
        Ok(Board {
            groups: self.list().await?,
            agents,
            chats,
        })
    }
}
