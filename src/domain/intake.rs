//! Guided intake: intents that need facts, the slots that hold them, and the
//! rule that asks for one missing fact at a time within a bounded number of turns.
//! The catalogue is configuration (knowledge/intents.toml), parsed and checked once.

use super::commerce::{OrderNumber, find_phones};
use super::lang::Lang;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The catalogue shipped with the binary; a shop may point `intents_file` elsewhere.
pub const DEFAULT_INTENTS: &str = include_str!("../../knowledge/intents.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotKind {
    OrderNumber,
    Phone,
    Text,
    Image,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Completion {
    /// A person must act (refund, defect): hand off with the facts.
    HandOff,
    TrackParcel,
    OrderStatus,
    ReturnCheck,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotSpec {
    pub name: String,
    pub kind: SlotKind,
    pub ask_zh: String,
    pub ask_en: String,
}

impl SlotSpec {
    pub fn question(&self, lang: Lang) -> &str {
        lang.pick(&self.ask_zh, &self.ask_en)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intent {
    pub name: String,
    pub category: String,
    pub keywords: Vec<String>,
    pub max_turns: u32,
    pub on_complete: Completion,
    pub slots: Vec<SlotSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntentCatalog {
    #[serde(rename = "intent")]
    pub intents: Vec<Intent>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("intents file is not valid: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("intents file: {0}")]
    Invalid(String),
}

impl IntentCatalog {
    pub fn parse(text: &str) -> Result<Self, CatalogError> {
        let catalog: IntentCatalog = toml::from_str(text)?;
        let mut names = std::collections::HashSet::new();
        for intent in &catalog.intents {
            let bad = |why: &str| CatalogError::Invalid(format!("intent `{}`: {why}", intent.name));
            if !names.insert(intent.name.as_str()) {
                return Err(bad("defined twice"));
            }
            if intent.keywords.is_empty() || intent.slots.is_empty() {
                return Err(bad("needs keywords and at least one slot"));
            }
            if intent.max_turns == 0 || intent.max_turns > 10 {
                return Err(bad("max_turns must be 1 to 10"));
            }
            let needs_order = matches!(
                intent.on_complete,
                Completion::TrackParcel | Completion::OrderStatus | Completion::ReturnCheck
            );
            if needs_order && intent.slot("order_no").map(|s| s.kind) != Some(SlotKind::OrderNumber)
            {
                return Err(bad(
                    "order tools need an `order_no` slot of kind order_number",
                ));
            }
        }
        Ok(catalog)
    }

    pub fn get(&self, name: &str) -> Option<&Intent> {
        self.intents.iter().find(|i| i.name == name)
    }

    /// The intent whose longest keyword occurs in the text ("我要退货" beats "退").
    pub fn detect(&self, text: &str) -> Option<&Intent> {
        let hay = text.to_lowercase();
        self.intents
            .iter()
            .filter_map(|intent| {
                let best = intent
                    .keywords
                    .iter()
                    .filter(|k| hay.contains(&k.to_lowercase()))
                    .map(|k| k.chars().count())
                    .max()?;
                Some((best, intent))
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, intent)| intent)
    }
}

impl Intent {
    pub fn slot(&self, name: &str) -> Option<&SlotSpec> {
        self.slots.iter().find(|s| s.name == name)
    }

    /// The first slot still empty, in the configured order.
    pub fn missing<'a>(&'a self, filled: &Slots) -> Option<&'a SlotSpec> {
        self.slots.iter().find(|s| !filled.contains_key(&s.name))
    }
}

pub type Slots = BTreeMap<String, String>;

/// What a buyer message carries that pattern extractors understand.
#[derive(Debug, Clone, Default)]
pub struct MessageFacts {
    pub text: String,
    /// The attachment id of an image message.
    pub image: Option<String>,
}

/// Fills the slots that patterns can read from a message: order numbers, phone
/// numbers, photos; and the slot the bot just asked for when the buyer answers
/// it in plain words. Returns the names it filled.
pub fn fill_from_message(
    intent: &Intent,
    slots: &mut Slots,
    asked: Option<&str>,
    facts: &MessageFacts,
) -> Vec<String> {
    let mut filled = Vec::new();
    for spec in &intent.slots {
        if slots.contains_key(&spec.name) {
            continue;
        }
        let value = match spec.kind {
            SlotKind::OrderNumber => OrderNumber::find_in(&facts.text)
                .into_iter()
                .next()
                .map(|o| o.as_str().to_owned()),
            SlotKind::Phone => find_phones(&facts.text).into_iter().next(),
            SlotKind::Image => facts.image.clone(),
            SlotKind::Text if asked == Some(spec.name.as_str()) => {
                Some(facts.text.trim().to_owned()).filter(|t| t.chars().count() >= 2)
            }
            SlotKind::Text => None,
        };
        if let Some(value) = value {
            slots.insert(spec.name.clone(), value);
            filled.push(spec.name.clone());
        }
    }
    filled
}

/// An intake in progress, kept between buyer messages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IntakeState {
    pub intent: String,
    pub slots: Slots,
    /// The slot the last question asked for.
    pub asked: Option<String>,
    /// Questions asked so far.
    pub turns: u32,
}

/// What intake does next.
#[derive(Debug, Clone, PartialEq)]
pub enum IntakeStep {
    Ask { slot: String, question: String },
    Complete(Completion),
    GaveUp,
}

impl IntakeState {
    pub fn new(intent: &Intent) -> Self {
        Self {
            intent: intent.name.clone(),
            ..Default::default()
        }
    }

    /// Asks for the next missing fact, or says intake is done or has given up.
    pub fn next_step(&mut self, intent: &Intent, lang: Lang) -> IntakeStep {
        let Some(spec) = intent.missing(&self.slots) else {
            self.asked = None;
            return IntakeStep::Complete(intent.on_complete);
        };
        if self.turns >= intent.max_turns {
            return IntakeStep::GaveUp;
        }
        self.turns += 1;
        self.asked = Some(spec.name.clone());
        IntakeStep::Ask {
            slot: spec.name.clone(),
            question: spec.question(lang).to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> IntentCatalog {
        IntentCatalog::parse(DEFAULT_INTENTS).expect("the shipped catalogue is valid")
    }

    fn text(t: &str) -> MessageFacts {
        MessageFacts {
            text: t.into(),
            ..Default::default()
        }
    }

    #[test]
    fn intents_are_detected_by_their_longest_keyword() {
        let c = catalog();
        assert_eq!(c.detect("我要退款").unwrap().name, "refund");
        assert_eq!(
            c.detect("我的快递到哪了").unwrap().name,
            "where_is_my_parcel"
        );
        assert_eq!(c.detect("这个还能退吗").unwrap().name, "return_check");
        assert_eq!(
            c.detect("Where is my parcel?").unwrap().name,
            "where_is_my_parcel"
        );
        assert!(c.detect("你们几点下班").is_none());
    }

    #[test]
    fn refund_intake_asks_one_fact_at_a_time_and_keeps_what_was_said() {
        let c = catalog();
        let refund = c.get("refund").unwrap();
        let mut state = IntakeState::new(refund);
        fill_from_message(
            refund,
            &mut state.slots,
            None,
            &text("我要退款，订单号XE20261101001"),
        );
        assert_eq!(state.slots["order_no"], "XE20261101001");
        let step = state.next_step(refund, Lang::Zh);
        assert!(
            matches!(&step, IntakeStep::Ask { slot, .. } if slot == "reason"),
            "{step:?}"
        );
        fill_from_message(
            refund,
            &mut state.slots,
            state.asked.as_deref(),
            &text("尺码太小了"),
        );
        assert_eq!(state.slots["reason"], "尺码太小了");
        assert_eq!(
            state.next_step(refund, Lang::Zh),
            IntakeStep::Complete(Completion::HandOff)
        );
    }

    #[test]
    fn intake_gives_up_after_its_turn_budget() {
        let c = catalog();
        let parcel = c.get("where_is_my_parcel").unwrap();
        let mut state = IntakeState::new(parcel);
        for _ in 0..parcel.max_turns {
            assert!(matches!(
                state.next_step(parcel, Lang::En),
                IntakeStep::Ask { .. }
            ));
            fill_from_message(
                parcel,
                &mut state.slots,
                state.asked.as_deref(),
                &text("I don't know"),
            );
        }
        assert_eq!(state.next_step(parcel, Lang::En), IntakeStep::GaveUp);
    }

    #[test]
    fn a_photo_fills_the_image_slot() {
        let c = catalog();
        let defect = c.get("defect").unwrap();
        let mut slots = Slots::new();
        let facts = MessageFacts {
            text: String::new(),
            image: Some("att-1".into()),
        };
        assert_eq!(
            fill_from_message(defect, &mut slots, None, &facts),
            ["photo"]
        );
    }

    #[test]
    fn a_catalogue_with_an_order_tool_but_no_order_slot_is_refused() {
        let bad = r#"
            [[intent]]
            name = "x"
            category = "c"
            keywords = ["k"]
            max_turns = 2
            on_complete = "track_parcel"
            [[intent.slots]]
            name = "reason"
            kind = "text"
            ask_zh = "?"
            ask_en = "?"
        "#;
        assert!(matches!(
            IntentCatalog::parse(bad),
            Err(CatalogError::Invalid(_))
        ));
    }
}
