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

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatRole {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChatMessage {
    pub role: ChatRole,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: ChatRole, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampling {
    /// Always the most likely token: reproducible answers.
    Greedy,
    /// Temperature then nucleus (top-p) sampling from a seeded generator.
    TopP {
        temperature: f64,
        top_p: f64,
        seed: u64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct GenerationParams {
    pub max_tokens: usize,
    pub sampling: Sampling,
    /// Extra stop strings (the model's own end-of-turn tokens always stop).
    pub stop: Vec<String>,
}

impl Default for GenerationParams {
    fn default() -> Self {
        Self {
            max_tokens: 256,
            sampling: Sampling::Greedy,
            stop: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// End-of-turn token or a stop string.
    Stop,
    /// `max_tokens` reached.
    Length,
    /// The listener went away.
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GenerationStats {
    pub prompt_tokens: usize,
    /// Prompt tokens whose keys and values were reused from the previous call.
    pub reused_prompt_tokens: usize,
    pub generated_tokens: usize,
    pub prefill_ms: f64,
    pub decode_ms: f64,
    pub finish: FinishReason,
}

/// What a generation stream yields: text pieces as they are decoded, then the stats.
#[derive(Debug, Clone, PartialEq)]
pub enum GenerationEvent {
    Token(String),
    Done(GenerationStats),
}

pub type GenerationStream =
    tokio::sync::mpsc::UnboundedReceiver<Result<GenerationEvent, ModelError>>;

/// A chat LLM. Dropping the stream cancels the generation.
#[async_trait::async_trait]
pub trait ChatModel: Send + Sync + 'static {
    async fn generate(
        &self,
        messages: Vec<ChatMessage>,
        params: GenerationParams,
    ) -> Result<GenerationStream, ModelError>;
}

/// One knowledge-base entry retrieved for a buyer's question.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KbHit {
    pub entry_id: String,
    pub title: String,
    pub answer: String,
    pub score: f32,
}

/// What the bot does with a question: send the curated answer as it is, answer
/// with the LLM grounded on the hits, or hand off to a human.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KbDecision {
    Curated,
    Grounded,
    HandOff,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct KbVerdict {
    pub decision: KbDecision,
    /// Calibrated probability that `hits[0]` is the right entry.
    pub confidence: f32,
    /// Best first.
    pub hits: Vec<KbHit>,
}

#[derive(Debug, thiserror::Error)]
pub enum KnowledgeError {
    #[error("knowledge base unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// The knowledge base as the bot sees it (implemented by the knowledge service).
#[async_trait::async_trait]
pub trait KnowledgeBase: Send + Sync {
    async fn decide(&self, query: &str) -> Result<KbVerdict, KnowledgeError>;
    async fn record_answered(&self, entry_id: &str) -> Result<(), KnowledgeError>;
    async fn record_feedback(&self, entry_id: &str, helpful: bool) -> Result<(), KnowledgeError>;
    /// A draft FAQ entry from an agent's answer, for a knowledge manager to approve; its id.
    async fn create_draft(
        &self,
        question: &str,
        answer: &str,
        author: &str,
    ) -> Result<String, KnowledgeError>;
}
