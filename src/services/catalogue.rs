//! Product cards: an agent (or the bot) names a product by its sku and the
//! card is written from the shop's catalogue as it is now, so a card never
//! shows a product, price or stock the shop does not have.

use super::chat::{Ack, Actor, ChatError, ChatService};
use super::staff::StaffUser;
use super::topics::Topics;
use crate::domain::analytics::Topic;
use crate::domain::catalogue::{Product, Sku};
use crate::domain::conversation::ConversationId;
use crate::domain::message::{ClientMsgId, MessageBody};
use crate::ports::{Commerce, CommerceError};
use std::sync::Arc;

const MAX_SEARCH: i64 = 50;

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("no product with this sku in the shop's catalogue")]
    ProductNotFound,
    #[error(transparent)]
    Commerce(#[from] CommerceError),
    #[error(transparent)]
    Chat(#[from] ChatError),
}

pub struct Catalogue {
    commerce: Arc<dyn Commerce>,
    chat: Arc<ChatService>,
    /// A card's product is what the chat is about (analytics), if nothing was before.
    topics: Arc<Topics>,
}

impl Catalogue {
    pub fn new(commerce: Arc<dyn Commerce>, chat: Arc<ChatService>, topics: Arc<Topics>) -> Self {
        Self {
            commerce,
            chat,
            topics,
        }
    }

    async fn tell_product(&self, id: &ConversationId, seq: i64, sku: String) {
        let topic = Topic {
            product: Some(sku),
            ..Topic::default()
        };
        self.topics.tell(id.as_str(), &seq.to_string(), topic).await;
    }

    pub async fn product(&self, sku: &Sku) -> Result<Product, CatalogueError> {
        self.commerce
            .product(sku)
            .await?
            .ok_or(CatalogueError::ProductNotFound)
    }

    /// Products for the console's picker.
    pub async fn search(&self, query: &str, limit: i64) -> Result<Vec<Product>, CatalogueError> {
        Ok(self
            .commerce
            .search_products(query, limit.clamp(1, MAX_SEARCH))
            .await?)
    }

    /// The chat's agent sends a product card (idempotent by client_msg_id).
    pub async fn send_card(
        &self,
        staff: &StaffUser,
        id: &ConversationId,
        sku: &Sku,
        client_msg_id: Option<ClientMsgId>,
    ) -> Result<Ack, CatalogueError> {
        let card = self.product(sku).await?;
        let sku = card.sku.clone();
        let ack = self
            .chat
            .send(
                Actor::Staff(staff),
                id,
                client_msg_id,
                MessageBody::ProductCard { card },
            )
            .await?;
        self.tell_product(id, ack.seq, sku).await;
        Ok(ack)
    }

    /// The bot shows the product the buyer was looking at (an accepted
    /// invitation on a product page); a product that is gone is skipped.
    pub async fn bot_card(&self, id: &ConversationId, sku: &Sku) -> Result<(), CatalogueError> {
        match self.product(sku).await {
            Ok(card) => {
                let sku = card.sku.clone();
                let ack = self
                    .chat
                    .send_bot(id, MessageBody::ProductCard { card })
                    .await?;
                self.tell_product(id, ack.seq, sku).await;
                Ok(())
            }
            Err(CatalogueError::ProductNotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
