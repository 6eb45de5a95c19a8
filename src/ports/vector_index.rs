//! The vector index port: what the knowledge service needs from Qdrant, embedded
//! (`retrieval::edge`) or remote (`retrieval::remote`).
//!
//! One point per retrievable text: a FAQ entry's standard and similar questions
//! and its answer, or an article chunk. Each point carries a dense vector (e5) and
//! a sparse lexical vector; only published entries are in the index.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub const DENSE: &str = "dense";
pub const LEXICAL: &str = "lexical";

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("vector index error: {0}")]
    Engine(String),
    #[error("vector index unreachable: {0}")]
    Unreachable(String),
}

/// A lexical vector: term ids (hashed tokens) and their BM25-style weights.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseVector {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl SparseVector {
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

/// Which part of an entry a point stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PointKind {
    Question,
    Answer,
    Chunk,
    /// A product of the shop's catalogue (the `products` collection, for
    /// content-based recommendations; never in the knowledge base's).
    Product,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointPayload {
    pub entry_id: String,
    pub kind: PointKind,
    /// The entry's category and its ancestors, so a parent filter matches.
    pub category: Vec<String>,
    pub locale: String,
    pub products: Vec<String>,
    /// Validity window as days since 1970-01-01 (open ends as far past / future).
    pub valid_from: i64,
    pub valid_to: i64,
}

#[derive(Debug, Clone)]
pub struct IndexPoint {
    pub id: u64,
    pub dense: Vec<f32>,
    pub sparse: SparseVector,
    pub payload: PointPayload,
}

/// Restricts a search to what applies to this buyer, today.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexFilter {
    pub category: Option<String>,
    pub locale: Option<String>,
    pub product: Option<String>,
    /// Days since 1970-01-01: only entries valid on this day.
    pub day: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IndexHit {
    pub point_id: u64,
    pub entry_id: String,
    pub kind: PointKind,
    pub score: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchMode {
    /// Compare with every point: no answer is lost; the default for small KBs.
    Exact,
    /// HNSW graph with this beam width.
    Approximate { ef: usize },
}

#[derive(Debug, Clone)]
pub struct IndexQuery {
    pub dense: Option<Vec<f32>>,
    pub sparse: Option<SparseVector>,
    pub filter: IndexFilter,
    pub limit: usize,
    pub mode: SearchMode,
}

/// What the index holds for one point, read back for training.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredVectors {
    pub entry_id: String,
    pub dense: Vec<f32>,
    pub sparse: SparseVector,
}

/// Both candidate lists, best first; fusion happens in the ranking code so that
/// both index adapters rank identically.
#[derive(Debug, Clone, Default)]
pub struct IndexResults {
    pub dense: Vec<IndexHit>,
    pub sparse: Vec<IndexHit>,
}

#[async_trait]
pub trait VectorIndex: Send + Sync {
    async fn upsert(&self, points: Vec<IndexPoint>) -> Result<(), IndexError>;
    async fn delete_entry(&self, entry_id: &str) -> Result<(), IndexError>;
    async fn clear(&self) -> Result<(), IndexError>;
    async fn count(&self) -> Result<usize, IndexError>;
    async fn search(&self, query: IndexQuery) -> Result<IndexResults, IndexError>;
    /// Both vectors of every point of the given kind, for training the classifier.
    async fn vectors(&self, kind: PointKind) -> Result<Vec<StoredVectors>, IndexError>;
    /// Builds the approximate-search graph; durable flush.
    async fn optimize(&self) -> Result<(), IndexError>;
    /// Makes every write so far durable: after it returns, a crash of this
    /// process loses none of them (the knowledge service records what the index
    /// holds only after this).
    async fn flush(&self) -> Result<(), IndexError>;
}

/// A stable point id for the `slot`-th text of an entry.
pub fn point_id(entry_id: &str, slot: usize) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{entry_id}\u{0}{slot}").as_bytes());
    u64::from_le_bytes(digest[..8].try_into().expect("8 bytes")) >> 1
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
pub fn day_number(day: &str) -> Option<i64> {
    let date = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?;
    Some((date - epoch).num_days())
}

pub const OPEN_PAST: i64 = -1_000_000;
pub const OPEN_FUTURE: i64 = 1_000_000;
