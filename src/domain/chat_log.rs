//! What the conversation store records and answers: conversations as the API
//! shows them, sealed events, the guarded writes of the group commit and of a
//! hand-over, and what other nodes committed.

use super::conversation::{ConversationState, SpeakGuard};
use serde::Serialize;

/// A conversation as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ConversationView {
    pub id: String,
    pub visitor_id: String,
    pub channel: String,
    pub state: ConversationState,
    pub agent_id: Option<String>,
    pub last_seq: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Which conversations a staff list shows.
#[derive(Debug, Clone)]
pub enum ConversationScope {
    /// In one state, oldest first (the waiting queue).
    State(String),
    /// Owned by one agent and still open.
    Agent(String),
    /// Everything not closed, most recently active first (supervision).
    Open,
}

/// An event as stored: its body sealed; the chat service opens it.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub conversation_id: String,
    pub seq: i64,
    pub kind: String,
    pub sender_kind: String,
    pub sender_id: Option<String>,
    pub client_msg_id: Option<String>,
    /// Sealed JSON.
    pub body: Vec<u8>,
    pub created_at: i64,
}

/// How the conversation row must look for a queued write to go ahead.
#[derive(Debug, Clone)]
pub enum WriteKind {
    /// Append a message if the speaker may speak now.
    Append { guard: SpeakGuard },
    /// Compare-and-set the state and owner: `from`/`from_agent` must still hold.
    Transition {
        from: ConversationState,
        from_agent: Option<String>,
        to: ConversationState,
        to_agent: Option<String>,
    },
}

/// One event-producing write for the group commit.
#[derive(Debug, Clone)]
pub struct EventWrite {
    pub conversation_id: String,
    pub kind: &'static str,
    pub sender_kind: &'static str,
    pub sender_id: Option<String>,
    pub client_msg_id: Option<String>,
    pub sealed_body: Vec<u8>,
    pub created_at: i64,
    pub write: WriteKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendOutcome {
    pub seq: i64,
    pub created_at: i64,
    /// The client_msg_id was seen before: nothing new was written.
    pub duplicate: bool,
    /// The conversation's state and owner after the write.
    pub state: String,
    pub agent_id: Option<String>,
}

/// A chat moving to an agent by hand: a claim (from `waiting`) or a transfer or
/// take-over (from `with_agent` and its current agent).
#[derive(Debug, Clone, Copy)]
pub struct Handover<'a> {
    pub conversation_id: &'a str,
    pub from_state: &'a str,
    pub from_agent: Option<&'a str>,
    pub agent_id: &'a str,
    /// Who did it (the claiming agent, the transferring agent, the supervisor).
    pub sender_id: &'a str,
    pub now: i64,
    pub sealed_body: &'a [u8],
}

/// Why a hand-over did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    Claimed {
        seq: i64,
    },
    /// The agent already holds `max_chats` open chats.
    AtCapacity,
    /// The chat is no longer as it was (someone else took it, or it moved on).
    NotWaiting,
}

/// May an agent reply in this conversation now?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplySlot {
    /// Not a channel conversation: no window applies.
    NoWindow,
    /// Within the window: one reply counted.
    Taken,
    /// Outside the window, or its replies are used up.
    Closed,
}

/// What a chat list shows of one conversation before it is opened.
#[derive(Debug, Clone)]
pub struct ChatGlance {
    pub nickname: Option<String>,
    pub last_message: Option<StoredEvent>,
    pub unread: i64,
}

/// What another node committed, as this node learns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForeignCommit {
    /// An event with this sequence number now exists in the conversation.
    Event { conversation_id: String, seq: i64 },
    /// The listening connection was lost and re-made: notifications may have
    /// been missed, so every open conversation should look again.
    Resync,
}
