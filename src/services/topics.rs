//! What a chat is about, told to analytics as `conversation.classified`
//! events (its intent, category and product dimensions): by the bot (the
//! intake intent it runs, or `question` / `human`, and the category and
//! product of the entry it answered from) and by product cards (their sku).
//!
//! Told after the message that showed it is committed, in an event of its
//! own whose id names that message, so telling twice writes it once. Best
//! effort: a failure is logged and the chat goes on (the chat then counts
//! under "not known" for what was lost).

use crate::domain::analytics::Topic;
use crate::domain::events::{EventData, NewEvent};
use crate::ports::Clock;
use crate::ports::repositories::EventLog;
use std::sync::Arc;

pub struct Topics {
    events: Arc<dyn EventLog>,
    clock: Arc<dyn Clock>,
}

impl Topics {
    pub fn new(events: Arc<dyn EventLog>, clock: Arc<dyn Clock>) -> Self {
        Self { events, clock }
    }

    /// Tells what the message (its seq) or hand-off packet `at` of the
    /// conversation showed the chat is about (nothing when `topic` is empty).
    pub async fn tell(&self, conversation_id: &str, at: &str, topic: Topic) {
        if topic == Topic::default() {
            return;
        }
        let event = NewEvent {
            id: format!("evt_{conversation_id}_{at}_classified"),
            conversation_id: Some(conversation_id.to_owned()),
            seq: None,
            data: EventData::ConversationClassified {
                intent: topic.intent,
                category: topic.category,
                product: topic.product,
            },
            created_at: self.clock.now_ms(),
        };
        if let Err(error) = self.events.append_once(&event).await {
            tracing::warn!(%error, "could not tell what a chat is about");
        }
    }
}
