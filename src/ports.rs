//! Traits the services need from the outside world. Adapters live in storage/,
//! and (in later work) llm/ and retrieval/.

/// Wall-clock time in Unix milliseconds; a trait so tests can freeze time.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        since_epoch.as_millis() as i64
    }
}

/// Why a model call failed.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The model's queue is full: callers should answer 429 and retry later.
    #[error("the model is busy; try again shortly")]
    Overloaded,
    #[error("the request was cancelled")]
    Cancelled,
    #[error("cannot load model files: {0}")]
    Load(String),
    #[error("bad model input: {0}")]
    Input(String),
    #[error("inference failed: {0}")]
    Inference(String),
    #[error("model backend unavailable: {0}")]
    Unavailable(String),
}

/// e5-style models embed questions and documents differently ("query: " / "passage: ").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbedKind {
    Query,
    Passage,
}

/// Text embeddings (L2-normalised vectors of `dim()` floats).
#[async_trait::async_trait]
pub trait Embedder: Send + Sync + 'static {
    fn dim(&self) -> usize;
    async fn embed(&self, texts: Vec<String>, kind: EmbedKind)
    -> Result<Vec<Vec<f32>>, ModelError>;
}
