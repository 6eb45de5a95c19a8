//! The local chat engine: ChatML prompt, prefix-reusing prefill, sampling,
//! streaming, stop tokens and cancellation. Runs on the model thread.

use super::decoder::Decoder;
use super::tokenizer::{self, TextStream};
use crate::ports::{
    ChatMessage, ChatRole, FinishReason, GenerationParams, GenerationStats, ModelError, Sampling,
};
use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling as CandleSampling};
use std::ops::ControlFlow;
use std::path::Path;
use std::time::Instant;
use tokenizers::Tokenizer;

/// Prompt tokens fed per forward pass: bounds the attention scratch memory.
const PREFILL_CHUNK: usize = 256;

pub struct ChatEngine {
    decoder: Decoder,
    tokenizer: Tokenizer,
    /// Token ids that end a turn.
    stop_ids: Vec<u32>,
    /// The tokens whose keys and values the decoder holds, in order.
    cached: Vec<u32>,
    reuse_prefix: bool,
}

fn inference(e: impl std::fmt::Display) -> ModelError {
    ModelError::Inference(e.to_string())
}

impl ChatEngine {
    /// Loads a GGUF chat model; the tokenizer comes from `tokenizer_json` when
    /// given, else from the GGUF metadata.
    pub fn load(gguf: &Path, tokenizer_json: Option<&Path>) -> Result<Self, ModelError> {
        let load = |e: String| ModelError::Load(format!("{}: {e}", gguf.display()));
        let mut file = std::fs::File::open(gguf).map_err(|e| load(e.to_string()))?;
        let content = gguf_file::Content::read(&mut file).map_err(|e| load(e.to_string()))?;
        let tokenizer = match tokenizer_json {
            Some(path) => tokenizer::from_json(path)?,
            None => tokenizer::from_gguf(&content)?,
        };
        let decoder =
            Decoder::load(&content, &mut file, &Device::Cpu).map_err(|e| load(e.to_string()))?;
        let token = |t: &str| tokenizer.token_to_id(t);
        if token("<|im_start|>").is_none() || token("<|im_end|>").is_none() {
            return Err(load(
                "the tokenizer has no ChatML tokens (<|im_start|>, <|im_end|>)".into(),
            ));
        }
        let eos = content
            .metadata
            .get("tokenizer.ggml.eos_token_id")
            .and_then(|v| v.to_u32().ok());
        let stop_ids = [token("<|im_end|>"), token("<|endoftext|>"), eos]
            .into_iter()
            .flatten()
            .collect();
        Ok(Self {
            decoder,
            tokenizer,
            stop_ids,
            cached: Vec::new(),
            reuse_prefix: true,
        })
    }

    /// Turn prefix reuse off (to measure it, or to prove it changes nothing).
    pub fn set_reuse_prefix(&mut self, on: bool) {
        self.reuse_prefix = on;
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    pub fn context_length(&self) -> usize {
        self.decoder.config.context_length
    }

    /// ChatML, the template of both Qwen2.5 and SmolLM2 instruct models.
    pub fn render(messages: &[ChatMessage]) -> String {
        let mut prompt = String::new();
        for m in messages {
            let role = match m.role {
                ChatRole::System => "system",
                ChatRole::User => "user",
                ChatRole::Assistant => "assistant",
            };
            prompt.push_str(&format!("<|im_start|>{role}\n{}<|im_end|>\n", m.content));
        }
        prompt.push_str("<|im_start|>assistant\n");
        prompt
    }

    pub fn encode(&self, text: &str) -> Result<Vec<u32>, ModelError> {
        let encoding = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| ModelError::Input(format!("tokenize: {e}")))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Generates an answer, calling `on_token` with each new piece of text; a
    /// `Break` from it cancels the generation.
    pub fn generate(
        &mut self,
        messages: &[ChatMessage],
        params: &GenerationParams,
        on_token: &mut dyn FnMut(&str) -> ControlFlow<()>,
    ) -> Result<GenerationStats, ModelError> {
        let prompt = self.encode(&Self::render(messages))?;
        if prompt.len() + params.max_tokens > self.context_length() {
            return Err(ModelError::Input(format!(
                "prompt ({} tokens) plus max_tokens ({}) exceed the context ({})",
                prompt.len(),
                params.max_tokens,
                self.context_length()
            )));
        }
        let started = Instant::now();
        let reused = self.prefill_start(&prompt)?;
        let mut logits =
            Tensor::zeros(1, candle_core::DType::F32, &Device::Cpu).map_err(inference)?;
        for chunk in prompt[reused..].chunks(PREFILL_CHUNK) {
            logits = self.decoder.forward(chunk).map_err(inference)?;
            self.cached.extend_from_slice(chunk);
        }
        let prefill_ms = started.elapsed().as_secs_f64() * 1e3;
        let decode_started = Instant::now();
        let mut sampler =
            LogitsProcessor::from_sampling(seed(params.sampling), candle_sampling(params.sampling));
        let mut stream = TextStream::new(&self.tokenizer);
        let mut text = String::new();
        let mut generated = 0;
        let finish = loop {
            if generated == params.max_tokens {
                break FinishReason::Length;
            }
            let next = sampler.sample(&logits).map_err(inference)?;
            if self.stop_ids.contains(&next) {
                break FinishReason::Stop;
            }
            generated += 1;
            if let Some(piece) = stream.push(next)? {
                text.push_str(&piece);
                if let Some(cut) = stop_string_end(&text, &params.stop) {
                    let keep = piece.len().saturating_sub(text.len() - cut);
                    if keep > 0 {
                        let _ = on_token(&piece[..keep]);
                    }
                    break FinishReason::Stop;
                }
                if on_token(&piece).is_break() {
                    break FinishReason::Cancelled;
                }
            }
            logits = self.decoder.forward(&[next]).map_err(inference)?;
            self.cached.push(next);
        };
        Ok(GenerationStats {
            prompt_tokens: prompt.len(),
            reused_prompt_tokens: reused,
            generated_tokens: generated,
            prefill_ms,
            decode_ms: decode_started.elapsed().as_secs_f64() * 1e3,
            finish,
        })
    }

    /// Keeps the cached positions shared with `prompt` (at most all but its last
    /// token, which must be fed to get logits) and drops the rest.
    fn prefill_start(&mut self, prompt: &[u32]) -> Result<usize, ModelError> {
        let shared = if self.reuse_prefix && self.decoder.cached_len() == self.cached.len() {
            self.cached
                .iter()
                .zip(prompt)
                .take_while(|(a, b)| a == b)
                .count()
                .min(prompt.len() - 1)
        } else {
            0
        };
        self.decoder.truncate_cache(shared).map_err(inference)?;
        self.cached.truncate(shared);
        Ok(shared)
    }
}

/// Where a stop string first ends in `text`, cut before it.
fn stop_string_end(text: &str, stops: &[String]) -> Option<usize> {
    stops
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| text.find(s.as_str()))
        .min()
}

fn seed(sampling: Sampling) -> u64 {
    match sampling {
        Sampling::Greedy => 0,
        Sampling::TopP { seed, .. } => seed,
    }
}

fn candle_sampling(sampling: Sampling) -> CandleSampling {
    match sampling {
        Sampling::Greedy => CandleSampling::ArgMax,
        Sampling::TopP { temperature, .. } if temperature <= 0.0 => CandleSampling::ArgMax,
        Sampling::TopP {
            temperature, top_p, ..
        } if top_p >= 1.0 => CandleSampling::All { temperature },
        Sampling::TopP {
            temperature, top_p, ..
        } => CandleSampling::TopP {
            p: top_p,
            temperature,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chatml_ends_with_an_open_assistant_turn() {
        let prompt = ChatEngine::render(&[
            ChatMessage::new(ChatRole::System, "你是店小二"),
            ChatMessage::new(ChatRole::User, "在吗"),
        ]);
        assert_eq!(
            prompt,
            "<|im_start|>system\n你是店小二<|im_end|>\n<|im_start|>user\n在吗<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn a_stop_string_cuts_the_text_before_it() {
        assert_eq!(
            stop_string_end("答案是 42\n用户：", &["用户：".into()]),
            Some("答案是 42\n".len())
        );
        assert_eq!(
            stop_string_end("no stop here", &["STOP".into(), String::new()]),
            None
        );
    }
}
