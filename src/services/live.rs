//! The staff feed as a subscriber of the committed-event stream: every node
//! shows its staff every committed conversation event, whichever node wrote it,
//! in commit order. Who may see an event is decided by the socket from the
//! conversation's state and owner as of that event.

use super::chat::{ChatError, ChatService};
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

    async fn handle(&self, event: &DomainEvent) -> Result<(), String> {
        let (Some(conversation), Some(seq)) = (&event.conversation_id, event.seq) else {
            return Ok(());
        };
        if seq < 1 {
            return Ok(()); // the start of a chat has no conversation event
        }
        let Some(id) = ConversationId::parse(conversation) else {
            return Ok(());
        };
        let opened = match self.chat.events(&id, seq - 1, 1).await {
            Ok(events) => events.into_iter().find(|e| e.seq == seq),
            Err(ChatError::NotFound | ChatError::Corrupt(_)) => None,
            Err(error) => return Err(error.to_string()),
        };
        let Some(opened) = opened else {
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
            states.insert(conversation.clone(), (state, agent_id.clone()));
        }
        self.chat.hub().publish_staff(StaffFrame {
            frame: LiveFrame::Event(Arc::new(opened)),
            agent_id,
            state,
        });
        Ok(())
    }
}
