//! The outbox: domain events written in the transaction of the change they
//! report, read back in position order by subscribers, each with a durable
//! cursor and (for cluster-wide ones) a lease so that one node at a time runs it.

use super::{Backend, Store, StoreError, on_pool};
use crate::domain::events::{DomainEvent, EventData, NewEvent};

/// Serialises outbox writers on PostgreSQL from the moment they draw a position
/// until they commit, so positions become visible in order (a reader that sees
/// position n has seen every smaller one). Taken last in a transaction, after
/// every row lock, so it cannot take part in a deadlock. SQLite has one writer.
pub(super) const PG_ORDER_LOCK: &str = "SELECT pg_advisory_xact_lock(7836100)";
pub(super) const WAKE_CHANNEL: &str = "xiaoer_outbox";
pub(super) const PG_WAKE: &str = "SELECT pg_notify('xiaoer_outbox', '')";
pub(super) const INSERT: &str = "INSERT INTO outbox \
    (event_id, kind, conversation_id, seq, payload, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
    ON CONFLICT (event_id) DO NOTHING";

/// Writes `events` in the open transaction `$tx` (inside an `on_pool!` body).
macro_rules! write_events {
    ($backend:expr, $tx:expr, $events:expr) => {{
        let events: &[$crate::domain::events::NewEvent] = $events;
        if !events.is_empty() {
            if matches!($backend, $crate::storage::Backend::Postgres) {
                sqlx::query($crate::storage::outbox::PG_ORDER_LOCK)
                    .execute(&mut *$tx)
                    .await?;
            }
            if matches!($backend, $crate::storage::Backend::Postgres) {
                // Other nodes' subscribers wake when (and only if) this commits.
                sqlx::query($crate::storage::outbox::PG_WAKE)
                    .execute(&mut *$tx)
                    .await?;
            }
            for e in events {
                sqlx::query($crate::storage::outbox::INSERT)
                    .bind(&e.id)
                    .bind(e.data.type_name())
                    .bind(&e.conversation_id)
                    .bind(e.seq)
                    .bind($crate::storage::outbox::payload(&e.data))
                    .bind(e.created_at)
                    .execute(&mut *$tx)
                    .await?;
            }
        }
    }};
}
pub(crate) use write_events;

pub(super) fn payload(data: &EventData) -> String {
    serde_json::to_string(data).expect("event data serialises")
}

/// The packet of a hand-off, when the bot wrote one before handing off: the
/// newest packet not already reported by an earlier hand-off event.
pub(super) const HANDOFF_PACKET: &str = "SELECT id FROM handoff_packets WHERE conversation_id = $1 \
    AND created_at >= COALESCE((SELECT MAX(created_at) FROM outbox \
        WHERE conversation_id = $1 AND kind = 'conversation.handed_off'), 0) \
    ORDER BY created_at DESC LIMIT 1";

type OutboxRow = (i64, String, Option<String>, Option<i64>, String, i64);

pub use crate::ports::repositories::LEASE_MS;

impl Store {
    /// Events after `position`, oldest first. A row whose payload this version
    /// cannot read is skipped with a warning rather than blocking every reader.
    pub async fn outbox_after(
        &self,
        position: i64,
        limit: i64,
    ) -> Result<Vec<DomainEvent>, StoreError> {
        let sql = "SELECT position, event_id, conversation_id, seq, payload, created_at FROM outbox \
                   WHERE position > $1 ORDER BY position LIMIT $2";
        let rows: Vec<OutboxRow> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(position).bind(limit).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .filter_map(
                |(position, id, conversation_id, seq, payload, created_at)| {
                    match serde_json::from_str(&payload) {
                        Ok(data) => Some(DomainEvent {
                            position,
                            id,
                            conversation_id,
                            seq,
                            created_at,
                            data,
                        }),
                        Err(error) => {
                            tracing::warn!(position, %error, "unreadable outbox event skipped");
                            None
                        }
                    }
                },
            )
            .collect())
    }

    /// The newest event's position (0 when there is none).
    pub async fn outbox_head(&self) -> Result<i64, StoreError> {
        let sql = "SELECT COALESCE(MAX(position), 0) FROM outbox";
        let (head,): (i64,) = on_pool!(self, pool => sqlx::query_as(sql).fetch_one(pool).await?);
        Ok(head)
    }

    /// Writes events that report no other change (in their own transaction).
    pub async fn append_events(&self, events: &[NewEvent]) -> Result<(), StoreError> {
        let backend = self.backend();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            write_events!(backend, tx, events);
            tx.commit().await?;
            self.events_committed();
        });
        Ok(())
    }

    /// Writes one event unless one with its id exists (another node's sweep
    /// wrote it first): false then.
    pub async fn append_event_once(&self, event: &NewEvent) -> Result<bool, StoreError> {
        match self.append_events(std::slice::from_ref(event)).await {
            Ok(()) => Ok(true),
            Err(StoreError::Database(sqlx::Error::Database(db))) if db.is_unique_violation() => {
                Ok(false)
            }
            Err(other) => Err(other),
        }
    }

    /// Wakes this process's subscribers: call after a commit that wrote events.
    pub(super) fn events_committed(&self) {
        self.outbox_wake.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Changes whenever new events may be readable.
    pub fn watch_events(&self) -> tokio::sync::watch::Receiver<u64> {
        self.outbox_wake.subscribe()
    }

    /// PostgreSQL: wakes this process's subscribers when another node commits
    /// events (a lost connection is re-made, with a wake in case any were
    /// missed). Nothing to do on SQLite.
    pub async fn listen_for_events(
        &self,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), StoreError> {
        let super::Pool::Postgres(pool) = &self.pool else {
            return Ok(());
        };
        let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
        listener.listen(WAKE_CHANNEL).await?;
        let store = self.clone();
        tokio::spawn(async move {
            loop {
                // Ends (and gives its connection back) when the server stops,
                // so closing the pool does not wait for it.
                let received = tokio::select! {
                    received = listener.try_recv() => received,
                    _ = stop.changed() => return,
                };
                if let Err(error) = received {
                    tracing::warn!(%error, "event notifications interrupted");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
                store.events_committed();
            }
        });
        Ok(())
    }

    pub(super) fn begin_write(&self) -> &'static str {
        match self.backend() {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        }
    }

    /// Takes (or renews) the lease on subscriber `name` for `node`, creating its
    /// cursor at `start` the first time. Returns the cursor when this node holds
    /// the lease, None when another node does.
    pub async fn take_subscriber_lease(
        &self,
        name: &str,
        node: &str,
        start: i64,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        let create = "INSERT INTO subscribers (name, position, lease_node, lease_until, updated_at) \
                      VALUES ($1, $2, NULL, 0, $3) ON CONFLICT (name) DO NOTHING";
        let take = "UPDATE subscribers SET lease_node = $2, lease_until = $3 \
                    WHERE name = $1 AND (lease_node = $2 OR lease_node IS NULL OR lease_until < $4) \
                    RETURNING position";
        on_pool!(self, pool => {
            sqlx::query(create).bind(name).bind(start).bind(now).execute(pool).await?;
            let held: Option<(i64,)> = sqlx::query_as(take)
                .bind(name).bind(node).bind(now + LEASE_MS).bind(now)
                .fetch_optional(pool).await?;
            Ok(held.map(|(p,)| p))
        })
    }

    /// Moves the cursor of a subscriber this node holds. False when the lease
    /// was lost meanwhile (another node took over): the caller stops.
    pub async fn advance_subscriber(
        &self,
        name: &str,
        node: &str,
        position: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE subscribers SET position = $3, lease_until = $4, updated_at = $5 \
                   WHERE name = $1 AND lease_node = $2 AND position <= $3";
        self.yield_to_commits().await;
        let done = on_pool!(self, pool => sqlx::query(sql)
            .bind(name).bind(node).bind(position).bind(now + LEASE_MS).bind(now)
            .execute(pool).await?.rows_affected());
        Ok(done == 1)
    }

    /// Lets another node take the subscriber at once (clean shutdown).
    pub async fn release_subscriber(&self, name: &str, node: &str) -> Result<(), StoreError> {
        let sql = "UPDATE subscribers SET lease_node = NULL, lease_until = 0 \
                   WHERE name = $1 AND lease_node = $2";
        on_pool!(self, pool => sqlx::query(sql).bind(name).bind(node).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Every subscriber's cursor, for the operations page and tests.
    pub async fn subscriber_positions(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let sql = "SELECT name, position FROM subscribers ORDER BY name";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?))
    }
}

#[async_trait::async_trait]
impl crate::ports::repositories::EventLog for Store {
    async fn append_once(
        &self,
        event: &NewEvent,
    ) -> Result<bool, crate::ports::repositories::RepoError> {
        Ok(self.append_event_once(event).await?)
    }
}

#[async_trait::async_trait]
impl crate::ports::repositories::EventStream for Store {
    async fn head(&self) -> Result<i64, crate::ports::repositories::RepoError> {
        Ok(self.outbox_head().await?)
    }

    async fn after(
        &self,
        position: i64,
        limit: i64,
    ) -> Result<Vec<DomainEvent>, crate::ports::repositories::RepoError> {
        Ok(self.outbox_after(position, limit).await?)
    }

    fn watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.watch_events()
    }

    async fn take_lease(
        &self,
        name: &str,
        node: &str,
        start: i64,
        now: i64,
    ) -> Result<Option<i64>, crate::ports::repositories::RepoError> {
        Ok(self.take_subscriber_lease(name, node, start, now).await?)
    }

    async fn advance(
        &self,
        name: &str,
        node: &str,
        position: i64,
        now: i64,
    ) -> Result<bool, crate::ports::repositories::RepoError> {
        Ok(self.advance_subscriber(name, node, position, now).await?)
    }

    async fn release(
        &self,
        name: &str,
        node: &str,
    ) -> Result<(), crate::ports::repositories::RepoError> {
        Ok(self.release_subscriber(name, node).await?)
    }
}
