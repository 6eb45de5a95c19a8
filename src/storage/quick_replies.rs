//! Quick replies: an agent's own and the shared ones.

use super::{Store, StoreError, on_pool};
use crate::ports::repositories::{QuickReplyRepository, RepoError, StoredQuickReply};

/// id, owner_id, category, shortcut, text, created_at, updated_at.
type QuickReplyRow = (String, Option<String>, String, String, String, i64, i64);

fn reply(
    (id, owner_id, category, shortcut, text, created_at, updated_at): QuickReplyRow,
) -> StoredQuickReply {
    StoredQuickReply {
        id,
        owner_id,
        category,
        shortcut,
        text,
        created_at,
        updated_at,
    }
}

const COLUMNS: &str = "id, owner_id, category, shortcut, text, created_at, updated_at";

impl Store {
    pub(crate) async fn insert_quick_reply(
        &self,
        row: &StoredQuickReply,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO quick_replies (id, owner_id, category, shortcut, text, created_at, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7)";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&row.id).bind(&row.owner_id).bind(&row.category).bind(&row.shortcut).bind(&row.text)
            .bind(row.created_at).bind(row.updated_at).execute(pool).await.map(|_| ()))
        .map_err(StoreError::from_insert)
    }

    pub(crate) async fn update_quick_reply(
        &self,
        row: &StoredQuickReply,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE quick_replies SET category = $2, shortcut = $3, text = $4, updated_at = $5 WHERE id = $1";
        let done = on_pool!(self, pool => sqlx::query(sql)
            .bind(&row.id).bind(&row.category).bind(&row.shortcut).bind(&row.text).bind(row.updated_at)
            .execute(pool).await.map(|r| r.rows_affected()))
        .map_err(StoreError::from_insert)?;
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub(crate) async fn delete_quick_reply(&self, id: &str) -> Result<(), StoreError> {
        let done = on_pool!(self, pool => sqlx::query("DELETE FROM quick_replies WHERE id = $1")
            .bind(id).execute(pool).await?.rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    pub(crate) async fn quick_reply(&self, id: &str) -> Result<StoredQuickReply, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM quick_replies WHERE id = $1");
        let row = on_pool!(self, pool => sqlx::query_as::<_, QuickReplyRow>(sqlx::AssertSqlSafe(sql.clone()))
            .bind(id).fetch_optional(pool).await?);
        row.map(reply).ok_or(StoreError::NotFound)
    }

    /// The agent's own replies and the shared ones, by category then shortcut.
    pub(crate) async fn quick_replies_for(
        &self,
        agent_id: &str,
    ) -> Result<Vec<StoredQuickReply>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM quick_replies WHERE owner_id IS NULL OR owner_id = $1 \
             ORDER BY category, shortcut, owner_id"
        );
        let rows = on_pool!(self, pool => sqlx::query_as::<_, QuickReplyRow>(sqlx::AssertSqlSafe(sql.clone()))
            .bind(agent_id).fetch_all(pool).await?);
        Ok(rows.into_iter().map(reply).collect())
    }
}

#[async_trait::async_trait]
impl QuickReplyRepository for Store {
    async fn for_agent(&self, agent_id: &str) -> Result<Vec<StoredQuickReply>, RepoError> {
        Ok(self.quick_replies_for(agent_id).await?)
    }

    async fn get(&self, id: &str) -> Result<StoredQuickReply, RepoError> {
        Ok(self.quick_reply(id).await?)
    }

    async fn insert(&self, reply: &StoredQuickReply) -> Result<(), RepoError> {
        Ok(self.insert_quick_reply(reply).await?)
    }

    async fn update(&self, reply: &StoredQuickReply) -> Result<(), RepoError> {
        Ok(self.update_quick_reply(reply).await?)
    }

    async fn delete(&self, id: &str) -> Result<(), RepoError> {
        Ok(self.delete_quick_reply(id).await?)
    }
}
