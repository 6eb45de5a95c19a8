//! Data protection in the database: the columns this layer seals itself, the
//! one-off sealing of rows written before they were sealed, a buyer's record for
//! export (page by page), a buyer's erasure, the retention purge and the protection settings.

use super::{Backend, ConversationRow, Store, StoreError, StoredEvent, UnansweredRow, on_pool};
use crate::crypto::Cipher;
use crate::domain::tickets::Ticket;
use crate::ports::repositories::{BuyerData, DataProtection, FoundConversation, RepoError};
use std::sync::Arc;

pub use crate::domain::privacy::{
    After, ErasedBodies, ExportAttachment, ProtectionPolicy as ProtectionRow, first_page,
};

/// Blind-index purpose of the shop account id.
const ACCOUNT_INDEX: &str = "visitor.shop_account_id";

/// Associated data of a visitor's sealed field: the row and the field, so a value
/// copied to another row or column does not open.
pub(super) fn visitor_aad(id: &str, field: &str) -> String {
    format!("visitor:{id}:{field}")
}

pub(super) fn unanswered_aad(id: &str) -> String {
    format!("unanswered:{id}")
}

pub(super) fn unanswered_embedding_aad(id: &str) -> String {
    format!("unanswered:{id}:embedding")
}

impl Store {
    /// The store seals and opens some columns itself: it needs the data key.
    pub fn with_cipher(mut self, cipher: Cipher) -> Self {
        self.cipher = Some(Arc::new(cipher));
        self
    }

    pub(super) fn sealer(&self) -> &Cipher {
        self.cipher
            .as_deref()
            .expect("the store is opened with the data key (startup::open_store)")
    }

    pub(super) fn seal_opt(&self, value: Option<&str>, aad: &str) -> Option<Vec<u8>> {
        value.map(|v| self.sealer().seal_text(v, aad))
    }

    pub(super) fn open_opt(
        &self,
        sealed: Option<&[u8]>,
        aad: &str,
    ) -> Result<Option<String>, StoreError> {
        sealed
            .map(|s| {
                self.sealer()
                    .open_text(s, aad)
                    .map_err(|_| StoreError::Sealed)
            })
            .transpose()
    }

    pub(super) fn account_index(&self, account: Option<&str>) -> Option<Vec<u8>> {
        account.map(|a| self.sealer().blind_index(ACCOUNT_INDEX, a))
    }

    /// Seals what rows written before migrations 0013 and 0018 hold in clear
    /// (nickname, context, shop account, unanswered questions, visits' browsing)
    /// and clears the old columns.
    /// Runs at every start; a no-op once done. Returns the rows converted.
    pub async fn seal_plaintext_rows(&self) -> Result<u64, StoreError> {
        type Legacy = (String, Option<String>, Option<String>, Option<String>);
        let visitors: Vec<Legacy> = on_pool!(self, pool => sqlx::query_as(
            "SELECT id, shop_account_id, nickname, context FROM visitors \
             WHERE shop_account_id IS NOT NULL OR nickname IS NOT NULL OR context IS NOT NULL")
            .fetch_all(pool).await?);
        let questions: Vec<(String, String)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT id, question FROM unanswered_questions WHERE sealed_question IS NULL")
            .fetch_all(pool).await?);
        let visits: Vec<(String, String)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT id, state FROM visits WHERE state <> ''")
            .fetch_all(pool).await?);
        let embeddings: Vec<(String, String)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT id, embedding FROM unanswered_questions WHERE embedding IS NOT NULL")
            .fetch_all(pool).await?);
        // Tickets and comments written before migration 0024 (an erased ticket,
        // a bare "-", has nothing to seal).
        let sql = format!(
            "SELECT {} FROM tickets WHERE sealed_text IS NULL AND NOT (title = '-' AND description = '' \
             AND order_number IS NULL AND custom_fields = '{{}}' AND status_text IS NULL)",
            super::tickets::COLUMNS
        );
        let legacy_tickets: Vec<super::tickets::TicketRow> = on_pool!(self, pool =>
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?);
        let legacy_tickets = self.open_tickets(legacy_tickets)?;
        let comments: Vec<(String, String)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT id, body FROM ticket_comments WHERE sealed_body IS NULL AND body <> ''")
            .fetch_all(pool).await?);
        let history: Vec<(i64, String, String, String)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT CAST(id AS BIGINT), ticket_id, kind, detail FROM ticket_events \
             WHERE sealed_detail IS NULL AND detail <> '{}'")
            .fetch_all(pool).await?);
        let converted = (history.len()
            + visitors.len()
            + questions.len()
            + visits.len()
            + embeddings.len()
            + legacy_tickets.len()
            + comments.len()) as u64;
        if converted == 0 {
            return Ok(0);
        }
        let visitor_sql = "UPDATE visitors SET sealed_account = COALESCE($2, sealed_account), \
             account_index = COALESCE($3, account_index), sealed_nickname = COALESCE($4, sealed_nickname), \
             sealed_context = COALESCE($5, sealed_context), shop_account_id = NULL, nickname = NULL, \
             context = NULL WHERE id = $1";
        let question_sql =
            "UPDATE unanswered_questions SET sealed_question = $2, question = '' WHERE id = $1";
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for (id, account, nickname, context) in &visitors {
                sqlx::query(visitor_sql)
                    .bind(id)
                    .bind(self.seal_opt(account.as_deref(), &visitor_aad(id, "account")))
                    .bind(self.account_index(account.as_deref()))
                    .bind(self.seal_opt(nickname.as_deref(), &visitor_aad(id, "nickname")))
                    .bind(self.seal_opt(context.as_deref(), &visitor_aad(id, "context")))
                    .execute(&mut *tx).await?;
            }
            for (id, question) in &questions {
                sqlx::query(question_sql)
                    .bind(id)
                    .bind(self.sealer().seal_text(question, &unanswered_aad(id)))
                    .execute(&mut *tx).await?;
            }
            for (id, state) in &visits {
                sqlx::query("UPDATE visits SET sealed_state = $2, state = '' WHERE id = $1")
                    .bind(id)
                    .bind(self.sealer().seal_text(state, &super::presence::visit_aad(id)))
                    .execute(&mut *tx).await?;
            }
            for (id, embedding) in &embeddings {
                sqlx::query("UPDATE unanswered_questions SET sealed_embedding = $2, embedding = NULL WHERE id = $1")
                    .bind(id)
                    .bind(self.sealer().seal_text(embedding, &unanswered_embedding_aad(id)))
                    .execute(&mut *tx).await?;
            }
            for ticket in &legacy_tickets {
                sqlx::query("UPDATE tickets SET sealed_text = $2, title = '', description = '', \
                     custom_fields = '{}', order_number = NULL, status_text = NULL WHERE id = $1")
                    .bind(&ticket.id)
                    .bind(self.seal_ticket_text(ticket))
                    .execute(&mut *tx).await?;
            }
            for (id, ticket_id, kind, detail) in &history {
                let aad = super::tickets::history_aad(&format!("{ticket_id}:{kind}"));
                sqlx::query("UPDATE ticket_events SET sealed_detail = $2, detail = '{}' WHERE id = $1")
                    .bind(id)
                    .bind(self.sealer().seal_text(detail, &aad))
                    .execute(&mut *tx).await?;
            }
            for (id, body) in &comments {
                sqlx::query("UPDATE ticket_comments SET sealed_body = $2, body = '' WHERE id = $1")
                    .bind(id)
                    .bind(self.sealer().seal_text(body, &super::tickets::comment_aad(id)))
                    .execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        self.flush_erased().await?;
        Ok(converted)
    }

    /// On SQLite, old page images of overwritten rows can sit in the WAL until a
    /// checkpoint: copy it into the database (zeroed by secure_delete) and empty
    /// it, retrying briefly while a reader holds an old snapshot.
    pub(super) async fn flush_erased(&self) -> Result<(), StoreError> {
        if let super::Pool::Sqlite(pool) = &self.pool {
            for _ in 0..40 {
                let (busy, _, _): (i64, i64, i64) =
                    sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                        .fetch_one(pool)
                        .await?;
                if busy == 0 {
                    return Ok(());
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            tracing::warn!("the WAL could not be emptied after an erasure (readers kept it busy)");
        }
        Ok(())
    }

    /// The visitors bound to a shop account, found by its blind index.
    pub async fn visitors_of_account(&self, account: &str) -> Result<Vec<String>, StoreError> {
        let index = self.sealer().blind_index(ACCOUNT_INDEX, account);
        let rows: Vec<(String,)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT id FROM visitors WHERE account_index = $1 AND erased_at IS NULL ORDER BY created_at")
            .bind(index).fetch_all(pool).await?);
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// The buyer's conversations (to seal their replacement bodies).
    pub async fn conversations_of_visitor(
        &self,
        visitor_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT id FROM conversations WHERE visitor_id = $1")
            .bind(visitor_id).fetch_all(pool).await?);
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Erases a buyer in one transaction: their personal data, message and note
    /// bodies (replaced), unanswered questions, bot memory, hand-off packets,
    /// app-channel identities, ticket texts, attachments, the tags staff set on
    /// their account, and their shop visits
    /// with the invitations shown on them. Conversations, event
    /// kinds and times, ratings and assignments stay, owned by an empty visitor,
    /// so statistics hold. Returns the attachment ids no conversation links any
    /// more, whose files the caller removes.
    pub async fn erase_visitor(
        &self,
        visitor_id: &str,
        bodies: &[ErasedBodies],
        new_token_hash: &[u8],
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let mut orphans = Vec::new();
        let done = on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            // The tags staff set on the buyer's account go with it.
            sqlx::query("DELETE FROM buyer_tags WHERE account_index = \
                         (SELECT account_index FROM visitors WHERE id = $1)")
                .bind(visitor_id).execute(&mut *tx).await?;
            let done = sqlx::query(
                "UPDATE visitors SET token_hash = $2, shop_account_id = NULL, nickname = NULL, pii = NULL, \
                 context = NULL, sealed_account = NULL, account_index = NULL, sealed_nickname = NULL, \
                 sealed_context = NULL, erased_at = $3, updated_at = $3 WHERE id = $1")
                .bind(visitor_id).bind(new_token_hash).bind(now).execute(&mut *tx).await?.rows_affected();
            // The files of the buyer's tickets and chats: each goes with its
            // last link (a file two buyers sent stays for the other).
            let mut unlinked: Vec<(String,)> = sqlx::query_as(
                "DELETE FROM ticket_attachments WHERE ticket_id IN \
                 (SELECT id FROM tickets WHERE visitor_id = $1) RETURNING attachment_id")
                .bind(visitor_id).fetch_all(&mut *tx).await?;
            for erased in bodies {
                let c = erased.conversation_id.as_str();
                for (kind, body) in [("message", &erased.message), ("note", &erased.note)] {
                    sqlx::query("UPDATE events SET body = $3, erased = TRUE WHERE conversation_id = $1 AND kind = $2")
                        .bind(c).bind(kind).bind(body).execute(&mut *tx).await?;
                }
                for sql in [
                    "DELETE FROM unanswered_questions WHERE conversation_id = $1",
                    "DELETE FROM bot_sessions WHERE conversation_id = $1",
                    "DELETE FROM handoff_packets WHERE conversation_id = $1",
                    // The history search's term hashes: an erased buyer is no longer
                    // found by their phone or words.
                    "DELETE FROM history_terms WHERE conversation_id = $1",
                    // The model's draft scores quote the chat.
                    "DELETE FROM qa_drafts WHERE review_id IN \
                     (SELECT id FROM qa_reviews WHERE conversation_id = $1)",
                ] {
                    sqlx::query(sql).bind(c).execute(&mut *tx).await?;
                }
                unlinked.extend(sqlx::query_as::<_, (String,)>(
                    "DELETE FROM attachment_links WHERE conversation_id = $1 RETURNING attachment_id")
                    .bind(c).fetch_all(&mut *tx).await?);
            }
            unlinked.sort();
            unlinked.dedup();
            for (attachment,) in unlinked {
                let (others,): (i64,) = sqlx::query_as(
                    "SELECT (SELECT COUNT(*) FROM attachment_links WHERE attachment_id = $1) \
                     + (SELECT COUNT(*) FROM ticket_attachments WHERE attachment_id = $1)")
                    .bind(&attachment).fetch_one(&mut *tx).await?;
                if others == 0 {
                    if self.backend() == Backend::Postgres {
                        sqlx::query("DELETE FROM attachment_blobs WHERE id = $1")
                            .bind(&attachment).execute(&mut *tx).await?;
                    }
                    sqlx::query("DELETE FROM attachments WHERE id = $1")
                        .bind(&attachment).execute(&mut *tx).await?;
                    orphans.push(attachment);
                }
            }
            sqlx::query("DELETE FROM channel_users WHERE visitor_id = $1")
                .bind(visitor_id).execute(&mut *tx).await?;
            // The buyer's browsing (pages, cart, account): their visits and the
            // invitations shown on them go; a page still open starts a new visit.
            for sql in [
                "DELETE FROM invitations WHERE visit_id IN (SELECT id FROM visits WHERE visitor_id = $1)",
                "DELETE FROM visits WHERE visitor_id = $1",
            ] {
                sqlx::query(sql).bind(visitor_id).execute(&mut *tx).await?;
            }
            for sql in [
                "UPDATE ticket_comments SET body = '', sealed_body = NULL \
                 WHERE ticket_id IN (SELECT id FROM tickets WHERE visitor_id = $1)",
                "UPDATE ticket_events SET detail = '{}', sealed_detail = NULL \
                 WHERE ticket_id IN (SELECT id FROM tickets WHERE visitor_id = $1)",
                // An erased ticket reads as a bare "-" (nothing sealed is left).
                "UPDATE tickets SET title = '-', description = '', custom_fields = '{}', order_number = NULL, \
                 status_text = NULL, sealed_text = NULL WHERE visitor_id = $1",
            ] {
                sqlx::query(sql).bind(visitor_id).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            done
        });
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        self.flush_erased().await?;
        Ok(orphans)
    }

    /// Conversations with message or note bodies older than `before` not yet
    /// purged (at most `limit`).
    pub async fn conversations_to_purge(
        &self,
        before: i64,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT DISTINCT conversation_id FROM events WHERE erased = FALSE AND kind IN ('message', 'note') \
             AND created_at < $1 LIMIT $2")
            .bind(before).bind(limit).fetch_all(pool).await?);
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Replaces the bodies older than `before` in these conversations and drops
    /// attachments uploaded before it; returns the attachment ids dropped.
    pub async fn purge_before(
        &self,
        bodies: &[ErasedBodies],
        before: i64,
    ) -> Result<Vec<String>, StoreError> {
        let dropped = on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            for erased in bodies {
                for (kind, body) in [("message", &erased.message), ("note", &erased.note)] {
                    sqlx::query("UPDATE events SET body = $3, erased = TRUE WHERE conversation_id = $1 \
                                 AND kind = $2 AND created_at < $4 AND erased = FALSE")
                        .bind(&erased.conversation_id).bind(kind).bind(body).bind(before)
                        .execute(&mut *tx).await?;
                }
                // A draft score quotes the chat: it goes with the words it quoted.
                sqlx::query("DELETE FROM qa_drafts WHERE review_id IN \
                             (SELECT id FROM qa_reviews WHERE conversation_id = $1)")
                    .bind(&erased.conversation_id).execute(&mut *tx).await?;
            }
            let old: Vec<(String,)> = sqlx::query_as("SELECT id FROM attachments WHERE created_at < $1")
                .bind(before).fetch_all(&mut *tx).await?;
            for (id,) in &old {
                sqlx::query("DELETE FROM attachment_links WHERE attachment_id = $1").bind(id).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM ticket_attachments WHERE attachment_id = $1").bind(id).execute(&mut *tx).await?;
                if self.backend() == Backend::Postgres {
                    sqlx::query("DELETE FROM attachment_blobs WHERE id = $1").bind(id).execute(&mut *tx).await?;
                }
                sqlx::query("DELETE FROM attachments WHERE id = $1").bind(id).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            old.into_iter().map(|r| r.0).collect::<Vec<_>>()
        });
        self.flush_erased().await?;
        Ok(dropped)
    }

    /// Records a used proof-of-work challenge; `AlreadyExists` if it was used
    /// before. Expired ones are dropped on the way (they no longer verify).
    pub async fn spend_challenge(
        &self,
        signature: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query("DELETE FROM spent_challenges WHERE expires_at < $1")
            .bind(now).execute(pool).await.map(|_| ()))?;
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO spent_challenges (signature, expires_at) VALUES ($1, $2)")
            .bind(signature).bind(expires_at).execute(pool).await.map(|_| ()))
        .map_err(StoreError::from_insert)?;
        Ok(())
    }

    pub async fn protection_settings(&self) -> Result<ProtectionRow, StoreError> {
        let row: Option<(Option<i64>, bool)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT retention_days, challenge_all FROM protection_settings WHERE id = 1")
            .fetch_optional(pool).await?);
        Ok(row
            .map(|(retention_days, challenge_all)| ProtectionRow {
                retention_days,
                challenge_all,
            })
            .unwrap_or_default())
    }

    pub async fn put_protection_settings(
        &self,
        row: &ProtectionRow,
        by: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO protection_settings (id, retention_days, challenge_all, updated_by, updated_at) \
                   VALUES (1, $1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET \
                   retention_days = excluded.retention_days, challenge_all = excluded.challenge_all, \
                   updated_by = excluded.updated_by, updated_at = excluded.updated_at";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(row.retention_days).bind(row.challenge_all).bind(by).bind(now)
            .execute(pool).await.map(|_| ()))?;
        Ok(())
    }
}

impl Store {
    // A buyer's record for the export, page by page (keyset pagination, so a
    // buyer with a long history is never held in memory at once).

    /// The buyer's conversations after `after`, by creation time then id.
    pub async fn buyer_conversations_page(
        &self,
        visitor_id: &str,
        after: &After,
        limit: i64,
    ) -> Result<Vec<ConversationRow>, StoreError> {
        let sql = "SELECT id, visitor_id, channel, state, agent_id, last_seq, created_at, updated_at \
                   FROM conversations WHERE visitor_id = $1 AND (created_at > $2 OR (created_at = $2 AND id > $3)) \
                   ORDER BY created_at, id LIMIT $4";
        Ok(on_pool!(self, pool => sqlx::query_as(sql)
            .bind(visitor_id).bind(after.0).bind(&after.1).bind(limit).fetch_all(pool).await?))
    }

    /// A conversation's messages and notes with `seq > after_seq`, in order
    /// (bodies sealed, for the chat service to open).
    pub async fn exported_events_page(
        &self,
        conversation_id: &str,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let sql = "SELECT conversation_id, seq, kind, sender_kind, sender_id, client_msg_id, body, created_at \
                   FROM events WHERE conversation_id = $1 AND kind IN ('message', 'note') AND seq > $2 \
                   ORDER BY seq LIMIT $3";
        let rows = on_pool!(self, pool => sqlx::query_as::<_, StoredEvent>(sql)
            .bind(conversation_id).bind(after_seq).bind(limit).fetch_all(pool).await?);
        Ok(rows)
    }

    /// The buyer's unanswered questions after `after`, opened.
    pub async fn buyer_unanswered_page(
        &self,
        visitor_id: &str,
        after: &After,
        limit: i64,
    ) -> Result<Vec<UnansweredRow>, StoreError> {
        type SealedQuestion = (String, String, Option<Vec<u8>>, String, i64);
        let sealed: Vec<SealedQuestion> = on_pool!(self, pool => sqlx::query_as(
            "SELECT u.id, u.conversation_id, u.sealed_question, u.reason, u.created_at FROM unanswered_questions u \
             JOIN conversations c ON c.id = u.conversation_id WHERE c.visitor_id = $1 \
             AND (u.created_at > $2 OR (u.created_at = $2 AND u.id > $3)) ORDER BY u.created_at, u.id LIMIT $4")
            .bind(visitor_id).bind(after.0).bind(&after.1).bind(limit).fetch_all(pool).await?);
        let mut unanswered = Vec::with_capacity(sealed.len());
        for (id, conversation_id, question, reason, created_at) in sealed {
            let question = self
                .open_opt(question.as_deref(), &unanswered_aad(&id))?
                .unwrap_or_default();
            unanswered.push(UnansweredRow {
                id,
                conversation_id,
                question,
                reason,
                embedding: None,
                created_at,
            });
        }
        Ok(unanswered)
    }

    /// The attachments of the buyer's conversations after `after` (upload
    /// time, then attachment id and conversation id joined by a NUL).
    pub async fn buyer_attachments_page(
        &self,
        visitor_id: &str,
        after: &After,
        limit: i64,
    ) -> Result<Vec<ExportAttachment>, StoreError> {
        let (after_id, after_conversation) =
            after.1.split_once('\0').unwrap_or((after.1.as_str(), ""));
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT a.id, a.content_type, a.size, l.conversation_id, a.created_at FROM attachments a \
             JOIN attachment_links l ON l.attachment_id = a.id JOIN conversations c ON c.id = l.conversation_id \
             WHERE c.visitor_id = $1 AND (a.created_at > $2 OR (a.created_at = $2 AND \
             (a.id > $3 OR (a.id = $3 AND l.conversation_id > $4)))) \
             ORDER BY a.created_at, a.id, l.conversation_id LIMIT $5")
            .bind(visitor_id).bind(after.0).bind(after_id).bind(after_conversation).bind(limit)
            .fetch_all(pool).await?))
    }

    /// The buyer's tickets after `after`, their words opened.
    pub async fn buyer_tickets_page(
        &self,
        visitor_id: &str,
        after: &After,
        limit: i64,
    ) -> Result<Vec<crate::domain::tickets::Ticket>, StoreError> {
        let sql = format!(
            "SELECT {} FROM tickets WHERE visitor_id = $1 AND (created_at > $2 OR (created_at = $2 AND id > $3)) \
             ORDER BY created_at, id LIMIT $4",
            super::tickets::COLUMNS
        );
        let rows: Vec<super::tickets::TicketRow> = on_pool!(self, pool =>
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(visitor_id).bind(after.0).bind(&after.1).bind(limit).fetch_all(pool).await?);
        self.open_tickets(rows)
    }

    /// The shop visits linked to the buyer after `after`, their browsing opened.
    pub async fn buyer_visits_page(
        &self,
        visitor_id: &str,
        after: &After,
        limit: i64,
    ) -> Result<Vec<super::VisitRow>, StoreError> {
        let ids: Vec<(String,)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT id FROM visits WHERE visitor_id = $1 AND (started_at > $2 OR (started_at = $2 AND id > $3)) \
             ORDER BY started_at, id LIMIT $4")
            .bind(visitor_id).bind(after.0).bind(&after.1).bind(limit).fetch_all(pool).await?);
        let mut visits = Vec::with_capacity(ids.len());
        for (id,) in ids {
            visits.push(self.visit(&id).await?);
        }
        Ok(visits)
    }
}

#[async_trait::async_trait]
impl crate::ports::repositories::SpentChallenges for Store {
    async fn spend(
        &self,
        signature: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<(), crate::ports::repositories::RepoError> {
        Ok(self.spend_challenge(signature, expires_at, now).await?)
    }
}

#[async_trait::async_trait]
impl BuyerData for Store {
    async fn of_account(&self, account: &str) -> Result<Vec<String>, RepoError> {
        Ok(self.visitors_of_account(account).await?)
    }

    async fn first_seen(&self, visitor_id: &str) -> Result<i64, RepoError> {
        Ok(self.visitor(visitor_id).await?.created_at)
    }

    async fn conversation_ids(&self, visitor_id: &str) -> Result<Vec<String>, RepoError> {
        Ok(self.conversations_of_visitor(visitor_id).await?)
    }

    async fn conversations_page(
        &self,
        visitor_id: &str,
        after: &After,
        limit: i64,
    ) -> Result<Vec<FoundConversation>, RepoError> {
        Ok(self
            .buyer_conversations_page(visitor_id, after, limit)
            .await?
            .into_iter()
            .map(FoundConversation::from)
            .collect())
    }

    async fn events_page(
        &self,
        conversation_id: &str,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, RepoError> {
        Ok(self
            .exported_events_page(conversation_id, after_seq, limit)
            .await?)
    }

    async fn unanswered_page(
        &self,
        visitor_id: &str,
        after: &After,
        limit: i64,
    ) -> Result<Vec<UnansweredRow>, RepoError> {
        Ok(self.buyer_unanswered_page(visitor_id, after, limit).await?)
    }

    async fn attachments_page(
        &self,
        visitor_id: &str,
        after: &After,
        limit: i64,
    ) -> Result<Vec<ExportAttachment>, RepoError> {
        Ok(self
            .buyer_attachments_page(visitor_id, after, limit)
            .await?)
    }

    async fn tickets_page(
        &self,
        visitor_id: &str,
        after: &After,
        limit: i64,
    ) -> Result<Vec<Ticket>, RepoError> {
        Ok(self.buyer_tickets_page(visitor_id, after, limit).await?)
    }

    async fn visits_page(
        &self,
        visitor_id: &str,
        after: &After,
        limit: i64,
    ) -> Result<Vec<super::VisitRow>, RepoError> {
        Ok(self.buyer_visits_page(visitor_id, after, limit).await?)
    }

    async fn erase(
        &self,
        visitor_id: &str,
        bodies: &[ErasedBodies],
        new_token_hash: &[u8],
        now: i64,
    ) -> Result<Vec<String>, RepoError> {
        Ok(self
            .erase_visitor(visitor_id, bodies, new_token_hash, now)
            .await?)
    }
}

#[async_trait::async_trait]
impl DataProtection for Store {
    async fn policy(&self) -> Result<ProtectionRow, RepoError> {
        Ok(self.protection_settings().await?)
    }

    async fn put_policy(
        &self,
        policy: &ProtectionRow,
        by: &str,
        now: i64,
    ) -> Result<(), RepoError> {
        Ok(self.put_protection_settings(policy, by, now).await?)
    }

    async fn to_purge(&self, before: i64, limit: i64) -> Result<Vec<String>, RepoError> {
        Ok(self.conversations_to_purge(before, limit).await?)
    }

    async fn purge(&self, bodies: &[ErasedBodies], before: i64) -> Result<Vec<String>, RepoError> {
        Ok(self.purge_before(bodies, before).await?)
    }

    async fn forget_rate_state(&self, now: i64) -> Result<u64, RepoError> {
        Ok(self.purge_rate_state(now).await?)
    }
}
