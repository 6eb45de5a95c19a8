//! The bot's own words to buyers (`prompts/messages.toml`): one catalogue of
//! messages in Chinese and English, checked whole when it is read, so that a
//! shop's own catalogue that misses a message, a language or a placeholder
//! fails the server's start rather than a buyer's chat.

use super::lang::Lang;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The catalogue the server ships with.
pub const DEFAULT_MESSAGES: &str = include_str!("../../prompts/messages.toml");

/// Every message the bot says in its own words, with the placeholders its
/// text may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Msg {
    VoiceReceived,
    PictureReceived,
    UnhelpfulSorry,
    AskAnotherWay,
    DidYouMean,
    PickANumber,
    RecommendIntro,
    OfferRepair,
    OfferReturn,
    OutOfScope,
    Withheld,
    HandoffSensitive,
    HandoffIntakeComplete,
    HandoffNeedsAPerson,
    HandoffRequested,
    Queued,
    Holiday,
    AfterHours,
    SignInFirst,
    OrderNotOnAccount,
    OrderStatus,
    NoTrackingYet,
    ReturnEligible,
    ReturnWindowClosed,
    ReturnNotDelivered,
    ReturnNotReturnable,
    ReturnAlreadyRefunded,
    PromotionEnded,
    PromotionNotStarted,
}

impl Msg {
    pub const ALL: [Msg; 29] = [
        Msg::VoiceReceived,
        Msg::PictureReceived,
        Msg::UnhelpfulSorry,
        Msg::AskAnotherWay,
        Msg::DidYouMean,
        Msg::PickANumber,
        Msg::RecommendIntro,
        Msg::OfferRepair,
        Msg::OfferReturn,
        Msg::OutOfScope,
        Msg::Withheld,
        Msg::HandoffSensitive,
        Msg::HandoffIntakeComplete,
        Msg::HandoffNeedsAPerson,
        Msg::HandoffRequested,
        Msg::Queued,
        Msg::Holiday,
        Msg::AfterHours,
        Msg::SignInFirst,
        Msg::OrderNotOnAccount,
        Msg::OrderStatus,
        Msg::NoTrackingYet,
        Msg::ReturnEligible,
        Msg::ReturnWindowClosed,
        Msg::ReturnNotDelivered,
        Msg::ReturnNotReturnable,
        Msg::ReturnAlreadyRefunded,
        Msg::PromotionEnded,
        Msg::PromotionNotStarted,
    ];

    /// Its key in the catalogue.
    pub fn key(self) -> &'static str {
        match self {
            Msg::VoiceReceived => "voice_received",
            Msg::PictureReceived => "picture_received",
            Msg::UnhelpfulSorry => "unhelpful_sorry",
            Msg::AskAnotherWay => "ask_another_way",
            Msg::DidYouMean => "did_you_mean",
            Msg::PickANumber => "pick_a_number",
            Msg::RecommendIntro => "recommend_intro",
            Msg::OfferRepair => "offer_repair",
            Msg::OfferReturn => "offer_return",
            Msg::OutOfScope => "out_of_scope",
            Msg::Withheld => "withheld",
            Msg::HandoffSensitive => "handoff_sensitive",
            Msg::HandoffIntakeComplete => "handoff_intake_complete",
            Msg::HandoffNeedsAPerson => "handoff_needs_a_person",
            Msg::HandoffRequested => "handoff_requested",
            Msg::Queued => "queued",
            Msg::Holiday => "holiday",
            Msg::AfterHours => "after_hours",
            Msg::SignInFirst => "sign_in_first",
            Msg::OrderNotOnAccount => "order_not_on_account",
            Msg::OrderStatus => "order_status",
            Msg::NoTrackingYet => "no_tracking_yet",
            Msg::ReturnEligible => "return_eligible",
            Msg::ReturnWindowClosed => "return_window_closed",
            Msg::ReturnNotDelivered => "return_not_delivered",
            Msg::ReturnNotReturnable => "return_not_returnable",
            Msg::ReturnAlreadyRefunded => "return_already_refunded",
            Msg::PromotionEnded => "promotion_ended",
            Msg::PromotionNotStarted => "promotion_not_started",
        }
    }

    /// The placeholders its text must use (each exactly these, in both
    /// languages: a message that drops the order number would answer about
    /// no order).
    pub fn placeholders(self) -> &'static [&'static str] {
        match self {
            Msg::OrderNotOnAccount
            | Msg::ReturnWindowClosed
            | Msg::ReturnNotDelivered
            | Msg::ReturnNotReturnable
            | Msg::ReturnAlreadyRefunded => &["order_no"],
            Msg::OrderStatus => &["order_no", "items", "status"],
            Msg::ReturnEligible => &["order_no", "until"],
            Msg::AfterHours => &["hours"],
            Msg::PromotionEnded => &["until"],
            Msg::PromotionNotStarted => &["since"],
            _ => &[],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessagesError {
    #[error("the bot's messages are not valid TOML: {0}")]
    Syntax(String),
    #[error("the bot's messages have no `{0}` (every message of prompts/messages.toml is needed)")]
    Missing(&'static str),
    #[error("the bot's messages have an unknown message `{0}`")]
    Unknown(String),
    #[error("the bot's message `{key}` in {lang} is empty")]
    Empty {
        key: &'static str,
        lang: &'static str,
    },
    #[error("the bot's message `{key}` in {lang} must use exactly {expected:?}, not {found:?}")]
    Placeholders {
        key: &'static str,
        lang: &'static str,
        expected: Vec<&'static str>,
        found: Vec<String>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMessage {
    zh: String,
    en: String,
}

/// A checked catalogue: every message, in both languages, with exactly its
/// placeholders.
#[derive(Debug, Clone)]
pub struct Messages {
    texts: BTreeMap<Msg, (String, String)>,
}

/// The `{name}` placeholders of a text, in order (`{{` and `}}` are braces).
fn placeholders_of(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text.replace("{{", "").replace("}}", "");
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        out.push(after[..close].to_owned());
        rest = after[close + 1..].to_owned();
    }
    out
}

impl Messages {
    pub fn parse(text: &str) -> Result<Messages, MessagesError> {
        let raw: BTreeMap<String, RawMessage> =
            toml::from_str(text).map_err(|e| MessagesError::Syntax(e.message().to_owned()))?;
        if let Some(unknown) = raw
            .keys()
            .find(|k| !Msg::ALL.iter().any(|m| m.key() == k.as_str()))
        {
            return Err(MessagesError::Unknown(unknown.chars().take(60).collect()));
        }
        let mut texts = BTreeMap::new();
        for msg in Msg::ALL {
            let key = msg.key();
            let found = raw.get(key).ok_or(MessagesError::Missing(key))?;
            for (lang, text) in [("zh", &found.zh), ("en", &found.en)] {
                if text.trim().is_empty() {
                    return Err(MessagesError::Empty { key, lang });
                }
                let mut used = placeholders_of(text);
                used.sort();
                used.dedup();
                let mut expected = msg.placeholders().to_vec();
                expected.sort_unstable();
                if used != expected {
                    return Err(MessagesError::Placeholders {
                        key,
                        lang,
                        expected,
                        found: used,
                    });
                }
            }
            texts.insert(
                msg,
                (found.zh.trim().to_owned(), found.en.trim().to_owned()),
            );
        }
        Ok(Messages { texts })
    }

    /// The catalogue the server ships with.
    pub fn shipped() -> Messages {
        Messages::parse(DEFAULT_MESSAGES).expect("prompts/messages.toml is checked by its tests")
    }

    /// A message without placeholders.
    pub fn text(&self, msg: Msg, lang: Lang) -> &str {
        let (zh, en) = &self.texts[&msg];
        lang.pick(zh, en)
    }

    /// A message with its placeholders filled in (`args`: name → value).
    pub fn fill(&self, msg: Msg, lang: Lang, args: &[(&str, &str)]) -> String {
        let mut out = self.text(msg, lang).to_owned();
        for (name, value) in args {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out.replace("{{", "{").replace("}}", "}")
    }

    /// Two messages as one: with a space between them in English.
    pub fn join(lang: Lang, first: &str, second: &str) -> String {
        format!("{first}{}{second}", lang.pick("", " "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_catalogue_has_every_message_in_both_languages() {
        let m = Messages::parse(DEFAULT_MESSAGES).unwrap();
        for msg in Msg::ALL {
            assert!(!m.text(msg, Lang::Zh).is_empty(), "{msg:?}");
            assert!(!m.text(msg, Lang::En).is_empty(), "{msg:?}");
        }
        let status = m.fill(
            Msg::OrderStatus,
            Lang::Zh,
            &[
                ("order_no", "XE1"),
                ("items", "T恤 ×1"),
                ("status", "已发货"),
            ],
        );
        assert_eq!(status, "您的订单 XE1（T恤 ×1）当前状态：已发货。");
        assert_eq!(
            Messages::join(Lang::En, "Sure.", m.text(Msg::Queued, Lang::En)),
            "Sure. You're in the queue for a person."
        );
    }

    fn without(key: &str) -> String {
        let mut out = String::new();
        let mut skip = false;
        for line in DEFAULT_MESSAGES.lines() {
            if line.starts_with('[') {
                skip = line == format!("[{key}]");
            }
            if !skip {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    #[test]
    fn a_catalogue_missing_a_message_a_language_or_a_placeholder_is_refused() {
        assert_eq!(
            Messages::parse(&without("queued")).unwrap_err(),
            MessagesError::Missing("queued")
        );
        let unknown = format!("{DEFAULT_MESSAGES}\n[bonus]\nzh = \"送你\"\nen = \"a gift\"\n");
        assert_eq!(
            Messages::parse(&unknown).unwrap_err(),
            MessagesError::Unknown("bonus".into())
        );
        let no_en = format!("{}\n[queued]\nzh = \"排队中\"\n", without("queued"));
        assert!(matches!(
            Messages::parse(&no_en).unwrap_err(),
            MessagesError::Syntax(_)
        ));
        let dropped = format!(
            "{}\n[order_not_on_account]\nzh = \"没有这个订单\"\nen = \"No order {{order_no}}\"\n",
            without("order_not_on_account")
        );
        assert_eq!(
            Messages::parse(&dropped).unwrap_err(),
            MessagesError::Placeholders {
                key: "order_not_on_account",
                lang: "zh",
                expected: vec!["order_no"],
                found: vec![],
            }
        );
        let foreign = format!(
            "{}\n[queued]\nzh = \"{{order_no}} 排队中\"\nen = \"queued\"\n",
            without("queued")
        );
        assert!(matches!(
            Messages::parse(&foreign).unwrap_err(),
            MessagesError::Placeholders { key: "queued", .. }
        ));
        let blank = format!(
            "{}\n[queued]\nzh = \" \"\nen = \"queued\"\n",
            without("queued")
        );
        assert_eq!(
            Messages::parse(&blank).unwrap_err(),
            MessagesError::Empty {
                key: "queued",
                lang: "zh"
            }
        );
    }
}
