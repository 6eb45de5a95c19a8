//! A classifier over entries, trained on the KB's own similar questions.
//!
//! Multinomial logistic regression on two views of each wording: its e5
//! embedding and its lexical terms (the same segmenter tokens the sparse index
//! uses, tf·idf weighted over the KB's wordings). Where an entry has many
//! wordings, a boundary learned from all of them generalises better than the
//! nearest single wording, and the lexical view separates intents that e5 puts
//! close together ("card arrival" vs "card delivery estimate"). It is trained
//! only when the KB has enough wordings per entry to learn from.

use super::index::StoredVectors;
use super::lexical::SparseVector;
use super::small_talk::NONE_OF_THE_ENTRIES;
use candle_core::{Device, Tensor};
use std::collections::HashMap;

/// Fewer wordings per entry than this on average: no classifier.
const MIN_EXAMPLES_PER_CLASS: f32 = 3.0;
const STEPS: usize = 300;
const LEARNING_RATE: f32 = 0.1;
const L2: f32 = 1e-5;

/// Logit scale. 1: with Adam's step size, a larger scale overshoots and the
/// probabilities come out overconfident (measured on banking77 and clinc150).
const SCALE: f32 = 1.0;
/// Weight of the dense view against the lexical one (each is a unit vector).
const DENSE_WEIGHT: f32 = 2.0;

pub struct Classifier {
    labels: Vec<String>,
    /// Lexical term (sparse index) → column.
    vocabulary: HashMap<u32, usize>,
    idf: Vec<f32>,
    /// d × classes, row-major.
    dense_weights: Vec<f32>,
    /// vocabulary × classes, row-major.
    lexical_weights: Vec<f32>,
    bias: Vec<f32>,
}

/// One wording as the classifier reads it: scaled dense part, weighted terms.
struct Features {
    dense: Vec<f32>,
    terms: Vec<(usize, f32)>,
}

impl Classifier {
    /// None when there is too little to learn from. `small_talk`: messages
    /// that no entry answers (`small_talk::apart_from`), learned as one more
    /// class that `predict` leaves out.
    pub fn train(examples: &[StoredVectors], small_talk: &[StoredVectors]) -> Option<Classifier> {
        let mut labels: Vec<String> = examples.iter().map(|e| e.entry_id.clone()).collect();
        labels.sort();
        labels.dedup();
        if labels.len() < 2
            || (examples.len() as f32) < MIN_EXAMPLES_PER_CLASS * labels.len() as f32
        {
            return None;
        }
        let all: Vec<StoredVectors>;
        let examples = if small_talk.is_empty() {
            examples
        } else {
            labels.push(NONE_OF_THE_ENTRIES.to_string());
            all = examples.iter().chain(small_talk).cloned().collect();
            &all
        };
        match train_softmax(examples, labels) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "classifier training failed; ranking without it");
                None
            }
        }
    }

    /// Probability of each entry for a query: its unit dense vector and its
    /// lexical document vector (`Segmenter::document_vector`). What the
    /// small-talk class takes is left out, so the entries' sum to less than 1.
    pub fn predict(&self, dense: &[f32], lexical: &SparseVector) -> HashMap<String, f32> {
        let c = self.labels.len();
        let f = self.features(dense, lexical);
        let mut logits = self.bias.clone();
        for (i, x) in f.dense.iter().enumerate() {
            let row = &self.dense_weights[i * c..(i + 1) * c];
            logits.iter_mut().zip(row).for_each(|(l, w)| *l += x * w);
        }
        for (j, x) in &f.terms {
            let row = &self.lexical_weights[j * c..(j + 1) * c];
            logits.iter_mut().zip(row).for_each(|(l, w)| *l += x * w);
        }
        softmax_scaled(&mut logits);
        self.labels
            .iter()
            .cloned()
            .zip(logits)
            .filter(|(l, _)| l != NONE_OF_THE_ENTRIES)
            .collect()
    }

    /// Entries it tells apart (the small-talk class not counted).
    pub fn classes(&self) -> usize {
        self.labels
            .iter()
            .filter(|l| *l != NONE_OF_THE_ENTRIES)
            .count()
    }

    fn features(&self, dense: &[f32], lexical: &SparseVector) -> Features {
        Features {
            dense: dense.iter().map(|x| x * DENSE_WEIGHT).collect(),
            terms: tf_idf(lexical, &self.vocabulary, &self.idf),
        }
    }
}

/// The known terms of `v`, weighted by idf, as a unit vector.
fn tf_idf(v: &SparseVector, vocabulary: &HashMap<u32, usize>, idf: &[f32]) -> Vec<(usize, f32)> {
    let mut terms: Vec<(usize, f32)> = v
        .indices
        .iter()
        .zip(&v.values)
        .filter_map(|(t, tf)| vocabulary.get(t).map(|&j| (j, tf * idf[j])))
        .collect();
    let norm = terms.iter().map(|(_, x)| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        terms.iter_mut().for_each(|(_, x)| *x /= norm);
    }
    terms
}

/// In place: softmax of `SCALE · logits`.
fn softmax_scaled(logits: &mut [f32]) {
    let max = logits.iter().copied().fold(f32::MIN, f32::max);
    let mut sum = 0.0;
    for l in logits.iter_mut() {
        *l = ((*l - max) * SCALE).exp();
        sum += *l;
    }
    logits.iter_mut().for_each(|l| *l /= sum);
}

/// Terms of the training wordings → columns, with smoothed idf.
fn vocabulary_of(examples: &[StoredVectors]) -> (HashMap<u32, usize>, Vec<f32>) {
    let mut df: HashMap<u32, usize> = HashMap::new();
    for e in examples {
        for t in &e.sparse.indices {
            *df.entry(*t).or_default() += 1;
        }
    }
    let mut terms: Vec<(u32, usize)> = df.into_iter().collect();
    terms.sort_unstable();
    let n = examples.len() as f32;
    let idf = terms
        .iter()
        .map(|(_, df)| ((1.0 + n) / (1.0 + *df as f32)).ln() + 1.0)
        .collect();
    let vocabulary = terms
        .iter()
        .enumerate()
        .map(|(j, (t, _))| (*t, j))
        .collect();
    (vocabulary, idf)
}

/// Full-batch gradient descent with Adam on the cross-entropy plus an L2
/// penalty. The dense products run as candle matmuls; the lexical part is
/// sparse and done by hand.
fn train_softmax(examples: &[StoredVectors], labels: Vec<String>) -> Result<Classifier, String> {
    let n = examples.len();
    let d = examples[0].dense.len();
    let c = labels.len();
    let index: HashMap<&str, usize> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let (vocabulary, idf) = vocabulary_of(examples);
    let v = idf.len();
    let target: Vec<usize> = examples
        .iter()
        .map(|e| index[e.entry_id.as_str()])
        .collect();
    let terms: Vec<Vec<(usize, f32)>> = examples
        .iter()
        .map(|e| tf_idf(&e.sparse, &vocabulary, &idf))
        .collect();
    let flat: Vec<f32> = examples
        .iter()
        .flat_map(|e| e.dense.iter().map(|x| x * DENSE_WEIGHT))
        .collect();
    let dev = Device::Cpu;
    let err = |e: candle_core::Error| e.to_string();
    let x = Tensor::from_vec(flat, (n, d), &dev).map_err(err)?;
    let xt = x.t().map_err(err)?.contiguous().map_err(err)?;

    let mut w_dense = vec![0f32; d * c];
    let mut w_lex = vec![0f32; v * c];
    let mut bias = vec![0f32; c];
    let (mut adam_dense, mut adam_lex, mut adam_bias) =
        (Adam::new(d * c), Adam::new(v * c), Adam::new(c));
    for step in 1..=STEPS {
        let w = Tensor::from_slice(&w_dense, (d, c), &dev).map_err(err)?;
        let mut delta = matmul_flat(&x, &w).map_err(err)?;
        for (i, row) in delta.chunks_mut(c).enumerate() {
            row.iter_mut().zip(&bias).for_each(|(l, b)| *l += b);
            for (j, x) in &terms[i] {
                let wr = &w_lex[j * c..(j + 1) * c];
                row.iter_mut().zip(wr).for_each(|(l, w)| *l += x * w);
            }
            softmax_scaled(row);
            row[target[i]] -= 1.0;
            row.iter_mut().for_each(|g| *g *= SCALE / n as f32);
        }
        let delta_t = Tensor::from_slice(&delta, (n, c), &dev).map_err(err)?;
        let mut g_dense = matmul_flat(&xt, &delta_t).map_err(err)?;
        g_dense
            .iter_mut()
            .zip(&w_dense)
            .for_each(|(g, w)| *g += L2 * w);
        let mut g_lex: Vec<f32> = w_lex.iter().map(|w| L2 * w).collect();
        let mut g_bias = vec![0f32; c];
        for (i, row) in delta.chunks(c).enumerate() {
            g_bias.iter_mut().zip(row).for_each(|(g, r)| *g += r);
            for (j, x) in &terms[i] {
                let gr = &mut g_lex[j * c..(j + 1) * c];
                gr.iter_mut().zip(row).for_each(|(g, r)| *g += x * r);
            }
        }
        adam_dense.step(&mut w_dense, &g_dense, step);
        adam_lex.step(&mut w_lex, &g_lex, step);
        adam_bias.step(&mut bias, &g_bias, step);
    }
    Ok(Classifier {
        labels,
        vocabulary,
        idf,
        dense_weights: w_dense,
        lexical_weights: w_lex,
        bias,
    })
}

/// `a · b`, row-major in one vector.
fn matmul_flat(a: &Tensor, b: &Tensor) -> candle_core::Result<Vec<f32>> {
    a.matmul(b)?.flatten_all()?.to_vec1()
}

struct Adam {
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Adam {
    fn new(len: usize) -> Adam {
        Adam {
            m: vec![0.0; len],
            v: vec![0.0; len],
        }
    }

    fn step(&mut self, p: &mut [f32], g: &[f32], t: usize) {
        let (b1, b2) = (0.9f32, 0.999f32);
        let (c1, c2) = (1.0 - b1.powi(t as i32), 1.0 - b2.powi(t as i32));
        for (((p, g), m), v) in p.iter_mut().zip(g).zip(&mut self.m).zip(&mut self.v) {
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            *p -= LEARNING_RATE * (*m / c1) / ((*v / c2).sqrt() + 1e-8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: [f32; 3]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    fn example(label: &str, dense: Vec<f32>, terms: &[u32]) -> StoredVectors {
        StoredVectors {
            entry_id: label.into(),
            dense,
            sparse: SparseVector {
                indices: terms.to_vec(),
                values: vec![1.0; terms.len()],
            },
        }
    }

    #[test]
    fn learns_separable_classes() {
        let mut ex = Vec::new();
        for i in 0..5 {
            let e = i as f32 * 0.05;
            ex.push(example("a", unit([1.0, e, 0.0]), &[]));
            ex.push(example("b", unit([e, 1.0, 0.0]), &[]));
            ex.push(example("c", unit([0.0, e, 1.0]), &[]));
        }
        let clf = Classifier::train(&ex, &[]).expect("trained");
        let none = SparseVector::default();
        let p = clf.predict(&unit([0.9, 0.1, 0.0]), &none);
        assert!(p["a"] > 0.8, "{p:?}");
        let p = clf.predict(&unit([0.0, 0.2, 0.9]), &none);
        assert!(p["c"] > 0.8, "{p:?}");
    }

    #[test]
    fn lexical_terms_separate_what_the_embedding_cannot() {
        // Same embedding for both entries; only the words tell them apart.
        let same = unit([1.0, 1.0, 0.0]);
        let mut ex = Vec::new();
        for i in 0..4 {
            ex.push(example("arrival", same.clone(), &[1, 10 + i]));
            ex.push(example("delivery", same.clone(), &[2, 20 + i]));
        }
        let clf = Classifier::train(&ex, &[]).expect("trained");
        let q = |t: u32| SparseVector {
            indices: vec![t],
            values: vec![1.0],
        };
        assert!(clf.predict(&same, &q(1))["arrival"] > 0.9);
        assert!(clf.predict(&same, &q(2))["delivery"] > 0.9);
        // An unknown term leaves it undecided.
        let p = clf.predict(&same, &q(99));
        assert!((p["arrival"] - 0.5).abs() < 0.1, "{p:?}");
    }

    #[test]
    fn needs_several_wordings_per_entry() {
        let ex = vec![
            example("a", unit([1.0, 0.0, 0.0]), &[1]),
            example("b", unit([0.0, 1.0, 0.0]), &[2]),
        ];
        assert!(Classifier::train(&ex, &[]).is_none());
    }

    #[test]
    fn small_talk_keeps_its_probability_away_from_the_entries() {
        let mut ex = Vec::new();
        let mut chat = Vec::new();
        for i in 0..5 {
            let e = i as f32 * 0.05;
            ex.push(example("a", unit([1.0, e, 0.0]), &[]));
            ex.push(example("b", unit([e, 1.0, 0.0]), &[]));
            chat.push(example(NONE_OF_THE_ENTRIES, unit([e, 0.0, 1.0]), &[]));
        }
        let none = SparseVector::default();
        let chatty = unit([0.1, 0.2, 0.9]);
        let without = Classifier::train(&ex, &[]).expect("trained");
        let with = Classifier::train(&ex, &chat).expect("trained");
        // Without the class, the chatter goes to the nearest entry.
        assert!(without.predict(&chatty, &none)["b"] > 0.6);
        let p = with.predict(&chatty, &none);
        assert!(!p.contains_key(NONE_OF_THE_ENTRIES), "{p:?}");
        assert!(p["a"] + p["b"] < 0.3, "{p:?}");
        // An entry's own question keeps its probability.
        assert!(with.predict(&unit([1.0, 0.1, 0.0]), &none)["a"] > 0.8);
        assert_eq!(with.classes(), 2);
    }
}
