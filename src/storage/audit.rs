//! The audit log: appended in turn (the head row is locked first, so writers on
//! several nodes queue), read back for search and for `xiaoer audit verify`.

use super::{Store, StoreError, on_pool};
use crate::domain::audit::{AuditRecord, chain_hash};
use crate::ports::repositories::{AuditLog, RepoError};

#[derive(Debug, Clone, sqlx::FromRow)]
struct AuditRow {
    seq: i64,
    at: i64,
    actor: Option<String>,
    action: String,
    target: String,
    prev_hash: String,
    hash: String,
}

impl From<AuditRow> for AuditRecord {
    fn from(r: AuditRow) -> Self {
        AuditRecord {
            seq: r.seq,
            at: r.at,
            actor: r.actor,
            action: r.action,
            target: r.target,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

pub use crate::domain::audit::AuditFilter;

const COLUMNS: &str = "seq, at, actor, action, target, prev_hash, hash";

impl Store {
    /// Appends one record chained to the last; returns its sequence number.
    pub async fn append_audit(
        &self,
        at: i64,
        actor: Option<&str>,
        action: &str,
        target: &str,
    ) -> Result<i64, StoreError> {
        // Writing the head first takes the write lock (SQLite) or the row lock
        // (PostgreSQL) before the head is read, so appends never interleave.
        let lock = "UPDATE audit_head SET seq = seq WHERE id = 1";
        let head = "SELECT seq, hash FROM audit_head WHERE id = 1";
        let insert =
            format!("INSERT INTO audit_log ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)");
        let advance = "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1";
        let seq = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(lock).execute(&mut *tx).await?;
            let (last, prev_hash): (i64, String) = sqlx::query_as(head).fetch_one(&mut *tx).await?;
            let seq = last + 1;
            let hash = chain_hash(&prev_hash, seq, at, actor, action, target);
            sqlx::query(sqlx::AssertSqlSafe(insert.as_str()))
                .bind(seq).bind(at).bind(actor).bind(action).bind(target).bind(&prev_hash).bind(&hash)
                .execute(&mut *tx).await?;
            sqlx::query(advance).bind(seq).bind(&hash).execute(&mut *tx).await?;
            tx.commit().await?;
            seq
        });
        Ok(seq)
    }

    /// Records matching the filter, newest first.
    pub async fn audit_records(&self, f: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_log \
             WHERE ($1 IS NULL OR action = $1) AND ($2 IS NULL OR actor = $2) \
             AND ($3 IS NULL OR substr(target, 1, length($3)) = $3) AND ($4 IS NULL OR seq < $4) \
             ORDER BY seq DESC LIMIT $5"
        );
        let rows: Vec<AuditRow> = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(&f.action).bind(&f.actor).bind(&f.target_prefix).bind(f.before).bind(f.limit)
            .fetch_all(pool).await?);
        Ok(rows.into_iter().map(AuditRecord::from).collect())
    }

    /// Records after `after` in order, a page at a time (for verification).
    pub async fn audit_page(&self, after: i64, limit: i64) -> Result<Vec<AuditRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2");
        let rows: Vec<AuditRow> = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(after).bind(limit).fetch_all(pool).await?);
        Ok(rows.into_iter().map(AuditRecord::from).collect())
    }

    /// The last sequence number and hash written.
    pub async fn audit_head(&self) -> Result<(i64, String), StoreError> {
        let sql = "SELECT seq, hash FROM audit_head WHERE id = 1";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).fetch_one(pool).await?))
    }
}

#[async_trait::async_trait]
impl AuditLog for Store {
    async fn append(
        &self,
        at: i64,
        actor: Option<&str>,
        action: &str,
        target: &str,
    ) -> Result<i64, RepoError> {
        Ok(self.append_audit(at, actor, action, target).await?)
    }

    async fn search(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, RepoError> {
        Ok(self.audit_records(filter).await?)
    }

    async fn page(&self, after: i64, limit: i64) -> Result<Vec<AuditRecord>, RepoError> {
        Ok(self.audit_page(after, limit).await?)
    }

    async fn head(&self) -> Result<(i64, String), RepoError> {
        Ok(self.audit_head().await?)
    }
}
