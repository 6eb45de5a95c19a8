//! Quick replies: an agent's own and the shared ones.

use super::{Store, StoreError, on_pool};
use crate::ports::repositories::{QuickReplyRepository, RepoError, StoredQuickReply};

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct QuickReplyRow {
    pub id: String,
    /// None: shared with every agent.
    pub owner_id: Option<String>,
    pub category: String,
    pub shortcut: String,
    pub text: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, owner_id, category, shortcut, text, created_at, updated_at";

impl Store {
    pub(crate) async fn insert_quick_reply(&self, row: &QuickReplyRow) -> Result<(), StoreError> {
        let sql = "INSERT INTO quick_replies (id, owner_id, category, shortcut, text, created_at, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7)";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&row.id).bind(&row.owner_id).bind(&row.category).bind(&row.shortcut).bind(&row.text)
            .bind(row.created_at).bind(row.updated_at).execute(pool).await.map(|_| ()))
        .map_err(StoreError::from_insert)
    }

    pub(crate) async fn update_quick_reply(&self, row: &QuickReplyRow) -> Result<(), StoreError> {
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

    pub(crate) async fn quick_reply(&self, id: &str) -> Result<QuickReplyRow, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM quick_replies WHERE id = $1");
        let row = on_pool!(self, pool => sqlx::query_as::<_, QuickReplyRow>(sqlx::AssertSqlSafe(sql.clone()))
            .bind(id).fetch_optional(pool).await?);
        row.ok_or(StoreError::NotFound)
    }

    /// The agent's own replies and the shared ones, by category then shortcut.
    pub(crate) async fn quick_replies_for(
        &self,
        agent_id: &str,
    ) -> Result<Vec<QuickReplyRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM quick_replies WHERE owner_id IS NULL OR owner_id = $1 \
             ORDER BY category, shortcut, owner_id"
        );
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, QuickReplyRow>(sqlx::AssertSqlSafe(sql.clone()))
            .bind(agent_id).fetch_all(pool).await?),
        )
    }
}

impl From<QuickReplyRow> for StoredQuickReply {
    fn from(r: QuickReplyRow) -> Self {
        StoredQuickReply {
            id: r.id,
            owner_id: r.owner_id,
            category: r.category,
            shortcut: r.shortcut,
            text: r.text,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

impl From<&StoredQuickReply> for QuickReplyRow {
    fn from(r: &StoredQuickReply) -> Self {
        QuickReplyRow {
            id: r.id.clone(),
            owner_id: r.owner_id.clone(),
            category: r.category.clone(),
            shortcut: r.shortcut.clone(),
            text: r.text.clone(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[async_trait::async_trait]
impl QuickReplyRepository for Store {
    async fn for_agent(&self, agent_id: &str) -> Result<Vec<StoredQuickReply>, RepoError> {
        let rows = self.quick_replies_for(agent_id).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn get(&self, id: &str) -> Result<StoredQuickReply, RepoError> {
        Ok(self.quick_reply(id).await?.into())
    }

    async fn insert(&self, reply: &StoredQuickReply) -> Result<(), RepoError> {
        Ok(self.insert_quick_reply(&reply.into()).await?)
    }

    async fn update(&self, reply: &StoredQuickReply) -> Result<(), RepoError> {
        Ok(self.update_quick_reply(&reply.into()).await?)
    }

    async fn delete(&self, id: &str) -> Result<(), RepoError> {
        Ok(self.delete_quick_reply(id).await?)
    }
}
