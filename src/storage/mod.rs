//! sqlx adapters for SQLite (the embedded default) and PostgreSQL. All SQL of the
//! program lives under this module. Both backends run the same statements (written
//! with `$N` placeholders, which both accept); `on_pool!` compiles each body once
//! per backend so there is one copy of the logic to read.

mod analytics;
mod assign;
mod attachments;
mod audit;
mod bell;
mod blocks;
mod bot;
pub mod busy;
mod channels;
mod commit;
mod conversations;
pub mod demo_catalogue;
pub mod demo_logs;
pub mod demo_store;
mod fanout;
mod history;
mod inbox;
mod knowledge;
pub(crate) mod outbox;
mod portrait;
mod presence;
mod privacy;
mod quality;
mod quick_replies;
mod rate_limits;
pub mod rekey;
mod routing;
mod shop;
mod staff;
mod staff_totp;
mod ticket_automations;
mod ticket_board;
mod ticket_mail;
mod ticket_settings;
mod ticket_views;
mod tickets;
mod visitors;
mod webhooks;
mod wordings;

pub use crate::domain::presence::VisitRecord as VisitRow;
pub use crate::domain::quality::QaScoreWrite;
pub use crate::domain::routing::{AssignOutcome, AssignPlan, Assigned, GroupSnapshot, Head};
pub use crate::domain::ticket_automations::AutomationRun;
pub use crate::domain::ticket_mail::PasswordChange;
pub use crate::domain::tickets::{BoardCounts, TicketFilter, TicketWrite};
pub use crate::ports::repositories::AttemptResult;
pub use analytics::{
    AgentTimeRows, FactsRow, HourDelta, LoadChange, RollupDelta, RollupGrouping, RollupRow,
    SeedOutboxRow, TopicDelta, TopicRow, WaitRow,
};
pub use assign::{ClaimOutcome, Handover};
pub use attachments::AttachmentOwner;
pub use audit::AuditFilter;
pub use bell::BellRow;
pub use bot::{PacketRow, SealedBotSessions, UnansweredRow, WelcomeRow};
pub use channels::{ChannelRow, ChannelUserRow, ReplySlot};
pub use commit::{AppendOutcome, CommitQueue, EventWrite, WriteKind};
pub use conversations::{ConversationRow, ConversationScope, StoredEvent};
pub use fanout::ForeignCommit;
pub use history::{HistoryFilter, SeedConversation, TermHash};
pub use inbox::ChatGlanceRow;
pub use portrait::BuyerTagRow;
pub use presence::{InvitationRow, InvitationRuleRow, RuleCounts};
pub use privacy::{After, ErasedBodies, ExportAttachment, ProtectionRow, first_page};
pub use quality::{QaCandidateRow, QaPlanRow, QaReviewRow, QaSchemeRow, SealedQaDrafts};
pub use routing::{AgentLoadRow, GroupRow, LiveChatRow, MemberRow, QueueRow, RuleRow};
pub use staff::{SessionRow, StaffRow};
pub use staff_totp::TotpRow;
pub use ticket_views::TicketViewRow;
pub use tickets::{DepartmentRow, TicketTypeRow};
pub use visitors::VisitorRow;
pub use webhooks::{DeliveryRow, EndpointRow};

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Picks the pool of the running backend and evaluates `$body` with it bound to `$pool`.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::storage::Pool::Sqlite($pool) => $body,
            $crate::storage::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A guarded write found the row in another state (a concurrent change or a rule).
    #[error("refused in state {state}")]
    Refused {
        state: String,
        agent_id: Option<String>,
    },
    #[error("already exists")]
    AlreadyExists,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("commit queue is closed (server shutting down)")]
    QueueClosed,
    /// A value this layer sealed did not open (wrong key or tampered row).
    #[error("a sealed value failed authentication")]
    Sealed,
}

impl From<StoreError> for crate::ports::repositories::RepoError {
    fn from(err: StoreError) -> Self {
        use crate::ports::repositories::RepoError;
        match err {
            StoreError::NotFound => RepoError::NotFound,
            StoreError::Refused { .. } => RepoError::Conflict,
            StoreError::AlreadyExists => RepoError::AlreadyExists,
            StoreError::Sealed => RepoError::Corrupt(err.to_string()),
            StoreError::Database(sqlx::Error::Decode(_)) => RepoError::Corrupt(err.to_string()),
            other => RepoError::Failed(other.to_string()),
        }
    }
}

impl StoreError {
    /// Unique-constraint violations become `AlreadyExists` on both backends.
    fn from_insert(err: sqlx::Error) -> StoreError {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::AlreadyExists,
            _ => StoreError::Database(err),
        }
    }
}

#[derive(Clone, Debug)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
    /// This store's name in commit notifications (PostgreSQL), so it can skip
    /// its own: every node publishes its commits to its own sockets directly.
    node: Arc<str>,
    /// Whether commits are announced to other nodes (PostgreSQL only).
    fanout: bool,
    /// Bumped after every commit that wrote outbox events (and, on PostgreSQL,
    /// when another node did): subscribers wait on it.
    outbox_wake: Arc<tokio::sync::watch::Sender<u64>>,
    /// Chat commits waiting in this process's group commit: background
    /// writes on SQLite let them go first (`commit::CommitLoad`).
    commits: Arc<commit::CommitLoad>,
    /// The data key, for the columns this layer seals and opens itself (a
    /// visitor's nickname, context and account, unanswered questions).
    cipher: Option<Arc<crate::crypto::Cipher>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Store {
    /// SQLite in WAL mode with `synchronous = FULL`: a commit is on disk (fsync of the
    /// WAL) before it returns, so an acknowledged message survives power loss, not
    /// only a process crash. Group commit pays that fsync once per batch.
    pub async fn open_sqlite(data_dir: &Path, max_connections: u32) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(data_dir.join("xiaoer.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // Deleted and overwritten content is zeroed, so erased personal data
            // does not linger in free space of the file.
            .pragma("secure_delete", "ON");
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .after_connect(|conn, _| Box::pin(busy::install(conn)))
            .connect_with(options)
            .await?;
        Ok(Store {
            pool: Pool::Sqlite(pool),
            node: uuid::Uuid::new_v4().to_string().into(),
            fanout: true,
            outbox_wake: Arc::new(tokio::sync::watch::Sender::new(0)),
            commits: Arc::default(),
            cipher: None,
        })
    }

    pub async fn open_postgres(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        Ok(Store {
            pool: Pool::Postgres(pool),
            node: uuid::Uuid::new_v4().to_string().into(),
            fanout: true,
            outbox_wake: Arc::new(tokio::sync::watch::Sender::new(0)),
            commits: Arc::default(),
            cipher: None,
        })
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Sqlite(pool) => sqlx::migrate!("migrations/sqlite").run(pool).await?,
            Pool::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// Readiness: the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}
