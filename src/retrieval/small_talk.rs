//! Small talk as the classifier's "none of the entries" class.
//!
//! Buyers chat: "你是机器人吗", "哈哈", "你好笨", "tell me a joke". None of it is
//! a question the KB answers, yet a softmax over the entries hands all of its
//! probability to whichever entry is nearest, and the decision then sees a
//! confident classifier where there is nothing to answer. Trained as one more
//! class from a shipped list (`knowledge/small_talk.txt`), small talk keeps
//! that probability for itself.
//!
//! A KB may answer some of it ("你是真人吗" as an FAQ, or a whole "small talk"
//! domain): a line as close to one of the KB's wordings as the KB's own
//! wordings are to their entry's nearest other wording is left out, and the
//! entry keeps it.

use super::index::StoredVectors;
use std::collections::HashMap;

/// The shipped list, one message per line; `#` starts a comment.
pub const SMALL_TALK: &str = include_str!("../../knowledge/small_talk.txt");

/// The classifier's label for the small-talk class: not an entry id (entry ids
/// are printable).
pub const NONE_OF_THE_ENTRIES: &str = "\u{1}small-talk";

/// The messages of the shipped list.
pub fn lines() -> Vec<&'static str> {
    SMALL_TALK
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// The small-talk vectors `negatives` that stay apart from the KB's
/// `examples`, labelled `NONE_OF_THE_ENTRIES`. "Apart": a line's nearest KB
/// wording is less similar than the median similarity of a KB wording to its
/// own entry's nearest other wording. Dense vectors are unit length.
pub fn apart_from(examples: &[StoredVectors], negatives: &[StoredVectors]) -> Vec<StoredVectors> {
    let Some(threshold) = median_nearest_sibling(examples) else {
        return Vec::new();
    };
    negatives
        .iter()
        .filter(|n| {
            let nearest = examples
                .iter()
                .map(|e| dot(&e.dense, &n.dense))
                .fold(f32::MIN, f32::max);
            nearest < threshold
        })
        .map(|n| StoredVectors {
            entry_id: NONE_OF_THE_ENTRIES.to_string(),
            dense: n.dense.clone(),
            sparse: n.sparse.clone(),
        })
        .collect()
}

/// Median over the wordings that have a sibling (another wording of the same
/// entry) of the similarity to their nearest sibling. None when no entry has
/// two wordings.
fn median_nearest_sibling(examples: &[StoredVectors]) -> Option<f32> {
    let mut by_entry: HashMap<&str, Vec<&[f32]>> = HashMap::new();
    for e in examples {
        by_entry.entry(&e.entry_id).or_default().push(&e.dense);
    }
    let mut nearest: Vec<f32> = Vec::new();
    for wordings in by_entry.values().filter(|w| w.len() > 1) {
        for (i, a) in wordings.iter().enumerate() {
            let best = wordings
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, b)| dot(a, b))
                .fold(f32::MIN, f32::max);
            nearest.push(best);
        }
    }
    if nearest.is_empty() {
        return None;
    }
    nearest.sort_by(f32::total_cmp);
    Some(nearest[nearest.len() / 2])
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retrieval::lexical::SparseVector;

    fn unit(v: [f32; 3]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    fn vectors(entry: &str, v: [f32; 3]) -> StoredVectors {
        StoredVectors {
            entry_id: entry.into(),
            dense: unit(v),
            sparse: SparseVector::default(),
        }
    }

    #[test]
    fn the_shipped_list_has_both_languages_and_no_comments() {
        let l = lines();
        assert!(l.len() >= 200, "{}", l.len());
        assert!(l.iter().all(|l| !l.starts_with('#')));
        assert!(l.contains(&"你是机器人吗") && l.contains(&"tell me a joke"));
    }

    #[test]
    fn a_line_as_close_to_an_entry_as_its_own_wordings_is_left_to_the_entry() {
        // Entry a's wordings are about 0.995 apart from each other (the
        // median nearest-sibling similarity); b's the same.
        let kb = vec![
            vectors("a", [1.0, 0.1, 0.0]),
            vectors("a", [1.0, 0.0, 0.0]),
            vectors("b", [0.0, 1.0, 0.1]),
            vectors("b", [0.0, 1.0, 0.0]),
        ];
        let near_a = vectors("x", [1.0, 0.05, 0.0]); // 0.999 to a: a paraphrase
        let far = vectors("y", [0.3, 0.3, 1.0]); // about 0.3 to both
        let kept = apart_from(&kb, &[near_a, far.clone()]);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].dense, far.dense);
        assert_eq!(kept[0].entry_id, NONE_OF_THE_ENTRIES);
    }

    #[test]
    fn a_kb_of_single_wordings_gets_no_small_talk_class() {
        let kb = vec![vectors("a", [1.0, 0.0, 0.0]), vectors("b", [0.0, 1.0, 0.0])];
        assert!(apart_from(&kb, &[vectors("y", [0.0, 0.0, 1.0])]).is_empty());
    }
}
