//! When the bot must give the conversation to a human, decided by rules that can
//! be read and tested: an explicit request, a sensitive case, repeated failure,
//! or a knowledge-base verdict that is not confident enough.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoffReason {
    /// The buyer asked for a person.
    BuyerRequest,
    /// Complaint, legal threat, abuse or strong negative sentiment.
    Sensitive,
    /// Several bot answers in a row did not help.
    UnhelpfulTurns,
    /// The knowledge base had no confident answer.
    LowConfidence,
    /// Intake could not collect the facts within its turn budget.
    IntakeGaveUp,
    /// Intake collected everything a human needs to act (refund, defect).
    IntakeComplete,
    /// The model or the knowledge base failed; a person takes over.
    BotUnavailable,
}

impl HandoffReason {
    pub fn as_str(self) -> &'static str {
        match self {
            HandoffReason::BuyerRequest => "buyer_request",
            HandoffReason::Sensitive => "sensitive",
            HandoffReason::UnhelpfulTurns => "unhelpful_turns",
            HandoffReason::LowConfidence => "low_confidence",
            HandoffReason::IntakeGaveUp => "intake_gave_up",
            HandoffReason::IntakeComplete => "intake_complete",
            HandoffReason::BotUnavailable => "bot_unavailable",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    Complaint,
    LegalThreat,
    Abuse,
    NegativeSentiment,
}

/// What a buyer message triggers before anything else runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    HumanRequested,
    Sensitive(Sensitivity),
}

impl Trigger {
    pub fn reason(self) -> HandoffReason {
        match self {
            Trigger::HumanRequested => HandoffReason::BuyerRequest,
            Trigger::Sensitive(_) => HandoffReason::Sensitive,
        }
    }
}

const HUMAN_ZH: &[&str] = &[
    "转人工",
    "人工客服",
    "人工服务",
    "找客服",
    "真人",
    "找人工",
    "要人工",
    "人工",
    "客服小姐姐",
    "活人",
    "联系客服",
    "接人工",
];
const HUMAN_EN: &[&str] = &[
    "human",
    "agent",
    "real person",
    "a person",
    "live person",
    "representative",
    "operator",
    "customer service",
    "talk to someone",
    "speak to someone",
    "someone real",
];
const NEGATIONS_ZH: &[&str] = &["不要", "不用", "不需要", "别", "无需", "不找"];
const NEGATIONS_EN: &[&str] = &["no", "not", "don't", "dont", "without", "never"];

const COMPLAINT: &[&str] = &[
    "投诉",
    "举报",
    "12315",
    "消协",
    "消费者协会",
    "工商局",
    "市场监管",
    "差评",
    "complain",
    "complaint",
];
const LEGAL: &[&str] = &[
    "律师",
    "起诉",
    "法院",
    "报警",
    "诉讼",
    "打官司",
    "法律责任",
    "lawyer",
    "attorney",
    "sue ",
    "lawsuit",
    "court",
    "police",
    "legal action",
];
const ABUSE: &[&str] = &[
    "傻逼",
    "傻b",
    "煞笔",
    "妈的",
    "他妈",
    "滚蛋",
    "给我滚",
    "滚开",
    "混蛋",
    "废物",
    "去死",
    "操你",
    "王八蛋",
    "fuck",
    "shit",
    "idiot",
    "asshole",
    "bastard",
    "stupid bot",
    "moron",
];
const NEGATIVE: &[&str] = &[
    "气死",
    "太差",
    "垃圾店",
    "垃圾服务",
    "垃圾客服",
    "什么垃圾",
    "骗子",
    "坑人",
    "欺诈",
    "失望透顶",
    "忍无可忍",
    "恶心",
    "黑店",
    "terrible",
    "worst",
    "scam",
    "fraud",
    "ridiculous",
    "unacceptable",
    "furious",
    "disgusting",
    "rip-off",
    "ripoff",
];

/// Lower case and without spaces inside Chinese text, so "转 人 工" still matches;
/// English keeps single spaces between words.
fn normalise(text: &str) -> String {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    let mut out = String::with_capacity(lower.len());
    for (i, w) in words.iter().enumerate() {
        let joins_ascii = i > 0
            && w.starts_with(|c: char| c.is_ascii_alphanumeric())
            && words[i - 1].ends_with(|c: char| c.is_ascii_alphanumeric());
        if joins_ascii {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// Whether `needle` occurs in `hay` as a whole word (ASCII needles) or anywhere
/// (Chinese needles), and not right after a negation ("不要转人工", "no agent").
fn mentions(hay: &str, needle: &str, negations: &[&str]) -> bool {
    let ascii = needle.is_ascii() && needle.starts_with(|c: char| c.is_ascii_alphabetic());
    hay.match_indices(needle).any(|(at, _)| {
        let before = &hay[..at];
        let after = &hay[at + needle.len()..];
        if ascii {
            let word_start = !before.ends_with(|c: char| c.is_ascii_alphanumeric());
            let word_end =
                needle.ends_with(' ') || !after.starts_with(|c: char| c.is_ascii_alphanumeric());
            if !(word_start && word_end) {
                return false;
            }
            let previous = before.split_whitespace().rev().take(3);
            !previous.into_iter().any(|w| negations.contains(&w))
        } else {
            !negated_zh(before, negations)
        }
    })
}

/// A Chinese negation in the few characters before a match: "不要转人工",
/// "不需要人工". "别" only counts right before the verb ("别转人工"), since it
/// is also part of words like "特别".
fn negated_zh(before: &str, negations: &[&str]) -> bool {
    let tail: String = {
        let rev: Vec<char> = before.chars().rev().take(4).collect();
        rev.into_iter().rev().collect()
    };
    let strong = negations
        .iter()
        .filter(|n| **n != "别")
        .any(|n| tail.contains(n));
    let bie = negations.contains(&"别")
        && ["别", "别转", "别找", "别接"]
            .iter()
            .any(|b| tail.ends_with(b));
    strong || bie
}

fn any_of(hay: &str, list: &[&str]) -> bool {
    list.iter().any(|w| mentions(hay, w, &[]))
}

/// When and whether people are on duty: what a question about human service asks.
const AVAILABILITY_ZH: &[&str] = &[
    "上班",
    "下班",
    "几点",
    "时间",
    "周末",
    "周六",
    "周日",
    "星期",
    "节假日",
    "假期",
    "过年",
    "春节",
    "晚上",
    "夜里",
    "半夜",
    "凌晨",
    "早上",
    "营业",
    "休息",
    "值班",
    "在线时间",
    "几小时",
    "24小时",
    "多久回复",
    "多久回",
    "会说英文",
    "说英语",
];
const AVAILABILITY_EN: &[&str] = &[
    "hours",
    "weekend",
    "weekends",
    "saturday",
    "sunday",
    "holiday",
    "holidays",
    "what time",
    "when are",
    "when is",
    "when do",
    "when can",
    "at night",
    "overnight",
    "24/7",
    "open",
    "opening",
    "working",
    "schedule",
    "speak english",
    "speak chinese",
    "how long",
    "how fast",
    "on duty",
];
/// People on the team, said in the plural: a question about them, never a request.
const PEOPLE_EN: &[&str] = &[
    "agents",
    "humans",
    "people",
    "staff",
    "representatives",
    "operators",
];
/// Words that make a message a request for a person, whatever else it asks.
const REQUEST_ZH: &[&str] = &[
    "转人工",
    "转接",
    "我要",
    "我想要",
    "我想找",
    "给我转",
    "帮我转",
    "给我找",
    "帮我找",
    "找个",
    "找一个",
    "叫个",
    "叫一个",
    "接人工",
    "换人工",
    "换个真人",
    "让人工",
    "让真人",
    "马上",
    "立刻",
    "现在就",
    "快点",
    "赶紧",
    "跟我说",
    "和我说",
    "跟我聊",
    "和我聊",
    "来回答",
];
const REQUEST_EN: &[&str] = &[
    "i want",
    "i need",
    "i'd like",
    "i would like",
    "let me talk",
    "let me speak",
    "connect me",
    "transfer me",
    "put me through",
    "get me",
    "give me",
    "right now",
    "now please",
    "immediately",
    "asap",
];

pub fn asks_for_human(text: &str) -> bool {
    let hay = normalise(text);
    HUMAN_ZH.iter().any(|w| mentions(&hay, w, NEGATIONS_ZH))
        || HUMAN_EN.iter().any(|w| mentions(&hay, w, NEGATIONS_EN))
}

/// A question *about* human service ("你们真人客服周末上班吗", "are your human
/// agents available on weekends?"): it names people and asks when they are
/// there, without asking for one. The knowledge base answers it.
pub fn asks_about_humans(text: &str) -> bool {
    let hay = normalise(text);
    let about_availability = AVAILABILITY_ZH.iter().any(|w| hay.contains(w))
        || AVAILABILITY_EN.iter().any(|w| mentions(&hay, w, &[]));
    let requests = REQUEST_ZH.iter().any(|w| hay.contains(w))
        || REQUEST_EN.iter().any(|w| mentions(&hay, w, &[]));
    let names_people = asks_for_human(text) || PEOPLE_EN.iter().any(|w| mentions(&hay, w, &[]));
    names_people && about_availability && !requests
}

pub fn sensitivity(text: &str) -> Option<Sensitivity> {
    let hay = normalise(text);
    if any_of(&hay, LEGAL) {
        Some(Sensitivity::LegalThreat)
    } else if any_of(&hay, ABUSE) {
        Some(Sensitivity::Abuse)
    } else if any_of(&hay, COMPLAINT) {
        Some(Sensitivity::Complaint)
    } else if any_of(&hay, NEGATIVE) {
        Some(Sensitivity::NegativeSentiment)
    } else {
        None
    }
}

/// The first pipeline step: does this message hand the chat to a person at once?
pub fn trigger(text: &str) -> Option<Trigger> {
    if let Some(s) = sensitivity(text) {
        return Some(Trigger::Sensitive(s));
    }
    (asks_for_human(text) && !asks_about_humans(text)).then_some(Trigger::HumanRequested)
}

/// "That didn't help" said in words, which counts like a thumbs-down.
pub fn says_unhelpful(text: &str) -> bool {
    const PHRASES: &[&str] = &[
        "没用",
        "没有用",
        "没解决",
        "没有解决",
        "答非所问",
        "不是我问的",
        "看不懂",
        "不对",
        "not helpful",
        "didn't help",
        "did not help",
        "doesn't help",
        "not what i asked",
        "useless",
        "wrong answer",
    ];
    let hay = normalise(text);
    PHRASES.iter().any(|p| hay.contains(p))
}

/// Consecutive unhelpful bot turns; a helpful one starts the count again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnhelpfulStreak(pub u32);

impl UnhelpfulStreak {
    /// Records a turn; true when the streak reaches `limit` (time for a human).
    pub fn record(&mut self, helpful: bool, limit: u32) -> bool {
        self.0 = if helpful { 0 } else { self.0 + 1 };
        self.0 >= limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_requests_in_chinese_and_english_hand_off() {
        for text in [
            "转人工",
            "我要人工客服",
            "帮我找客服",
            "能不能让真人来回答",
            "转 人 工！！",
            "I want to talk to a human",
            "Agent please",
            "Can I speak to a real person?",
            "get me customer service",
        ] {
            assert_eq!(trigger(text), Some(Trigger::HumanRequested), "{text}");
        }
    }

    #[test]
    fn ordinary_questions_and_negated_requests_do_not() {
        for text in [
            "这件衣服有几个颜色？",
            "不用转人工，我自己看看",
            "What is your return policy?",
            "no agent needed, thanks",
            "滚筒洗衣机怎么清洁",
            "is it humane packaging",
        ] {
            assert_eq!(trigger(text), None, "{text}");
        }
    }

    #[test]
    fn questions_about_human_service_are_not_requests_for_a_person() {
        for text in [
            "你们真人客服周末上班吗",
            "人工客服几点上班？",
            "人工客服晚上有人吗",
            "真人客服的工作时间是什么",
            "节假日有人工客服吗",
            "人工客服几点下班呀",
            "你们人工服务是24小时的吗",
            "周日人工客服在线吗",
            "Are your human agents available on weekends?",
            "What are your customer service hours?",
            "When are your agents on duty?",
            "do your human agents work on holidays",
            "Is a real person available at night?",
            "Do your agents speak English?",
        ] {
            assert!(asks_about_humans(text), "{text}");
            assert_eq!(trigger(text), None, "{text}");
        }
    }

    #[test]
    fn requests_for_a_person_still_hand_off_even_when_they_mention_time() {
        for text in [
            "转人工",
            "我要人工",
            "找个真人跟我说",
            "给我转人工客服",
            "人工客服！马上！",
            "叫个真人来",
            "我想找人工客服问一下",
            "帮我转接人工",
            "现在就要人工客服",
            "人工",
            "周末也要转人工，我等不了",
            "talk to a person",
            "I want to talk to a human now",
            "get me an agent",
            "Connect me to customer service please",
            "I need a real person, what time is it there anyway",
            "human please",
        ] {
            assert!(!asks_about_humans(text), "{text}");
            assert_eq!(trigger(text), Some(Trigger::HumanRequested), "{text}");
        }
    }

    #[test]
    fn sensitive_cases_are_recognised() {
        assert_eq!(
            sensitivity("再不处理我就去12315投诉你们"),
            Some(Sensitivity::Complaint)
        );
        assert_eq!(
            sensitivity("我要找律师起诉你们"),
            Some(Sensitivity::LegalThreat)
        );
        assert_eq!(
            sensitivity("I will sue you"),
            Some(Sensitivity::LegalThreat)
        );
        assert_eq!(sensitivity("你个傻逼机器人"), Some(Sensitivity::Abuse));
        assert_eq!(
            sensitivity("this is the worst shop ever, a scam"),
            Some(Sensitivity::NegativeSentiment)
        );
        assert_eq!(sensitivity("买个垃圾袋"), None);
    }

    #[test]
    fn three_unhelpful_turns_in_a_row_reach_the_limit_and_help_resets() {
        let mut streak = UnhelpfulStreak::default();
        assert!(!streak.record(false, 3));
        assert!(!streak.record(false, 3));
        assert!(!streak.record(true, 3));
        assert!(!streak.record(false, 3));
        assert!(!streak.record(false, 3));
        assert!(streak.record(false, 3));
    }

    #[test]
    fn unhelpful_phrases_are_noticed() {
        assert!(says_unhelpful("这个回答没用"));
        assert!(says_unhelpful("That did not help at all"));
        assert!(!says_unhelpful("谢谢，明白了"));
    }
}
