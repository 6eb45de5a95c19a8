//! The staff feed as a subscriber of the committed-event stream: every node
//! shows its staff every committed conversation event, whichever node wrote it,
//! in commit order. Who may see an event is decided by the socket from the
//! conversation's state and owner as of that event.

use super::chat::{ChatError, ChatService};
use super::events::ChatEvent;
use super::events::EventPayload;
use super::hub::{LiveFrame, StaffFrame};
use super::subscribers::Subscriber;
use crate::domain::conversation::{ConversationId, ConversationState};
use crate::domain::events::DomainEvent;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Conversations whose state this node remembers (a bound on memory; a
/// forgotten one is read again from the database).
const REMEMBERED: usize = 20_000;

/// A conversation's state and owner after an event.
type Owner = (ConversationState, Option<Arc<str>>);

pub struct StaffFeed {
    chat: Arc<ChatService>,
    /// State and owner after the last event seen, per conversation.
    states: Mutex<HashMap<String, Owner>>,
}

impl StaffFeed {
    pub fn new(chat: Arc<ChatService>) -> StaffFeed {
        StaffFeed {
            chat,
            states: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait::async_trait]
impl Subscriber for StaffFeed {
    fn name(&self) -> &'static str {
        "staff-feed"
    }

    /// People watch it: each commit is read at once.
    fn gather(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }

    async fn handle(&self, event: &DomainEvent) -> Result<(), String> {
        self.handle_batch(std::slice::from_ref(event))
            .await
            .map_err(|(_, e)| e)
    }

    /// One read of the conversation events for a whole read of the stream;
    /// then each is shown in commit order.
    async fn handle_batch(&self, events: &[DomainEvent]) -> Result<(), (usize, String)> {
        let keys: Vec<(&str, i64)> = events
            .iter()
            .filter_map(|e| match (&e.conversation_id, e.seq) {
                // The start of a chat has no conversation event.
                (Some(c), Some(seq)) if seq >= 1 => Some((c.as_str(), seq)),
                _ => None,
            })
            .collect();
        if keys.is_empty() {
            return Ok(());
        }
        let mut opened = self
            .chat
            .events_at(&keys)
            .await
            .map_err(|e| (0, e.to_string()))?;
        for (done, event) in events.iter().enumerate() {
            let (Some(conversation), Some(seq)) = (&event.conversation_id, event.seq) else {
                continue;
            };
            let Some(found) = opened.remove(&(conversation.clone(), seq)) else {
                continue; // gone (an erased buyer) or not a conversation event
            };
            self.show(conversation, found)
                .await
                .map_err(|e| (done, e))?;
        }
        Ok(())
    }
}

impl StaffFeed {
    /// Sends one conversation event to this node's staff sockets, with the
    /// conversation's state and owner as of that event.
    async fn show(&self, conversation: &str, opened: ChatEvent) -> Result<(), String> {
        let Some(id) = ConversationId::parse(conversation) else {
            return Ok(());
        };
        let (state, agent_id) = match &opened.payload {
            EventPayload::StateChanged { to, agent_id, .. } => {
                (*to, agent_id.as_deref().map(Arc::from))
            }
            _ => {
                let known = self.states.lock().expect("lock").get(conversation).cloned();
                match known {
                    Some(known) => known,
                    None => match self.chat.conversation(&id).await {
                        Ok(c) => (c.state, c.agent_id.as_deref().map(Arc::from)),
                        Err(ChatError::NotFound) => return Ok(()),
                        Err(error) => return Err(error.to_string()),
                    },
                }
            }
        };
        {
            let mut states = self.states.lock().expect("lock");
            if states.len() >= REMEMBERED {
                states.clear();
            }
            states.insert(conversation.to_owned(), (state, agent_id.clone()));
        }
        self.chat.hub().publish_staff(StaffFrame {
            frame: LiveFrame::Event(Arc::new(opened)),
            agent_id,
            state,
        });
        Ok(())
    }
}
