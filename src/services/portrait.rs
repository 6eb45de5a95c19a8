//! The buyer profile (用户画像) beside a chat: the shop's member level and
//! orders (the Commerce port), the categories the buyer looks at and buys, our
//! own service history with them, and the rule tags of domain::portrait.

use super::chat::ConversationView;
use super::recommend::{RecommendError, Recommender};
use super::visitors::{VisitorError, VisitorService};
use crate::domain::portrait::{
    self, COMPLAINT_STARS, OrderStats, ProfileTag, RECENT_DAYS, RECENT_ORDERS, ServiceHistory,
};
use crate::ports::{Clock, Commerce, CommerceError};
use crate::storage::{Store, StoreError};
use serde::Serialize;
use std::sync::Arc;

const DAY_MS: i64 = 24 * 3600 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum PortraitError {
    #[error(transparent)]
    Commerce(#[from] CommerceError),
    #[error(transparent)]
    Visitor(#[from] VisitorError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Recommend(#[from] RecommendError),
}

#[derive(Debug, Clone, Serialize)]
pub struct Portrait {
    /// False for an anonymous buyer: no member level and no orders.
    pub account_verified: bool,
    pub member_level: Option<String>,
    pub orders: OrderStats,
    pub history: ServiceHistory,
    /// Catalogue categories, most frequent first.
    pub interests: Vec<String>,
    pub tags: Vec<ProfileTag>,
}

pub struct PortraitService {
    store: Store,
    commerce: Arc<dyn Commerce>,
    visitors: Arc<VisitorService>,
    recommender: Arc<Recommender>,
    clock: Arc<dyn Clock>,
}

impl PortraitService {
    pub fn new(
        store: Store,
        commerce: Arc<dyn Commerce>,
        visitors: Arc<VisitorService>,
        recommender: Arc<Recommender>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            commerce,
            visitors,
            recommender,
            clock,
        }
    }

    /// The profile of the buyer of `conversation` (which the caller may see).
    pub async fn of(&self, conversation: &ConversationView) -> Result<Portrait, PortraitError> {
        let profile = self.visitors.profile(&conversation.visitor_id).await?;
        let account = profile.shop_account_id.as_deref();
        let (member_level, orders) = match account {
            Some(account) => (
                self.commerce.member_level(account).await?,
                OrderStats::of(&self.commerce.recent_orders(account, RECENT_ORDERS).await?),
            ),
            None => (None, OrderStats::default()),
        };
        let since = self.clock.now_ms() - RECENT_DAYS * DAY_MS;
        let history = self
            .store
            .service_history(&conversation.visitor_id, since, COMPLAINT_STARS)
            .await?;
        let marked_vip = self.store.visitor_is_vip(&conversation.id).await?;
        let interests = self.recommender.interests(&conversation.visitor_id).await?;
        let tags = portrait::tags(
            account.is_some(),
            marked_vip,
            member_level.as_deref(),
            &orders,
            &history,
        );
        Ok(Portrait {
            account_verified: account.is_some(),
            member_level,
            orders,
            history,
            interests,
            tags,
        })
    }
}
