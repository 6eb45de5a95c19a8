//! Conversations: starting them, appending messages (durably, once), changing
//! state, reading history, and telling connected participants.

use super::attachments::{AttachmentError, AttachmentService};
use super::events::{ChatEvent, EventPayload};
use super::hub::{Hub, LiveFrame};
use super::staff::StaffUser;
use super::visitors::Visitor;
use crate::crypto::Cipher;
use crate::domain::chat_log::{
    AppendOutcome, ClaimOutcome, ConversationScope, EventWrite, ForeignCommit, Handover, ReplySlot,
    StoredEvent, WriteKind,
};
use crate::domain::conversation::{
    Channel, ConversationId, ConversationState, SpeakGuard, Transition, TransitionError,
};
use crate::domain::message::{ClientMsgId, MessageBody, MessageText, Sender};
use crate::domain::staff::Permission;
use crate::ports::Clock;
use crate::ports::repositories::{CommitError, ConversationRecords, EventCommits, RepoError};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

pub const MAX_PAGE: i64 = 500;

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("conversation not found")]
    NotFound,
    #[error("you may not act on this conversation")]
    Forbidden,
    #[error("the conversation is closed")]
    Closed,
    #[error("you cannot write now: the conversation is {0}")]
    NotYourTurn(String),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error("the conversation changed meanwhile; reload and retry")]
    Conflict,
    #[error("agent is at capacity ({0} open chats)")]
    AtCapacity(i64),
    #[error("the app's reply window is closed: wait for the buyer's next message")]
    ReplyWindowClosed,
    #[error(transparent)]
    Attachment(#[from] AttachmentError),
    #[error("stored event could not be read: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Records(RepoError),
}

impl From<RepoError> for ChatError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::NotFound => ChatError::NotFound,
            other => ChatError::Records(other),
        }
    }
}

pub use crate::domain::chat_log::ConversationView;

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Ack {
    pub seq: i64,
    pub created_at: i64,
    pub duplicate: bool,
}

/// Who is acting on a conversation.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    Buyer(&'a Visitor),
    Staff(&'a StaffUser),
}

/// A committed buyer message: work for the bot (services::followups reads it
/// from the event stream).
#[derive(Debug, Clone)]
pub struct BuyerMessage {
    pub conversation_id: ConversationId,
    pub visitor_id: String,
    pub seq: i64,
    pub body: MessageBody,
}

pub struct ChatService {
    /// Also read by the chat lists (services::inbox).
    pub(super) records: Arc<dyn ConversationRecords>,
    cipher: Cipher,
    hub: Arc<Hub>,
    queue: Arc<dyn EventCommits<ChatEvent>>,
    attachments: Arc<AttachmentService>,
    clock: Arc<dyn Clock>,
}

impl ChatService {
    /// `queue` is the group commit, started with [`ChatService::on_commit`]
    /// for the same hub.
    pub fn new<R: ConversationRecords + 'static>(
        records: Arc<R>,
        queue: Arc<dyn EventCommits<ChatEvent>>,
        cipher: Cipher,
        hub: Arc<Hub>,
        attachments: Arc<AttachmentService>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            records,
            cipher,
            hub,
            queue,
            attachments,
            clock,
        }
    }

    /// What the group commit does with each new event, in commit order and
    /// before its acknowledgement: tell the live participants.
    pub fn on_commit(
        hub: Arc<Hub>,
    ) -> impl Fn(ChatEvent, &EventWrite, &AppendOutcome) + Send + 'static {
        move |mut event: ChatEvent, _write: &EventWrite, outcome: &AppendOutcome| {
            event.seq = outcome.seq;
            let state = outcome.state.parse().unwrap_or(ConversationState::Bot);
            let conversation_id = event.conversation_id.clone();
            hub.publish(
                &conversation_id,
                LiveFrame::Event(Arc::new(event)),
                state,
                outcome.agent_id.as_deref(),
            );
        }
    }

    pub async fn start_conversation(
        &self,
        visitor: &Visitor,
        channel: Channel,
    ) -> Result<ConversationView, ChatError> {
        let id = ConversationId::generate();
        let now = self.clock.now_ms();
        self.records
            .insert_conversation(
                id.as_str(),
                &visitor.id,
                channel.as_str(),
                ConversationState::Bot,
                now,
            )
            .await?;
        self.conversation(&id).await
    }

    pub async fn conversation(&self, id: &ConversationId) -> Result<ConversationView, ChatError> {
        Ok(self.records.conversation(id.as_str()).await?)
    }

    /// The conversation, if the actor may see it. Buyers see only their own; to
    /// them another buyer's conversation does not exist.
    pub async fn visible(
        &self,
        actor: Actor<'_>,
        id: &ConversationId,
    ) -> Result<ConversationView, ChatError> {
        let conversation = self.conversation(id).await?;
        match actor {
            Actor::Buyer(v) if conversation.visitor_id == v.id => Ok(conversation),
            Actor::Buyer(_) => Err(ChatError::NotFound),
            Actor::Staff(s) if staff_may_view(s, &conversation) => Ok(conversation),
            Actor::Staff(_) => Err(ChatError::Forbidden),
        }
    }

    pub async fn list(
        &self,
        scope: ConversationScope,
        limit: i64,
    ) -> Result<Vec<ConversationView>, ChatError> {
        Ok(self
            .records
            .conversations(&scope, limit.clamp(1, MAX_PAGE))
            .await?)
    }

    #[tracing::instrument(skip_all, fields(conversation = %id), err(level = "info"))]
    pub async fn send(
        &self,
        actor: Actor<'_>,
        id: &ConversationId,
        client_msg_id: Option<ClientMsgId>,
        body: MessageBody,
    ) -> Result<Ack, ChatError> {
        let conversation = self.visible(actor, id).await?;
        if let Some(attachment) = body.attachment() {
            self.attachments
                .ensure_linked(
                    id.as_str(),
                    attachment,
                    matches!(body, MessageBody::Voice { .. }),
                )
                .await?;
        }
        let (sender, guard) = match actor {
            Actor::Buyer(v) => {
                if conversation.state == ConversationState::Resolved {
                    // A buyer writing after resolution reopens the chat with the bot.
                    self.transition(&conversation, Transition::Reopen, Sender::System, None)
                        .await?;
                }
                (Sender::Buyer { id: v.id.clone() }, SpeakGuard::NotClosed)
            }
            Actor::Staff(s) => {
                let owner = conversation.agent_id.as_deref() == Some(s.id.as_str());
                if owner && conversation.channel == Channel::Api.as_str() {
                    // An app channel may allow only so many replies after the user's message.
                    let now = self.clock.now_ms();
                    if self.records.take_reply_slot(id.as_str(), now).await? == ReplySlot::Closed {
                        return Err(ChatError::ReplyWindowClosed);
                    }
                }
                (
                    Sender::Agent { id: s.id.clone() },
                    SpeakGuard::OwningAgent(s.id.clone()),
                )
            }
        };
        let payload = EventPayload::Message { body };
        let write = self.event_write(
            id,
            &sender,
            client_msg_id.as_ref(),
            &payload,
            WriteKind::Append { guard },
        );
        let event = self.event(&write, sender, payload);
        match self.queue.submit(write, event).await {
            Ok(outcome) => Ok(Ack {
                seq: outcome.seq,
                created_at: outcome.created_at,
                duplicate: outcome.duplicate,
            }),
            Err(CommitError::Refused { state }) if state == "closed" => Err(ChatError::Closed),
            Err(CommitError::Refused { state }) => Err(ChatError::NotYourTurn(state)),
            Err(CommitError::Records(e)) => Err(e.into()),
        }
    }

    /// The bot speaks, only while it owns the chat: once a human has it, this
    /// is refused atomically with `NotYourTurn`.
    pub async fn send_bot(&self, id: &ConversationId, body: MessageBody) -> Result<Ack, ChatError> {
        self.append(id, Sender::Bot, body, SpeakGuard::Bot).await
    }

    /// A system note (queue position, out-of-hours notice), accepted in any state.
    pub async fn post_system(&self, id: &ConversationId, text: String) -> Result<Ack, ChatError> {
        self.append(
            id,
            Sender::System,
            MessageBody::System { text },
            SpeakGuard::Any,
        )
        .await
    }

    async fn append(
        &self,
        id: &ConversationId,
        sender: Sender,
        body: MessageBody,
        guard: SpeakGuard,
    ) -> Result<Ack, ChatError> {
        let payload = EventPayload::Message { body };
        let write = self.event_write(id, &sender, None, &payload, WriteKind::Append { guard });
        let event = self.event(&write, sender, payload);
        match self.queue.submit(write, event).await {
            Ok(outcome) => Ok(Ack {
                seq: outcome.seq,
                created_at: outcome.created_at,
                duplicate: false,
            }),
            Err(CommitError::Refused { state }) => Err(ChatError::NotYourTurn(state)),
            Err(CommitError::Records(e)) => Err(e.into()),
        }
    }

    /// A piece of a bot answer being written; not stored (the committed answer is).
    pub fn stream_delta(&self, conversation: &ConversationView, stream_id: &str, delta: String) {
        let frame = LiveFrame::Stream {
            conversation_id: Arc::from(conversation.id.as_str()),
            stream_id: Arc::from(stream_id),
            delta,
        };
        self.hub.publish(
            &conversation.id,
            frame,
            conversation.state,
            conversation.agent_id.as_deref(),
        );
    }

    /// The buyer asks for a human.
    pub async fn request_agent(
        &self,
        visitor: &Visitor,
        id: &ConversationId,
    ) -> Result<ConversationView, ChatError> {
        let conversation = self.visible(Actor::Buyer(visitor), id).await?;
        if conversation.state == ConversationState::Waiting {
            return Ok(conversation); // asking twice is not an error
        }
        self.transition(
            &conversation,
            Transition::RequestAgent,
            Sender::Buyer {
                id: visitor.id.clone(),
            },
            None,
        )
        .await
    }

    /// An agent takes a waiting chat, within their capacity (checked under the
    /// same lock automatic routing uses, so the two never overfill an agent).
    pub async fn claim(
        &self,
        staff: &StaffUser,
        id: &ConversationId,
    ) -> Result<ConversationView, ChatError> {
        let conversation = self.visible(Actor::Staff(staff), id).await?;
        self.hand_to_agent(
            staff,
            &conversation,
            Transition::Claim,
            &staff.id,
            staff.max_chats,
            None,
        )
        .await
    }

    /// Moves a chat to `agent_id` (a claim, a transfer, a take-over) if they have
    /// room; the conversation must still be as `conversation` shows it.
    pub async fn hand_to_agent(
        &self,
        actor: &StaffUser,
        conversation: &ConversationView,
        transition: Transition,
        agent_id: &str,
        capacity: i64,
        note: Option<String>,
    ) -> Result<ConversationView, ChatError> {
        let to = conversation.state.apply(transition)?;
        let id = ConversationId::parse(&conversation.id).ok_or(ChatError::NotFound)?;
        let payload = EventPayload::StateChanged {
            from: conversation.state,
            to,
            agent_id: Some(agent_id.to_owned()),
            note,
        };
        let now = self.clock.now_ms();
        let sealed = self.seal_payload(id.as_str(), &payload);
        let handover = Handover {
            conversation_id: id.as_str(),
            from_state: conversation.state.as_str(),
            from_agent: conversation.agent_id.as_deref(),
            agent_id,
            sender_id: &actor.id,
            now,
            sealed_body: &sealed,
        };
        let seq = match self.records.claim_within_capacity(&handover).await? {
            ClaimOutcome::Claimed { seq } => seq,
            ClaimOutcome::AtCapacity => return Err(ChatError::AtCapacity(capacity)),
            ClaimOutcome::NotWaiting => return Err(ChatError::Conflict),
        };
        let event = ChatEvent {
            conversation_id: id.as_str().to_owned(),
            seq,
            sender: Sender::Agent {
                id: actor.id.clone(),
            },
            client_msg_id: None,
            created_at: now,
            payload,
        };
        self.publish_committed(event, to);
        self.conversation(&id).await
    }

    /// Resolve, hand back to the bot or close. Agents act on their own chats,
    /// supervisors on any.
    pub async fn change_state(
        &self,
        staff: &StaffUser,
        id: &ConversationId,
        transition: Transition,
    ) -> Result<ConversationView, ChatError> {
        let conversation = self.visible(Actor::Staff(staff), id).await?;
        let owns = conversation.agent_id.as_deref() == Some(staff.id.as_str());
        if !owns && !staff.can(Permission::ViewAllChats) {
            return Err(ChatError::Forbidden);
        }
        let keeps_agent = matches!(transition, Transition::Resolve | Transition::Close);
        let agent = if keeps_agent {
            conversation.agent_id.clone()
        } else {
            None
        };
        self.transition(
            &conversation,
            transition,
            Sender::Agent {
                id: staff.id.clone(),
            },
            agent,
        )
        .await
    }

    async fn transition(
        &self,
        current: &ConversationView,
        transition: Transition,
        sender: Sender,
        to_agent: Option<String>,
    ) -> Result<ConversationView, ChatError> {
        self.transition_with_note(current, transition, sender, to_agent, None)
            .await
    }

    /// A state change carrying an internal note (transfers); buyers never see notes.
    pub async fn transition_with_note(
        &self,
        current: &ConversationView,
        transition: Transition,
        sender: Sender,
        to_agent: Option<String>,
        note: Option<String>,
    ) -> Result<ConversationView, ChatError> {
        let to = current.state.apply(transition)?;
        let id = ConversationId::parse(&current.id).ok_or(ChatError::NotFound)?;
        let payload = EventPayload::StateChanged {
            from: current.state,
            to,
            agent_id: to_agent.clone(),
            note,
        };
        let kind = WriteKind::Transition {
            from: current.state,
            from_agent: current.agent_id.clone(),
            to,
            to_agent,
        };
        let write = self.event_write(&id, &sender, None, &payload, kind);
        let event = self.event(&write, sender, payload);
        match self.queue.submit(write, event).await {
            Ok(_) => self.conversation(&id).await,
            Err(CommitError::Refused { .. }) => Err(ChatError::Conflict),
            Err(CommitError::Records(e)) => Err(e.into()),
        }
    }

    /// Committed events after `after`, oldest first, at most `limit`.
    pub async fn events(
        &self,
        id: &ConversationId,
        after: i64,
        limit: i64,
    ) -> Result<Vec<ChatEvent>, ChatError> {
        let rows = self
            .records
            .events_after(id.as_str(), after.max(0), limit.clamp(1, MAX_PAGE))
            .await?;
        rows.into_iter().map(|row| self.open_event(row)).collect()
    }

    pub async fn mark_read(
        &self,
        actor: Actor<'_>,
        id: &ConversationId,
        seq: i64,
    ) -> Result<i64, ChatError> {
        let conversation = self.visible(actor, id).await?;
        let reader = match actor {
            Actor::Buyer(_) => "buyer".to_owned(),
            Actor::Staff(s) => format!("agent:{}", s.id),
        };
        let seq = self
            .records
            .mark_read(
                id.as_str(),
                &reader,
                seq.clamp(0, conversation.last_seq),
                self.clock.now_ms(),
            )
            .await?;
        let frame = LiveFrame::Read {
            conversation_id: Arc::from(id.as_str()),
            reader: Arc::from(reader),
            seq,
        };
        self.hub.publish(
            id.as_str(),
            frame,
            conversation.state,
            conversation.agent_id.as_deref(),
        );
        Ok(seq)
    }

    /// Typing indicators are not stored; the caller has checked access.
    pub fn typing(&self, conversation: &ConversationView, from: &'static str) {
        let frame = LiveFrame::Typing {
            conversation_id: Arc::from(conversation.id.as_str()),
            from,
        };
        self.hub.publish(
            &conversation.id,
            frame,
            conversation.state,
            conversation.agent_id.as_deref(),
        );
    }

    /// The name of the API channel the conversation came through, if any.
    pub async fn channel_name(&self, id: &str) -> Result<Option<String>, ChatError> {
        Ok(self.records.channel_name_of(id).await?)
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// An internal note ("whisper") on a conversation: staff see it, the buyer never does.
    pub async fn whisper(
        &self,
        staff: &StaffUser,
        id: &ConversationId,
        text: MessageText,
    ) -> Result<Ack, ChatError> {
        self.visible(Actor::Staff(staff), id).await?;
        let sender = Sender::Agent {
            id: staff.id.clone(),
        };
        let payload = EventPayload::Note { text };
        let kind = WriteKind::Append {
            guard: SpeakGuard::NotClosed,
        };
        let write = self.event_write(id, &sender, None, &payload, kind);
        let event = self.event(&write, sender, payload);
        match self.queue.submit(write, event).await {
            Ok(outcome) => Ok(Ack {
                seq: outcome.seq,
                created_at: outcome.created_at,
                duplicate: false,
            }),
            Err(CommitError::Refused { .. }) => Err(ChatError::Closed),
            Err(CommitError::Records(e)) => Err(e.into()),
        }
    }

    /// Seals an event body for a write made outside the commit queue (assignment).
    pub fn seal_payload(&self, conversation_id: &str, payload: &EventPayload) -> Vec<u8> {
        let plain = serde_json::to_vec(payload).expect("event payload serialises");
        self.cipher.seal(&plain, conversation_id.as_bytes())
    }

    /// Tells this node's sockets about the events other nodes commit (PostgreSQL
    /// with several nodes), until shutdown. Conversation sockets read what they
    /// lack from the database themselves; the staff feeds get every node's events
    /// from the committed-event stream (services::live).
    pub async fn relay_foreign_commits(
        self: Arc<Self>,
        mut commits: tokio::sync::mpsc::Receiver<ForeignCommit>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            let commit = tokio::select! {
                commit = commits.recv() => commit,
                _ = shutdown.changed() => None,
            };
            match commit {
                Some(ForeignCommit::Event {
                    conversation_id,
                    seq,
                }) => {
                    self.hub
                        .publish_to_conversation(&conversation_id, LiveFrame::Committed { seq });
                }
                Some(ForeignCommit::Resync) => self
                    .hub
                    .publish_everywhere(LiveFrame::Committed { seq: i64::MAX }),
                None => return,
            }
        }
    }

    /// Tells live participants about an event committed outside the commit queue.
    pub fn publish_committed(&self, event: ChatEvent, state: ConversationState) {
        let agent = match &event.payload {
            EventPayload::StateChanged { agent_id, .. } => agent_id.clone(),
            EventPayload::Message { .. } | EventPayload::Note { .. } => None,
        };
        let id = event.conversation_id.clone();
        self.hub.publish(
            &id,
            LiveFrame::Event(Arc::new(event)),
            state,
            agent.as_deref(),
        );
    }

    fn event_write(
        &self,
        id: &ConversationId,
        sender: &Sender,
        client_msg_id: Option<&ClientMsgId>,
        payload: &EventPayload,
        write: WriteKind,
    ) -> EventWrite {
        let plain = serde_json::to_vec(payload).expect("event payload serialises");
        EventWrite {
            conversation_id: id.as_str().to_owned(),
            kind: payload.kind(),
            sender_kind: sender.kind(),
            sender_id: sender.id().map(str::to_owned),
            client_msg_id: client_msg_id.map(|c| c.as_str().to_owned()),
            sealed_body: self.cipher.seal(&plain, id.as_str().as_bytes()),
            created_at: self.clock.now_ms(),
            write,
        }
    }

    /// The event as it will be delivered; its seq is filled in after commit.
    fn event(&self, write: &EventWrite, sender: Sender, payload: EventPayload) -> ChatEvent {
        ChatEvent {
            conversation_id: write.conversation_id.clone(),
            seq: 0,
            sender,
            client_msg_id: write.client_msg_id.clone(),
            created_at: write.created_at,
            payload,
        }
    }

    /// The event at `seq`, opened; none when it is gone (an erased buyer).
    pub(crate) async fn event_at(
        &self,
        conversation_id: &str,
        seq: i64,
    ) -> Result<Option<ChatEvent>, ChatError> {
        match self.records.event_at(conversation_id, seq).await {
            Ok(row) => Ok(Some(self.open_event(row)?)),
            Err(RepoError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The events at these (conversation, seq) keys, opened, in one read; a
    /// key whose event is gone (an erased buyer) or cannot be opened has none.
    pub(crate) async fn events_at(
        &self,
        keys: &[(&str, i64)],
    ) -> Result<HashMap<(String, i64), ChatEvent>, ChatError> {
        let mut opened = HashMap::with_capacity(keys.len());
        for row in self.records.events_at(keys).await? {
            let key = (row.conversation_id.clone(), row.seq);
            match self.open_event(row) {
                Ok(event) => {
                    opened.insert(key, event);
                }
                Err(error) => {
                    tracing::warn!(conversation = %key.0, seq = key.1, %error, "event cannot be opened");
                }
            }
        }
        Ok(opened)
    }

    /// The buyer's first typed words among the conversation's first `look`
    /// events (only the buyer's are opened).
    pub(crate) async fn first_buyer_text(
        &self,
        conversation_id: &str,
        look: i64,
    ) -> Result<Option<MessageText>, ChatError> {
        for row in self.records.events_after(conversation_id, 0, look).await? {
            if row.sender_kind != "buyer" {
                continue;
            }
            if let EventPayload::Message {
                body: MessageBody::Text { text },
            } = self.open_event(row)?.payload
            {
                return Ok(Some(text));
            }
        }
        Ok(None)
    }

    pub(crate) fn open_event(&self, row: StoredEvent) -> Result<ChatEvent, ChatError> {
        let plain = self
            .cipher
            .open(&row.body, row.conversation_id.as_bytes())
            .map_err(|e| ChatError::Corrupt(e.to_string()))?;
        let payload: EventPayload =
            serde_json::from_slice(&plain).map_err(|e| ChatError::Corrupt(e.to_string()))?;
        let sender = Sender::from_parts(&row.sender_kind, row.sender_id)
            .ok_or_else(|| ChatError::Corrupt("sender".into()))?;
        Ok(ChatEvent {
            conversation_id: row.conversation_id,
            seq: row.seq,
            sender,
            client_msg_id: row.client_msg_id,
            created_at: row.created_at,
            payload,
        })
    }
}

/// Supervisors see everything; agents see the waiting queue and their own chats.
pub fn staff_may_view(staff: &StaffUser, conversation: &ConversationView) -> bool {
    staff.can(Permission::ViewAllChats)
        || (staff.can(Permission::ViewOwnChats)
            && conversation.agent_id.as_deref() == Some(staff.id.as_str()))
        || (staff.can(Permission::ViewQueue) && conversation.state == ConversationState::Waiting)
}
