//! Group commit: every event-producing write (messages and state changes) goes
//! through one queue per process. The writer takes whatever is waiting (up to a
//! batch), commits it in one transaction, then publishes and acknowledges in
//! order. One fsync serves the whole batch, and an acknowledgement always means
//! "durable".

use super::outbox::write_events;
use super::{Store, StoreError, on_pool};
use crate::domain::conversation::SpeakGuard;
use crate::domain::events::{AssignedBy, EventData, NewEvent};
use crate::ports::repositories::{CommitError, EventCommits};
use tokio::sync::{mpsc, oneshot};

pub use crate::domain::chat_log::{AppendOutcome, EventWrite, WriteKind};

struct Request<P> {
    write: EventWrite,
    payload: P,
    reply: oneshot::Sender<Result<AppendOutcome, StoreError>>,
}

/// How many chat writes wait in the group commit, so background writes (the
/// subscribers' folds, indexes, queues and cursors) can let them go first: on
/// SQLite a background transaction that starts while a chat commit waits puts
/// the buyer's acknowledgement behind it.
#[derive(Debug, Default)]
pub struct CommitLoad {
    pending: std::sync::atomic::AtomicUsize,
    idle: tokio::sync::Notify,
}

/// The longest a background write waits for the group commit to go idle: under
/// saturation it never does, and the background work must still move.
const YIELD_AT_MOST: std::time::Duration = std::time::Duration::from_millis(10);

impl CommitLoad {
    fn add(&self, n: usize) {
        self.pending
            .fetch_add(n, std::sync::atomic::Ordering::SeqCst);
    }

    fn done(&self, n: usize) {
        let before = self
            .pending
            .fetch_sub(n, std::sync::atomic::Ordering::SeqCst);
        if before == n {
            self.idle.notify_waiters();
        }
    }

    fn busy(&self) -> bool {
        self.pending.load(std::sync::atomic::Ordering::SeqCst) > 0
    }

    /// Waits until no chat write is queued, or `YIELD_AT_MOST`.
    async fn wait_idle(&self) {
        let deadline = tokio::time::Instant::now() + YIELD_AT_MOST;
        while self.busy() {
            let idle = self.idle.notified();
            if !self.busy() {
                return;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                return;
            }
        }
    }
}

impl Store {
    /// Called before a background write transaction: on SQLite, lets queued
    /// chat commits go first (for at most a few milliseconds). PostgreSQL
    /// writers do not queue behind each other.
    pub(crate) async fn yield_to_commits(&self) {
        if self.backend() == super::Backend::Sqlite {
            self.commits.wait_idle().await;
        }
    }
}

/// Handle to the writer task. `P` is what the caller wants published after commit.
pub struct CommitQueue<P> {
    tx: mpsc::Sender<Request<P>>,
    load: std::sync::Arc<CommitLoad>,
}

impl<P> Clone for CommitQueue<P> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            load: self.load.clone(),
        }
    }
}

impl<P: Send + 'static> CommitQueue<P> {
    /// Starts the writer. `on_commit` runs on the writer task, in commit order, for
    /// every new (non-duplicate) event, before its acknowledgement is sent. When
    /// `close` fires (or every handle is dropped) the writer refuses new writes,
    /// commits what is queued and ends.
    pub fn start(
        store: Store,
        max_batch: usize,
        close: oneshot::Receiver<()>,
        on_commit: impl Fn(P, &EventWrite, &AppendOutcome) + Send + 'static,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(max_batch * 8);
        let load = store.commits.clone();
        let task = tokio::spawn(run_writer(store, rx, max_batch, close, on_commit));
        (Self { tx, load }, task)
    }

    pub async fn submit(&self, write: EventWrite, payload: P) -> Result<AppendOutcome, StoreError> {
        let (reply, response) = oneshot::channel();
        self.load.add(1);
        let sent = self
            .tx
            .send(Request {
                write,
                payload,
                reply,
            })
            .await;
        if sent.is_err() {
            self.load.done(1);
            return Err(StoreError::QueueClosed);
        }
        response.await.map_err(|_| StoreError::QueueClosed)?
    }
}

async fn run_writer<P>(
    store: Store,
    mut rx: mpsc::Receiver<Request<P>>,
    max_batch: usize,
    mut close: oneshot::Receiver<()>,
    on_commit: impl Fn(P, &EventWrite, &AppendOutcome),
) {
    let mut batch: Vec<Request<P>> = Vec::with_capacity(max_batch);
    let mut closing = false;
    loop {
        let received = tokio::select! {
            biased;
            n = rx.recv_many(&mut batch, max_batch) => n,
            _ = &mut close, if !closing => {
                closing = true;
                rx.close(); // later submits fail with QueueClosed; queued ones still commit
                continue;
            }
        };
        if received == 0 {
            break;
        }
        // Lock conversation rows in one global order (PostgreSQL deadlock safety);
        // the sort is stable, so each conversation keeps its arrival order.
        batch.sort_by(|a, b| a.write.conversation_id.cmp(&b.write.conversation_id));
        let writes: Vec<&EventWrite> = batch.iter().map(|r| &r.write).collect();
        let results = match store.commit_batch(&writes).await {
            Ok(results) => results,
            Err(error) => {
                // One bad write must not sink its neighbours: retry them one by one.
                tracing::warn!(%error, size = writes.len(), "group commit failed; retrying singly");
                let mut singles = Vec::with_capacity(writes.len());
                for w in &writes {
                    singles.push(match store.commit_batch(&[w]).await {
                        Ok(mut r) => r.pop().expect("one result per write"),
                        Err(e) => Err(e),
                    });
                }
                singles
            }
        };
        metrics::histogram!("xiaoer_commit_batch_size").record(batch.len() as f64);
        store.commits.done(batch.len());
        for (request, result) in batch.drain(..).zip(results) {
            if let Ok(outcome) = &result
                && !outcome.duplicate
            {
                on_commit(request.payload, &request.write, outcome);
            }
            let _ = request.reply.send(result);
        }
    }
}

impl Store {
    fn begin_write_sql(&self) -> &'static str {
        match self.backend() {
            // Take the write lock up front: a deferred SQLite transaction that reads
            // first can fail to upgrade when another connection has written.
            super::Backend::Sqlite => "BEGIN IMMEDIATE",
            super::Backend::Postgres => "BEGIN",
        }
    }

    /// Applies the writes in one transaction. Rule refusals are per-write results;
    /// a database error fails (and rolls back) the whole batch.
    async fn commit_batch(
        &self,
        writes: &[&EventWrite],
    ) -> Result<Vec<Result<AppendOutcome, StoreError>>, StoreError> {
        const DEDUP: &str = "SELECT seq, created_at FROM events \
            WHERE conversation_id = $1 AND sender_id = $2 AND client_msg_id = $3";
        const APPEND_ANY: &str = "UPDATE conversations SET last_seq = last_seq + 1, updated_at = $2 \
            WHERE id = $1 RETURNING last_seq, state, agent_id";
        const APPEND_OPEN: &str = "UPDATE conversations SET last_seq = last_seq + 1, updated_at = $2 \
            WHERE id = $1 AND state <> 'closed' RETURNING last_seq, state, agent_id";
        const APPEND_BOT: &str = "UPDATE conversations SET last_seq = last_seq + 1, updated_at = $2 \
            WHERE id = $1 AND state = 'bot' RETURNING last_seq, state, agent_id";
        const APPEND_OWNER: &str = "UPDATE conversations SET last_seq = last_seq + 1, updated_at = $2 \
            WHERE id = $1 AND state = 'with_agent' AND agent_id = $3 RETURNING last_seq, state, agent_id";
        const TRANSITION: &str = "UPDATE conversations \
            SET last_seq = last_seq + 1, updated_at = $2, state = $3, agent_id = $4 \
            WHERE id = $1 AND state = $5 AND COALESCE(agent_id, '') = $6 RETURNING last_seq, state, agent_id";
        const CURRENT: &str = "SELECT state, agent_id FROM conversations WHERE id = $1";
        const INSERT: &str = "INSERT INTO events \
            (conversation_id, seq, kind, sender_kind, sender_id, client_msg_id, body, created_at) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

        let begin = self.begin_write_sql();
        let backend = self.backend();
        let (notify, node) = (self.notify_commits(), self.node());
        let results = on_pool!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            let mut results = Vec::with_capacity(writes.len());
            let mut outbox = Vec::with_capacity(writes.len());
            for w in writes {
                if let (Some(sender), Some(client_id)) = (&w.sender_id, &w.client_msg_id) {
                    let seen: Option<(i64, i64)> = sqlx::query_as(DEDUP)
                        .bind(&w.conversation_id).bind(sender).bind(client_id)
                        .fetch_optional(&mut *tx).await?;
                    if let Some((seq, created_at)) = seen {
                        let (state, agent_id): (String, Option<String>) =
                            sqlx::query_as(CURRENT).bind(&w.conversation_id).fetch_one(&mut *tx).await?;
                        results.push(Ok(AppendOutcome { seq, created_at, duplicate: true, state, agent_id }));
                        continue;
                    }
                }
                let updated: Option<(i64, String, Option<String>)> = match &w.write {
                    WriteKind::Append { guard: SpeakGuard::Any } => sqlx::query_as(APPEND_ANY)
                        .bind(&w.conversation_id).bind(w.created_at).fetch_optional(&mut *tx).await?,
                    WriteKind::Append { guard: SpeakGuard::NotClosed } => sqlx::query_as(APPEND_OPEN)
                        .bind(&w.conversation_id).bind(w.created_at).fetch_optional(&mut *tx).await?,
                    WriteKind::Append { guard: SpeakGuard::Bot } => sqlx::query_as(APPEND_BOT)
                        .bind(&w.conversation_id).bind(w.created_at).fetch_optional(&mut *tx).await?,
                    WriteKind::Append { guard: SpeakGuard::OwningAgent(agent) } => sqlx::query_as(APPEND_OWNER)
                        .bind(&w.conversation_id).bind(w.created_at).bind(agent)
                        .fetch_optional(&mut *tx).await?,
                    WriteKind::Transition { from, from_agent, to, to_agent } => sqlx::query_as(TRANSITION)
                        .bind(&w.conversation_id).bind(w.created_at).bind(to.as_str()).bind(to_agent)
                        .bind(from.as_str()).bind(from_agent.as_deref().unwrap_or(""))
                        .fetch_optional(&mut *tx).await?,
                };
                let Some((seq, state, agent_id)) = updated else {
                    let current: Option<(String, Option<String>)> =
                        sqlx::query_as(CURRENT).bind(&w.conversation_id).fetch_optional(&mut *tx).await?;
                    results.push(Err(match current {
                        Some((state, agent_id)) => StoreError::Refused { state, agent_id },
                        None => StoreError::NotFound,
                    }));
                    continue;
                };
                sqlx::query(INSERT)
                    .bind(&w.conversation_id).bind(seq).bind(w.kind).bind(w.sender_kind)
                    .bind(&w.sender_id).bind(&w.client_msg_id).bind(&w.sealed_body).bind(w.created_at)
                    .execute(&mut *tx).await?;
                let data = match &w.write {
                    WriteKind::Transition { from, from_agent, to, to_agent } => {
                        let data = EventData::for_transition(
                            *from, from_agent.as_deref(), *to, to_agent.as_deref(), AssignedBy::Claim,
                        );
                        match data {
                            EventData::HandedOff { .. } => {
                                let packet: Option<(String,)> = sqlx::query_as(super::outbox::HANDOFF_PACKET)
                                    .bind(&w.conversation_id).fetch_optional(&mut *tx).await?;
                                EventData::HandedOff { packet_id: packet.map(|(id,)| id) }
                            }
                            other => other,
                        }
                    }
                    WriteKind::Append { .. } => {
                        EventData::for_message(w.kind, w.sender_kind, w.sender_id.as_deref())
                    }
                };
                outbox.push(NewEvent::in_conversation(&w.conversation_id, seq, data, w.created_at));
                results.push(Ok(AppendOutcome { seq, created_at: w.created_at, duplicate: false, state, agent_id }));
            }
            // Last, after every row lock: the outbox's order lock (PostgreSQL).
            write_events!(backend, tx, &outbox);
            if notify {
                // Other nodes' sockets learn of these events when (and only if) they commit.
                let committed = writes.iter().zip(&results).filter_map(|(w, r)| match r {
                    Ok(o) if !o.duplicate => Some((w.conversation_id.as_str(), o.seq)),
                    _ => None,
                });
                for payload in super::fanout::payloads(node, committed) {
                    sqlx::query(super::fanout::NOTIFY_SQL)
                        .bind(super::fanout::CHANNEL).bind(payload)
                        .execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
            self.events_committed();
            results
        });
        Ok(results)
    }
}

#[async_trait::async_trait]
impl<P: Send + 'static> EventCommits<P> for CommitQueue<P> {
    async fn submit(&self, write: EventWrite, payload: P) -> Result<AppendOutcome, CommitError> {
        match CommitQueue::submit(self, write, payload).await {
            Ok(outcome) => Ok(outcome),
            Err(StoreError::Refused { state, .. }) => Err(CommitError::Refused { state }),
            Err(other) => Err(CommitError::Records(other.into())),
        }
    }
}
