//! Conversation use cases that span services. A person is asked for here, the
//! same way whether the buyer pressed the widget's button or an app channel
//! asked for its user: the chat waits, the bot's packet of what it gathered is
//! written when the chat leaves the bot, and routing queues it.

use super::bot::BotService;
use super::chat::{Actor, ChatError, ChatService, ConversationView};
use super::routing::{RoutingError, RoutingService};
use super::visitors::{Visitor, VisitorError, VisitorService};
use crate::domain::conversation::{ConversationId, ConversationState};
use crate::domain::routing::RouteHints;
use crate::domain::visitor::{VisitorInputError, page_url};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ConversationError {
    #[error(transparent)]
    Chat(#[from] ChatError),
    #[error(transparent)]
    Routing(#[from] RoutingError),
    #[error(transparent)]
    Visitor(#[from] VisitorError),
    #[error(transparent)]
    Input(#[from] VisitorInputError),
}

/// Where the buyer asks from; the server adds VIP status and the entry page it knows.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffInput {
    pub category: Option<String>,
    pub entry_page: Option<String>,
}

pub struct ConversationService {
    chat: Arc<ChatService>,
    bot: Arc<BotService>,
    routing: Arc<RoutingService>,
    visitors: Arc<VisitorService>,
}

impl ConversationService {
    pub fn new(
        chat: Arc<ChatService>,
        bot: Arc<BotService>,
        routing: Arc<RoutingService>,
        visitors: Arc<VisitorService>,
    ) -> ConversationService {
        ConversationService {
            chat,
            bot,
            routing,
            visitors,
        }
    }

    /// The buyer asks for a person: the chat waits and joins the routed group's
    /// queue. Asking again while waiting or served changes nothing.
    pub async fn request_person(
        &self,
        visitor: &Visitor,
        id: &ConversationId,
        input: HandoffInput,
    ) -> Result<ConversationView, ConversationError> {
        let entry_page = match &input.entry_page {
            Some(page) => Some(page_url("entry_page", page)?),
            None => None,
        };
        let before = self.chat.visible(Actor::Buyer(visitor), id).await?;
        let conversation = self.chat.request_agent(visitor, id).await?;
        if conversation.state != ConversationState::Waiting {
            return Ok(conversation);
        }
        // Leaving the bot: the agent gets the packet of what the bot gathered. The
        // chat is queued even if the packet cannot be written: it must not be lost.
        let mut from_bot = (None, None);
        if before.state == ConversationState::Bot {
            match self.bot.packet_on_request(id, conversation.clone()).await {
                Ok(packet) => from_bot = (packet.intent, packet.category),
                Err(error) => tracing::error!(%error, "no hand-off packet for the buyer's request"),
            }
        }
        let entry_page = match entry_page {
            Some(page) => Some(page),
            None => {
                self.visitors
                    .profile(&visitor.id)
                    .await?
                    .context
                    .current_page
            }
        };
        let hints = RouteHints {
            intent: from_bot.0,
            category: input.category.or(from_bot.1),
            entry_page,
            vip: false,
        };
        Ok(self.routing.enqueue(id, hints).await?)
    }
}
