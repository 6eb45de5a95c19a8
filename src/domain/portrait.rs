//! The buyer profile (用户画像) beside a chat: what the shop's orders and our own
//! service history say about a buyer, and the tags the rules below put on them.
//! Pure: the numbers come in, the tags go out (services::portrait gathers them).
//!
//! The rules, each over the buyer's most recent orders (at most
//! `RECENT_ORDERS`) and service history:
//! - `vip`: staff marked the buyer VIP, or the shop's member level is one of
//!   `VIP_LEVELS` (such a buyer is queued ahead when handed to a person);
//! - `high_value`: paid at least `HIGH_VALUE_SPEND_CENTS` (orders neither
//!   cancelled nor refunded);
//! - `returns_often`: at least `RETURNS_OFTEN_MIN` orders refunded or being
//!   refunded, and at least `RETURNS_OFTEN_SHARE` of the orders;
//! - `complained_recently`: a rating of `COMPLAINT_STARS` stars or fewer in the
//!   last `RECENT_DAYS` days;
//! - `new_buyer`: signed in, no orders; `repeat_buyer`: `REPEAT_MIN` orders or more.

use super::commerce::{Order, OrderStatus};
use serde::Serialize;

pub const RECENT_ORDERS: i64 = 50;
pub const VIP_LEVELS: [&str; 3] = ["gold", "platinum", "diamond"];
pub const HIGH_VALUE_SPEND_CENTS: i64 = 100_000;
pub const RETURNS_OFTEN_MIN: i64 = 2;
pub const RETURNS_OFTEN_SHARE: f64 = 0.3;
pub const COMPLAINT_STARS: i64 = 2;
pub const RECENT_DAYS: i64 = 30;
pub const REPEAT_MIN: i64 = 3;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OrderStats {
    pub orders: i64,
    /// Paid and kept: orders neither cancelled, awaiting payment nor refunded.
    pub spend_cents: i64,
    /// Refunded or being refunded.
    pub refunds: i64,
    pub last_order_at: Option<i64>,
}

impl OrderStats {
    pub fn of(orders: &[Order]) -> Self {
        use OrderStatus::*;
        let kept = |s: OrderStatus| matches!(s, Paid | Shipped | Delivered);
        OrderStats {
            orders: orders.len() as i64,
            spend_cents: orders
                .iter()
                .filter(|o| kept(o.status))
                .map(|o| o.total_cents)
                .sum(),
            refunds: orders
                .iter()
                .filter(|o| matches!(o.status, Refunding | Refunded))
                .count() as i64,
            last_order_at: orders.iter().map(|o| o.placed_at).max(),
        }
    }
}

/// A tag staff set by hand on a buyer account, with who set it and when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HandTagView {
    pub tag: String,
    /// The staff id.
    pub by: String,
    pub at: i64,
}

/// What our own records say about the buyer.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServiceHistory {
    pub conversations: i64,
    pub last_contact_at: Option<i64>,
    pub tickets: i64,
    pub open_tickets: i64,
    pub ratings: i64,
    pub rating_avg: Option<f64>,
    /// Ratings of COMPLAINT_STARS or fewer in the last RECENT_DAYS days.
    pub low_ratings_recent: i64,
    /// The buyer's other chats, newest first, at most RECENT_LISTED.
    pub recent_chats: Vec<PastChat>,
    /// The buyer's tickets, newest first, at most RECENT_LISTED.
    pub recent_tickets: Vec<PastTicket>,
}

/// Past chats and tickets listed in the profile.
pub const RECENT_LISTED: i64 = 5;

/// One of the buyer's other chats: when, how it stands, how they rated it.
/// Staff open it (the conversation's own access rules apply).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PastChat {
    pub id: String,
    pub started_at: i64,
    pub state: String,
    pub channel: String,
    pub stars: Option<i64>,
}

/// One of the buyer's tickets: its number and state, without its title
/// (the ticket's own access rules decide who reads that).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PastTicket {
    pub id: String,
    pub number: String,
    pub state: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileTag {
    Vip,
    HighValue,
    ReturnsOften,
    ComplainedRecently,
    NewBuyer,
    RepeatBuyer,
}

/// At most this many tags set by hand on one buyer account.
pub const MAX_HAND_TAGS: usize = 20;
const MAX_HAND_TAG_CHARS: usize = 16;

/// A tag staff put on a buyer by hand (老客户, 爱砍价): 1 to 16 characters on
/// one line, spaces around it trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandTag(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a tag is 1 to 16 characters without control characters")]
pub struct BadHandTag;

impl HandTag {
    pub fn parse(raw: &str) -> Result<Self, BadHandTag> {
        let tag = raw.trim();
        let ok = (1..=MAX_HAND_TAG_CHARS).contains(&tag.chars().count())
            && !tag.chars().any(char::is_control);
        if ok {
            Ok(Self(tag.to_owned()))
        } else {
            Err(BadHandTag)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A member level that makes a VIP (case-insensitive).
pub fn is_vip_level(level: Option<&str>) -> bool {
    level.is_some_and(|l| VIP_LEVELS.iter().any(|v| v.eq_ignore_ascii_case(l)))
}

/// The rule tags, in the order above.
pub fn tags(
    signed_in: bool,
    marked_vip: bool,
    member_level: Option<&str>,
    orders: &OrderStats,
    history: &ServiceHistory,
) -> Vec<ProfileTag> {
    let returns_often = orders.refunds >= RETURNS_OFTEN_MIN
        && orders.refunds as f64 >= RETURNS_OFTEN_SHARE * orders.orders as f64;
    [
        (marked_vip || is_vip_level(member_level), ProfileTag::Vip),
        (
            orders.spend_cents >= HIGH_VALUE_SPEND_CENTS,
            ProfileTag::HighValue,
        ),
        (returns_often, ProfileTag::ReturnsOften),
        (
            history.low_ratings_recent > 0,
            ProfileTag::ComplainedRecently,
        ),
        (signed_in && orders.orders == 0, ProfileTag::NewBuyer),
        (orders.orders >= REPEAT_MIN, ProfileTag::RepeatBuyer),
    ]
    .into_iter()
    .filter_map(|(on, tag)| on.then_some(tag))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::commerce::OrderNumber;

    fn order(status: OrderStatus, total_cents: i64, placed_at: i64) -> Order {
        Order {
            order_no: OrderNumber::parse("XE20261101001").unwrap(),
            buyer_account: "tb_1".into(),
            status,
            placed_at,
            total_cents,
            lines: Vec::new(),
            delivered_at: None,
            returnable: true,
        }
    }

    #[test]
    fn a_hand_tag_is_one_to_sixteen_characters_on_one_line() {
        assert_eq!(HandTag::parse("  老客户 ").unwrap().as_str(), "老客户");
        assert!(HandTag::parse("一二三四五六七八九十一二三四五六").is_ok());
        for bad in [
            "",
            "   ",
            "一二三四五六七八九十一二三四五六七",
            "爱\n砍价",
            "a\u{0}",
        ] {
            assert_eq!(HandTag::parse(bad), Err(BadHandTag), "{bad:?}");
        }
    }

    #[test]
    fn spend_counts_kept_orders_only() {
        use OrderStatus::*;
        let orders = [
            order(Delivered, 60_000, 3),
            order(Shipped, 30_000, 5),
            order(Refunded, 90_000, 1),
            order(Cancelled, 10_000, 7),
            order(PendingPayment, 5_000, 2),
            order(Refunding, 1_000, 4),
        ];
        let stats = OrderStats::of(&orders);
        assert_eq!(stats.orders, 6);
        assert_eq!(stats.spend_cents, 90_000);
        assert_eq!(stats.refunds, 2);
        assert_eq!(stats.last_order_at, Some(7));
    }

    #[test]
    fn the_rules_tag_a_buyer_as_the_shop_would() {
        use OrderStatus::*;
        let none = ServiceHistory::default();
        // ¥1,000 kept, three orders, one refund of three: high value, repeat.
        let big = OrderStats::of(&[
            order(Delivered, 70_000, 1),
            order(Delivered, 30_000, 2),
            order(Refunded, 5_000, 3),
        ]);
        assert_eq!(
            tags(true, false, Some("regular"), &big, &none),
            [ProfileTag::HighValue, ProfileTag::RepeatBuyer]
        );
        // Two refunds of five orders (40 %): returns often; one of seven (14 %) not.
        let returns = OrderStats {
            orders: 5,
            refunds: 2,
            ..OrderStats::default()
        };
        assert!(tags(true, false, None, &returns, &none).contains(&ProfileTag::ReturnsOften));
        let few = OrderStats {
            orders: 7,
            refunds: 2,
            ..OrderStats::default()
        };
        assert!(!tags(true, false, None, &few, &none).contains(&ProfileTag::ReturnsOften));
        // A gold member, or one staff marked, is a VIP; a signed-in buyer without orders is new.
        let empty = OrderStats::default();
        assert_eq!(
            tags(true, false, Some("Gold"), &empty, &none),
            [ProfileTag::Vip, ProfileTag::NewBuyer]
        );
        assert_eq!(tags(false, true, None, &empty, &none), [ProfileTag::Vip]);
        // A recent low rating is a complaint; an anonymous buyer is not "new".
        let unhappy = ServiceHistory {
            low_ratings_recent: 1,
            ..ServiceHistory::default()
        };
        assert_eq!(
            tags(false, false, None, &empty, &unhappy),
            [ProfileTag::ComplainedRecently]
        );
        assert!(
            is_vip_level(Some("platinum")) && !is_vip_level(Some("silver")) && !is_vip_level(None)
        );
    }
}
