//! The order tools: status, logistics timeline and return eligibility, always for
//! the buyer's own shop account, which only a signed identity from the shop sets.
//! An order of anyone else reads as "not found"; an anonymous buyer is asked to
//! sign in.

use super::action::Reply;
use super::pipeline::Turn;
use super::{BotError, BotService};
use crate::domain::bot_messages::{Messages, Msg};
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

    /// The answer to a completed order intent, from the shop's data.
    pub(super) async fn order_tool(
        &self,
        turn: &Turn,
        tool: Completion,
        order: &Order,
    ) -> Result<Reply, BotError> {
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
        let words = self.prompts.messages();
        let text = match tool {
            Completion::TrackParcel => self.describe_parcel(order, shipment.as_ref(), lang),
            Completion::ReturnCheck => {
                describe_return(words, order, self.clock.now_ms(), lang, self.offset())
            }
            Completion::OrderStatus | Completion::HandOff => describe_status(words, order, lang),
        };
        // The words, then the order itself as a card (status, items, newest
        // tracking step) the buyer can look at again later in the chat.
        let mut cards = Vec::new();
        if matches!(tool, Completion::TrackParcel | Completion::OrderStatus) {
            let card = OrderCard::new(order.clone(), shipment);
            cards.push(MessageBody::OrderCard {
                card: Box::new(card),
            });
        }
        Ok(Reply {
            helped: Some(true),
            cards,
            ..Reply::notice(text)
        })
    }

    fn offset(&self) -> i32 {
        self.shop.cached().utc_offset_minutes
    }

    fn describe_parcel(&self, order: &Order, shipment: Option<&Shipment>, lang: Lang) -> String {
        let words = self.prompts.messages();
        let head = describe_status(words, order, lang);
        let Some(shipment) = shipment.filter(|s| !s.events.is_empty()) else {
            return Messages::join(lang, &head, words.text(Msg::NoTrackingYet, lang));
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

fn describe_status(words: &Messages, order: &Order, lang: Lang) -> String {
    let status = order.status.describe(lang == Lang::Zh);
    words.fill(
        Msg::OrderStatus,
        lang,
        &[
            ("order_no", order.order_no.as_str()),
            ("items", &items(order)),
            ("status", status),
        ],
    )
}

fn describe_return(words: &Messages, order: &Order, now: i64, lang: Lang, offset: i32) -> String {
    let no = order.order_no.as_str();
    match return_eligibility(order, now) {
        ReturnEligibility::Eligible { until } => {
            let until = local_time(until, offset);
            words.fill(
                Msg::ReturnEligible,
                lang,
                &[("order_no", no), ("until", &until)],
            )
        }
        other => {
            let msg = match other {
                ReturnEligibility::WindowClosed { .. } => Msg::ReturnWindowClosed,
                ReturnEligibility::NotDelivered => Msg::ReturnNotDelivered,
                ReturnEligibility::NotReturnable => Msg::ReturnNotReturnable,
                _ => Msg::ReturnAlreadyRefunded,
            };
            words.fill(msg, lang, &[("order_no", no)])
        }
    }
}

/// "11-23 10:05" in the shop's time zone.
fn local_time(ms: i64, offset_minutes: i32) -> String {
    let stamp = super::hours::rfc3339(ms + i64::from(offset_minutes) * 60_000);
    // YYYY-MM-DDTHH:MM:SSZ -> MM-DD HH:MM
    format!("{} {}", &stamp[5..10], &stamp[11..16])
}
