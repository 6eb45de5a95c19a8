//! all-MiniLM-L6-v2, the small English embedder the fast tests use: candle's
//! BERT over the safetensors weights, Hugging Face's tokenizer, mean pooling
//! over real tokens and L2 norm (sentence-transformers' recipe for this model).
//! It has no query/passage convention, so `EmbedKind` is ignored.

use super::batching::{TOKENS_PER_PASS, pad, plan_passes};
use super::pooling::{l2_normalised, masked_mean};
use crate::llm::EmbedEngine;
use crate::ports::{EmbedKind, ModelError};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use std::path::Path;
use tokenizers::{Tokenizer, TruncationParams};

/// sentence-transformers truncates this model's inputs at 256 word pieces.
const MAX_TOKENS: usize = 256;
/// BERT's `[PAD]`.
const PAD_ID: u32 = 0;

pub struct MiniLmEngine {
    model: BertModel,
    tokenizer: Tokenizer,
    dim: usize,
}

impl MiniLmEngine {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        let config: Config = serde_json::from_slice(&read(dir, "config.json")?)
            .map_err(|e| load_error(dir, format!("config.json: {e}")))?;
        let tokenizer = load_tokenizer(dir)?;
        let weights = read(dir, "model.safetensors")?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)
            .map_err(|e| load_error(dir, format!("model.safetensors: {e}")))?;
        let model = BertModel::load(vb, &config)
            .map_err(|e| load_error(dir, format!("model.safetensors: {e}")))?;
        Ok(Self {
            model,
            tokenizer,
            dim: config.hidden_size,
        })
    }

    fn token_ids(&self, text: &str) -> Result<Vec<u32>, ModelError> {
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| ModelError::Input(format!("cannot tokenize: {e}")))?;
        Ok(encoding.get_ids().to_vec())
    }

    fn run_pass(&self, sequences: &[&[u32]]) -> candle_core::Result<Vec<Vec<f32>>> {
        let (ids, mask, longest) = pad(sequences, PAD_ID);
        let shape = (sequences.len(), longest);
        let ids = Tensor::from_vec(ids, shape, &Device::Cpu)?;
        let mask = Tensor::from_vec(mask, shape, &Device::Cpu)?;
        let hidden = self.model.forward(&ids, &ids.zeros_like()?, Some(&mask))?;
        masked_mean(&hidden, &mask)?.to_vec2::<f32>()
    }
}

impl EmbedEngine for MiniLmEngine {
    fn dim(&self) -> usize {
        self.dim
    }

    fn embed(&mut self, texts: &[String], _kind: EmbedKind) -> Result<Vec<Vec<f32>>, ModelError> {
        let ids = texts
            .iter()
            .map(|t| self.token_ids(t))
            .collect::<Result<Vec<_>, _>>()?;
        let lengths: Vec<usize> = ids.iter().map(Vec::len).collect();
        let mut vectors = vec![Vec::new(); texts.len()];
        for pass in plan_passes(&lengths, TOKENS_PER_PASS) {
            let sequences: Vec<&[u32]> = pass.iter().map(|&i| ids[i].as_slice()).collect();
            let pooled = self
                .run_pass(&sequences)
                .map_err(|e| ModelError::Inference(format!("MiniLM forward pass: {e}")))?;
            for (i, mean) in pass.into_iter().zip(pooled) {
                vectors[i] = l2_normalised(mean);
            }
        }
        Ok(vectors)
    }
}

/// The tokenizer with our truncation and no padding of its own (passes pad).
fn load_tokenizer(dir: &Path) -> Result<Tokenizer, ModelError> {
    let path = existing(dir, "tokenizer.json")?;
    let mut tokenizer =
        Tokenizer::from_file(&path).map_err(|e| load_error(dir, format!("tokenizer.json: {e}")))?;
    tokenizer.with_padding(None);
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: MAX_TOKENS,
            ..Default::default()
        }))
        .map_err(|e| load_error(dir, format!("tokenizer truncation: {e}")))?;
    Ok(tokenizer)
}

fn read(dir: &Path, name: &str) -> Result<Vec<u8>, ModelError> {
    let path = existing(dir, name)?;
    std::fs::read(&path).map_err(|e| load_error(dir, format!("{name}: {e}")))
}

fn existing(dir: &Path, name: &str) -> Result<std::path::PathBuf, ModelError> {
    let path = dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(load_error(
            dir,
            format!("{name} is missing (run the models fetch step to download it)"),
        ))
    }
}

fn load_error(dir: &Path, why: String) -> ModelError {
    ModelError::Load(format!("MiniLM model in {}: {why}", dir.display()))
}
