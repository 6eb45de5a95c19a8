//! The order tools: status, logistics timeline and return eligibility, always for
//! the buyer's own shop account, which only a signed identity from the shop sets.
//! An order of anyone else reads as "not found"; an anonymous buyer is asked to
//! sign in.

use super::pipeline::Turn;
use super::{BotError, BotService};
use crate::domain::commerce::{
    Order, OrderCard, OrderNumber, OrderStatus, ReturnEligibility, Shipment, return_eligibility,
};
use crate::domain::intake::Completion;
use crate::domain::lang::Lang;
use crate::domain::message::MessageBody;

/// What looking an order up for this buyer found.
pub enum Lookup {
    Own(Box<Order>),
    /// No such order on the buyer's account (it may exist on another: we do not say).
    NotOnAccount,
    /// The visitor is not signed in to a shop account.
    NoAccount,
}

pub fn not_on_account(lang: Lang, order_no: &str) -> String {
    match lang {
        Lang::Zh => {
            format!("抱歉，在您的账号下没有找到订单 {order_no}，无法查询或办理。请核对订单号。")
        }
        Lang::En => format!(
            "Sorry, I can't find order {order_no} on your account, so I can't look it up or act on it. Please check the number."
        ),
    }
}

pub fn sign_in_first(lang: Lang) -> &'static str {
    lang.pick(
        "查询订单需要先登录您的店铺账号。请先在店铺页面登录，然后再问我就可以了。",
        "To look up orders I need you to be signed in to your shop account. Please sign in on the shop's page, then ask me again.",
    )
}

/// An order tool works only for a buyer the shop vouched for: an anonymous one is
/// asked to sign in first, before being asked for an order number that could
/// only ever read as "not found".
pub fn needs_sign_in(turn: &Turn, tool: Completion) -> bool {
    tool != Completion::HandOff && turn.buyer_account().is_none()
}

impl BotService {
    pub(super) async fn lookup(&self, turn: &Turn, order_no: &str) -> Result<Lookup, BotError> {
        let Some(account) = turn.buyer_account() else {
            return Ok(Lookup::NoAccount);
        };
        let Ok(no) = OrderNumber::parse(order_no) else {
            return Ok(Lookup::NotOnAccount);
        };
        match self.ports.commerce.order(account, &no).await? {
            // Belt and braces: an adapter that ignored the account still shows nothing.
            Some(order) if order.buyer_account == account => Ok(Lookup::Own(Box::new(order))),
            Some(_) | None => Ok(Lookup::NotOnAccount),
        }
    }

    /// Answers a completed order intent from the shop's data.
    pub(super) async fn order_tool(
        &self,
        turn: &mut Turn,
        tool: Completion,
        order: &Order,
    ) -> Result<(), BotError> {
        let lang = turn.lang;
        let shipped = matches!(order.status, OrderStatus::Shipped | OrderStatus::Delivered);
        let shipment = match tool {
            Completion::TrackParcel | Completion::OrderStatus if shipped => {
                self.ports
                    .commerce
                    .shipment(&order.buyer_account, &order.order_no)
                    .await?
            }
            _ => None,
        };
        let text = match tool {
            Completion::TrackParcel => self.describe_parcel(order, shipment.as_ref(), lang),
            Completion::ReturnCheck => {
                describe_return(order, self.clock.now_ms(), lang, self.offset())
            }
            Completion::OrderStatus | Completion::HandOff => describe_status(order, lang),
        };
        turn.session
            .unhelpful
            .record(true, self.config.unhelpful_limit);
        self.say(turn, &text).await?;
        // The words, then the order itself as a card (status, items, newest
        // tracking step) the buyer can look at again later in the chat.
        if matches!(tool, Completion::TrackParcel | Completion::OrderStatus) {
            let card = OrderCard::new(order.clone(), shipment);
            self.chat
                .send_bot(
                    &turn.id,
                    MessageBody::OrderCard {
                        card: Box::new(card),
                    },
                )
                .await?;
        }
        Ok(())
    }

    fn offset(&self) -> i32 {
        self.shop.cached().utc_offset_minutes
    }

    fn describe_parcel(&self, order: &Order, shipment: Option<&Shipment>, lang: Lang) -> String {
        let head = describe_status(order, lang);
        let Some(shipment) = shipment.filter(|s| !s.events.is_empty()) else {
            return format!(
                "{head}{}",
                lang.pick(
                    "还没有物流信息，发货后可以在这里查询。",
                    " There is no tracking yet; ask me again once it ships."
                )
            );
        };
        let mut lines = vec![
            head,
            format!("{} {}:", shipment.carrier, shipment.tracking_no),
        ];
        for event in shipment.events.iter().rev().take(5) {
            lines.push(format!(
                "· {} {} {}",
                local_time(event.at, self.offset()),
                event.location,
                event.description
            ));
        }
        lines.join("\n")
    }
}

fn items(order: &Order) -> String {
    order
        .lines
        .iter()
        .map(|l| format!("{} ×{}", l.name, l.quantity))
        .collect::<Vec<_>>()
        .join("、")
}

fn describe_status(order: &Order, lang: Lang) -> String {
    match lang {
        Lang::Zh => format!(
            "您的订单 {}（{}）当前状态：{}。",
            order.order_no,
            items(order),
            order.status.describe(true)
        ),
        Lang::En => format!(
            "Your order {} ({}) is {}.",
            order.order_no,
            items(order),
            order.status.describe(false)
        ),
    }
}

fn describe_return(order: &Order, now: i64, lang: Lang, offset: i32) -> String {
    let zh = lang == Lang::Zh;
    let no = &order.order_no;
    match (return_eligibility(order, now), zh) {
        (ReturnEligibility::Eligible { until }, true) => format!(
            "订单 {no} 支持七天无理由退货，可在 {} 前申请。需要的话告诉我“我要退货”。",
            local_time(until, offset)
        ),
        (ReturnEligibility::Eligible { until }, false) => format!(
            "Order {no} can be returned without a reason until {}. Say \"I want to return it\" if you'd like to.",
            local_time(until, offset)
        ),
        (ReturnEligibility::WindowClosed { .. }, true) => format!(
            "订单 {no} 已超过七天无理由退货期限。如果商品有质量问题，可以告诉我具体情况，我为您转人工处理。"
        ),
        (ReturnEligibility::WindowClosed { .. }, false) => format!(
            "Order {no} is past the 7-day return window. If the item is faulty, tell me what is wrong and I'll pass it to a person."
        ),
        (ReturnEligibility::NotDelivered, true) => {
            format!("订单 {no} 还未签收，签收后七天内可以申请退货。")
        }
        (ReturnEligibility::NotDelivered, false) => format!(
            "Order {no} has not been delivered yet; returns open for 7 days after delivery."
        ),
        (ReturnEligibility::NotReturnable, true) => {
            format!("订单 {no} 中的商品不支持无理由退货，如有质量问题请告诉我。")
        }
        (ReturnEligibility::NotReturnable, false) => format!(
            "The goods in order {no} cannot be returned without a reason; tell me if something is wrong with them."
        ),
        (ReturnEligibility::AlreadyRefunded, true) => {
            format!("订单 {no} 已在退款流程中，无需重复申请。")
        }
        (ReturnEligibility::AlreadyRefunded, false) => {
            format!("Order {no} is already being refunded.")
        }
    }
}

/// "11-23 10:05" in the shop's time zone.
fn local_time(ms: i64, offset_minutes: i32) -> String {
    let stamp = super::hours::rfc3339(ms + i64::from(offset_minutes) * 60_000);
    // YYYY-MM-DDTHH:MM:SSZ -> MM-DD HH:MM
    format!("{} {}", &stamp[5..10], &stamp[11..16])
}
