//! Blocklists: visitors blocked by agents, networks blocked by admins.

use super::{Store, StoreError, on_pool};
use crate::ports::repositories::{BlockRepository, RepoError, StoredBlock};

/// id, kind, value, reason, created_by, created_at, expires_at.
type BlockRow = (String, String, String, String, String, i64, Option<i64>);

impl Store {
    pub(crate) async fn insert_block(&self, row: &StoredBlock) -> Result<(), StoreError> {
        let sql = "INSERT INTO blocks (id, kind, value, reason, created_by, created_at, expires_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7)";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&row.id).bind(&row.kind).bind(&row.value).bind(&row.reason).bind(&row.created_by)
            .bind(row.created_at).bind(row.expires_at).execute(pool).await.map(|_| ()))
        .map_err(StoreError::from_insert)
    }

    /// Blocks still in force at `now`, newest first.
    pub(crate) async fn active_blocks(&self, now: i64) -> Result<Vec<StoredBlock>, StoreError> {
        let sql = "SELECT id, kind, value, reason, created_by, created_at, expires_at FROM blocks \
                   WHERE expires_at IS NULL OR expires_at > $1 ORDER BY created_at DESC";
        let rows = on_pool!(self, pool => sqlx::query_as::<_, BlockRow>(sql)
            .bind(now).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(
                |(id, kind, value, reason, created_by, created_at, expires_at)| StoredBlock {
                    id,
                    kind,
                    value,
                    reason,
                    created_by,
                    created_at,
                    expires_at,
                },
            )
            .collect())
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

#[async_trait::async_trait]
impl BlockRepository for Store {
    async fn insert(&self, block: &StoredBlock) -> Result<(), RepoError> {
        Ok(self.insert_block(block).await?)
    }

    async fn active(&self, now: i64) -> Result<Vec<StoredBlock>, RepoError> {
        Ok(self.active_blocks(now).await?)
    }

    async fn delete(&self, id: &str) -> Result<(), RepoError> {
        Ok(self.delete_block(id).await?)
    }
}
