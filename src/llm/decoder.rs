//! A decoder-only transformer (Qwen2 and Llama families) over quantized GGUF
//! weights. Written for this project rather than taken from candle-transformers
//! because the bot needs to *reuse* a prompt prefix: the KV cache here can be
//! truncated to the part of the new prompt that is unchanged, so a long system
//! prompt is computed once, not every turn.

use candle_core::quantized::{QMatMul, QTensor, gguf_file};
use candle_core::{D, DType, Device, IndexOp, Module, Result, Tensor};
use candle_nn::Embedding;
use std::io::{Read, Seek};
use xiaoer_kernels::attention::{AttentionShape, causal_attention};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// Qwen2: biases on Q/K/V, rotary embedding on halves ("neox" layout).
    Qwen2,
    /// Llama (SmolLM2...): no biases, rotary embedding on interleaved pairs (GGUF layout).
    Llama,
}

#[derive(Debug, Clone)]
pub struct DecoderConfig {
    pub arch: Arch,
    pub n_layer: usize,
    pub n_head: usize,
    pub n_kv_head: usize,
    pub head_dim: usize,
    pub hidden: usize,
    pub context_length: usize,
    pub rms_eps: f64,
    pub rope_base: f32,
}

impl DecoderConfig {
    pub fn from_gguf(ct: &gguf_file::Content) -> Result<Self> {
        let arch_name = ct
            .metadata
            .get("general.architecture")
            .map(|v| v.to_string())
            .transpose()?
            .cloned()
            .unwrap_or_default();
        let arch = match arch_name.as_str() {
            "qwen2" => Arch::Qwen2,
            "llama" => Arch::Llama,
            other => {
                candle_core::bail!("unsupported GGUF architecture `{other}` (qwen2 and llama are)")
            }
        };
        let get = |key: &str| {
            ct.metadata
                .get(&format!("{arch_name}.{key}"))
                .ok_or_else(|| {
                    candle_core::Error::Msg(format!("GGUF metadata lacks {arch_name}.{key}"))
                })
        };
        let n_head = get("attention.head_count")?.to_u32()? as usize;
        let hidden = get("embedding_length")?.to_u32()? as usize;
        Ok(Self {
            arch,
            n_layer: get("block_count")?.to_u32()? as usize,
            n_head,
            n_kv_head: get("attention.head_count_kv")?.to_u32()? as usize,
            head_dim: hidden / n_head,
            hidden,
            context_length: get("context_length")?.to_u32()? as usize,
            rms_eps: get("attention.layer_norm_rms_epsilon")?.to_f32()? as f64,
            rope_base: get("rope.freq_base")
                .and_then(|v| v.to_f32())
                .unwrap_or(10_000.0),
        })
    }
}

/// Several linear maps of the same input, fused into as few matmuls as their
/// storage types allow (one pass over the input, one thread-pool round trip).
struct Projections {
    /// Fused matmuls and the output widths they hold, in the original order.
    groups: Vec<(QMatMul, Vec<usize>)>,
}

impl Projections {
    fn new(weights: Vec<QTensor>) -> Result<Self> {
        let mut groups: Vec<(Vec<QTensor>, Vec<usize>)> = Vec::new();
        for w in weights {
            let rows = w.shape().dims()[0];
            match groups.last_mut() {
                Some((ws, widths))
                    if ws[0].dtype() == w.dtype()
                        && ws[0].shape().dims()[1] == w.shape().dims()[1] =>
                {
                    ws.push(w);
                    widths.push(rows);
                }
                _ => groups.push((vec![w], vec![rows])),
            }
        }
        let groups = groups
            .into_iter()
            .map(|(ws, widths)| Ok((QMatMul::from_qtensor(concat_rows(ws)?)?, widths)))
            .collect::<Result<_>>()?;
        Ok(Self { groups })
    }

    fn forward(&self, x: &Tensor) -> Result<Vec<Tensor>> {
        let mut outputs = Vec::new();
        for (matmul, widths) in &self.groups {
            let y = matmul.forward(x)?;
            let mut start = 0;
            for &w in widths {
                outputs.push(if widths.len() == 1 {
                    y.clone()
                } else {
                    y.narrow(D::Minus1, start, w)?
                });
                start += w;
            }
        }
        Ok(outputs)
    }
}

/// Stacks the rows of same-typed quantized matrices: ggml blocks never span rows,
/// so the raw bytes concatenate.
fn concat_rows(mut ws: Vec<QTensor>) -> Result<QTensor> {
    if ws.len() == 1 {
        return Ok(ws.remove(0));
    }
    let (dtype, cols, device) = (ws[0].dtype(), ws[0].shape().dims()[1], ws[0].device());
    let rows: usize = ws.iter().map(|w| w.shape().dims()[0]).sum();
    let mut bytes = Vec::new();
    for w in &ws {
        bytes.extend_from_slice(&w.data()?);
    }
    let storage = candle_core::quantized::QStorage::from_data(
        std::borrow::Cow::Owned(bytes),
        &device,
        dtype,
    )?;
    QTensor::new(storage, (rows, cols))
}

struct Layer {
    /// Q, K, V.
    qkv: Projections,
    bias: Option<(Tensor, Tensor, Tensor)>,
    wo: QMatMul,
    attn_norm: Tensor,
    ffn_norm: Tensor,
    /// Gate and up.
    gate_up: Projections,
    down: QMatMul,
    /// Keys and values of every position fed so far, one buffer per KV head,
    /// `head_dim` floats per position.
    keys: Vec<Vec<f32>>,
    values: Vec<Vec<f32>>,
}

pub struct Decoder {
    pub config: DecoderConfig,
    embed: Embedding,
    layers: Vec<Layer>,
    norm: Tensor,
    output: QMatMul,
    cos: Tensor,
    sin: Tensor,
    /// Positions held in the KV cache.
    cached_len: usize,
}

impl Decoder {
    pub fn load<R: Read + Seek>(
        ct: &gguf_file::Content,
        reader: &mut R,
        device: &Device,
    ) -> Result<Self> {
        let config = DecoderConfig::from_gguf(ct)?;
        let mut tensor = |name: &str| -> Result<QTensor> { ct.tensor(reader, name, device) };
        let embed_q = tensor("token_embd.weight")?;
        let embed = Embedding::new(embed_q.dequantize(device)?, config.hidden);
        let output = match tensor("output.weight") {
            Ok(w) => QMatMul::from_qtensor(w)?,
            Err(_) => QMatMul::from_qtensor(embed_q)?, // tied embeddings
        };
        let norm = tensor("output_norm.weight")?.dequantize(device)?;
        let mut layers = Vec::with_capacity(config.n_layer);
        for i in 0..config.n_layer {
            let p = format!("blk.{i}");
            let mut w = |n: &str| tensor(&format!("{p}.{n}.weight"));
            let qkv = Projections::new(vec![w("attn_q")?, w("attn_k")?, w("attn_v")?])?;
            let gate_up = Projections::new(vec![w("ffn_gate")?, w("ffn_up")?])?;
            let wo = QMatMul::from_qtensor(w("attn_output")?)?;
            let down = QMatMul::from_qtensor(w("ffn_down")?)?;
            let bias = match config.arch {
                Arch::Qwen2 => {
                    let mut b = |n: &str| tensor(&format!("{p}.{n}.bias"))?.dequantize(device);
                    Some((b("attn_q")?, b("attn_k")?, b("attn_v")?))
                }
                Arch::Llama => None,
            };
            let attn_norm = tensor(&format!("{p}.attn_norm.weight"))?.dequantize(device)?;
            let ffn_norm = tensor(&format!("{p}.ffn_norm.weight"))?.dequantize(device)?;
            let (keys, values) = (
                vec![Vec::new(); config.n_kv_head],
                vec![Vec::new(); config.n_kv_head],
            );
            layers.push(Layer {
                qkv,
                bias,
                wo,
                attn_norm,
                ffn_norm,
                gate_up,
                down,
                keys,
                values,
            });
        }
        let (cos, sin) = rope_tables(
            config.head_dim,
            config.rope_base,
            config.context_length,
            device,
        )?;
        Ok(Self {
            config,
            embed,
            layers,
            norm,
            output,
            cos,
            sin,
            cached_len: 0,
        })
    }

    /// How many positions the KV cache holds.
    pub fn cached_len(&self) -> usize {
        self.cached_len
    }

    /// Forgets every cached position after the first `len`.
    pub fn truncate_cache(&mut self, len: usize) -> Result<()> {
        if len >= self.cached_len {
            return Ok(());
        }
        let keep = len * self.config.head_dim;
        for layer in &mut self.layers {
            layer
                .keys
                .iter_mut()
                .chain(layer.values.iter_mut())
                .for_each(|buf| buf.truncate(keep));
        }
        self.cached_len = len;
        Ok(())
    }

    /// Feeds `tokens` at the positions after the cache; returns the logits of the last one.
    pub fn forward(&mut self, tokens: &[u32]) -> Result<Tensor> {
        let device = self.cos.device().clone();
        let seq = tokens.len();
        let pos = self.cached_len;
        if pos + seq > self.config.context_length {
            candle_core::bail!(
                "prompt and answer exceed the context of {} tokens",
                self.config.context_length
            );
        }
        let input = Tensor::new(tokens, &device)?.unsqueeze(0)?;
        let cos = self.cos.narrow(0, pos, seq)?;
        let sin = self.sin.narrow(0, pos, seq)?;
        let mut x = self.embed.forward(&input)?;
        for layer in &mut self.layers {
            let h = candle_nn::ops::rms_norm(&x, &layer.attn_norm, self.config.rms_eps as f32)?;
            let h = layer.attention(&h, &self.config, &cos, &sin, pos)?;
            x = (x + h)?;
            let h = candle_nn::ops::rms_norm(&x, &layer.ffn_norm, self.config.rms_eps as f32)?;
            let h = layer.mlp(&h)?;
            x = (x + h)?;
        }
        self.cached_len += seq;
        let last = x.i((.., seq - 1, ..))?;
        let last = candle_nn::ops::rms_norm(&last, &self.norm, self.config.rms_eps as f32)?;
        self.output.forward(&last)?.squeeze(0)?.to_dtype(DType::F32)
    }
}

impl Layer {
    fn attention(
        &mut self,
        x: &Tensor,
        c: &DecoderConfig,
        cos: &Tensor,
        sin: &Tensor,
        pos: usize,
    ) -> Result<Tensor> {
        let (b, seq, _) = x.dims3()?;
        let mut qkv = self.qkv.forward(x)?.into_iter();
        let (Some(mut q), Some(mut k), Some(mut v)) = (qkv.next(), qkv.next(), qkv.next()) else {
            candle_core::bail!("attention needs Q, K and V projections");
        };
        if let Some((bq, bk, bv)) = &self.bias {
            q = q.broadcast_add(bq)?;
            k = k.broadcast_add(bk)?;
            v = v.broadcast_add(bv)?;
        }
        let heads = |t: Tensor, n: usize| {
            t.reshape((b, seq, n, c.head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let (q, k, v) = (
            heads(q, c.n_head)?,
            heads(k, c.n_kv_head)?,
            heads(v, c.n_kv_head)?,
        );
        let rope = |t: &Tensor| match c.arch {
            Arch::Qwen2 => candle_nn::rotary_emb::rope(t, cos, sin),
            Arch::Llama => candle_nn::rotary_emb::rope_i(t, cos, sin),
        };
        let q = rope(&q)?.flatten_all()?.to_vec1::<f32>()?;
        let k = rope(&k)?.flatten_all()?.to_vec1::<f32>()?;
        let v = v.flatten_all()?.to_vec1::<f32>()?;
        let per_head = seq * c.head_dim;
        for h in 0..c.n_kv_head {
            self.keys[h].extend_from_slice(&k[h * per_head..(h + 1) * per_head]);
            self.values[h].extend_from_slice(&v[h * per_head..(h + 1) * per_head]);
        }
        let shape = AttentionShape {
            n_head: c.n_head,
            n_kv_head: c.n_kv_head,
            head_dim: c.head_dim,
            seq,
            pos,
        };
        let y = causal_attention(&q, &self.keys, &self.values, shape);
        let y = Tensor::from_vec(y, (b, seq, c.n_head * c.head_dim), x.device())?;
        self.wo.forward(&y)
    }

    fn mlp(&self, x: &Tensor) -> Result<Tensor> {
        let mut gate_up = self.gate_up.forward(x)?.into_iter();
        let (Some(gate), Some(up)) = (gate_up.next(), gate_up.next()) else {
            candle_core::bail!("the MLP needs gate and up projections");
        };
        self.down.forward(&(candle_nn::ops::silu(&gate)? * up)?)
    }
}

fn rope_tables(
    head_dim: usize,
    base: f32,
    context: usize,
    device: &Device,
) -> Result<(Tensor, Tensor)> {
    let inv_freq: Vec<f32> = (0..head_dim)
        .step_by(2)
        .map(|i| 1.0 / base.powf(i as f32 / head_dim as f32))
        .collect();
    let inv_freq = Tensor::new(inv_freq.as_slice(), device)?;
    let positions = Tensor::arange(0u32, context as u32, device)?
        .to_dtype(DType::F32)?
        .reshape((context, 1))?;
    let angles = positions.matmul(&inv_freq.reshape((1, head_dim / 2))?)?;
    Ok((angles.cos()?, angles.sin()?))
}

/// Index of the largest logit (greedy decoding without a sampler round-trip).
pub fn argmax(logits: &Tensor) -> Result<u32> {
    logits.argmax(D::Minus1)?.to_scalar::<u32>()
}
