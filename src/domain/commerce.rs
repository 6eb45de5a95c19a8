//! Orders, shipments and the return rule, as the bot's order tools see them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommerceInputError {
    #[error("an order number is 6 to 32 letters and digits with at least 6 digits")]
    BadOrderNumber,
}

/// An order number as buyers type it: an optional letter prefix and digits
/// (`XE20261101001`, `3921876543210987`). Normalised to upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrderNumber(String);

impl OrderNumber {
    pub fn parse(raw: &str) -> Result<Self, CommerceInputError> {
        let raw = raw.trim();
        let letters = raw.chars().take_while(char::is_ascii_alphabetic).count();
        let digits = &raw[letters..];
        let ok = (6..=32).contains(&raw.len())
            && letters <= 4
            && digits.len() >= 6
            && digits.chars().all(|c| c.is_ascii_digit());
        if ok && !is_mobile_phone(raw) {
            Ok(Self(raw.to_ascii_uppercase()))
        } else {
            Err(CommerceInputError::BadOrderNumber)
        }
    }

    /// Every order number in free text ("订单号XE20261101001，帮我查下").
    pub fn find_in(text: &str) -> Vec<OrderNumber> {
        ascii_runs(text)
            .filter_map(|run| OrderNumber::parse(run).ok())
            .collect()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for OrderNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Maximal runs of ASCII letters and digits: the candidates for identifiers,
/// whatever (Chinese) text surrounds them.
fn ascii_runs(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|s| !s.is_empty())
}

/// A mainland mobile number: 11 digits starting 13-19.
pub fn is_mobile_phone(s: &str) -> bool {
    s.len() == 11
        && s.starts_with('1')
        && matches!(s.as_bytes()[1], b'3'..=b'9')
        && s.chars().all(|c| c.is_ascii_digit())
}

/// Mobile numbers in free text, with an optional +86 / 86 prefix dropped.
pub fn find_phones(text: &str) -> Vec<String> {
    let compact: String = text.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    ascii_runs(&compact)
        .map(|run| {
            run.strip_prefix("86")
                .filter(|r| r.len() == 11)
                .unwrap_or(run)
        })
        .filter(|run| is_mobile_phone(run))
        .map(str::to_owned)
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    PendingPayment,
    Paid,
    Shipped,
    Delivered,
    Cancelled,
    Refunding,
    Refunded,
}

impl OrderStatus {
    /// The buyer paid it (a later refund does not undo the payment): what a
    /// conversion counts. Awaiting payment and cancelled orders were not paid.
    pub fn was_paid(self) -> bool {
        !matches!(self, OrderStatus::PendingPayment | OrderStatus::Cancelled)
    }

    pub fn describe(self, zh: bool) -> &'static str {
        use OrderStatus::*;
        match (self, zh) {
            (PendingPayment, true) => "待付款",
            (PendingPayment, false) => "awaiting payment",
            (Paid, true) => "已付款，等待发货",
            (Paid, false) => "paid, waiting to be shipped",
            (Shipped, true) => "已发货，运输中",
            (Shipped, false) => "shipped, in transit",
            (Delivered, true) => "已签收",
            (Delivered, false) => "delivered",
            (Cancelled, true) => "已取消",
            (Cancelled, false) => "cancelled",
            (Refunding, true) => "退款处理中",
            (Refunding, false) => "refund in progress",
            (Refunded, true) => "已退款",
            (Refunded, false) => "refunded",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub order_no: OrderNumber,
    /// The shop account that placed it: the only buyer who may see it.
    pub buyer_account: String,
    pub status: OrderStatus,
    pub placed_at: i64,
    pub total_cents: i64,
    pub lines: Vec<OrderLine>,
    /// Unix ms; set once the parcel was signed for.
    pub delivered_at: Option<i64>,
    /// Some goods (underwear, custom-made, fresh food) cannot be returned without cause.
    pub returnable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingEvent {
    pub at: i64,
    pub location: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shipment {
    pub carrier: String,
    pub tracking_no: String,
    /// Oldest first.
    pub events: Vec<TrackingEvent>,
}

/// An order as a card shows it, beside a chat and inside one: number, status
/// in both languages, items, total and the newest tracking step. Written by
/// the server from the shop's data for the buyer's own account only; a card
/// sent into a chat keeps the order as it was then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCard {
    pub order_no: String,
    pub status: OrderStatus,
    pub status_zh: String,
    pub status_en: String,
    pub placed_at: i64,
    pub total_cents: i64,
    pub lines: Vec<OrderLine>,
    pub delivered_at: Option<i64>,
    /// Carrier, tracking number and the newest tracking step, once shipped.
    pub carrier: Option<String>,
    pub tracking_no: Option<String>,
    pub latest_tracking: Option<TrackingEvent>,
}

impl OrderCard {
    pub fn new(order: Order, shipment: Option<Shipment>) -> Self {
        Self {
            order_no: order.order_no.to_string(),
            status: order.status,
            status_zh: order.status.describe(true).to_owned(),
            status_en: order.status.describe(false).to_owned(),
            placed_at: order.placed_at,
            total_cents: order.total_cents,
            lines: order.lines,
            delivered_at: order.delivered_at,
            carrier: shipment.as_ref().map(|s| s.carrier.clone()),
            tracking_no: shipment.as_ref().map(|s| s.tracking_no.clone()),
            latest_tracking: shipment.and_then(|s| s.events.into_iter().last()),
        }
    }

    /// One line for transcripts, previews and the history index.
    pub fn summary(&self) -> String {
        format!("[订单] {} {}", self.order_no, self.status_zh)
    }
}

/// Whether an order can still be returned without giving a cause (七天无理由退货).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReturnEligibility {
    Eligible { until: i64 },
    WindowClosed { closed_at: i64 },
    NotDelivered,
    NotReturnable,
    AlreadyRefunded,
}

pub const RETURN_WINDOW_DAYS: i64 = 7;
const DAY_MS: i64 = 24 * 3600 * 1000;

pub fn return_eligibility(order: &Order, now_ms: i64) -> ReturnEligibility {
    use OrderStatus::*;
    match order.status {
        Refunding | Refunded => return ReturnEligibility::AlreadyRefunded,
        PendingPayment | Paid | Shipped | Cancelled => return ReturnEligibility::NotDelivered,
        Delivered => {}
    }
    if !order.returnable {
        return ReturnEligibility::NotReturnable;
    }
    let Some(delivered) = order.delivered_at else {
        return ReturnEligibility::NotDelivered;
    };
    let until = delivered + RETURN_WINDOW_DAYS * DAY_MS;
    if now_ms <= until {
        ReturnEligibility::Eligible { until }
    } else {
        ReturnEligibility::WindowClosed { closed_at: until }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_numbers_are_found_inside_chinese_text() {
        let found = OrderNumber::find_in("订单号XE20261101001，还有 xe20261101002 帮我查下");
        let found: Vec<&str> = found.iter().map(OrderNumber::as_str).collect();
        assert_eq!(found, ["XE20261101001", "XE20261101002"]);
    }

    #[test]
    fn phone_numbers_and_short_numbers_are_not_order_numbers() {
        assert!(OrderNumber::parse("13800138000").is_err());
        assert!(OrderNumber::parse("12345").is_err());
        assert!(
            OrderNumber::parse("ABCDE123456").is_err(),
            "prefix too long"
        );
        assert!(OrderNumber::find_in("my phone is 13800138000").is_empty());
    }

    #[test]
    fn phones_are_found_with_country_code_and_dashes() {
        assert_eq!(find_phones("电话+86 138-0013-8000"), ["13800138000"]);
        assert!(find_phones("XE20261101001").is_empty());
    }

    fn delivered(at: i64, returnable: bool) -> Order {
        Order {
            order_no: OrderNumber::parse("XE20261101001").unwrap(),
            buyer_account: "tb_1".into(),
            status: OrderStatus::Delivered,
            placed_at: 0,
            total_cents: 100,
            lines: vec![],
            delivered_at: Some(at),
            returnable,
        }
    }

    #[test]
    fn returns_are_open_seven_days_after_delivery() {
        let order = delivered(0, true);
        assert_eq!(
            return_eligibility(&order, 3 * DAY_MS),
            ReturnEligibility::Eligible { until: 7 * DAY_MS }
        );
        assert_eq!(
            return_eligibility(&order, 8 * DAY_MS),
            ReturnEligibility::WindowClosed {
                closed_at: 7 * DAY_MS
            }
        );
        assert_eq!(
            return_eligibility(&delivered(0, false), 0),
            ReturnEligibility::NotReturnable
        );
    }
}
