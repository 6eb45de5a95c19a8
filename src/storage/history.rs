//! The history search's blind index: term hashes per conversation, and the
//! search that intersects them with the conversation's own columns.

use super::{ConversationRow, Store, StoreError, on_pool};
pub use crate::domain::history::{HistoryFilter, TermHash};
use crate::ports::repositories::{FoundConversation, HistoryIndex, RepoError};

impl Store {
    /// Adds terms to conversations' index entries in one transaction; terms
    /// already there are kept. Rows go in chunks that stay under the bind-parameter limits.
    pub async fn add_history_terms_bulk(
        &self,
        entries: &[(&str, &[TermHash])],
    ) -> Result<(), StoreError> {
        const ROWS_PER_STATEMENT: usize = 500;
        let rows: Vec<(&[u8], &str)> = entries
            .iter()
            .flat_map(|(id, terms)| terms.iter().map(move |t| (t.as_slice(), *id)))
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        // One short transaction per statement, not one for everything: on
        // SQLite a long write would hold the chat's commits behind it, and
        // the inserts are idempotent, so a crash between two only leaves
        // terms the retry adds again.
        on_pool!(self, pool => {
            for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                self.yield_to_commits().await;
                let mut tx = pool.begin_with(self.begin_write()).await?;
                let mut sql = sqlx::QueryBuilder::new("INSERT INTO history_terms (term, conversation_id) ");
                sql.push_values(chunk, |mut b, (term, id)| {
                    b.push_bind(*term).push_bind(*id);
                });
                sql.push(" ON CONFLICT (term, conversation_id) DO NOTHING");
                sql.build().execute(&mut *tx).await?;
                tx.commit().await?;
            }
        });
        Ok(())
    }

    /// Conversations matching every term and filter, newest first.
    pub async fn search_history(
        &self,
        filter: &HistoryFilter,
    ) -> Result<Vec<ConversationRow>, StoreError> {
        on_pool!(self, pool => {
            let mut sql = sqlx::QueryBuilder::new(
                "SELECT c.id, c.visitor_id, c.channel, c.state, c.agent_id, c.last_seq, c.created_at, c.updated_at ",
            );
            let mut rest = filter.terms.as_slice();
            match rest.split_first() {
                Some((first, others)) if filter.drive_by_first_term => {
                    sql.push("FROM history_terms d JOIN conversations c ON c.id = d.conversation_id WHERE d.term = ")
                        .push_bind(first.as_slice());
                    rest = others;
                }
                _ => {
                    sql.push("FROM conversations c WHERE 1 = 1");
                }
            }
            for term in rest {
                sql.push(" AND EXISTS (SELECT 1 FROM history_terms h WHERE h.term = ")
                    .push_bind(term.as_slice())
                    .push(" AND h.conversation_id = c.id)");
            }
            if let Some(agent) = &filter.agent_id {
                sql.push(" AND c.agent_id = ").push_bind(agent.clone());
            }
            if let Some(visitor) = &filter.visitor_id {
                sql.push(" AND c.visitor_id = ").push_bind(visitor.clone());
            }
            if let Some(from) = filter.from {
                sql.push(" AND c.created_at >= ").push_bind(from);
            }
            if let Some(until) = filter.until {
                sql.push(" AND c.created_at < ").push_bind(until);
            }
            if let Some(before) = filter.before {
                sql.push(" AND c.created_at < ").push_bind(before);
            }
            sql.push(" ORDER BY c.created_at DESC, c.id DESC LIMIT ").push_bind(filter.limit);
            Ok(sql.build_query_as::<ConversationRow>().fetch_all(pool).await?)
        })
    }

    /// A visitor's conversations, newest first (their buyer terms follow a
    /// profile change).
    pub async fn visitor_conversation_ids(
        &self,
        visitor_id: &str,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let sql =
            "SELECT id FROM conversations WHERE visitor_id = $1 ORDER BY created_at DESC LIMIT $2";
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, String>(sql)
            .bind(visitor_id).bind(limit).fetch_all(pool).await?))
    }

    /// How many conversations hold `term`, counted up to `cap` (the search
    /// starts from the rarest term).
    pub async fn history_postings(&self, term: &TermHash, cap: i64) -> Result<i64, StoreError> {
        let sql = "SELECT COUNT(*) FROM (SELECT 1 FROM history_terms WHERE term = $1 LIMIT $2) t";
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, i64>(sql)
            .bind(term.as_slice()).bind(cap).fetch_one(pool).await?))
    }

    /// All index rows (the benchmark's size report).
    pub async fn history_term_count(&self) -> Result<i64, StoreError> {
        Ok(
            on_pool!(self, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM history_terms")
            .fetch_one(pool).await?),
        )
    }

    /// One stored event of a conversation.
    pub async fn event_at(
        &self,
        conversation_id: &str,
        seq: i64,
    ) -> Result<super::StoredEvent, StoreError> {
        let sql = "SELECT conversation_id, seq, kind, sender_kind, sender_id, client_msg_id, body, created_at \
                   FROM events WHERE conversation_id = $1 AND seq = $2";
        let row = on_pool!(self, pool => sqlx::query_as::<_, super::StoredEvent>(sql)
            .bind(conversation_id).bind(seq).fetch_optional(pool).await?);
        row.ok_or(StoreError::NotFound)
    }

    /// The stored events at these (conversation, seq) keys, in one read per
    /// 200 keys.
    pub async fn events_at(
        &self,
        keys: &[(&str, i64)],
    ) -> Result<Vec<super::StoredEvent>, StoreError> {
        let mut rows = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(200) {
            on_pool!(self, pool => {
                let mut sql = sqlx::QueryBuilder::new(
                    "SELECT conversation_id, seq, kind, sender_kind, sender_id, client_msg_id, body, created_at \
                     FROM events WHERE ",
                );
                for (i, (conversation_id, seq)) in chunk.iter().enumerate() {
                    if i > 0 {
                        sql.push(" OR ");
                    }
                    sql.push("(conversation_id = ").push_bind(*conversation_id)
                        .push(" AND seq = ").push_bind(*seq).push(")");
                }
                rows.extend(sql.build_query_as::<super::StoredEvent>().fetch_all(pool).await?);
            });
        }
        Ok(rows)
    }
}

#[async_trait::async_trait]
impl HistoryIndex for Store {
    async fn add_terms(&self, entries: &[(&str, &[TermHash])]) -> Result<(), RepoError> {
        Ok(self.add_history_terms_bulk(entries).await?)
    }

    async fn search(&self, filter: &HistoryFilter) -> Result<Vec<FoundConversation>, RepoError> {
        Ok(self
            .search_history(filter)
            .await?
            .into_iter()
            .map(FoundConversation::from)
            .collect())
    }

    async fn conversations_of_visitor(
        &self,
        visitor_id: &str,
        limit: i64,
    ) -> Result<Vec<String>, RepoError> {
        Ok(self.visitor_conversation_ids(visitor_id, limit).await?)
    }

    async fn postings(&self, term: &TermHash, cap: i64) -> Result<i64, RepoError> {
        Ok(self.history_postings(term, cap).await?)
    }
}

/// One message of a seeded conversation: sender kind, sender id, sealed body, created at.
pub type SeedEvent = (String, Option<String>, Vec<u8>, i64);

/// A finished conversation written straight into the tables (the history
/// benchmark's data set; the server's own writes go through the commit queue).
#[derive(Debug, Clone)]
pub struct SeedConversation {
    pub id: String,
    pub visitor_id: String,
    pub agent_id: Option<String>,
    pub state: String,
    pub created_at: i64,
    /// Numbered from 1.
    pub events: Vec<SeedEvent>,
}

impl Store {
    /// Writes visitors, conversations and their events in one transaction.
    pub async fn seed_conversations(&self, batch: &[SeedConversation]) -> Result<(), StoreError> {
        const ROWS: usize = 400;
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            for chunk in batch.chunks(ROWS) {
                let mut sql = sqlx::QueryBuilder::new("INSERT INTO visitors (id, token_hash, created_at, updated_at) ");
                sql.push_values(chunk, |mut b, c| {
                    b.push_bind(&c.visitor_id)
                        .push_bind(crate::crypto::hash_token(&c.visitor_id))
                        .push_bind(c.created_at)
                        .push_bind(c.created_at);
                });
                sql.build().execute(&mut *tx).await?;
                let mut sql = sqlx::QueryBuilder::new(
                    "INSERT INTO conversations (id, visitor_id, channel, state, agent_id, last_seq, created_at, updated_at) ",
                );
                sql.push_values(chunk, |mut b, c| {
                    let last = c.events.last().map_or(c.created_at, |e| e.3);
                    b.push_bind(&c.id)
                        .push_bind(&c.visitor_id)
                        .push_bind("web")
                        .push_bind(&c.state)
                        .push_bind(&c.agent_id)
                        .push_bind(c.events.len() as i64)
                        .push_bind(c.created_at)
                        .push_bind(last);
                });
                sql.build().execute(&mut *tx).await?;
                let events: Vec<(&str, i64, &SeedEvent)> = chunk
                    .iter()
                    .flat_map(|c| c.events.iter().enumerate().map(move |(i, e)| (c.id.as_str(), i as i64 + 1, e)))
                    .collect();
                for rows in events.chunks(ROWS) {
                    let mut sql = sqlx::QueryBuilder::new(
                        "INSERT INTO events (conversation_id, seq, kind, sender_kind, sender_id, body, created_at) ",
                    );
                    sql.push_values(rows, |mut b, (id, seq, (kind, sender, body, at))| {
                        b.push_bind(*id)
                            .push_bind(*seq)
                            .push_bind("message")
                            .push_bind(kind)
                            .push_bind(sender)
                            .push_bind(body)
                            .push_bind(*at);
                    });
                    sql.build().execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
        });
        Ok(())
    }
}
