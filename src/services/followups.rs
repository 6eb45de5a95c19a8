//! Reactions to committed conversation events, as subscribers of the event
//! stream: a buyer message in a bot-owned chat is work for the bot. Chat does
//! not call the bot; the bot reads what chat committed.

use super::bot::{BotService, Work};
use super::chat::{BuyerMessage, ChatError, ChatService};
use super::events::EventPayload;
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

    /// The buyer's message the event reports, if it is one.
    async fn buyer_message(&self, event: &DomainEvent) -> Result<Option<BuyerMessage>, String> {
        let EventData::MessagePosted { sender_kind, .. } = &event.data else {
            return Ok(None);
        };
        let (Some(conversation), Some(seq)) = (&event.conversation_id, event.seq) else {
            return Ok(None);
        };
        let Some(id) = ConversationId::parse(conversation) else {
            return Ok(None);
        };
        if sender_kind != "buyer" || seq < 1 {
            return Ok(None);
        }
        let opened = match self.chat.events(&id, seq - 1, 1).await {
            Ok(events) => events.into_iter().find(|e| e.seq == seq),
            Err(ChatError::NotFound | ChatError::Corrupt(_)) => None,
            Err(error) => return Err(error.to_string()),
        };
        Ok(
            opened.and_then(|opened| match (opened.sender, opened.payload) {
                (Sender::Buyer { id: visitor_id }, EventPayload::Message { body }) => {
                    Some(BuyerMessage {
                        conversation_id: id,
                        visitor_id,
                        seq,
                        body,
                    })
                }
                _ => None,
            }),
        )
    }
}

#[async_trait::async_trait]
impl Subscriber for BotFeed {
    fn name(&self) -> &'static str {
        "bot"
    }

    async fn handle(&self, event: &DomainEvent) -> Result<(), String> {
        let Some(bot) = self.bot.upgrade() else {
            return Ok(()); // shutting down
        };
        if let Some(message) = self.buyer_message(event).await? {
            bot.dispatch(Work::Message(message));
        }
        Ok(())
    }
}
