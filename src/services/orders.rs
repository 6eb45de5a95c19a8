//! The buyer's orders beside a chat: what the agent sees in the side panel as
//! order cards. Only a buyer whose shop account the shop vouched for (a signed
//! identity) has orders here; an anonymous visitor's chat says so instead.

use crate::domain::commerce::{Order, OrderStatus, TrackingEvent};
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
}

/// One order card.
#[derive(Debug, Clone, Serialize)]
pub struct OrderCard {
    pub order_no: String,
    pub status: OrderStatus,
    pub status_zh: &'static str,
    pub status_en: &'static str,
    pub placed_at: i64,
    pub total_cents: i64,
    pub lines: Vec<crate::domain::commerce::OrderLine>,
    pub delivered_at: Option<i64>,
    /// Carrier, tracking number and the newest tracking step, once shipped.
    pub carrier: Option<String>,
    pub tracking_no: Option<String>,
    pub latest_tracking: Option<TrackingEvent>,
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
}

impl OrderLookup {
    pub fn new(commerce: Arc<dyn Commerce>, visitors: Arc<VisitorService>) -> Self {
        Self { commerce, visitors }
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

    async fn card(&self, account: &str, order: Order) -> Result<OrderCard, OrdersError> {
        let shipped = matches!(order.status, OrderStatus::Shipped | OrderStatus::Delivered);
        let shipment = match shipped {
            true => self.commerce.shipment(account, &order.order_no).await?,
            false => None,
        };
        Ok(OrderCard {
            order_no: order.order_no.to_string(),
            status: order.status,
            status_zh: order.status.describe(true),
            status_en: order.status.describe(false),
            placed_at: order.placed_at,
            total_cents: order.total_cents,
            lines: order.lines,
            delivered_at: order.delivered_at,
            carrier: shipment.as_ref().map(|s| s.carrier.clone()),
            tracking_no: shipment.as_ref().map(|s| s.tracking_no.clone()),
            latest_tracking: shipment.and_then(|s| s.events.into_iter().last()),
        })
    }
}
