//! Blocklists: visitors blocked by agents, networks blocked by admins.

use super::{Store, StoreError, on_pool};
use crate::ports::repositories::{BlockRepository, RepoError, StoredBlock};

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct BlockRow {
    pub id: String,
    /// `visitor` or `network`.
    pub kind: String,
    pub value: String,
    pub reason: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

impl Store {
    pub(crate) async fn insert_block(&self, row: &BlockRow) -> Result<(), StoreError> {
        let sql = "INSERT INTO blocks (id, kind, value, reason, created_by, created_at, expires_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7)";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&row.id).bind(&row.kind).bind(&row.value).bind(&row.reason).bind(&row.created_by)
            .bind(row.created_at).bind(row.expires_at).execute(pool).await.map(|_| ()))
        .map_err(StoreError::from_insert)
    }

    /// Blocks still in force at `now`, newest first.
    pub(crate) async fn active_blocks(&self, now: i64) -> Result<Vec<BlockRow>, StoreError> {
        let sql = "SELECT id, kind, value, reason, created_by, created_at, expires_at FROM blocks \
                   WHERE expires_at IS NULL OR expires_at > $1 ORDER BY created_at DESC";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, BlockRow>(sql)
            .bind(now).fetch_all(pool).await?))
    }

    pub(crate) async fn delete_block(&self, id: &str) -> Result<(), StoreError> {
        let done = on_pool!(self, pool => sqlx::query("DELETE FROM blocks WHERE id = $1")
            .bind(id).execute(pool).await?.rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

impl From<BlockRow> for StoredBlock {
    fn from(r: BlockRow) -> Self {
        StoredBlock {
            id: r.id,
            kind: r.kind,
            value: r.value,
            reason: r.reason,
            created_by: r.created_by,
            created_at: r.created_at,
            expires_at: r.expires_at,
        }
    }
}

#[async_trait::async_trait]
impl BlockRepository for Store {
    async fn insert(&self, b: &StoredBlock) -> Result<(), RepoError> {
        let row = BlockRow {
            id: b.id.clone(),
            kind: b.kind.clone(),
            value: b.value.clone(),
            reason: b.reason.clone(),
            created_by: b.created_by.clone(),
            created_at: b.created_at,
            expires_at: b.expires_at,
        };
        Ok(self.insert_block(&row).await?)
    }

    async fn active(&self, now: i64) -> Result<Vec<StoredBlock>, RepoError> {
        Ok(self
            .active_blocks(now)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    async fn delete(&self, id: &str) -> Result<(), RepoError> {
        Ok(self.delete_block(id).await?)
    }
}
