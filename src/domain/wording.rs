//! Suggested wordings (相似问法建议). A buyer's question is matched against
//! an entry's wordings (its standard question and similar questions); an entry
//! with only one or two of them is found only when the buyer happens to ask
//! that way. For such entries the local model proposes other ways a buyer
//! would ask the same thing, in the background; a knowledge manager accepts
//! each proposal (it becomes a similar question of the entry, and the
//! classifier learns it with the next training) or rejects it (it is never
//! proposed again).

use crate::domain::knowledge::{Locale, MAX_QUESTION_CHARS};
use serde::{Deserialize, Serialize};

/// An entry with fewer wordings than this gets proposals.
pub const FEW_WORDINGS: usize = 3;
/// Proposals asked of the model per entry.
pub const PER_ENTRY: usize = 3;
/// A proposal's length in characters: shorter says too little to match on,
/// longer is not how a buyer asks.
pub const MIN_CHARS: usize = 2;
pub const MAX_CHARS: usize = 80;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuggestionStatus {
    Pending,
    Accepted,
    Rejected,
}

impl SuggestionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SuggestionStatus::Pending => "pending",
            SuggestionStatus::Accepted => "accepted",
            SuggestionStatus::Rejected => "rejected",
        }
    }

    pub fn parse(raw: &str) -> Option<SuggestionStatus> {
        match raw {
            "pending" => Some(SuggestionStatus::Pending),
            "accepted" => Some(SuggestionStatus::Accepted),
            "rejected" => Some(SuggestionStatus::Rejected),
            _ => None,
        }
    }
}

/// One proposed wording of an entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WordingSuggestion {
    pub id: String,
    pub entry_id: String,
    pub text: String,
    pub status: SuggestionStatus,
    pub created_at: i64,
    pub decided_at: Option<i64>,
    pub decided_by: Option<String>,
}

/// Whether an entry with these wordings (standard question and similar
/// questions) should get proposals.
pub fn has_few_wordings(question: &str, similar: &[String]) -> bool {
    let mut wordings = similar.len();
    if !question.trim().is_empty() {
        wordings += 1;
    }
    wordings < FEW_WORDINGS
}

/// What two wordings are compared by: lower case, letters and digits only.
fn key(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The proposals in the model's output: one per line, with list numbering,
/// bullets and quotes taken off. A heading (a line ending in a colon) and a
/// line that writes back one of the prompt's fields ("答案：…") are skipped,
/// and a line is dropped when it repeats one of the
/// entry's wordings or an earlier line (ignoring case, spaces and
/// punctuation), is too short or too long, or is not in the entry's language
/// (a Chinese entry's proposals must hold Chinese, an English one's none).
/// At most [`PER_ENTRY`].
pub fn proposals(output: &str, existing: &[&str], locale: Locale) -> Vec<String> {
    let mut seen: Vec<String> = existing.iter().map(|w| key(w)).collect();
    let mut out = Vec::new();
    for line in output.lines() {
        let text = strip_list_marks(line);
        if text.ends_with([':', '：']) || echoes_the_prompt(&text) {
            continue; // a heading ("以下是改写："), or the prompt's own fields
        }
        let chars = text.chars().count();
        if !(MIN_CHARS..=MAX_CHARS.min(MAX_QUESTION_CHARS)).contains(&chars) {
            continue;
        }
        if Locale::detect(&text) != locale {
            continue;
        }
        let k = key(&text);
        if k.chars().count() < MIN_CHARS || seen.contains(&k) {
            continue;
        }
        seen.push(k);
        out.push(text);
        if out.len() == PER_ENTRY {
            break;
        }
    }
    out
}

/// The fields of `prompts/paraphrase.j2`, which a small model sometimes
/// writes back ("问题：… | 已有说法：… | 答案：…"): such a line is the prompt
/// echoed, never a wording, whatever follows the label.
fn echoes_the_prompt(text: &str) -> bool {
    const LABELS: &[&str] = &[
        "问题",
        "已有说法",
        "答案",
        "说法",
        "示例",
        "question",
        "other wordings",
        "answer",
        "wordings",
        "example",
    ];
    let lower = text.to_lowercase();
    LABELS.iter().any(|label| {
        lower
            .strip_prefix(label)
            .is_some_and(|rest| rest.trim_start().starts_with([':', '：']))
    })
}

/// "1. 怎么退货", "- 怎么退货", "（2）“怎么退货”" → "怎么退货".
fn strip_list_marks(line: &str) -> String {
    let mut rest = line.trim();
    // Bullets and numbering: "1.", "1、", "1)", "(1)", "（1）", "-", "*", "•".
    loop {
        let before = rest;
        rest = rest.trim_start_matches(['-', '*', '•', '·']).trim_start();
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits > 0 && digits <= 2 {
            let after = &rest[digits..];
            if let Some(r) = after.strip_prefix(['.', '、', ')', '）', ':', '：']) {
                rest = r.trim_start();
            }
        }
        if let Some(r) = rest.strip_prefix(['(', '（']) {
            let digits = r.chars().take_while(|c| c.is_ascii_digit()).count();
            if digits > 0
                && let Some(r) = r[digits..].strip_prefix([')', '）'])
            {
                rest = r.trim_start();
            }
        }
        if rest == before {
            break;
        }
    }
    rest.trim_matches(['"', '\'', '“', '”', '「', '」', '‘', '’', '`'])
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_with_fewer_than_three_wordings_gets_proposals() {
        assert!(has_few_wordings("怎么退货", &[]));
        assert!(has_few_wordings("怎么退货", &["能退吗".into()]));
        assert!(!has_few_wordings(
            "怎么退货",
            &["能退吗".into(), "退货流程".into()]
        ));
        assert!(has_few_wordings("", &["能退吗".into(), "退货流程".into()]));
    }

    #[test]
    fn numbering_bullets_and_quotes_come_off() {
        for line in [
            "1. 衣服可以退吗",
            "2、衣服可以退吗",
            "3) 衣服可以退吗",
            "（4）“衣服可以退吗”",
            "- 衣服可以退吗",
            "* \"衣服可以退吗\"",
            "  • 衣服可以退吗  ",
        ] {
            assert_eq!(strip_list_marks(line), "衣服可以退吗", "{line}");
        }
        // A number that is part of the question stays.
        assert_eq!(strip_list_marks("7天能退吗"), "7天能退吗");
        assert_eq!(strip_list_marks("1. 7天能退吗"), "7天能退吗");
    }

    #[test]
    fn proposals_drop_repeats_other_languages_and_odd_lengths() {
        let output = "以下是改写：\n1. 买的衣服能退吗\n2. 怎么退货？\n3. 买的衣服能退吗！\n4. Can I return it?\n5. 退\n6. 收到的东西不喜欢可以退吗\n7. 七天内能退吗";
        let got = proposals(output, &["怎么退货"], Locale::Zh);
        assert_eq!(
            got,
            ["买的衣服能退吗", "收到的东西不喜欢可以退吗", "七天内能退吗"]
        );
        let en = proposals(
            "1. Can I send it back?\n2. 可以退吗\n3. how do I return an item\n4. HOW DO I RETURN AN ITEM?",
            &["Return policy"],
            Locale::En,
        );
        assert_eq!(en, ["Can I send it back?", "how do I return an item"]);
        let long = "很".repeat(MAX_CHARS + 1);
        assert!(proposals(&long, &[], Locale::Zh).is_empty());
    }

    #[test]
    fn lines_that_echo_the_prompts_fields_are_dropped() {
        let output = "问题：花呗充话费充错了，能退回来吗\n已有说法：花呗充值错了能退吗\n答案：充错了可以申请退款。\n说法： 充错话费了怎么退\n话费充错号了能退款不";
        assert_eq!(
            proposals(output, &["花呗充话费充错了，能退回来吗"], Locale::Zh),
            ["话费充错号了能退款不"]
        );
        let en = "Question: Who pays for return shipping\nAnswer : We pay.\nDo I pay the postage to send it back";
        assert_eq!(
            proposals(en, &[], Locale::En),
            ["Do I pay the postage to send it back"]
        );
        // A wording that merely starts with one of the words stays.
        assert_eq!(
            proposals("问题商品怎么退", &[], Locale::Zh),
            ["问题商品怎么退"]
        );
    }

    #[test]
    fn statuses_round_trip() {
        for s in [
            SuggestionStatus::Pending,
            SuggestionStatus::Accepted,
            SuggestionStatus::Rejected,
        ] {
            assert_eq!(SuggestionStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(SuggestionStatus::parse("maybe"), None);
    }
}
