//! Reactions to committed conversation events, as subscribers of the event
//! stream: a buyer message in a bot-owned chat is work for the bot. Chat does
//! not call the bot; the bot reads what chat committed.

use super::bot::{BotService, Work};
use super::chat::{BuyerMessage, ChatError, ChatService};
use super::events::EventPayload;
use super::routing::RoutingService;
use super::subscribers::Subscriber;
use crate::domain::conversation::ConversationId;
use crate::domain::events::{DomainEvent, EventData};
use crate::domain::message::Sender;
use std::sync::{Arc, Weak};

/// Hands each committed buyer message to the bot, which answers while it owns
/// the chat (it checks, so a message committed while a person had the chat is
/// left alone). The bot works per conversation in order, off this reader, so a
/// slow answer never holds up the stream.
pub struct BotFeed {
    chat: Arc<ChatService>,
    bot: Weak<BotService>,
}

impl BotFeed {
    pub fn new(chat: Arc<ChatService>, bot: &Arc<BotService>) -> BotFeed {
        BotFeed {
            chat,
            bot: Arc::downgrade(bot),
        }
    }

    /// The buyer messages these events report, in their order, with one
    /// read of the conversation events.
    async fn buyer_messages(&self, events: &[DomainEvent]) -> Result<Vec<BuyerMessage>, String> {
        let keys: Vec<(&str, i64)> = events
            .iter()
            .filter_map(
                |event| match (&event.data, &event.conversation_id, event.seq) {
                    (EventData::MessagePosted { sender_kind, .. }, Some(c), Some(seq))
                        if sender_kind == "buyer" && seq >= 1 =>
                    {
                        Some((c.as_str(), seq))
                    }
                    _ => None,
                },
            )
            .collect();
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut opened = match self.chat.events_at(&keys).await {
            Ok(opened) => opened,
            Err(ChatError::NotFound | ChatError::Corrupt(_)) => return Ok(Vec::new()),
            Err(error) => return Err(error.to_string()),
        };
        Ok(keys
            .iter()
            .filter_map(|(conversation, seq)| {
                let id = ConversationId::parse(conversation)?;
                let event = opened.remove(&((*conversation).to_owned(), *seq))?;
                match (event.sender, event.payload) {
                    (Sender::Buyer { id: visitor_id }, EventPayload::Message { body }) => {
                        Some(BuyerMessage {
                            conversation_id: id,
                            visitor_id,
                            seq: *seq,
                            body,
                        })
                    }
                    _ => None,
                }
            })
            .collect())
    }
}

#[async_trait::async_trait]
impl Subscriber for BotFeed {
    fn name(&self) -> &'static str {
        "bot"
    }

    async fn handle(&self, event: &DomainEvent) -> Result<(), String> {
        self.handle_batch(std::slice::from_ref(event))
            .await
            .map_err(|(_, e)| e)
    }

    /// One read of the conversation events for a whole read of the stream;
    /// on failure none of it was handed over, so the whole read is retried.
    async fn handle_batch(&self, events: &[DomainEvent]) -> Result<(), (usize, String)> {
        let Some(bot) = self.bot.upgrade() else {
            return Ok(()); // shutting down
        };
        for message in self.buyer_messages(events).await.map_err(|e| (0, e))? {
            bot.dispatch(Work::Message(message));
        }
        Ok(())
    }
}

/// Routing's follow-up to a committed change: an agent who stopped holding a
/// chat (resolved, handed back or transferred away) is offered the next
/// waiting chats of their groups. The conversation service also does this at
/// once after its own change; this subscriber is what makes it happen when
/// the node died in between, or when the change was made on another node.
/// Offering twice is harmless: assignment reads the queue and the agent's
/// room under the routing lock.
pub struct RoutingFeed(pub Arc<RoutingService>);

/// The agents each event leaves with room (in order, without repeats).
fn freed_agents(events: &[DomainEvent]) -> Vec<&str> {
    let mut freed: Vec<&str> = Vec::new();
    for event in events {
        let agent = match &event.data {
            EventData::Resolved { agent_id: Some(a) }
            | EventData::HandedBack { agent_id: Some(a) } => a,
            EventData::Transferred { from_agent_id, .. } => from_agent_id,
            _ => continue,
        };
        if !freed.contains(&agent.as_str()) {
            freed.push(agent);
        }
    }
    freed
}

#[async_trait::async_trait]
impl Subscriber for RoutingFeed {
    fn name(&self) -> &'static str {
        "routing"
    }

    async fn handle(&self, event: &DomainEvent) -> Result<(), String> {
        self.handle_batch(std::slice::from_ref(event))
            .await
            .map_err(|(_, e)| e)
    }

    /// One offer per freed agent for a whole read of events; on failure the
    /// whole read is offered again.
    async fn handle_batch(&self, events: &[DomainEvent]) -> Result<(), (usize, String)> {
        for agent in freed_agents(events) {
            self.0
                .agent_freed(agent)
                .await
                .map_err(|e| (0, e.to_string()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(position: i64, data: EventData) -> DomainEvent {
        DomainEvent {
            position,
            id: format!("evt_{position}"),
            conversation_id: Some("c1".into()),
            seq: Some(position),
            created_at: 0,
            data,
        }
    }

    #[test]
    fn the_agents_a_change_leaves_with_room_are_offered_once_each() {
        let events = [
            event(
                1,
                EventData::Resolved {
                    agent_id: Some("a".into()),
                },
            ),
            event(
                2,
                EventData::Transferred {
                    from_agent_id: "b".into(),
                    to_agent_id: "a".into(),
                },
            ),
            event(
                3,
                EventData::HandedBack {
                    agent_id: Some("a".into()),
                },
            ),
            event(4, EventData::Resolved { agent_id: None }),
            event(
                5,
                EventData::MessagePosted {
                    sender_kind: "agent".into(),
                    sender_id: Some("c".into()),
                },
            ),
            event(
                6,
                EventData::HandedBack {
                    agent_id: Some("c".into()),
                },
            ),
        ];
        assert_eq!(freed_agents(&events), ["a", "b", "c"]);
        assert!(freed_agents(&events[3..5]).is_empty());
    }
}
