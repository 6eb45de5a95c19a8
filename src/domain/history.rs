//! History search terms: what a stored message or a buyer detail is findable
//! by, and what a search asks for. The same function cuts both sides, so a
//! search finds every text that contains it:
//! - a run of Chinese characters becomes its character bigrams (a lone
//!   character stays one term), so "退货" finds "我想退货地址在哪" whatever way
//!   a word segmenter would have cut it;
//! - a run of Latin letters becomes its lower-cased English stem ("refunds" and
//!   "refund" meet);
//! - a run of digits stays whole (order numbers, phone numbers).
//!
//! Mixed codes such as "TB20241201" become "tb" and "20241201": a search for
//! the code needs both, which a text holding the code has.

use super::knowledge::is_cjk;
use rust_stemmers::{Algorithm, Stemmer};
use std::collections::BTreeSet;

/// The longest search a buyer detail or query is cut from (longer text is a
/// message, indexed whole).
pub const MAX_QUERY_CHARS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Cjk,
    Latin,
    Digit,
    Other,
}

fn class(c: char) -> Class {
    if is_cjk(c) {
        Class::Cjk
    } else if c.is_ascii_digit() {
        Class::Digit
    } else if c.is_alphabetic() {
        Class::Latin
    } else {
        Class::Other
    }
}

/// Lower case, full-width letters and digits folded to ASCII.
fn fold(c: char) -> char {
    let c = match c as u32 {
        0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    };
    c.to_lowercase().next().unwrap_or(c)
}

/// The distinct terms of `text`.
pub fn terms(text: &str) -> BTreeSet<String> {
    let stemmer = Stemmer::create(Algorithm::English);
    let mut out = BTreeSet::new();
    let chars: Vec<char> = text.chars().map(fold).collect();
    let mut start = 0;
    while start < chars.len() {
        let kind = class(chars[start]);
        let mut end = start + 1;
        while end < chars.len() && class(chars[end]) == kind {
            end += 1;
        }
        let run = &chars[start..end];
        match kind {
            Class::Cjk if run.len() == 1 => {
                out.insert(run[0].to_string());
            }
            Class::Cjk => {
                for pair in run.windows(2) {
                    out.insert(pair.iter().collect());
                }
            }
            Class::Latin => {
                let word: String = run.iter().collect();
                out.insert(stemmer.stem(&word).into_owned());
            }
            Class::Digit => {
                out.insert(run.iter().collect());
            }
            Class::Other => {}
        }
        start = end;
    }
    out
}

/// The first 8 bytes of a term's keyed hash.
pub type TermHash = [u8; 8];

/// What a history search asks for. Terms are all required (AND).
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    pub terms: Vec<TermHash>,
    /// Only this agent's conversations.
    pub agent_id: Option<String>,
    /// Only this visitor's conversations.
    pub visitor_id: Option<String>,
    /// Started at or after / before (Unix ms).
    pub from: Option<i64>,
    pub until: Option<i64>,
    /// Started strictly before this (Unix ms): the next page.
    pub before: Option<i64>,
    pub limit: i64,
    /// Read the first term's postings and check the rest (a rare first term),
    /// instead of walking conversations newest first and checking every term
    /// (all terms common: matches come early).
    pub drive_by_first_term: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> Vec<String> {
        terms(text).into_iter().collect()
    }

    #[test]
    fn chinese_runs_become_bigrams_and_a_lone_character_stays() {
        assert_eq!(t("退货地址"), vec!["地址", "货地", "退货"]);
        assert_eq!(t("好"), vec!["好"]);
    }

    #[test]
    fn a_search_is_a_subset_of_every_text_that_contains_it() {
        let text = terms("您好，我想问一下退货地址在哪里？订单号TB20241201");
        for query in ["退货地址", "地址在哪", "TB20241201", "tb20241201", "订单号"] {
            assert!(terms(query).is_subset(&text), "{query}");
        }
        assert!(!terms("换货").is_subset(&text));
    }

    #[test]
    fn latin_words_are_stemmed_and_lower_cased_digits_kept_whole() {
        assert_eq!(
            t("Refunds REFUND 13812345678"),
            vec!["13812345678", "refund"]
        );
        assert_eq!(t("ＴＢ１２３"), vec!["123", "tb"]);
    }

    #[test]
    fn punctuation_and_emoji_are_not_terms() {
        assert!(t("？！…… 😀 ,.").is_empty());
    }
}
