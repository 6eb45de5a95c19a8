//! Guided intake in the pipeline: pick up or continue an intent, fill slots from
//! patterns, the answer to the last question and (for free text the buyer
//! volunteered) the LLM, check order numbers against the buyer's account, then
//! ask the next question, run the order tool, or hand off with the facts.

use super::action::{self, Action, Reply};
use super::orders::{Lookup, needs_sign_in};
use super::pipeline::Turn;
use super::prompts::SlotPrompt;
use super::{BotError, BotService};
use crate::domain::bot_messages::Msg;
use crate::domain::commerce::OrderNumber;
use crate::domain::intake::{
    Completion, IntakeState, IntakeStep, Intent, SlotKind, fill_from_message,
};
use crate::ports::{ChatMessage, ChatRole, GenerationEvent, GenerationParams, Sampling};

/// Words that say nothing about a slot ("我要", "订单号", "please").
const FILLER: &[&str] = &[
    "我要",
    "我想",
    "帮我",
    "请",
    "订单号",
    "订单",
    "一下",
    "申请",
    "您好",
    "你好",
    "麻烦",
    "谢谢",
    "i",
    "i'd",
    "want",
    "need",
    "would",
    "like",
    "please",
    "number",
    "order",
    "my",
    "to",
    "a",
    "an",
    "the",
    "for",
    "get",
    "me",
    "it",
    "is",
    "hi",
    "hello",
    "thanks",
];

impl BotService {
    /// The intake's next question, its hand-off or the order tool's answer;
    /// `Continue` when no intake runs or starts.
    pub(super) async fn intake_step(&self, turn: &mut Turn) -> Result<Action, BotError> {
        let text = turn.facts.text.clone();
        let detected = self.catalog.detect(&text);
        let current = turn.session.intake.take();
        let (intent, mut state) = match (current, detected) {
            // A text slot was asked for: the reply is its answer, whatever words it uses.
            (Some(state), _) if self.asked_text(&state) => (self.intent(&state.intent)?, state),
            (Some(state), Some(new)) if new.name != state.intent => (new, IntakeState::new(new)),
            (Some(state), _) => (self.intent(&state.intent)?, state),
            (None, Some(new)) => (new, IntakeState::new(new)),
            // An order number on its own: the buyer wants to know about that order.
            (None, None) if !OrderNumber::find_in(&text).is_empty() => {
                match self.catalog.get("order_status") {
                    Some(status) => (status, IntakeState::new(status)),
                    None => return Ok(Action::Continue),
                }
            }
            (None, None) => return Ok(Action::Continue),
        };
        if needs_sign_in(turn, intent.on_complete) {
            let sign_in = self.words(Msg::SignInFirst, turn.lang);
            return Ok(Action::Reply(Reply::notice(sign_in)));
        }
        fill_from_message(
            intent,
            &mut state.slots,
            state.asked.as_deref(),
            &turn.facts,
        );
        self.extract_volunteered(intent, &mut state, &text).await;
        turn.session.last_intent = Some(intent.name.clone());

        let mut notice = String::new();
        let mut order = None;
        if let Some(no) = state.slots.get("order_no").cloned() {
            match self.lookup(turn, &no).await? {
                Lookup::Own(found) => {
                    if !turn.session.own_orders.contains(&no) {
                        turn.session.own_orders.push(no);
                    }
                    order = Some(found);
                }
                Lookup::NotOnAccount => {
                    state.slots.remove("order_no");
                    notice = self.prompts.messages().fill(
                        Msg::OrderNotOnAccount,
                        turn.lang,
                        &[("order_no", &no)],
                    );
                }
                Lookup::NoAccount if intent.on_complete != Completion::HandOff => {
                    let sign_in = self.words(Msg::SignInFirst, turn.lang);
                    return Ok(Action::Reply(Reply::notice(sign_in)));
                }
                Lookup::NoAccount => {} // a person checks the order when they take over
            }
        }
        turn.session.slots.extend(state.slots.clone());
        let step = state.next_step(intent, turn.lang);
        if matches!(step, IntakeStep::Ask { .. }) {
            turn.session.intake = Some(state);
        }
        let tool = match (&step, order) {
            (IntakeStep::Complete(tool), Some(order)) if *tool != Completion::HandOff => {
                Some(self.order_tool(turn, *tool, &order).await?)
            }
            _ => None,
        };
        Ok(action::after_intake(step, notice, tool))
    }

    fn intent(&self, name: &str) -> Result<&Intent, BotError> {
        self.catalog
            .get(name)
            .ok_or_else(|| BotError::Corrupt(format!("intent `{name}` is no longer configured")))
    }

    fn asked_text(&self, state: &IntakeState) -> bool {
        let asked = state.asked.as_deref();
        self.catalog
            .get(&state.intent)
            .and_then(|i| asked.and_then(|a| i.slot(a)))
            .is_some_and(|s| s.kind == SlotKind::Text)
    }

    /// Free-text facts the buyer gave before being asked ("我要退款，尺码太小了"),
    /// read by the LLM as strict JSON. A value must be words from the message:
    /// anything the model made up is dropped. Failures only mean we ask.
    async fn extract_volunteered(&self, intent: &Intent, state: &mut IntakeState, text: &str) {
        let missing: Vec<SlotPrompt> = intent
            .slots
            .iter()
            .filter(|s| s.kind == SlotKind::Text && !state.slots.contains_key(&s.name))
            .map(|s| SlotPrompt {
                name: s.name.clone(),
                description: s.ask_en.clone(),
            })
            .collect();
        let Some(llm) = self.ports.llm.as_ref() else {
            return;
        };
        if missing.is_empty() || leftover(intent, text).chars().count() < 4 {
            return;
        }
        let Ok(prompt) = self.prompts.extract_slots(&intent.name, &missing, text) else {
            return;
        };
        let params = GenerationParams {
            max_tokens: 80,
            sampling: Sampling::Greedy,
            stop: Vec::new(),
        };
        let messages = vec![ChatMessage::new(ChatRole::User, prompt)];
        let Ok(mut stream) = llm.generate(messages, params).await else {
            return;
        };
        let mut out = String::new();
        while let Some(Ok(GenerationEvent::Token(piece))) = stream.recv().await {
            out.push_str(&piece);
        }
        for (name, value) in parse_slot_json(&out, &missing) {
            if text.contains(value.as_str()) && leftover(intent, &value).chars().count() >= 2 {
                state.slots.insert(name, value);
            }
        }
    }
}

/// The message without the intent's keywords, order numbers, filler and punctuation.
fn leftover(intent: &Intent, text: &str) -> String {
    let mut rest = text.to_lowercase();
    for no in OrderNumber::find_in(text) {
        rest = rest.replace(&no.as_str().to_lowercase(), "");
    }
    for k in &intent.keywords {
        rest = rest.replace(&k.to_lowercase(), "");
    }
    for f in FILLER {
        if f.is_ascii() {
            rest = rest
                .split_whitespace()
                .filter(|w| w.trim_matches(|c: char| !c.is_alphanumeric()) != *f)
                .collect::<Vec<_>>()
                .join(" ");
        } else {
            rest = rest.replace(f, "");
        }
    }
    rest.chars().filter(|c| c.is_alphanumeric()).collect()
}

/// The first JSON object in the model's output, keeping only the slots asked for
/// with string values.
fn parse_slot_json(out: &str, wanted: &[SlotPrompt]) -> Vec<(String, String)> {
    let (Some(start), Some(end)) = (out.find('{'), out.rfind('}')) else {
        return Vec::new();
    };
    if end < start {
        return Vec::new();
    }
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str(&out[start..=end]) else {
        return Vec::new();
    };
    wanted
        .iter()
        .filter_map(|slot| {
            let value = map.get(&slot.name)?.as_str()?.trim();
            (!value.is_empty()).then(|| (slot.name.clone(), value.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::intake::{DEFAULT_INTENTS, IntentCatalog};

    #[test]
    fn keywords_and_order_numbers_leave_nothing_to_extract() {
        let catalog = IntentCatalog::parse(DEFAULT_INTENTS).unwrap();
        let refund = catalog.get("refund").unwrap();
        assert_eq!(leftover(refund, "我要退款，订单号XE20261101001"), "");
        assert_eq!(
            leftover(refund, "I want a refund for order XE20261101001"),
            ""
        );
        assert_eq!(
            leftover(refund, "我要退款，衣服尺码太小了"),
            "衣服尺码太小了"
        );
    }

    #[test]
    fn slot_json_is_read_strictly() {
        let wanted = [SlotPrompt {
            name: "reason".into(),
            description: String::new(),
        }];
        let out = "```json\n{\"reason\": \"尺码太小\", \"extra\": 1}\n```";
        assert_eq!(
            parse_slot_json(out, &wanted),
            [("reason".to_owned(), "尺码太小".to_owned())]
        );
        assert!(parse_slot_json("{\"reason\": null}", &wanted).is_empty());
        assert!(parse_slot_json("no json here", &wanted).is_empty());
    }
}
