//! The conversation state machine and the identifiers around it.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Opaque conversation identifier (a UUIDv7, so ids sort by creation time).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConversationId(String);

impl ConversationId {
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }

    /// Ids come from URLs; anything that is not a UUID cannot name a conversation.
    pub fn parse(raw: &str) -> Option<Self> {
        uuid::Uuid::parse_str(raw).ok().map(|u| Self(u.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where the buyer is writing from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    #[default]
    Web,
    App,
    Api,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::App => "app",
            Channel::Api => "api",
        }
    }
}

impl FromStr for Channel {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "web" => Ok(Channel::Web),
            "app" => Ok(Channel::App),
            "api" => Ok(Channel::Api),
            other => Err(UnknownValue(other.to_owned())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown value `{0}`")]
pub struct UnknownValue(pub String);

/// Who owns the conversation right now. Only the owner speaks: the bot in `Bot`,
/// the assigned agent in `WithAgent`; in `Waiting` the buyer waits for a human.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationState {
    Bot,
    Waiting,
    WithAgent,
    Resolved,
    Closed,
}

impl ConversationState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationState::Bot => "bot",
            ConversationState::Waiting => "waiting",
            ConversationState::WithAgent => "with_agent",
            ConversationState::Resolved => "resolved",
            ConversationState::Closed => "closed",
        }
    }

    /// The state a transition leads to, or why it is not allowed from here.
    pub fn apply(self, transition: Transition) -> Result<ConversationState, TransitionError> {
        use ConversationState::*;
        use Transition::*;
        let next = match (self, transition) {
            (Bot, RequestAgent) => Waiting,
            (Waiting, Claim) => WithAgent,
            (Bot | WithAgent, Resolve) => Resolved,
            (Waiting | WithAgent, HandBack) => Bot,
            (WithAgent, Transfer) => WithAgent,
            (WithAgent, Requeue) => Waiting,
            (Resolved, Reopen) => Bot,
            (Bot | Waiting | WithAgent | Resolved, Close) => Closed,
            (from, transition) => return Err(TransitionError { from, transition }),
        };
        Ok(next)
    }
}

impl FromStr for ConversationState {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "bot" => Ok(ConversationState::Bot),
            "waiting" => Ok(ConversationState::Waiting),
            "with_agent" => Ok(ConversationState::WithAgent),
            "resolved" => Ok(ConversationState::Resolved),
            "closed" => Ok(ConversationState::Closed),
            other => Err(UnknownValue(other.to_owned())),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    /// The buyer (or later the bot) asks for a human.
    RequestAgent,
    /// An agent takes a waiting conversation.
    Claim,
    Resolve,
    /// The agent (or a supervisor) gives the conversation back to the bot.
    HandBack,
    /// A buyer writes again after the conversation was resolved.
    Reopen,
    Close,
    /// The chat moves to another agent (a transfer, or a supervisor's take-over).
    Transfer,
    /// The chat goes back to a skill group's queue (a transfer to a group).
    Requeue,
}

impl Transition {
    pub fn as_str(self) -> &'static str {
        match self {
            Transition::RequestAgent => "request_agent",
            Transition::Claim => "claim",
            Transition::Resolve => "resolve",
            Transition::HandBack => "hand_back",
            Transition::Reopen => "reopen",
            Transition::Close => "close",
            Transition::Transfer => "transfer",
            Transition::Requeue => "requeue",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {} a conversation that is {}", transition.as_str(), from.as_str())]
pub struct TransitionError {
    pub from: ConversationState,
    pub transition: Transition,
}

/// Who may append a message in which state. Storage turns this into a guarded
/// update, so the check and the write are one atomic step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpeakGuard {
    /// Buyers may write in any state but `Closed` (a resolved chat reopens first).
    NotClosed,
    /// Agents write only while they own the chat.
    OwningAgent(String),
    /// The bot writes only while it owns the chat: once a human has it, the bot is silent.
    Bot,
    /// System notes are always accepted.
    Any,
}

/// One event of a conversation as stored: its body sealed to the conversation,
/// for the chat service to open.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub conversation_id: String,
    pub seq: i64,
    pub kind: String,
    pub sender_kind: String,
    pub sender_id: Option<String>,
    pub client_msg_id: Option<String>,
    /// Sealed JSON; the service opens it.
    pub body: Vec<u8>,
    pub created_at: i64,
}

#[cfg(test)]
mod tests {
    use super::ConversationState::*;
    use super::Transition::*;
    use super::*;

    #[test]
    fn the_happy_path_goes_bot_waiting_agent_resolved_closed() {
        let s = Bot.apply(RequestAgent).unwrap();
        assert_eq!(s, Waiting);
        let s = s.apply(Claim).unwrap();
        assert_eq!(s, WithAgent);
        let s = s.apply(Resolve).unwrap();
        assert_eq!(s, Resolved);
        assert_eq!(s.apply(Close).unwrap(), Closed);
    }

    #[test]
    fn a_closed_conversation_accepts_no_transition() {
        for t in [
            RequestAgent,
            Claim,
            Resolve,
            HandBack,
            Reopen,
            Close,
            Transfer,
            Requeue,
        ] {
            assert_eq!(
                Closed.apply(t),
                Err(TransitionError {
                    from: Closed,
                    transition: t
                })
            );
        }
    }

    #[test]
    fn only_a_waiting_conversation_can_be_claimed() {
        assert!(Waiting.apply(Claim).is_ok());
        for s in [Bot, WithAgent, Resolved, Closed] {
            assert!(s.apply(Claim).is_err(), "{s:?} must not be claimable");
        }
    }

    #[test]
    fn hand_back_returns_to_the_bot() {
        assert_eq!(WithAgent.apply(HandBack).unwrap(), Bot);
        assert_eq!(Waiting.apply(HandBack).unwrap(), Bot);
        assert!(Bot.apply(HandBack).is_err());
    }

    #[test]
    fn only_a_chat_with_an_agent_can_be_transferred() {
        assert_eq!(WithAgent.apply(Transfer).unwrap(), WithAgent);
        assert_eq!(WithAgent.apply(Requeue).unwrap(), Waiting);
        for s in [Bot, Waiting, Resolved, Closed] {
            assert!(s.apply(Transfer).is_err() && s.apply(Requeue).is_err());
        }
    }

    #[test]
    fn states_round_trip_through_their_names() {
        for s in [Bot, Waiting, WithAgent, Resolved, Closed] {
            assert_eq!(s.as_str().parse::<ConversationState>().unwrap(), s);
        }
    }

    #[test]
    fn conversation_ids_must_be_uuids() {
        assert!(ConversationId::parse("not-a-uuid").is_none());
        let id = ConversationId::generate();
        assert_eq!(ConversationId::parse(id.as_str()), Some(id));
    }
}
