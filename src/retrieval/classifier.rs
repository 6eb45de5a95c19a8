//! A classifier over entries, trained on the KB's own similar questions.
//!
//! Multinomial logistic regression on the (normalised) question embeddings:
//! where an entry has many wordings, a linear boundary learned from all of them
//! generalises better than the nearest single wording. It is trained only when
//! the KB has enough wordings per entry to learn from.

use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;

/// Fewer wordings per entry than this on average: no classifier.
const MIN_EXAMPLES_PER_CLASS: f32 = 3.0;
const STEPS: usize = 300;
const LEARNING_RATE: f64 = 0.1;
const L2: f64 = 1e-4;
/// Logit scale: the inputs are unit vectors, so logits need room to separate.
const SCALE: f64 = 20.0;

pub struct Classifier {
    labels: Vec<String>,
    /// d × classes
    weights: Tensor,
    bias: Tensor,
}

fn err(e: candle_core::Error) -> String {
    e.to_string()
}

impl Classifier {
    /// `examples`: (entry id, unit vector). None when there is too little to learn from.
    pub fn train(examples: &[(String, Vec<f32>)]) -> Option<Classifier> {
        let mut labels: Vec<String> = examples.iter().map(|(l, _)| l.clone()).collect();
        labels.sort();
        labels.dedup();
        if labels.len() < 2
            || (examples.len() as f32) < MIN_EXAMPLES_PER_CLASS * labels.len() as f32
        {
            return None;
        }
        match train_softmax(examples, labels) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "classifier training failed; ranking without it");
                None
            }
        }
    }

    /// Probability of each entry for a query vector.
    pub fn predict(&self, query: &[f32]) -> HashMap<String, f32> {
        let probs = (|| -> candle_core::Result<Vec<f32>> {
            let q = Tensor::from_slice(query, (1, query.len()), &Device::Cpu)?;
            let logits = (q.matmul(&self.weights)?.broadcast_add(&self.bias)? * SCALE)?;
            candle_nn::ops::softmax_last_dim(&logits)?
                .squeeze(0)?
                .to_vec1()
        })();
        match probs {
            Ok(p) => self.labels.iter().cloned().zip(p).collect(),
            Err(_) => HashMap::new(),
        }
    }

    pub fn classes(&self) -> usize {
        self.labels.len()
    }
}

/// Full-batch gradient descent with Adam on the cross-entropy plus an L2 penalty.
fn train_softmax(
    examples: &[(String, Vec<f32>)],
    labels: Vec<String>,
) -> Result<Classifier, String> {
    let dev = Device::Cpu;
    let n = examples.len();
    let d = examples[0].1.len();
    let c = labels.len();
    let index: HashMap<&str, usize> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let flat: Vec<f32> = examples
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .collect();
    let x = Tensor::from_vec(flat, (n, d), &dev).map_err(err)?;
    let mut onehot = vec![0f32; n * c];
    for (i, (l, _)) in examples.iter().enumerate() {
        onehot[i * c + index[l.as_str()]] = 1.0;
    }
    let y = Tensor::from_vec(onehot, (n, c), &dev).map_err(err)?;
    let xt = x.t().map_err(err)?.contiguous().map_err(err)?;
    let mut w = Tensor::zeros((d, c), DType::F32, &dev).map_err(err)?;
    let mut b = Tensor::zeros((1, c), DType::F32, &dev).map_err(err)?;
    let mut adam_w = Adam::new(&w).map_err(err)?;
    let mut adam_b = Adam::new(&b).map_err(err)?;
    for step in 1..=STEPS {
        let (gw, gb) = (|| -> candle_core::Result<(Tensor, Tensor)> {
            let logits = (x.matmul(&w)?.broadcast_add(&b)? * SCALE)?;
            let p = candle_nn::ops::softmax_last_dim(&logits)?;
            let delta = ((p - &y)? * (SCALE / n as f64))?;
            let gw = (xt.matmul(&delta)? + (&w * L2)?)?;
            let gb = delta.sum_keepdim(0)?;
            Ok((gw, gb))
        })()
        .map_err(err)?;
        w = adam_w.step(&w, &gw, step).map_err(err)?;
        b = adam_b.step(&b, &gb, step).map_err(err)?;
    }
    Ok(Classifier {
        labels,
        weights: w,
        bias: b,
    })
}

struct Adam {
    m: Tensor,
    v: Tensor,
}

impl Adam {
    fn new(like: &Tensor) -> candle_core::Result<Adam> {
        Ok(Adam {
            m: like.zeros_like()?,
            v: like.zeros_like()?,
        })
    }

    fn step(&mut self, p: &Tensor, g: &Tensor, t: usize) -> candle_core::Result<Tensor> {
        let (b1, b2) = (0.9f64, 0.999f64);
        self.m = ((&self.m * b1)? + (g * (1.0 - b1))?)?;
        self.v = ((&self.v * b2)? + (g.sqr()? * (1.0 - b2))?)?;
        let m_hat = (&self.m / (1.0 - b1.powi(t as i32)))?;
        let v_hat = (&self.v / (1.0 - b2.powi(t as i32)))?;
        let update = (m_hat / (v_hat.sqrt()? + 1e-8)?)?;
        p - (update * LEARNING_RATE)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: [f32; 3]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn learns_separable_classes() {
        let mut ex = Vec::new();
        for i in 0..5 {
            let e = i as f32 * 0.05;
            ex.push(("a".to_string(), unit([1.0, e, 0.0])));
            ex.push(("b".to_string(), unit([e, 1.0, 0.0])));
            ex.push(("c".to_string(), unit([0.0, e, 1.0])));
        }
        let clf = Classifier::train(&ex).expect("trained");
        let p = clf.predict(&unit([0.9, 0.1, 0.0]));
        assert!(p["a"] > 0.8, "{p:?}");
        let p = clf.predict(&unit([0.0, 0.2, 0.9]));
        assert!(p["c"] > 0.8, "{p:?}");
    }

    #[test]
    fn needs_several_wordings_per_entry() {
        let ex = vec![
            ("a".to_string(), unit([1.0, 0.0, 0.0])),
            ("b".to_string(), unit([0.0, 1.0, 0.0])),
        ];
        assert!(Classifier::train(&ex).is_none());
    }
}
