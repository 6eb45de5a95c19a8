//! The buyer profile (用户画像) beside a chat: the shop's member level and
//! orders (the Commerce port), the categories the buyer looks at and buys, our
//! own service history with them, the rule tags of domain::portrait, and the
//! tags staff set by hand on a signed-in buyer's account.

use super::chat::ConversationView;
use super::recommend::{RecommendError, Recommender};
use super::visitors::{VisitorError, VisitorService};
pub use crate::domain::portrait::HandTagView;
use crate::domain::portrait::{
    self, BadHandTag, COMPLAINT_STARS, HandTag, MAX_HAND_TAGS, OrderStats, ProfileTag, RECENT_DAYS,
    RECENT_ORDERS, ServiceHistory,
};
use crate::ports::repositories::{BuyerRecords, RepoError};
use crate::ports::{Clock, Commerce, CommerceError};
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
    Records(#[from] RepoError),
    #[error(transparent)]
    Recommend(#[from] RecommendError),
    #[error("the buyer is not signed in with a shop account: there is no account to tag")]
    NotSignedIn,
    #[error(transparent)]
    BadTag(#[from] BadHandTag),
    #[error("a buyer has at most {MAX_HAND_TAGS} tags set by hand: remove one first")]
    TooManyTags,
    #[error("the buyer has no such tag")]
    TagNotFound,
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
    /// Set by hand by staff, oldest first (none for an anonymous buyer).
    pub hand_tags: Vec<HandTagView>,
}

pub struct PortraitService {
    records: Arc<dyn BuyerRecords>,
    commerce: Arc<dyn Commerce>,
    visitors: Arc<VisitorService>,
    recommender: Arc<Recommender>,
    clock: Arc<dyn Clock>,
}

impl PortraitService {
    pub fn new(
        records: Arc<dyn BuyerRecords>,
        commerce: Arc<dyn Commerce>,
        visitors: Arc<VisitorService>,
        recommender: Arc<Recommender>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            records,
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
            .records
            .service_history(
                &conversation.visitor_id,
                conversation.id.as_str(),
                since,
                COMPLAINT_STARS,
            )
            .await?;
        let marked_vip = self.records.is_vip(&conversation.id).await?;
        let interests = self.recommender.interests(&conversation.visitor_id).await?;
        let tags = portrait::tags(
            account.is_some(),
            marked_vip,
            member_level.as_deref(),
            &orders,
            &history,
        );
        let hand_tags = match account {
            Some(account) => self.hand_tags_of(account).await?,
            None => Vec::new(),
        };
        Ok(Portrait {
            account_verified: account.is_some(),
            member_level,
            orders,
            history,
            interests,
            tags,
            hand_tags,
        })
    }

    async fn hand_tags_of(&self, account: &str) -> Result<Vec<HandTagView>, PortraitError> {
        Ok(self.records.hand_tags(account).await?)
    }

    /// The shop account of the chat's buyer (which the caller may see).
    async fn account_of(&self, conversation: &ConversationView) -> Result<String, PortraitError> {
        self.visitors
            .profile(&conversation.visitor_id)
            .await?
            .shop_account_id
            .ok_or(PortraitError::NotSignedIn)
    }

    /// Staff tag the chat's signed-in buyer by hand; a tag already there stays.
    /// Returns the buyer's hand tags.
    pub async fn tag(
        &self,
        conversation: &ConversationView,
        raw: &str,
        by: &str,
    ) -> Result<Vec<HandTagView>, PortraitError> {
        let tag = HandTag::parse(raw)?;
        let account = self.account_of(conversation).await?;
        let tags = self.hand_tags_of(&account).await?;
        if tags.iter().any(|t| t.tag == tag.as_str()) {
            return Ok(tags);
        }
        if tags.len() >= MAX_HAND_TAGS {
            return Err(PortraitError::TooManyTags);
        }
        self.records
            .add_hand_tag(&account, tag.as_str(), by, self.clock.now_ms())
            .await?;
        self.hand_tags_of(&account).await
    }

    /// Removes a hand tag from the chat's buyer.
    pub async fn untag(
        &self,
        conversation: &ConversationView,
        raw: &str,
    ) -> Result<(), PortraitError> {
        let tag = HandTag::parse(raw).map_err(|_| PortraitError::TagNotFound)?;
        let account = self.account_of(conversation).await?;
        if self.records.remove_hand_tag(&account, tag.as_str()).await? {
            Ok(())
        } else {
            Err(PortraitError::TagNotFound)
        }
    }
}
