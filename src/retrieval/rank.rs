//! Ranking: from point hits to entries, fusion of the dense and lexical lists.
//!
//! An entry is as close to the query as its closest wording (max over its
//! questions), so a KB with 100 ways of asking one thing is not out-voted by a
//! KB with one. The lexical score is divided by the best lexical score of the
//! query, which puts it on the dense score's 0..1 scale without a corpus constant.

use super::index::{IndexResults, PointKind};
use serde::Serialize;
use std::collections::HashMap;

/// Which signals rank the entries: the ablation the evaluation reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Signals {
    Lexical,
    Dense,
    Hybrid,
    /// Hybrid plus the classifier trained on the KB's similar questions.
    HybridClassifier,
}

impl Signals {
    pub const ALL: [Signals; 4] = [
        Signals::Lexical,
        Signals::Dense,
        Signals::Hybrid,
        Signals::HybridClassifier,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Signals::Lexical => "lexical",
            Signals::Dense => "dense",
            Signals::Hybrid => "hybrid",
            Signals::HybridClassifier => "hybrid+classifier",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FusionWeights {
    pub lexical: f32,
    /// Weight of an answer/chunk match relative to a question match.
    pub answer: f32,
    pub classifier: f32,
}

impl Default for FusionWeights {
    fn default() -> Self {
        FusionWeights {
            lexical: 0.05,
            answer: 0.9,
            classifier: 0.1,
        }
    }
}

/// One entry with the evidence for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub entry_id: String,
    pub score: f32,
    /// Best cosine of the query with the entry's questions (or answer, weighted).
    pub dense: f32,
    /// Best lexical score relative to the query's best (0..1).
    pub lexical: f32,
    /// Classifier probability for the entry (0 without a classifier).
    pub classifier: f32,
}

#[derive(Default)]
struct Evidence {
    dense: f32,
    lexical: f32,
}

/// Entries ranked best first by the chosen signals.
pub fn rank(
    results: &IndexResults,
    classifier: &HashMap<String, f32>,
    signals: Signals,
    w: &FusionWeights,
) -> Vec<Candidate> {
    let mut by_entry: HashMap<&str, Evidence> = HashMap::new();
    for hit in &results.dense {
        let s = match hit.kind {
            PointKind::Question => hit.score,
            PointKind::Answer | PointKind::Chunk => hit.score * w.answer,
            // Products live in their own collection; none reach a KB ranking.
            PointKind::Product => continue,
        };
        let e = by_entry.entry(&hit.entry_id).or_default();
        e.dense = e.dense.max(s);
    }
    let best_lexical = results
        .sparse
        .iter()
        .map(|h| h.score)
        .fold(0.0f32, f32::max);
    if best_lexical > 0.0 {
        for hit in &results.sparse {
            let s = hit.score / best_lexical;
            let e = by_entry.entry(&hit.entry_id).or_default();
            e.lexical = e.lexical.max(s);
        }
    }
    // The classifier re-weighs entries the index found (and the filter allowed);
    // it never brings in one the filter excluded.
    let mut out: Vec<Candidate> = by_entry
        .into_iter()
        .map(|(id, e)| {
            let clf = classifier.get(id).copied().unwrap_or(0.0);
            let score = match signals {
                Signals::Lexical => e.lexical,
                Signals::Dense => e.dense,
                Signals::Hybrid => e.dense + w.lexical * e.lexical,
                Signals::HybridClassifier => e.dense + w.lexical * e.lexical + w.classifier * clf,
            };
            Candidate {
                entry_id: id.to_owned(),
                score,
                dense: e.dense,
                lexical: e.lexical,
                classifier: clf,
            }
        })
        .filter(|c| c.score > 0.0)
        .collect();
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.entry_id.cmp(&b.entry_id))
    });
    out
}

/// The `n` most probable entries of a classifier's prediction.
pub fn top_probabilities(all: HashMap<String, f32>, n: usize) -> HashMap<String, f32> {
    let mut v: Vec<(String, f32)> = all.into_iter().collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1));
    v.truncate(n);
    v.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retrieval::index::IndexHit;

    fn hit(entry: &str, kind: PointKind, score: f32) -> IndexHit {
        IndexHit {
            point_id: 0,
            entry_id: entry.into(),
            kind,
            score,
        }
    }

    #[test]
    fn an_entry_counts_its_best_wording_once() {
        let results = IndexResults {
            dense: vec![
                hit("a", PointKind::Question, 0.80),
                hit("b", PointKind::Question, 0.79),
                hit("b", PointKind::Question, 0.78),
                hit("b", PointKind::Question, 0.77),
            ],
            sparse: vec![],
        };
        let ranked = rank(
            &results,
            &HashMap::new(),
            Signals::Dense,
            &FusionWeights::default(),
        );
        assert_eq!(ranked[0].entry_id, "a");
        assert_eq!(ranked.len(), 2);
    }

    #[test]
    fn lexical_evidence_breaks_a_dense_tie() {
        let results = IndexResults {
            dense: vec![
                hit("a", PointKind::Question, 0.80),
                hit("b", PointKind::Question, 0.80),
            ],
            sparse: vec![
                hit("b", PointKind::Question, 7.0),
                hit("a", PointKind::Question, 1.0),
            ],
        };
        let w = FusionWeights::default();
        let ranked = rank(&results, &HashMap::new(), Signals::Hybrid, &w);
        assert_eq!(ranked[0].entry_id, "b");
        assert!((ranked[0].lexical - 1.0).abs() < 1e-6);
        let lexical_only = rank(&results, &HashMap::new(), Signals::Lexical, &w);
        assert_eq!(lexical_only[0].entry_id, "b");
    }

    #[test]
    fn answer_matches_weigh_less_than_question_matches() {
        let results = IndexResults {
            dense: vec![
                hit("a", PointKind::Answer, 0.85),
                hit("b", PointKind::Question, 0.80),
            ],
            sparse: vec![],
        };
        let ranked = rank(
            &results,
            &HashMap::new(),
            Signals::Dense,
            &FusionWeights::default(),
        );
        assert_eq!(ranked[0].entry_id, "b");
    }
}
