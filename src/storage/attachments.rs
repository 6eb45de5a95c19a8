use super::{Store, StoreError, on_pool};

impl Store {
    /// Records an attachment and links it to a conversation; both steps are
    /// idempotent, so the same file sent twice is stored once.
    /// `sealed`: the encrypted bytes, kept in the database (PostgreSQL, where
    /// several nodes serve one shop) in the same transaction; `None` where the
    /// caller keeps them in the data dir (SQLite).
    pub async fn link_attachment(
        &self,
        id: &str,
        content_type: &str,
        size: i64,
        conversation_id: &str,
        now: i64,
        sealed: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let insert = "INSERT INTO attachments (id, content_type, size, created_at) VALUES ($1, $2, $3, $4) \
                      ON CONFLICT (id) DO NOTHING";
        let blob =
            "INSERT INTO attachment_blobs (id, sealed) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING";
        let link = "INSERT INTO attachment_links (attachment_id, conversation_id) VALUES ($1, $2) \
                    ON CONFLICT (attachment_id, conversation_id) DO NOTHING";
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(insert).bind(id).bind(content_type).bind(size).bind(now).execute(&mut *tx).await?;
            if let Some(sealed) = sealed {
                sqlx::query(blob).bind(id).bind(sealed).execute(&mut *tx).await?;
            }
            sqlx::query(link).bind(id).bind(conversation_id).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The sealed bytes of an attachment kept in the database (PostgreSQL).
    pub async fn attachment_blob(&self, id: &str) -> Result<Vec<u8>, StoreError> {
        let sql = "SELECT sealed FROM attachment_blobs WHERE id = $1";
        let row: Option<(Vec<u8>,)> =
            on_pool!(self, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await?);
        row.map(|r| r.0).ok_or(StoreError::NotFound)
    }

    /// The attachment's content type, if it is linked to this conversation.
    pub async fn linked_attachment(
        &self,
        id: &str,
        conversation_id: &str,
    ) -> Result<String, StoreError> {
        let sql = "SELECT a.content_type FROM attachments a \
                   JOIN attachment_links l ON l.attachment_id = a.id \
                   WHERE a.id = $1 AND l.conversation_id = $2";
        let row: Option<(String,)> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(id).bind(conversation_id).fetch_optional(pool).await?);
        row.map(|r| r.0).ok_or(StoreError::NotFound)
    }
}
