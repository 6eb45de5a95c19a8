//! Coupons in the chat (优惠券): the chat's agent offers one of the shop's
//! coupons as a card; the buyer claims it from that card. The shop's system
//! (the Commerce port) owns the coupons and decides each claim; a buyer claims
//! only a coupon offered in their own chat, and only with the shop account they
//! are signed in with. A claim is told in the chat, so the agent sees it.

use super::chat::{Ack, Actor, ChatError, ChatService};
use super::events::EventPayload;
use super::staff::StaffUser;
use super::visitors::{Visitor, VisitorError, VisitorService};
use crate::domain::conversation::ConversationId;
use crate::domain::coupon::{Claim, Coupon, CouponCard, CouponId};
use crate::domain::lang::Lang;
use crate::domain::message::{ClientMsgId, MessageBody};
use crate::ports::{Clock, Commerce, CommerceError};
use serde::Serialize;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum CouponError {
    #[error("the shop has no coupon with this id")]
    NotFound,
    #[error("this coupon cannot be offered: none are left or it has expired")]
    NotOfferable,
    #[error("no coupon was offered in this chat at that message")]
    NotOffered,
    #[error("only a buyer signed in with a shop account can claim a coupon")]
    NotSignedIn,
    #[error("all of this coupon have been claimed")]
    SoldOut,
    #[error("this coupon has expired")]
    Expired,
    #[error(transparent)]
    Commerce(#[from] CommerceError),
    #[error(transparent)]
    Chat(#[from] ChatError),
    #[error(transparent)]
    Visitor(#[from] VisitorError),
}

/// A coupon as the console's picker lists it.
#[derive(Debug, Clone, Serialize)]
pub struct CouponView {
    #[serde(flatten)]
    pub coupon: Coupon,
    pub rule_zh: String,
    pub rule_en: String,
    /// Some left and still valid.
    pub offerable: bool,
}

/// What the buyer's claim got.
#[derive(Debug, Clone, Serialize)]
pub struct Claimed {
    /// `claimed`, or `already_claimed` for a repeated claim.
    pub outcome: Claim,
    pub card: CouponCard,
}

pub struct CouponDesk {
    commerce: Arc<dyn Commerce>,
    chat: Arc<ChatService>,
    visitors: Arc<VisitorService>,
    clock: Arc<dyn Clock>,
}

impl CouponDesk {
    pub fn new(
        commerce: Arc<dyn Commerce>,
        chat: Arc<ChatService>,
        visitors: Arc<VisitorService>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            commerce,
            chat,
            visitors,
            clock,
        }
    }

    /// The shop's coupons for the console's picker.
    pub async fn list(&self) -> Result<Vec<CouponView>, CouponError> {
        let now = self.clock.now_ms();
        Ok(self
            .commerce
            .coupons()
            .await?
            .into_iter()
            .map(|coupon| {
                let card = coupon.card();
                CouponView {
                    offerable: coupon.is_offerable(now),
                    coupon,
                    rule_zh: card.rule_zh,
                    rule_en: card.rule_en,
                }
            })
            .collect())
    }

    /// The chat's agent offers a coupon (idempotent by client_msg_id): one the
    /// shop has, with some left and still valid.
    pub async fn send_card(
        &self,
        staff: &StaffUser,
        id: &ConversationId,
        coupon: &CouponId,
        client_msg_id: Option<ClientMsgId>,
    ) -> Result<Ack, CouponError> {
        self.chat.visible(Actor::Staff(staff), id).await?;
        let coupon = self
            .commerce
            .coupon(coupon)
            .await?
            .ok_or(CouponError::NotFound)?;
        if !coupon.is_offerable(self.clock.now_ms()) {
            return Err(CouponError::NotOfferable);
        }
        let body = MessageBody::CouponCard {
            card: Box::new(coupon.card()),
        };
        Ok(self
            .chat
            .send(Actor::Staff(staff), id, client_msg_id, body)
            .await?)
    }

    /// The buyer claims the coupon of the card at `seq` in their chat. A first
    /// claim is told in the chat (in the buyer's `lang`); a repeated one
    /// answers `already_claimed`.
    pub async fn claim(
        &self,
        visitor: &Visitor,
        id: &ConversationId,
        seq: i64,
        lang: Lang,
    ) -> Result<Claimed, CouponError> {
        self.chat.visible(Actor::Buyer(visitor), id).await?;
        let card = self.offered(id, seq).await?;
        let profile = self.visitors.profile(&visitor.id).await?;
        let account = profile.shop_account_id.ok_or(CouponError::NotSignedIn)?;
        let coupon = CouponId::parse(&card.coupon_id).map_err(|_| CouponError::NotFound)?;
        let outcome = self
            .commerce
            .claim_coupon(&account, &coupon, self.clock.now_ms())
            .await?;
        match outcome {
            Claim::Claimed => {
                let text = match lang {
                    Lang::Zh => format!("已领取优惠券「{}」（{}）", card.title, card.rule_zh),
                    Lang::En => format!("Coupon “{}” claimed ({})", card.title, card.rule_en),
                };
                self.chat.post_system(id, text).await?;
            }
            Claim::AlreadyClaimed => {}
            Claim::SoldOut => return Err(CouponError::SoldOut),
            Claim::Expired => return Err(CouponError::Expired),
            Claim::Unknown => return Err(CouponError::NotFound),
        }
        Ok(Claimed { outcome, card })
    }

    /// The coupons (ids) the buyer of this chat holds: none for a buyer not
    /// signed in with a shop account. The widget marks those cards claimed.
    pub async fn claimed(
        &self,
        visitor: &Visitor,
        id: &ConversationId,
    ) -> Result<Vec<String>, CouponError> {
        self.chat.visible(Actor::Buyer(visitor), id).await?;
        let profile = self.visitors.profile(&visitor.id).await?;
        let Some(account) = profile.shop_account_id else {
            return Ok(Vec::new());
        };
        let held = self.commerce.claimed_coupons(&account).await?;
        Ok(held.iter().map(|c| c.as_str().to_owned()).collect())
    }

    /// The coupon card at `seq` in the chat `id`.
    async fn offered(&self, id: &ConversationId, seq: i64) -> Result<CouponCard, CouponError> {
        if seq < 1 {
            return Err(CouponError::NotOffered);
        }
        let events = self.chat.events(id, seq - 1, 1).await?;
        match events.into_iter().next() {
            Some(event) if event.seq == seq => match event.payload {
                EventPayload::Message {
                    body: MessageBody::CouponCard { card },
                } => Ok(*card),
                _ => Err(CouponError::NotOffered),
            },
            _ => Err(CouponError::NotOffered),
        }
    }
}
