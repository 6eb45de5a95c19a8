//! Conversion (询单转化): which chats turned into a paid order. The analytics
//! subscriber keeps when each chat's buyer first wrote; every few minutes this
//! sweeper asks the shop (the Commerce port) for the orders of the signed-in
//! buyers of recent questions, and records the first paid order that falls in
//! a conversion window (`domain::analytics::conversion`) with a
//! `conversation.converted` event, which analytics folds like any other.
//! Recording is once per chat (the row and the event's id are both keyed by
//! the chat), so two nodes sweeping at once change nothing twice. Anonymous
//! buyers cannot be matched to orders: they count as questions that did not
//! convert.

use super::shop::ShopService;
use crate::domain::analytics::{DAY_MS, conversion, conversion_deadline};
use crate::domain::commerce::Order;
use crate::domain::events::{EventData, NewEvent};
use crate::ports::repositories::{Conversions, Inquiry, RepoError};
use crate::ports::{Clock, Commerce};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How often the sweeper looks.
pub const SWEEP_EVERY: Duration = Duration::from_secs(300);
/// A shop's order system may report an order late: a question stays open this
/// long after its last window closed.
const LATE_ORDERS_MS: i64 = DAY_MS;
/// Questions looked at per sweep (oldest first; the rest wait for the next).
const SWEEP_LIMIT: i64 = 5_000;
/// The buyer's newest orders asked for.
const ORDERS_READ: i64 = 50;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sweep {
    /// Signed-in buyers whose orders were read.
    pub buyers: usize,
    pub converted: usize,
    /// Buyers whose orders could not be read this time (tried again next sweep).
    pub failed: usize,
}

pub struct ConversionTracker {
    repo: Arc<dyn Conversions>,
    commerce: Arc<dyn Commerce>,
    shop: Arc<ShopService>,
    clock: Arc<dyn Clock>,
}

impl ConversionTracker {
    pub fn new(
        repo: Arc<dyn Conversions>,
        commerce: Arc<dyn Commerce>,
        shop: Arc<ShopService>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        ConversionTracker {
            repo,
            commerce,
            shop,
            clock,
        }
    }

    pub async fn run(self: Arc<Self>, shutdown: tokio::sync::watch::Receiver<bool>) {
        super::every(SWEEP_EVERY, shutdown, "conversion sweep", || self.sweep()).await;
    }

    /// Looks once at every open question of the last days.
    pub async fn sweep(&self) -> Result<Sweep, RepoError> {
        let now = self.clock.now_ms();
        let offset = self.shop.current().await.utc_offset_minutes;
        // The later window closes at most two days after the question.
        let since = now - 2 * DAY_MS - LATE_ORDERS_MS;
        let mut by_buyer: BTreeMap<String, Vec<Inquiry>> = BTreeMap::new();
        for inquiry in self.repo.open_inquiries(since, SWEEP_LIMIT).await? {
            if conversion_deadline(inquiry.first_buyer_at, offset) + LATE_ORDERS_MS >= now {
                by_buyer
                    .entry(inquiry.account.clone())
                    .or_default()
                    .push(inquiry);
            }
        }
        let mut sweep = Sweep::default();
        for (account, inquiries) in by_buyer {
            let orders = match self.commerce.recent_orders(&account, ORDERS_READ).await {
                Ok(orders) => orders,
                Err(error) => {
                    // Never the account in the log.
                    tracing::warn!(%error, "conversion: a buyer's orders could not be read");
                    sweep.failed += 1;
                    continue;
                }
            };
            sweep.buyers += 1;
            for inquiry in &inquiries {
                if self.record_first(inquiry, &orders, offset, now).await? {
                    sweep.converted += 1;
                }
            }
        }
        Ok(sweep)
    }

    /// Records the earliest paid order in a window of the question, if any.
    async fn record_first(
        &self,
        inquiry: &Inquiry,
        orders: &[Order],
        offset: i32,
        now: i64,
    ) -> Result<bool, RepoError> {
        let first = orders
            .iter()
            .filter(|o| o.status.was_paid() && o.placed_at <= now)
            .filter_map(|o| Some((o, conversion(inquiry.first_buyer_at, o.placed_at, offset)?)))
            .min_by_key(|(o, _)| o.placed_at);
        let Some((order, windows)) = first else {
            return Ok(false);
        };
        let event = NewEvent {
            id: format!("evt_converted_{}", inquiry.conversation_id),
            conversation_id: Some(inquiry.conversation_id.clone()),
            seq: None,
            data: EventData::Converted {
                placed_at: order.placed_at,
                total_cents: order.total_cents,
                within_24h: windows.within_24h,
                by_next_day: windows.by_next_day,
            },
            created_at: now,
        };
        self.repo
            .record(
                &inquiry.conversation_id,
                order.placed_at,
                order.total_cents,
                &event,
            )
            .await
    }
}
