//! The buyer's orders beside a chat: what the agent sees in the side panel as
//! order cards, and sends into the chat as a card the buyer sees. Only a buyer
//! whose shop account the shop vouched for (a signed identity) has orders here;
//! an anonymous visitor's chat says so instead.

use super::chat::{Ack, Actor, ChatError, ChatService};
use super::staff::StaffUser;
use crate::domain::commerce::{Order, OrderCard, OrderNumber, OrderStatus};
use crate::domain::conversation::ConversationId;
use crate::domain::message::{ClientMsgId, MessageBody};
use crate::ports::{Commerce, CommerceError};
use crate::services::visitors::{VisitorError, VisitorService};
use serde::Serialize;
use std::sync::Arc;

/// Orders one card list shows.
const RECENT: i64 = 5;

#[derive(Debug, thiserror::Error)]
pub enum OrdersError {
    #[error(transparent)]
    Commerce(#[from] CommerceError),
    #[error(transparent)]
    Visitor(#[from] VisitorError),
    #[error(transparent)]
    Chat(#[from] ChatError),
    #[error("the buyer is not signed in with a shop account, so the chat has no orders to send")]
    NotSignedIn,
    /// Not on the chat's buyer's account (it may exist on another: we do not say).
    #[error("no order with this number on the buyer's account")]
    NotFound,
}

#[derive(Debug, Clone, Serialize)]
pub struct BuyerOrders {
    /// False for an anonymous visitor: no account, so no orders to show.
    pub account_verified: bool,
    pub orders: Vec<OrderCard>,
}

pub struct OrderLookup {
    commerce: Arc<dyn Commerce>,
    visitors: Arc<VisitorService>,
    chat: Arc<ChatService>,
}

impl OrderLookup {
    pub fn new(
        commerce: Arc<dyn Commerce>,
        visitors: Arc<VisitorService>,
        chat: Arc<ChatService>,
    ) -> Self {
        Self {
            commerce,
            visitors,
            chat,
        }
    }

    /// The recent orders of the buyer `visitor_id`, newest first, with tracking.
    pub async fn for_visitor(&self, visitor_id: &str) -> Result<BuyerOrders, OrdersError> {
        let profile = self.visitors.profile(visitor_id).await?;
        let Some(account) = profile.shop_account_id else {
            return Ok(BuyerOrders {
                account_verified: false,
                orders: Vec::new(),
            });
        };
        let mut orders = Vec::new();
        for order in self.commerce.recent_orders(&account, RECENT).await? {
            orders.push(self.card(&account, order).await?);
        }
        Ok(BuyerOrders {
            account_verified: true,
            orders,
        })
    }

    /// The chat's agent sends one of the buyer's orders as a card (idempotent
    /// by client_msg_id). The order must be on the account the chat's buyer is
    /// signed in with; any other reads as not found, whoever's it is.
    pub async fn send_card(
        &self,
        staff: &StaffUser,
        id: &ConversationId,
        order_no: &OrderNumber,
        client_msg_id: Option<ClientMsgId>,
    ) -> Result<Ack, OrdersError> {
        let conversation = self.chat.visible(Actor::Staff(staff), id).await?;
        let profile = self.visitors.profile(&conversation.visitor_id).await?;
        let account = profile.shop_account_id.ok_or(OrdersError::NotSignedIn)?;
        let order = match self.commerce.order(&account, order_no).await? {
            // Belt and braces: an adapter that ignored the account still sends nothing.
            Some(order) if order.buyer_account == account => order,
            Some(_) | None => return Err(OrdersError::NotFound),
        };
        let card = self.card(&account, order).await?;
        Ok(self
            .chat
            .send(
                Actor::Staff(staff),
                id,
                client_msg_id,
                MessageBody::OrderCard {
                    card: Box::new(card),
                },
            )
            .await?)
    }

    pub async fn card(&self, account: &str, order: Order) -> Result<OrderCard, OrdersError> {
        let shipped = matches!(order.status, OrderStatus::Shipped | OrderStatus::Delivered);
        let shipment = match shipped {
            true => self.commerce.shipment(account, &order.order_no).await?,
            false => None,
        };
        Ok(OrderCard::new(order, shipment))
    }
}
