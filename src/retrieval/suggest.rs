//! Search-as-you-type: question suggestions that tolerate typos.
//!
//! Matches by substring first (a prefix best), then by character-bigram overlap
//! (Dice), which tolerates a wrong, missing or swapped character in Chinese and
//! English alike without a dictionary. The list is the published questions,
//! small enough to scan: 100k questions take a few milliseconds.

use super::lexical::normalise;
use std::collections::HashSet;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Suggestion {
    pub text: String,
    pub entry_id: String,
    pub score: f32,
}

#[derive(Debug, Default)]
pub struct SuggestIndex {
    items: Vec<Item>,
}

#[derive(Debug)]
struct Item {
    text: String,
    norm: String,
    entry_id: String,
    bigrams: HashSet<(char, char)>,
}

fn bigrams(s: &str) -> HashSet<(char, char)> {
    let chars: Vec<char> = s.chars().filter(|c| !c.is_whitespace()).collect();
    if chars.len() == 1 {
        return [(chars[0], ' ')].into_iter().collect();
    }
    chars.windows(2).map(|w| (w[0], w[1])).collect()
}

/// Minimum bigram overlap for a fuzzy match.
const MIN_DICE: f32 = 0.5;

impl SuggestIndex {
    pub fn new(questions: impl IntoIterator<Item = (String, String)>) -> Self {
        let items = questions
            .into_iter()
            .map(|(entry_id, text)| {
                let norm = normalise(&text);
                Item {
                    bigrams: bigrams(&norm),
                    norm,
                    text,
                    entry_id,
                }
            })
            .collect();
        SuggestIndex { items }
    }

    pub fn suggest(&self, input: &str, limit: usize) -> Vec<Suggestion> {
        let q = normalise(input.trim());
        if q.is_empty() {
            return Vec::new();
        }
        let qb = bigrams(&q);
        let mut scored: Vec<Suggestion> = self
            .items
            .iter()
            .filter_map(|it| {
                let score = if it.norm.starts_with(&q) {
                    3.0
                } else if it.norm.contains(&q) {
                    2.0
                } else {
                    let shared = qb.intersection(&it.bigrams).count() as f32;
                    // Overlap relative to the query: typing is a prefix of the question.
                    let dice = 2.0 * shared / (qb.len() + qb.len().min(it.bigrams.len())) as f32;
                    if dice < MIN_DICE {
                        return None;
                    }
                    dice
                };
                // Shorter questions first among equals: they are the standard wordings.
                let score = score - it.text.chars().count() as f32 * 1e-4;
                Some(Suggestion {
                    text: it.text.clone(),
                    entry_id: it.entry_id.clone(),
                    score,
                })
            })
            .collect();
        scored.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.text.cmp(&b.text))
        });
        let mut seen = HashSet::new();
        scored.retain(|s| seen.insert(s.text.clone()));
        scored.truncate(limit);
        scored
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> SuggestIndex {
        SuggestIndex::new([
            ("returns".to_string(), "支持七天无理由退货吗".to_string()),
            ("refund".to_string(), "退款多久到账".to_string()),
            (
                "invoice".to_string(),
                "How do I get an invoice?".to_string(),
            ),
        ])
    }

    #[test]
    fn prefix_matches_come_first() {
        let s = index().suggest("退款", 5);
        assert_eq!(s[0].entry_id, "refund");
    }

    #[test]
    fn a_typo_still_finds_the_question() {
        // 到帐 for 到账, and a misspelt English word.
        assert_eq!(index().suggest("退款多久到帐", 5)[0].entry_id, "refund");
        assert_eq!(index().suggest("get an invoise", 5)[0].entry_id, "invoice");
    }

    #[test]
    fn unrelated_text_suggests_nothing() {
        assert!(index().suggest("蓝牙耳机", 5).is_empty());
    }
}
