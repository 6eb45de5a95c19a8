//! Tokenizers for the chat models: a `tokenizer.json` when one ships (Qwen), or
//! one built from the GGUF metadata (SmolLM2 ships none): byte-level BPE from
//! `tokenizer.ggml.tokens` / `merges`, with the control tokens as special tokens.

use crate::ports::ModelError;
use candle_core::quantized::gguf_file;
use std::path::Path;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, PreTokenizerWrapper, Tokenizer};

/// GGUF token type of control tokens such as `<|im_start|>`.
const CONTROL_TOKEN: i32 = 3;

pub fn from_json(path: &Path) -> Result<Tokenizer, ModelError> {
    Tokenizer::from_file(path).map_err(|e| ModelError::Load(format!("{}: {e}", path.display())))
}

pub fn from_gguf(ct: &gguf_file::Content) -> Result<Tokenizer, ModelError> {
    let load = |e: String| ModelError::Load(format!("GGUF tokenizer: {e}"));
    let meta = |key: &str| {
        ct.metadata
            .get(key)
            .ok_or_else(|| load(format!("missing {key}")))
    };
    let model = meta("tokenizer.ggml.model")?
        .to_string()
        .map_err(|e| load(e.to_string()))?;
    if model != "gpt2" {
        return Err(load(format!(
            "only byte-level BPE (gpt2) tokenizers can be built from GGUF, not `{model}`"
        )));
    }
    let tokens: Vec<String> = meta("tokenizer.ggml.tokens")?
        .to_vec()
        .map_err(|e| load(e.to_string()))?
        .iter()
        .map(|v| v.to_string().cloned().map_err(|e| load(e.to_string())))
        .collect::<Result<_, _>>()?;
    let merges: Vec<(String, String)> = meta("tokenizer.ggml.merges")?
        .to_vec()
        .map_err(|e| load(e.to_string()))?
        .iter()
        .map(|v| {
            let m = v.to_string().map_err(|e| load(e.to_string()))?;
            m.split_once(' ')
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .ok_or_else(|| load(format!("bad merge `{m}`")))
        })
        .collect::<Result<_, _>>()?;
    let types: Vec<i32> = match ct.metadata.get("tokenizer.ggml.token_type") {
        Some(v) => v
            .to_vec()
            .map_err(|e| load(e.to_string()))?
            .iter()
            .map(|t| t.to_i32().unwrap_or(1))
            .collect(),
        None => Vec::new(),
    };
    let vocab: Vocab = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i as u32))
        .collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| load(e.to_string()))?;
    let mut tokenizer = Tokenizer::new(bpe);
    let pre = Sequence::new(vec![
        PreTokenizerWrapper::Digits(Digits::new(true)),
        PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, true, true)),
    ]);
    tokenizer.with_pre_tokenizer(Some(pre));
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
    let specials: Vec<AddedToken> = tokens
        .iter()
        .zip(types.iter())
        .filter(|(_, t)| **t == CONTROL_TOKEN)
        .map(|(tok, _)| AddedToken::from(tok.clone(), true))
        .collect();
    tokenizer
        .add_special_tokens(specials)
        .map_err(|e| load(e.to_string()))?;
    Ok(tokenizer)
}

/// Turns generated token ids into text as they come, never splitting a UTF-8
/// character that spans several byte-level tokens (most Chinese characters do).
pub struct TextStream<'t> {
    tokenizer: &'t Tokenizer,
    tokens: Vec<u32>,
    emitted: usize,
}

impl<'t> TextStream<'t> {
    pub fn new(tokenizer: &'t Tokenizer) -> Self {
        Self {
            tokenizer,
            tokens: Vec::new(),
            emitted: 0,
        }
    }

    /// The new text this token completes, if any.
    pub fn push(&mut self, token: u32) -> Result<Option<String>, ModelError> {
        self.tokens.push(token);
        let text = self.decode()?;
        if text.len() > self.emitted && !text.ends_with('\u{FFFD}') {
            let fresh = text[self.emitted..].to_owned();
            self.emitted = text.len();
            return Ok(Some(fresh));
        }
        Ok(None)
    }

    pub fn text(&self) -> Result<String, ModelError> {
        self.decode()
    }

    fn decode(&self) -> Result<String, ModelError> {
        self.tokenizer
            .decode(&self.tokens, true)
            .map_err(|e| ModelError::Inference(format!("decode: {e}")))
    }
}
