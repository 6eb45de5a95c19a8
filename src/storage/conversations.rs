use super::outbox::write_events;
use super::{Store, StoreError, on_pool};
use crate::domain::events::{EventData, NewEvent};

pub use crate::domain::conversation::StoredEvent;

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

/// The columns of a [`StoredEvent`] in field order, as every SELECT of one names them.
pub(super) type EventColumns = (
    String,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Vec<u8>,
    i64,
);

pub(super) fn stored_event(
    (conversation_id, seq, kind, sender_kind, sender_id, client_msg_id, body, created_at): EventColumns,
) -> StoredEvent {
    StoredEvent {
        conversation_id,
        seq,
        kind,
        sender_kind,
        sender_id,
        client_msg_id,
        body,
        created_at,
    }
}

/// Which conversations a staff list shows.
#[derive(Debug, Clone)]
pub enum ConversationScope {
    /// In one state, oldest first (the waiting queue).
    State(String),
    /// Owned by one agent and still open.
    Agent(String),
    /// Everything not closed, most recently active first (supervision).
    Open,
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
        let rows = on_pool!(self, pool => sqlx::query_as::<_, EventColumns>(sql)
            .bind(conversation_id).bind(after).bind(limit).fetch_all(pool).await?);
        Ok(rows.into_iter().map(stored_event).collect())
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
