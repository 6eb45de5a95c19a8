//! Local models in candle: fetching the files, text generation and embeddings.
//! Engines are synchronous and run on their own threads; the async handles in
//! `worker` implement the ports the services use.

pub mod attention;
pub mod decoder;
pub mod embed;
pub mod fetch;
pub mod generate;
pub mod openai;
pub mod source;
pub mod tokenizer;
pub mod worker;

use crate::ports::{EmbedKind, ModelError};

/// A synchronous embedding engine, owned by one model thread.
pub trait EmbedEngine: Send + 'static {
    fn dim(&self) -> usize;
    /// Embeds a batch; vectors are L2-normalised. Applies the model's own
    /// conventions (e5 prefixes) for `kind`.
    fn embed(&mut self, texts: &[String], kind: EmbedKind) -> Result<Vec<Vec<f32>>, ModelError>;
}
