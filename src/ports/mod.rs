//! Traits the services need from the outside world, in domain terms. Adapters
//! live in storage/ (the repositories), llm/ and retrieval/ (the vector index).

pub mod repositories; // per aggregate: knowledge entries, bot sessions, hand-off packets
pub mod vector_index; // the knowledge base's points in Qdrant, embedded or remote

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

    /// Work nobody waits for (quality-inspection drafts). A model with one
    /// thread runs it only when no other request waits and stops it (finish
    /// `Cancelled`) as soon as one arrives; `Overloaded` while another
    /// background request runs. The caller tries again later either way.
    async fn generate_background(
        &self,
        messages: Vec<ChatMessage>,
        params: GenerationParams,
    ) -> Result<GenerationStream, ModelError> {
        self.generate(messages, params).await
    }
}

pub use crate::domain::knowledge::KbHit;

/// Send the curated answer / an LLM answer grounded on the hits / hand off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KbDecision {
    Curated,
    Grounded,
    HandOff,
}

/// `hits[0]` is the best.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KbVerdict {
    pub decision: KbDecision,
    pub confidence: f32,
    pub hits: Vec<KbHit>,
    /// The entry the question is about, when that one is not valid today (a
    /// promotion that has ended or not begun): it is not among `hits`.
    pub out_of_window: Option<KbOutOfWindow>,
}

/// A published entry outside its validity window, which a question is about.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KbOutOfWindow {
    pub hit: KbHit,
    /// The window is over (else it has not begun).
    pub ended: bool,
    /// `YYYY-MM-DD`, both days included.
    pub valid_from: Option<String>,
    pub valid_to: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum KnowledgeError {
    #[error("knowledge base unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Model(#[from] ModelError),
}

#[async_trait::async_trait]
pub trait KnowledgeBase: Send + Sync {
    async fn decide(&self, query: &str) -> Result<KbVerdict, KnowledgeError>;
    async fn record_answered(&self, entry_id: &str) -> Result<(), KnowledgeError>;
    async fn record_feedback(&self, entry_id: &str, helpful: bool) -> Result<(), KnowledgeError>;
    /// Draft FAQ entry from an agent's answer (for approval by a knowledge manager); returns its id.
    async fn create_draft(
        &self,
        question: &str,
        answer: &str,
        author: &str,
    ) -> Result<String, KnowledgeError>;
}

#[derive(Debug, thiserror::Error)]
pub enum CommerceError {
    #[error("shop system unavailable: {0}")]
    Unavailable(String),
    #[error("shop system answered something unreadable: {0}")]
    BadResponse(String),
}

/// The shop's orders and logistics. Every lookup names the buyer's shop account:
/// an order of another account is answered as if it did not exist.
#[async_trait::async_trait]
pub trait Commerce: Send + Sync {
    async fn order(
        &self,
        buyer_account: &str,
        order_no: &crate::domain::commerce::OrderNumber,
    ) -> Result<Option<crate::domain::commerce::Order>, CommerceError>;
    async fn shipment(
        &self,
        buyer_account: &str,
        order_no: &crate::domain::commerce::OrderNumber,
    ) -> Result<Option<crate::domain::commerce::Shipment>, CommerceError>;
    /// The buyer's most recent orders, newest first.
    async fn recent_orders(
        &self,
        buyer_account: &str,
        limit: i64,
    ) -> Result<Vec<crate::domain::commerce::Order>, CommerceError>;
    /// A product of the catalogue (product cards); a shop without one has none.
    async fn product(
        &self,
        _sku: &crate::domain::catalogue::Sku,
    ) -> Result<Option<crate::domain::catalogue::Product>, CommerceError> {
        Ok(None)
    }
    /// Products whose title, category or sku contains `query` (all when empty).
    async fn search_products(
        &self,
        _query: &str,
        _limit: i64,
    ) -> Result<Vec<crate::domain::catalogue::Product>, CommerceError> {
        Ok(Vec::new())
    }
    /// The catalogue by sku, `limit` products after `after` (the first page
    /// without), for the recommendations' content similarity; a shop that does
    /// not list its products has none.
    async fn catalogue_page(
        &self,
        _after: Option<&str>,
        _limit: i64,
    ) -> Result<Vec<crate::domain::catalogue::Product>, CommerceError> {
        Ok(Vec::new())
    }
    /// The skus of the newest orders, one list per order (co-buy for
    /// recommendations); a shop that does not share them has none.
    async fn order_baskets(&self, _limit: i64) -> Result<Vec<Vec<String>>, CommerceError> {
        Ok(Vec::new())
    }
    /// The buyer's member level in the shop (e.g. gold), when the shop has levels.
    async fn member_level(&self, _buyer_account: &str) -> Result<Option<String>, CommerceError> {
        Ok(None)
    }
    /// The shop's member levels, lowest first (admins pick one for a welcome
    /// rule); a shop that does not list them has none.
    async fn member_levels(&self) -> Result<Vec<String>, CommerceError> {
        Ok(Vec::new())
    }
    /// The shop's coupons agents may offer, newest first; a shop without
    /// coupons has none.
    async fn coupons(&self) -> Result<Vec<crate::domain::coupon::Coupon>, CommerceError> {
        Ok(Vec::new())
    }
    async fn coupon(
        &self,
        _id: &crate::domain::coupon::CouponId,
    ) -> Result<Option<crate::domain::coupon::Coupon>, CommerceError> {
        Ok(None)
    }
    /// The coupons the buyer holds (claimed, used or not), so that a chat
    /// shows its cards as claimed after a reload; none by default.
    async fn claimed_coupons(
        &self,
        _buyer_account: &str,
    ) -> Result<Vec<crate::domain::coupon::CouponId>, CommerceError> {
        Ok(Vec::new())
    }
    /// Gives the buyer one of the coupon at `now_ms`, at most once per buyer
    /// and while some are left: the shop decides, atomically.
    async fn claim_coupon(
        &self,
        _buyer_account: &str,
        _id: &crate::domain::coupon::CouponId,
        _now_ms: i64,
    ) -> Result<crate::domain::coupon::Claim, CommerceError> {
        Ok(crate::domain::coupon::Claim::Unknown)
    }
}
