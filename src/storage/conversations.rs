use super::outbox::write_events;
use super::{Store, StoreError, on_pool};
use crate::domain::chat_log::{ChatGlance, ClaimOutcome, ConversationView, Handover, ReplySlot};
use crate::domain::conversation::ConversationState;
use crate::domain::events::{EventData, NewEvent};
use crate::ports::repositories::{ConversationRecords, FoundConversation, RepoError};
use async_trait::async_trait;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConversationRow {
    pub id: String,
    pub visitor_id: String,
    pub channel: String,
    pub state: String,
    pub agent_id: Option<String>,
    pub last_seq: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

pub use crate::domain::chat_log::{ConversationScope, StoredEvent};

/// Events read straight into the domain type, on either backend.
impl<'r, R: sqlx::Row> sqlx::FromRow<'r, R> for StoredEvent
where
    &'r str: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(StoredEvent {
            conversation_id: row.try_get("conversation_id")?,
            seq: row.try_get("seq")?,
            kind: row.try_get("kind")?,
            sender_kind: row.try_get("sender_kind")?,
            sender_id: row.try_get("sender_id")?,
            client_msg_id: row.try_get("client_msg_id")?,
            body: row.try_get("body")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

impl Store {
    pub async fn insert_conversation(
        &self,
        id: &str,
        visitor_id: &str,
        channel: &str,
        state: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO conversations (id, visitor_id, channel, state, last_seq, created_at, updated_at) \
                   VALUES ($1, $2, $3, $4, 0, $5, $5)";
        let started = NewEvent::in_conversation(
            id,
            0,
            EventData::ConversationStarted {
                visitor_id: visitor_id.to_owned(),
                channel: channel.to_owned(),
            },
            now,
        );
        let backend = self.backend();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            sqlx::query(sql)
                .bind(id).bind(visitor_id).bind(channel).bind(state).bind(now)
                .execute(&mut *tx).await.map_err(StoreError::from_insert)?;
            write_events!(backend, tx, std::slice::from_ref(&started));
            tx.commit().await?;
            self.events_committed();
        });
        Ok(())
    }

    pub async fn conversation(&self, id: &str) -> Result<ConversationRow, StoreError> {
        let sql = "SELECT id, visitor_id, channel, state, agent_id, last_seq, created_at, updated_at \
                   FROM conversations WHERE id = $1";
        let row = on_pool!(self, pool => sqlx::query_as::<_, ConversationRow>(sql)
            .bind(id).fetch_optional(pool).await?);
        row.ok_or(StoreError::NotFound)
    }

    pub async fn conversations(
        &self,
        scope: &ConversationScope,
        limit: i64,
    ) -> Result<Vec<ConversationRow>, StoreError> {
        let (sql, key) = match scope {
            ConversationScope::State(state) => (
                "SELECT id, visitor_id, channel, state, agent_id, last_seq, created_at, updated_at \
                 FROM conversations WHERE state = $1 ORDER BY updated_at ASC, id ASC LIMIT $2",
                Some(state.as_str()),
            ),
            ConversationScope::Agent(agent) => (
                "SELECT id, visitor_id, channel, state, agent_id, last_seq, created_at, updated_at \
                 FROM conversations WHERE agent_id = $1 AND state = 'with_agent' \
                 ORDER BY updated_at DESC, id ASC LIMIT $2",
                Some(agent.as_str()),
            ),
            ConversationScope::Open => (
                "SELECT id, visitor_id, channel, state, agent_id, last_seq, created_at, updated_at \
                 FROM conversations WHERE state <> 'closed' ORDER BY updated_at DESC, id ASC LIMIT $1",
                None,
            ),
        };
        let rows = on_pool!(self, pool => {
            let query = sqlx::query_as::<_, ConversationRow>(sql);
            let query = match key { Some(k) => query.bind(k), None => query };
            query.bind(limit).fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// Events with `seq > after`, in order. The reconnect path: a client says what it
    /// saw last and gets exactly the gap.
    pub async fn events_after(
        &self,
        conversation_id: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let sql = "SELECT conversation_id, seq, kind, sender_kind, sender_id, client_msg_id, body, created_at \
                   FROM events WHERE conversation_id = $1 AND seq > $2 ORDER BY seq ASC LIMIT $3";
        let rows = on_pool!(self, pool => sqlx::query_as::<_, StoredEvent>(sql)
            .bind(conversation_id).bind(after).bind(limit).fetch_all(pool).await?);
        Ok(rows)
    }

    /// Read receipts only move forward.
    pub async fn mark_read(
        &self,
        conversation_id: &str,
        reader: &str,
        seq: i64,
        now: i64,
    ) -> Result<i64, StoreError> {
        let sql = "INSERT INTO read_markers (conversation_id, reader, seq, updated_at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (conversation_id, reader) DO UPDATE \
                   SET seq = CASE WHEN excluded.seq > read_markers.seq THEN excluded.seq ELSE read_markers.seq END, \
                       updated_at = excluded.updated_at \
                   RETURNING seq";
        let seq: (i64,) = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(conversation_id).bind(reader).bind(seq).bind(now).fetch_one(pool).await)
        .map_err(StoreError::from_insert)?;
        Ok(seq.0)
    }
}

impl From<ConversationRow> for FoundConversation {
    fn from(row: ConversationRow) -> Self {
        FoundConversation {
            id: row.id,
            visitor_id: row.visitor_id,
            channel: row.channel,
            state: row.state,
            agent_id: row.agent_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

impl ConversationRow {
    fn view(self) -> Result<ConversationView, RepoError> {
        let state = self
            .state
            .parse()
            .map_err(|_| RepoError::Corrupt(format!("conversation state {:?}", self.state)))?;
        Ok(ConversationView {
            id: self.id,
            visitor_id: self.visitor_id,
            channel: self.channel,
            state,
            agent_id: self.agent_id,
            last_seq: self.last_seq,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[async_trait]
impl ConversationRecords for Store {
    async fn insert_conversation(
        &self,
        id: &str,
        visitor_id: &str,
        channel: &str,
        state: ConversationState,
        now: i64,
    ) -> Result<(), RepoError> {
        Ok(Store::insert_conversation(self, id, visitor_id, channel, state.as_str(), now).await?)
    }

    async fn conversation(&self, id: &str) -> Result<ConversationView, RepoError> {
        Store::conversation(self, id).await?.view()
    }

    async fn conversations(
        &self,
        scope: &ConversationScope,
        limit: i64,
    ) -> Result<Vec<ConversationView>, RepoError> {
        let rows = Store::conversations(self, scope, limit).await?;
        rows.into_iter().map(ConversationRow::view).collect()
    }

    async fn events_after(
        &self,
        conversation_id: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, RepoError> {
        Ok(Store::events_after(self, conversation_id, after, limit).await?)
    }

    async fn event_at(&self, conversation_id: &str, seq: i64) -> Result<StoredEvent, RepoError> {
        Ok(Store::event_at(self, conversation_id, seq).await?)
    }

    async fn events_at(&self, keys: &[(&str, i64)]) -> Result<Vec<StoredEvent>, RepoError> {
        Ok(Store::events_at(self, keys).await?)
    }

    async fn mark_read(
        &self,
        conversation_id: &str,
        reader: &str,
        seq: i64,
        now: i64,
    ) -> Result<i64, RepoError> {
        Ok(Store::mark_read(self, conversation_id, reader, seq, now).await?)
    }

    async fn chat_glance(
        &self,
        conversation_id: &str,
        visitor_id: &str,
        reader: &str,
    ) -> Result<ChatGlance, RepoError> {
        Ok(Store::chat_glance(self, conversation_id, visitor_id, reader).await?)
    }

    async fn channel_name_of(&self, conversation_id: &str) -> Result<Option<String>, RepoError> {
        Ok(Store::channel_name_of(self, conversation_id).await?)
    }

    async fn take_reply_slot(
        &self,
        conversation_id: &str,
        now: i64,
    ) -> Result<ReplySlot, RepoError> {
        Ok(Store::take_reply_slot(self, conversation_id, now).await?)
    }

    async fn claim_within_capacity(
        &self,
        handover: &Handover<'_>,
    ) -> Result<ClaimOutcome, RepoError> {
        Ok(Store::claim_within_capacity(self, handover).await?)
    }
}
