//! The confidence calibration of one knowledge base, fitted on its own wordings.
//!
//! A score threshold fitted once on other knowledge bases does not carry over:
//! e5 puts unrelated Chinese sentences closer together than English ones, and
//! a KB of 30 broad intents scores differently from one of 150 narrow ones
//! (measured: the confidence fitted on English dev sets handed off 0.95 of
//! clinc150-val's out-of-scope questions but 0.78 of a held-out SMP2017 split).
//! So each KB measures itself, by cross-validation over its similar questions:
//! - its entries are dealt into `FOLDS` groups and each entry's wordings into
//!   `FOLDS` folds;
//! - for fold k a classifier is trained without fold k's wordings and without
//!   group k's entries at all; fold k's wordings of the other entries are then
//!   questions the KB answers (right if their own entry ranks first), and fold
//!   k's wordings of group k's entries are questions it does not answer (any
//!   answer would be wrong): the nearest kind of out-of-scope question there is;
//!   the fold's classifier learns the same small-talk class as the KB's own
//!   (`small_talk`), so that its probabilities are the ones the bot will see;
//! - each is ranked the way `decide` ranks (exact dense search over the kept
//!   wordings, BM25 over their terms, the fold's classifier, `rank`), and the
//!   best entry's fused score and lead over the runner-up are recorded;
//! - a logistic regression of "the answer would be right" on those two
//!   features, with the unanswerable questions weighted to `oos_share` of the
//!   answerable ones, is the KB's confidence.

use super::classifier::Classifier;
use super::index::{IndexHit, IndexResults, PointKind, StoredVectors};
use super::rank::{FusionWeights, Signals, rank, top_probabilities};
use candle_core::{Device, Tensor};
use serde::Serialize;
use std::collections::HashMap;

pub const FOLDS: usize = 4;
/// Fewer entries than this: too few to hold groups out; the shipped calibration stays.
const MIN_ENTRIES: usize = 8;
/// Fewer wordings per entry than this on average: the shipped calibration
/// stays. A fold's classifier then learns from too few wordings, and what the
/// held-out questions say understates the whole KB: on the demo shop's KB (6.5
/// per entry, near-duplicate entries per topic and language) the held-out top1
/// was 0.68 where its dev questions rank 0.88 right, and the fitted confidence
/// handed off three answers in four.
const MIN_WORDINGS_PER_ENTRY: usize = 10;
/// Wordings of one entry that a fold's classifier trains on, at most: keeps a
/// large KB's refit to a few classifier trainings of bounded size.
const MAX_TRAIN_WORDINGS: usize = 6_000;
/// Held-out questions ranked per fold, at most.
const MAX_QUERIES_PER_FOLD: usize = 1_500;
/// Points fetched per signal, as `DecisionPolicy::fetch`.
const FETCH: usize = 64;
/// Fewer held-out questions of either kind than this: no fit.
const MIN_ANSWERABLE: usize = 20;
const MIN_UNANSWERABLE: usize = 5;

/// One held-out question and how the KB without it ranked it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    /// Fused score of the best entry.
    pub score: f32,
    /// Its lead over the runner-up.
    pub lead: f32,
    /// Its lexical agreement (0..1) and classifier probability.
    pub lexical: f32,
    pub classifier: f32,
    /// The question's entry was in the KB it was ranked against.
    pub answerable: bool,
    /// Answerable, and its own entry ranked first.
    pub right: bool,
}

/// A KB's fitted calibration and what it was fitted on.
#[derive(Debug, Clone, Serialize)]
pub struct Fitted {
    /// "Answering would be right", over all held-out questions: bias, then the
    /// weights of (fused score, lead, lexical, classifier), as
    /// `DecisionPolicy::calibration`. Decides answer or hand off.
    pub coefficients: [f32; 5],
    /// "The best entry is the right one", over the answerable held-out
    /// questions only. Decides whether a curated answer is sent as it is.
    pub ranking: [f32; 5],
    pub answerable: usize,
    pub unanswerable: usize,
    /// Share of the answerable held-out questions ranked right.
    pub top1: f32,
    pub oos_share: f32,
    #[serde(skip)]
    pub samples: Vec<Sample>,
}

impl Fitted {
    /// The confidence this calibration gives a ranking like the sample's.
    pub fn confidence(&self, s: &Sample) -> f32 {
        logistic(&self.coefficients, &s.features())
    }
}

/// `1 / (1 + e^-(c · x))`.
pub fn logistic(c: &[f32; 5], x: &[f32; 5]) -> f32 {
    let z: f32 = c.iter().zip(x).map(|(c, x)| c * x).sum();
    1.0 / (1.0 + (-z).exp())
}

impl Sample {
    /// 1 (the bias), then the features in `DecisionPolicy::calibration`'s order.
    pub fn features(&self) -> [f32; 5] {
        [1.0, self.score, self.lead, self.lexical, self.classifier]
    }
}

/// Cross-validated samples of the KB (`examples`: its question points). Empty
/// when the KB is too small or too thin to hold anything out.
pub fn cross_validate(
    examples: &[StoredVectors],
    small_talk: &[StoredVectors],
    weights: &FusionWeights,
) -> Vec<Sample> {
    let Some((places, entries)) = deal(examples) else {
        return Vec::new();
    };
    let per_entry_cap = (MAX_TRAIN_WORDINGS / entries).max(8);
    let mut samples = Vec::new();
    for k in 0..FOLDS {
        match fold_samples(examples, small_talk, &places, k, per_entry_cap, weights) {
            Ok(s) => samples.extend(s),
            Err(e) => {
                tracing::warn!(error = %e, "calibration: dense search failed");
                return Vec::new();
            }
        }
    }
    samples
}

/// Where one wording sits in the cross-validation.
#[derive(Clone, Copy)]
struct Place {
    /// The fold that holds it out.
    fold: usize,
    /// The group of its entry: left out whole in that fold.
    group: usize,
    /// Its position among its entry's wordings.
    position: usize,
}

/// Deals the entries into groups and their wordings into folds; with the
/// number of entries. None when the KB is too small or too thin.
fn deal(examples: &[StoredVectors]) -> Option<(Vec<Place>, usize)> {
    let mut entries: Vec<&str> = examples.iter().map(|e| e.entry_id.as_str()).collect();
    entries.sort_unstable();
    entries.dedup();
    if entries.len() < MIN_ENTRIES || examples.len() < MIN_WORDINGS_PER_ENTRY * entries.len() {
        return None;
    }
    // In an order that does not follow the ids (they often share a prefix per
    // category), but is the same on every run.
    entries.sort_by_key(|id| (fnv1a(id), *id));
    let group: HashMap<&str, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, i % FOLDS))
        .collect();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let places = examples
        .iter()
        .map(|e| {
            let n = seen.entry(e.entry_id.as_str()).or_default();
            let (group, position) = (group[e.entry_id.as_str()], *n);
            *n += 1;
            Place {
                fold: (position + group) % FOLDS,
                group,
                position,
            }
        })
        .collect();
    Some((places, entries.len()))
}

/// Fold `k`: trains on the wordings it keeps and ranks the ones it holds out.
fn fold_samples(
    examples: &[StoredVectors],
    small_talk: &[StoredVectors],
    places: &[Place],
    k: usize,
    per_entry_cap: usize,
    weights: &FusionWeights,
) -> candle_core::Result<Vec<Sample>> {
    let train: Vec<StoredVectors> = examples
        .iter()
        .zip(places)
        .filter(|(_, p)| p.group != k && p.fold != k && p.position < per_entry_cap)
        .map(|(e, _)| e.clone())
        .collect();
    let held: Vec<usize> = (0..examples.len())
        .filter(|&i| places[i].fold == k)
        .collect();
    let step = held.len().div_ceil(MAX_QUERIES_PER_FOLD).max(1);
    let held: Vec<usize> = held.into_iter().step_by(step).collect();
    let Some(classifier) = Classifier::train(&train, small_talk) else {
        return Ok(Vec::new());
    };
    let fold = Fold::new(&train);
    let queries: Vec<&StoredVectors> = held.iter().map(|&i| &examples[i]).collect();
    let dense = fold.dense_hits(&queries)?;
    let mut samples = Vec::with_capacity(held.len());
    for ((&i, q), dense) in held.iter().zip(&queries).zip(dense) {
        let results = IndexResults {
            dense,
            sparse: fold.sparse_hits(q),
        };
        let probabilities = top_probabilities(classifier.predict(&q.dense, &q.sparse), FETCH);
        let ranked = rank(&results, &probabilities, Signals::HybridClassifier, weights);
        let Some(best) = ranked.first() else {
            continue;
        };
        let second = ranked.get(1).map(|c| c.score).unwrap_or(0.0);
        let answerable = places[i].group != k;
        samples.push(Sample {
            score: best.score,
            lead: best.score - second,
            lexical: best.lexical,
            classifier: best.classifier,
            answerable,
            right: answerable && best.entry_id == examples[i].entry_id,
        });
    }
    Ok(samples)
}

/// The logistic calibration of `samples`, the unanswerable ones weighted to
/// `oos_share` of the answerable ones. None when they are too few or all of
/// one outcome.
pub fn fit(samples: &[Sample], oos_share: f32) -> Option<Fitted> {
    let answerable = samples.iter().filter(|s| s.answerable).count();
    let unanswerable = samples.len() - answerable;
    let right = samples.iter().filter(|s| s.right).count();
    if answerable < MIN_ANSWERABLE
        || unanswerable < MIN_UNANSWERABLE
        || right == 0
        || right == samples.len()
    {
        return None;
    }
    let oos_weight = oos_share as f64 * answerable as f64 / unanswerable as f64;
    let rows: Vec<([f64; 5], f64, f64)> = samples
        .iter()
        .map(|s| {
            let w = if s.answerable { 1.0 } else { oos_weight };
            (
                s.features().map(f64::from),
                if s.right { 1.0 } else { 0.0 },
                w,
            )
        })
        .collect();
    let beta = logistic_newton(&rows)?;
    let answerable_rows: Vec<([f64; 5], f64, f64)> = rows
        .iter()
        .zip(samples)
        .filter(|(_, s)| s.answerable)
        .map(|(r, _)| (r.0, r.1, 1.0))
        .collect();
    // Every answerable one ranked right: no slope to fit, only the rate, with
    // Laplace's rule of succession ((right + 1) / (answerable + 2)) as its log-odds.
    let ranking = if right < answerable {
        logistic_newton(&answerable_rows)?
    } else {
        [((answerable + 1) as f64).ln(), 0.0, 0.0, 0.0, 0.0]
    };
    Some(Fitted {
        coefficients: beta.map(|b| b as f32),
        ranking: ranking.map(|b| b as f32),
        answerable,
        unanswerable,
        top1: right as f32 / answerable as f32,
        oos_share,
        samples: samples.to_vec(),
    })
}

/// Weighted logistic regression by Newton's method, a small ridge on the
/// slopes (not the bias) so that separable samples still give finite weights.
/// Small: the fused score of right and wrong answers differs by a few
/// hundredths, so the slopes that tell them apart are in the tens (a ridge of
/// 1e-2 per sample held them under 4 and flattened every confidence to
/// 0.3-0.75, with no curated answer left).
fn logistic_newton<const N: usize>(rows: &[([f64; N], f64, f64)]) -> Option<[f64; N]> {
    const RIDGE: f64 = 1e-5;
    let total: f64 = rows.iter().map(|r| r.2).sum();
    let mut beta = [0.0f64; N];
    for _ in 0..50 {
        let mut grad = [0.0f64; N];
        let mut hess = [[0.0f64; N]; N];
        for (x, y, w) in rows {
            let z: f64 = (0..N).map(|j| beta[j] * x[j]).sum();
            let p = 1.0 / (1.0 + (-z).exp());
            for j in 0..N {
                grad[j] += w * (p - y) * x[j];
                for l in 0..N {
                    hess[j][l] += w * p * (1.0 - p) * x[j] * x[l];
                }
            }
        }
        for j in 1..N {
            grad[j] += RIDGE * total * beta[j];
            hess[j][j] += RIDGE * total;
        }
        let delta = solve(hess, grad)?;
        let mut moved = 0.0f64;
        for j in 0..N {
            beta[j] -= delta[j];
            moved = moved.max(delta[j].abs());
        }
        if !beta.iter().all(|b| b.is_finite()) {
            return None;
        }
        if moved < 1e-8 {
            break;
        }
    }
    Some(beta)
}

/// `a x = b` by Gaussian elimination with partial pivoting.
fn solve<const N: usize>(mut a: [[f64; N]; N], mut b: [f64; N]) -> Option<[f64; N]> {
    for col in 0..N {
        let pivot = (col..N).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let (done, rest) = a.split_at_mut(col + 1);
        let pivot_row = &done[col];
        for (i, row) in rest.iter_mut().enumerate() {
            let f = row[col] / pivot_row[col];
            row.iter_mut()
                .zip(pivot_row)
                .skip(col)
                .for_each(|(x, p)| *x -= f * p);
            b[col + 1 + i] -= f * b[col];
        }
    }
    let mut x = [0.0f64; N];
    for row in (0..N).rev() {
        let s: f64 = (row + 1..N).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    Some(x)
}

/// One fold's kept wordings, searchable as the index searches them.
struct Fold<'a> {
    train: &'a [StoredVectors],
    /// Term → (wording, BM25 weight of the term in it).
    postings: HashMap<u32, Vec<(usize, f32)>>,
}

impl<'a> Fold<'a> {
    fn new(train: &'a [StoredVectors]) -> Fold<'a> {
        let mut postings: HashMap<u32, Vec<(usize, f32)>> = HashMap::new();
        for (i, e) in train.iter().enumerate() {
            for (t, v) in e.sparse.indices.iter().zip(&e.sparse.values) {
                postings.entry(*t).or_default().push((i, *v));
            }
        }
        Fold { train, postings }
    }

    /// The `FETCH` nearest kept wordings of each query by cosine (the vectors
    /// are unit length), as one matrix product per batch of queries.
    fn dense_hits(&self, queries: &[&StoredVectors]) -> candle_core::Result<Vec<Vec<IndexHit>>> {
        let d = self.train[0].dense.len();
        let dev = Device::Cpu;
        let flat: Vec<f32> = self.train.iter().flat_map(|e| e.dense.clone()).collect();
        let keys = Tensor::from_vec(flat, (self.train.len(), d), &dev)?
            .t()?
            .contiguous()?;
        let mut out = Vec::with_capacity(queries.len());
        for batch in queries.chunks(256) {
            let flat: Vec<f32> = batch.iter().flat_map(|q| q.dense.clone()).collect();
            let q = Tensor::from_vec(flat, (batch.len(), d), &dev)?;
            for row in q.matmul(&keys)?.to_vec2::<f32>()? {
                out.push(self.best(row.into_iter().enumerate().collect()));
            }
        }
        Ok(out)
    }

    /// BM25 as the index scores it: each distinct query term once, times the
    /// term's IDF among the kept wordings, times its weight in the wording.
    fn sparse_hits(&self, q: &StoredVectors) -> Vec<IndexHit> {
        let n = self.train.len() as f32;
        let mut scores: HashMap<usize, f32> = HashMap::new();
        for t in &q.sparse.indices {
            let Some(list) = self.postings.get(t) else {
                continue;
            };
            let df = list.len() as f32;
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for (i, v) in list {
                *scores.entry(*i).or_default() += idf * v;
            }
        }
        self.best(scores.into_iter().collect())
    }

    fn best(&self, mut scored: Vec<(usize, f32)>) -> Vec<IndexHit> {
        let by_score = |a: &(usize, f32), b: &(usize, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if scored.len() > FETCH {
            scored.select_nth_unstable_by(FETCH, by_score);
            scored.truncate(FETCH);
        }
        scored.sort_by(by_score);
        scored
            .into_iter()
            .filter(|(_, s)| *s > 0.0)
            .map(|(i, score)| IndexHit {
                point_id: i as u64,
                entry_id: self.train[i].entry_id.clone(),
                kind: PointKind::Question,
                score,
            })
            .collect()
    }
}

/// FNV-1a: a hash that is the same in every process (std's is seeded).
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn sample(score: f32, answerable: bool, right: bool) -> Sample {
        Sample {
            score,
            lead: 0.0,
            lexical: 0.0,
            classifier: 0.0,
            answerable,
            right,
        }
    }

    #[test]
    fn the_fitted_confidence_rises_with_the_score_and_crosses_half_between_the_outcomes() {
        // Right answers score 0.9-0.99, wrong ones 0.6-0.8.
        let mut samples = Vec::new();
        for i in 0..40 {
            samples.push(sample(0.90 + i as f32 * 0.0025, true, true));
            samples.push(sample(0.60 + i as f32 * 0.005, false, false));
        }
        let f = fit(&samples, 1.0).expect("fitted");
        let p = |s: f32| {
            let c = f.coefficients;
            1.0 / (1.0 + (-(c[0] + c[1] * s)).exp())
        };
        assert!(f.coefficients[1] > 0.0, "{:?}", f.coefficients);
        assert!(p(0.95) > 0.9 && p(0.65) < 0.1, "{} {}", p(0.95), p(0.65));
        let midpoint = -f.coefficients[0] / f.coefficients[1];
        assert!((0.8..0.9).contains(&midpoint), "{midpoint}");
        assert_eq!((f.answerable, f.unanswerable), (40, 40));
    }

    #[test]
    fn weighting_the_unanswerable_questions_up_moves_the_midpoint_up() {
        // Overlapping outcomes: where the confidence crosses one half depends
        // on how much the unanswerable questions weigh.
        let mut samples = Vec::new();
        for i in 0..50 {
            samples.push(sample(0.80 + i as f32 * 0.004, true, true));
            samples.push(sample(0.70 + i as f32 * 0.004, false, false));
        }
        let midpoint = |share: f32| {
            let c = fit(&samples, share).expect("fitted").coefficients;
            -c[0] / c[1]
        };
        assert!(midpoint(2.0) > midpoint(1.0) && midpoint(1.0) > midpoint(0.5));
    }

    #[test]
    fn too_few_or_one_sided_samples_fit_nothing() {
        let few: Vec<Sample> = (0..10)
            .map(|i| sample(0.5 + i as f32 / 20.0, true, i % 2 == 0))
            .collect();
        assert!(fit(&few, 1.0).is_none());
        let all_right: Vec<Sample> = (0..40).map(|_| sample(0.9, true, true)).collect();
        assert!(fit(&all_right, 1.0).is_none());
    }

    #[test]
    fn solving_a_small_system_gives_its_hand_computed_solution() {
        // 2x + y = 5, x + 3y + z = 10, y + 4z = 11 → x = 13/9, y = 19/9, z = 20/9.
        let x = solve(
            [[2.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 4.0]],
            [5.0, 10.0, 11.0],
        )
        .expect("solvable");
        for (got, want) in x.iter().zip([13.0 / 9.0, 19.0 / 9.0, 20.0 / 9.0]) {
            assert!((got - want).abs() < 1e-9, "{x:?}");
        }
    }

    /// A KB of `entries` entries on orthogonal axes, `per` wordings each close
    /// to their axis, each with its own lexical term.
    pub(crate) fn kb(entries: usize, per: usize) -> Vec<StoredVectors> {
        let d = entries + 1;
        let mut out = Vec::new();
        for e in 0..entries {
            for w in 0..per {
                let mut v = vec![0.0f32; d];
                v[e] = 1.0;
                v[d - 1] = 0.1 + 0.05 * w as f32;
                let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter_mut().for_each(|x| *x /= n);
                out.push(StoredVectors {
                    entry_id: format!("e{e:02}"),
                    dense: v,
                    sparse: crate::retrieval::lexical::SparseVector {
                        indices: vec![e as u32],
                        values: vec![1.0],
                    },
                });
            }
        }
        out
    }

    #[test]
    fn cross_validation_holds_out_wordings_and_whole_entries() {
        let examples = kb(12, 10);
        let samples = cross_validate(&examples, &[], &FusionWeights::default());
        // Every wording is held out once: 120 questions. In fold k the 3 entries
        // of group k are left out whole; 3 of each one's 10 wordings fall in
        // fold k (positions 0, 4 and 8), so 4 folds x 3 entries x 3 are unanswerable.
        assert_eq!(samples.len(), 120);
        let unanswerable: Vec<&Sample> = samples.iter().filter(|s| !s.answerable).collect();
        assert_eq!(unanswerable.len(), 36);
        assert!(unanswerable.iter().all(|s| !s.right));
        // The answerable wordings sit on their own entry's axis: all ranked right,
        // and well above the unanswerable ones, whose nearest entry is another axis.
        assert!(samples.iter().filter(|s| s.answerable).all(|s| s.right));
        let lowest_right = samples
            .iter()
            .filter(|s| s.right)
            .map(|s| s.score)
            .fold(f32::MAX, f32::min);
        let highest_wrong = unanswerable
            .iter()
            .map(|s| s.score)
            .fold(f32::MIN, f32::max);
        assert!(
            lowest_right > highest_wrong,
            "{lowest_right} {highest_wrong}"
        );
    }

    #[test]
    fn a_kb_with_too_few_entries_or_wordings_is_not_cross_validated() {
        let w = FusionWeights::default();
        assert!(cross_validate(&kb(5, 12), &[], &w).is_empty());
        assert!(cross_validate(&kb(12, 9), &[], &w).is_empty());
        assert!(!cross_validate(&kb(8, 10), &[], &w).is_empty());
    }
}
