use super::{Backend, Store, StoreError, on_pool};
pub use crate::domain::attachment::AttachmentOwner;
use crate::domain::tickets::TicketFile;
use crate::ports::repositories::{AttachmentRecords, RepoError};

impl Store {
    /// Records an attachment and links it to a conversation or a ticket; both
    /// steps are idempotent, so the same file sent twice is stored once.
    /// `sealed`: the encrypted bytes, kept in the database (PostgreSQL, where
    /// several nodes serve one shop) in the same transaction; `None` where the
    /// caller keeps them in the data dir (SQLite).
    pub async fn link_attachment(
        &self,
        id: &str,
        content_type: &str,
        size: i64,
        owner: AttachmentOwner<'_>,
        now: i64,
        sealed: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let insert = "INSERT INTO attachments (id, content_type, size, created_at) VALUES ($1, $2, $3, $4) \
                      ON CONFLICT (id) DO NOTHING";
        let blob =
            "INSERT INTO attachment_blobs (id, sealed) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING";
        let link = "INSERT INTO attachment_links (attachment_id, conversation_id) VALUES ($1, $2) \
                    ON CONFLICT (attachment_id, conversation_id) DO NOTHING";
        // A second upload of the same file makes an internal one public when
        // the buyer sent it, never the other way.
        let on_ticket = "INSERT INTO ticket_attachments \
                         (ticket_id, attachment_id, comment_id, public, added_by, created_at) \
                         VALUES ($1, $2, '', $3, $4, $5) ON CONFLICT (ticket_id, attachment_id, comment_id) \
                         DO UPDATE SET public = ticket_attachments.public OR excluded.public";
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(insert).bind(id).bind(content_type).bind(size).bind(now).execute(&mut *tx).await?;
            if let Some(sealed) = sealed {
                sqlx::query(blob).bind(id).bind(sealed).execute(&mut *tx).await?;
            }
            match owner {
                AttachmentOwner::Conversation(conversation_id) => {
                    sqlx::query(link).bind(id).bind(conversation_id).execute(&mut *tx).await?;
                }
                AttachmentOwner::Ticket { ticket_id, public, added_by } => {
                    sqlx::query(on_ticket).bind(ticket_id).bind(id).bind(public).bind(added_by).bind(now)
                        .execute(&mut *tx).await?;
                }
            }
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
        Ok(self.linked_attachment_meta(id, conversation_id).await?.0)
    }

    /// The attachment's content type and size, if it is linked to this conversation.
    pub async fn linked_attachment_meta(
        &self,
        id: &str,
        conversation_id: &str,
    ) -> Result<(String, i64), StoreError> {
        let sql = "SELECT a.content_type, a.size FROM attachments a \
                   JOIN attachment_links l ON l.attachment_id = a.id \
                   WHERE a.id = $1 AND l.conversation_id = $2";
        let row: Option<(String, i64)> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(id).bind(conversation_id).fetch_optional(pool).await?);
        row.ok_or(StoreError::NotFound)
    }

    /// The attachment's content type if it is on this ticket (and public
    /// there, for `public_only`: what its buyer may be served).
    pub async fn ticket_attachment(
        &self,
        id: &str,
        ticket_id: &str,
        public_only: bool,
    ) -> Result<String, StoreError> {
        let sql = "SELECT a.content_type FROM attachments a \
                   JOIN ticket_attachments t ON t.attachment_id = a.id \
                   WHERE a.id = $1 AND t.ticket_id = $2 AND (t.public OR NOT $3) LIMIT 1";
        let row: Option<(String,)> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(id).bind(ticket_id).bind(public_only).fetch_optional(pool).await?);
        row.map(|r| r.0).ok_or(StoreError::NotFound)
    }

    /// Every file on a ticket once (public when any of its rows is), oldest
    /// first; `public_only`: those its buyer may see.
    pub async fn ticket_files(
        &self,
        ticket_id: &str,
        public_only: bool,
    ) -> Result<Vec<TicketFile>, StoreError> {
        let sql = "SELECT a.id, a.content_type, a.size, MAX(CASE WHEN t.public THEN 1 ELSE 0 END), \
                   MIN(t.created_at) AS first FROM attachments a \
                   JOIN ticket_attachments t ON t.attachment_id = a.id WHERE t.ticket_id = $1 \
                   GROUP BY a.id, a.content_type, a.size \
                   HAVING MAX(CASE WHEN t.public THEN 1 ELSE 0 END) = 1 OR NOT $2 ORDER BY first, a.id";
        let rows: Vec<(String, String, i64, i32, i64)> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(ticket_id).bind(public_only).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|(id, content_type, size, public, _)| TicketFile {
                id,
                content_type,
                size,
                public: public == 1,
            })
            .collect())
    }

    /// The files of each of a ticket's comments, by comment id.
    pub async fn comment_files(
        &self,
        ticket_id: &str,
    ) -> Result<std::collections::HashMap<String, Vec<TicketFile>>, StoreError> {
        let sql = "SELECT t.comment_id, a.id, a.content_type, a.size, t.public FROM ticket_attachments t \
                   JOIN attachments a ON a.id = t.attachment_id WHERE t.ticket_id = $1 AND t.comment_id <> '' \
                   ORDER BY t.comment_id, t.position";
        let rows: Vec<(String, String, String, i64, bool)> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(ticket_id).fetch_all(pool).await?);
        let mut files: std::collections::HashMap<String, Vec<TicketFile>> = Default::default();
        for (comment, id, content_type, size, public) in rows {
            files.entry(comment).or_default().push(TicketFile {
                id,
                content_type,
                size,
                public,
            });
        }
        Ok(files)
    }
}
#[async_trait::async_trait]
impl AttachmentRecords for Store {
    fn keeps_bytes(&self) -> bool {
        self.backend() == Backend::Postgres
    }

    async fn link(
        &self,
        id: &str,
        content_type: &str,
        size: i64,
        owner: AttachmentOwner<'_>,
        now: i64,
        sealed: Option<&[u8]>,
    ) -> Result<(), RepoError> {
        Ok(self
            .link_attachment(id, content_type, size, owner, now, sealed)
            .await?)
    }

    async fn sealed_bytes(&self, id: &str) -> Result<Vec<u8>, RepoError> {
        Ok(self.attachment_blob(id).await?)
    }

    async fn type_in_conversation(
        &self,
        id: &str,
        conversation_id: &str,
    ) -> Result<String, RepoError> {
        Ok(self.linked_attachment(id, conversation_id).await?)
    }

    async fn type_and_size_in_conversation(
        &self,
        id: &str,
        conversation_id: &str,
    ) -> Result<(String, i64), RepoError> {
        Ok(self.linked_attachment_meta(id, conversation_id).await?)
    }

    async fn type_on_ticket(
        &self,
        id: &str,
        ticket_id: &str,
        public_only: bool,
    ) -> Result<String, RepoError> {
        Ok(self.ticket_attachment(id, ticket_id, public_only).await?)
    }

    async fn files_of_ticket(
        &self,
        ticket_id: &str,
        public_only: bool,
    ) -> Result<Vec<TicketFile>, RepoError> {
        Ok(self.ticket_files(ticket_id, public_only).await?)
    }
}
