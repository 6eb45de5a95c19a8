//! Sentence vectors from token states: both engines mean-pool the real tokens
//! and L2-normalise, so a dot product is a cosine.

use super::batching::LengthGroup;
use candle_core::{Result, Tensor};

/// Mean of each sequence in a packed batch: hidden `[T, H]` holding the
/// groups' sequences one after another -> `[sequences, H]`.
pub fn group_means(hidden: &Tensor, groups: &[LengthGroup]) -> Result<Tensor> {
    let width = hidden.dim(1)?;
    let mut means = Vec::with_capacity(groups.len());
    let mut start = 0;
    for group in groups {
        let rows = hidden.narrow(0, start, group.tokens())?;
        means.push(rows.reshape((group.sequences, group.len, width))?.mean(1)?);
        start += group.tokens();
    }
    Tensor::cat(&means, 0)
}

/// Mean over the unmasked tokens: hidden `[B, L, H]`, mask `[B, L]` (f32 0/1)
/// -> `[B, H]`.
pub fn masked_mean(hidden: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let summed = hidden.broadcast_mul(&mask.unsqueeze(2)?)?.sum(1)?;
    let counts = mask.sum_keepdim(1)?.clamp(1.0, f64::INFINITY)?;
    summed.broadcast_div(&counts)
}

/// Scales `v` to unit length; a zero vector stays zero instead of becoming NaN.
pub fn l2_normalised(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn padding_tokens_do_not_move_the_masked_mean() {
        let hidden = Tensor::new(&[[[1f32, 2.], [3., 4.], [100., 100.]]], &Device::Cpu).unwrap();
        let mask = Tensor::new(&[[1f32, 1., 0.]], &Device::Cpu).unwrap();
        let mean = masked_mean(&hidden, &mask)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(mean, vec![vec![2.0, 3.0]]);
    }

    #[test]
    fn group_means_average_each_packed_sequence() {
        let hidden = Tensor::new(&[[1f32], [3.], [10.], [20.], [7.]], &Device::Cpu).unwrap();
        let groups = [
            LengthGroup {
                sequences: 2,
                len: 2,
            },
            LengthGroup {
                sequences: 1,
                len: 1,
            },
        ];
        let means = group_means(&hidden, &groups)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(means, vec![vec![2.0], vec![15.0], vec![7.0]]);
    }

    #[test]
    fn normalised_vectors_have_unit_length() {
        assert_eq!(l2_normalised(vec![3.0, 4.0]), vec![0.6, 0.8]);
        assert_eq!(l2_normalised(vec![0.0, 0.0]), vec![0.0, 0.0]);
    }
}
