//! The knowledge base: curated entries with versions, their index, and the one
//! decision function (answer with an entry, or hand off) that the bot and the
//! evaluation both call.

pub mod decide;
mod entries;
pub mod import;
mod indexing;
mod port;
mod search;
mod wordings;

pub use decide::{CalibrationReport, DecideOptions, Decision, DecisionPolicy};
pub use entries::{EntryView, Usage, VersionView};
pub use import::{ImportFormat, ImportReport};
pub use indexing::ReindexProgress;
pub use search::{SearchHit, SearchResult};

use crate::domain::knowledge::KnowledgeRuleError;
use crate::ports::repositories::{KnowledgeEntries, RepoError};
use crate::ports::vector_index::{IndexError, VectorIndex};
use crate::ports::{Clock, Embedder, ModelError};
use crate::retrieval::lexical::Segmenter;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum KnowledgeError {
    #[error(transparent)]
    Invalid(#[from] KnowledgeRuleError),
    #[error("no such entry")]
    NotFound,
    #[error("no such version")]
    NoSuchVersion,
    #[error("unknown category '{0}': create it first")]
    UnknownCategory(String),
    #[error("the entry was changed by someone else; reload and retry")]
    Conflict,
    #[error("entry id '{0}' appears twice in the import")]
    DuplicateId(String),
    #[error("import line {line}: {message}")]
    BadImport { line: usize, message: String },
    #[error("a reindex is already running")]
    ReindexRunning,
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Model(#[from] ModelError),
}

impl KnowledgeError {
    fn from_repo(err: RepoError) -> Self {
        match err {
            RepoError::NotFound => KnowledgeError::NotFound,
            RepoError::Conflict | RepoError::AlreadyExists => KnowledgeError::Conflict,
            other => KnowledgeError::Repo(other),
        }
    }
}

pub struct KnowledgeService {
    entries: Arc<dyn KnowledgeEntries>,
    index: Arc<dyn VectorIndex>,
    embedder: Arc<dyn Embedder>,
    segmenter: Arc<Segmenter>,
    clock: Arc<dyn Clock>,
    models: indexing::Models,
    progress: indexing::ProgressCell,
    policy: DecisionPolicy,
}

impl KnowledgeService {
    pub fn new(
        entries: Arc<dyn KnowledgeEntries>,
        index: Arc<dyn VectorIndex>,
        embedder: Arc<dyn Embedder>,
        segmenter: Segmenter,
        clock: Arc<dyn Clock>,
    ) -> Self {
        KnowledgeService {
            entries,
            index,
            embedder,
            segmenter: Arc::new(segmenter),
            clock,
            models: indexing::Models::default(),
            progress: indexing::ProgressCell::default(),
            policy: DecisionPolicy::default(),
        }
    }

    pub fn with_policy(mut self, policy: DecisionPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn policy(&self) -> &DecisionPolicy {
        &self.policy
    }

    pub fn index(&self) -> &Arc<dyn VectorIndex> {
        &self.index
    }
}
