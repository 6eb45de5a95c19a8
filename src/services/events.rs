//! The event a participant receives: what was committed, opened and typed.

use crate::domain::conversation::ConversationState;
use crate::domain::message::{MessageBody, MessageText, Sender};
use serde::{Deserialize, Serialize};

/// What an event says. Stored sealed (encrypted) as JSON in `events.body`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventPayload {
    Message {
        body: MessageBody,
    },
    StateChanged {
        from: ConversationState,
        to: ConversationState,
        agent_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// An internal note ("whisper"): only staff see it.
    Note {
        text: MessageText,
    },
}

impl EventPayload {
    pub fn kind(&self) -> &'static str {
        match self {
            EventPayload::Message { .. } => "message",
            EventPayload::StateChanged { .. } => "state_changed",
            EventPayload::Note { .. } => "note",
        }
    }
}

/// A committed event as delivered over the API and the WebSocket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatEvent {
    pub conversation_id: String,
    /// Per-conversation sequence number, from 1 without gaps.
    pub seq: i64,
    pub sender: Sender,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_msg_id: Option<String>,
    pub created_at: i64,
    #[serde(flatten)]
    pub payload: EventPayload,
}

impl ChatEvent {
    /// The event as the buyer may see it: internal notes are dropped entirely and
    /// transfer notes are cut from state changes.
    pub fn for_buyer(&self) -> Option<ChatEvent> {
        match &self.payload {
            EventPayload::Note { .. } => None,
            EventPayload::StateChanged {
                from,
                to,
                agent_id,
                note: Some(_),
            } => Some(ChatEvent {
                payload: EventPayload::StateChanged {
                    from: *from,
                    to: *to,
                    agent_id: agent_id.clone(),
                    note: None,
                },
                ..self.clone()
            }),
            EventPayload::Message { .. } | EventPayload::StateChanged { .. } => Some(self.clone()),
        }
    }
}
