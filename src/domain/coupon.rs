//! The shop's coupons (优惠券), as agents offer them in a chat and buyers claim
//! them. The shop's own system (the Commerce port) owns the coupons, their
//! stock and who holds one; a card in a chat is a snapshot of the offer.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CouponInputError {
    #[error("a coupon id is 1 to 40 letters, digits, '-' or '_'")]
    BadId,
}

/// A coupon's id in the shop's system (`SHOP20`, `new-5`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CouponId(String);

impl CouponId {
    pub fn parse(raw: &str) -> Result<Self, CouponInputError> {
        let ok = (1..=40).contains(&raw.len())
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(CouponInputError::BadId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A coupon of the shop: so much off an order of at least so much, until a
/// day, while the shop has some left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coupon {
    pub id: String,
    pub title: String,
    pub discount_cents: i64,
    /// 0: no minimum (无门槛).
    pub min_spend_cents: i64,
    /// Unix ms; claimable and usable until then.
    pub valid_until: i64,
    /// How many the shop still gives away.
    pub remaining: i64,
}

impl Coupon {
    pub fn is_offerable(&self, now_ms: i64) -> bool {
        self.remaining > 0 && now_ms < self.valid_until
    }

    pub fn card(&self) -> CouponCard {
        CouponCard {
            coupon_id: self.id.clone(),
            title: self.title.clone(),
            discount_cents: self.discount_cents,
            min_spend_cents: self.min_spend_cents,
            valid_until: self.valid_until,
            rule_zh: rule(self.discount_cents, self.min_spend_cents, true),
            rule_en: rule(self.discount_cents, self.min_spend_cents, false),
        }
    }
}

/// A coupon as a card in the chat shows it (the offer when it was sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponCard {
    pub coupon_id: String,
    pub title: String,
    pub discount_cents: i64,
    pub min_spend_cents: i64,
    pub valid_until: i64,
    /// The rule in words: 满199减20 / ¥20 off orders of ¥199 or more.
    pub rule_zh: String,
    pub rule_en: String,
}

impl CouponCard {
    /// One line for transcripts.
    pub fn summary(&self) -> String {
        format!("[优惠券] {} {}", self.title, self.rule_zh)
    }
}

/// What the shop answered a buyer's claim (also as the HTTP shop writes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Claim {
    Claimed,
    /// The buyer holds one already (a claim is once per buyer).
    AlreadyClaimed,
    SoldOut,
    Expired,
    /// The shop has no such coupon (any more).
    Unknown,
}

fn yuan(cents: i64) -> String {
    if cents % 100 == 0 {
        format!("{}", cents / 100)
    } else {
        format!("{:.2}", cents as f64 / 100.0)
    }
}

/// The coupon's rule in words.
pub fn rule(discount_cents: i64, min_spend_cents: i64, zh: bool) -> String {
    let off = yuan(discount_cents);
    match (zh, min_spend_cents) {
        (true, 0) => format!("无门槛减{off}元"),
        (true, min) => format!("满{}减{off}", yuan(min)),
        (false, 0) => format!("¥{off} off any order"),
        (false, min) => format!("¥{off} off orders of ¥{} or more", yuan(min)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_short_plain_words() {
        assert!(CouponId::parse("SHOP20").is_ok());
        assert!(CouponId::parse("new_buyer-5").is_ok());
        for bad in ["", "../x", "满减", "a b", &"x".repeat(41)] {
            assert_eq!(CouponId::parse(bad), Err(CouponInputError::BadId), "{bad}");
        }
    }

    #[test]
    fn rules_read_as_shops_write_them() {
        assert_eq!(rule(2000, 19900, true), "满199减20");
        assert_eq!(rule(500, 0, true), "无门槛减5元");
        assert_eq!(rule(1550, 9950, true), "满99.50减15.50");
        assert_eq!(rule(2000, 19900, false), "¥20 off orders of ¥199 or more");
        assert_eq!(rule(500, 0, false), "¥5 off any order");
    }

    #[test]
    fn a_coupon_is_offered_while_some_are_left_and_it_is_valid() {
        let coupon = Coupon {
            id: "SHOP20".into(),
            title: "全店满减券".into(),
            discount_cents: 2000,
            min_spend_cents: 19900,
            valid_until: 1_000,
            remaining: 1,
        };
        assert!(coupon.is_offerable(999));
        assert!(!coupon.is_offerable(1_000));
        let gone = Coupon {
            remaining: 0,
            ..coupon.clone()
        };
        assert!(!gone.is_offerable(0));
        assert_eq!(coupon.card().summary(), "[优惠券] 全店满减券 满199减20");
    }
}
