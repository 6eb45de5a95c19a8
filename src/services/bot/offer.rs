//! Answer first, then act: a policy question that shares words with an intake
//! intent ("衣服买大了可以退货吗") gets the knowledge base's confident answer and
//! an offer to start the process; the intake (order number, reason) starts only
//! when the buyer takes up the offer or states a problem with an order.

use super::action::{self, Action, Reply};
use super::pipeline::Turn;
use super::{BotError, BotService};
use crate::domain::bot_messages::Msg;
use crate::domain::commerce::OrderNumber;
use crate::domain::intake::IntakeState;
use crate::ports::KbDecision;

/// The process the bot can start after answering, by the intent that matched:
/// the intent whose intake it runs, and the offer in the buyer's language.
fn process_for(intent: &str) -> Option<&'static str> {
    match intent {
        "refund" | "return_check" => Some("refund"),
        "defect" => Some("defect"),
        _ => None,
    }
}

/// Said after the answer: what the bot can do next, and how to ask for it.
pub fn offer_text(process: &str) -> Msg {
    match process {
        "defect" => Msg::OfferRepair,
        _ => Msg::OfferReturn,
    }
}

/// A question about the policy rather than a demand to act: a question form,
/// no order number, no "我要退" / "I want".
pub fn is_policy_question(text: &str) -> bool {
    let lower = text.trim().to_lowercase();
    if !OrderNumber::find_in(text).is_empty() {
        return false;
    }
    const DEMANDS: &[&str] = &[
        "我要",
        "给我",
        "帮我",
        "申请",
        "我想要",
        "马上",
        "i want",
        "i need",
        "please",
        "i'd like",
    ];
    if DEMANDS.iter().any(|d| lower.contains(d)) {
        return false;
    }
    const ASKS: &[&str] = &[
        "能不能",
        "可不可以",
        "可以不",
        "能不",
        "行不行",
        "是否",
        "会不会",
        "给不给",
        "怎么",
        "如何",
        "多久",
        "吗",
        "么",
        "?",
        "？",
    ];
    const ASKS_EN: &[&str] = &[
        "can ", "could ", "do ", "does ", "is ", "are ", "how ", "what ", "will ", "would ",
    ];
    let core =
        lower.trim_end_matches(|c: char| !c.is_alphanumeric() && !crate::domain::lang::is_cjk(c));
    ASKS.iter().any(|a| lower.contains(a))
        || ["不", "没", "呢", "嘛"].iter().any(|e| core.ends_with(e))
        || ASKS_EN.iter().any(|a| lower.starts_with(a))
}

/// The buyer takes up the offer: "好的", "需要", "yes please"...
pub fn accepts(text: &str) -> bool {
    let core: String = text
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ')
        .collect();
    let core = core.trim();
    const EXACT: &[&str] = &[
        "好",
        "好的",
        "好啊",
        "好吧",
        "可以",
        "可以的",
        "行",
        "行的",
        "需要",
        "要",
        "要的",
        "嗯",
        "嗯嗯",
        "是的",
        "对",
        "ok",
        "okay",
        "yes",
        "yep",
        "yeah",
        "sure",
        "please",
        "go ahead",
    ];
    const STARTS: &[&str] = &[
        "好的", "需要", "帮我", "麻烦", "那就", "发起", "yes", "sure", "ok", "please", "go ahead",
    ];
    EXACT.contains(&core) || STARTS.iter().any(|s| core.starts_with(s))
}

impl BotService {
    /// Starts the intake the bot offered last turn when the buyer takes it up.
    /// Call before the intake step; it then asks the intake's first question.
    pub(super) fn take_up_offer(&self, turn: &mut Turn, offered: Option<String>) {
        let Some(name) = offered else { return };
        if turn.session.intake.is_some() || !accepts(&turn.facts.text) {
            return;
        }
        if let Some(intent) = self.catalog.get(&name) {
            turn.session.intake = Some(IntakeState::new(intent));
        }
    }

    /// A policy question that an intake intent also matches, with a confident
    /// curated answer: the answer, with the offer after it.
    pub(super) async fn answer_then_offer(&self, turn: &mut Turn) -> Result<Action, BotError> {
        let text = turn.facts.text.clone();
        if turn.session.intake.is_some() || !is_policy_question(&text) {
            return Ok(Action::Continue);
        }
        let Some(process) = self
            .catalog
            .detect(&text)
            .and_then(|i| process_for(&i.name))
        else {
            return Ok(Action::Continue);
        };
        let offer = self.words(offer_text(process), turn.lang);
        // Several questions, each answered by its own entry: all the answers.
        if let Some(answers) = self.answer_each(turn, &text).await {
            turn.session.offered_intent = Some(process.to_owned());
            return Ok(action::answer_each(&answers, Some(&offer)));
        }
        let Ok(verdict) = self.ports.knowledge.decide(&text).await else {
            return Ok(Action::Continue); // intake as before
        };
        let verdict = self.for_member(turn, verdict).await;
        let (KbDecision::Curated, Some(best)) = (verdict.decision, verdict.hits.first()) else {
            return Ok(Action::Continue);
        };
        turn.session.retrieved(&verdict.hits);
        turn.session.offered_intent = Some(process.to_owned());
        Ok(Action::Reply(Reply::curated(best, Some(&offer))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::lang::Lang;

    #[test]
    fn policy_questions_are_told_from_demands_to_act() {
        for text in [
            "鞋子买大了能退不",
            "衣服买大了可以退货吗",
            "用了一个月出问题了给修吗",
            "质量问题能换新吗？",
            "超过七天还能退吗",
            "Can I return shoes that are too big?",
            "how do returns work",
        ] {
            assert!(is_policy_question(text), "{text}");
        }
        for text in [
            "我要退货",
            "帮我申请退款",
            "订单XE20261101001能退吗",
            "耳机坏了",
            "I want a refund",
            "refund please",
        ] {
            assert!(!is_policy_question(text), "{text}");
        }
    }

    #[test]
    fn taking_up_the_offer_is_recognised() {
        for text in [
            "好的",
            "好",
            "需要！",
            "嗯嗯",
            "帮我发起吧",
            "麻烦你了",
            "Yes please",
            "sure",
            "OK",
        ] {
            assert!(accepts(text), "{text}");
        }
        for text in ["不用了", "算了", "no thanks", "那运费谁出", "我再想想"] {
            assert!(!accepts(text), "{text}");
        }
    }

    #[test]
    fn returns_and_repairs_are_offered_in_both_languages() {
        assert_eq!(process_for("return_check"), Some("refund"));
        assert_eq!(process_for("defect"), Some("defect"));
        assert_eq!(process_for("where_is_my_parcel"), None);
        let words = crate::domain::bot_messages::Messages::shipped();
        assert!(
            words
                .text(offer_text("refund"), Lang::Zh)
                .contains("发起退货")
        );
        assert!(
            words
                .text(offer_text("refund"), Lang::En)
                .contains("start the return")
        );
        assert!(
            words
                .text(offer_text("defect"), Lang::En)
                .contains("repair")
        );
    }
}
