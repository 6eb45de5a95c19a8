//! Subscribers of the committed-event stream (the outbox). Each reads events in
//! position order and handles each at least once: a failed event is retried
//! (after a pause) before any later one, and a subscriber that handled an event
//! but died before saving its cursor sees it again, so handlers are idempotent
//! by event id.
//!
//! Two reaches: a cluster subscriber (webhooks, later tickets, analytics, audit)
//! keeps a durable cursor in the database and runs on one node at a time under a
//! lease; a node subscriber (live feeds for this node's sockets) starts at the
//! newest event when the node starts and keeps its cursor in memory.

use crate::domain::events::DomainEvent;
use crate::ports::Clock;
use crate::ports::repositories::{EventStream, RepoError};
use std::sync::Arc;
use std::time::Duration;

#[async_trait::async_trait]
pub trait Subscriber: Send + Sync + 'static {
    /// Names the cursor; never change it once deployed.
    fn name(&self) -> &'static str;
    /// Handles one event. An error is retried later, before any later event.
    async fn handle(&self, event: &DomainEvent) -> Result<(), String>;

    /// Handles a run of events in order (one read's worth). A subscriber that
    /// can do the work of many events in one write overrides this. On failure
    /// it says how many events before the failing one are done.
    async fn handle_batch(&self, events: &[DomainEvent]) -> Result<(), (usize, String)> {
        for (done, event) in events.iter().enumerate() {
            self.handle(event).await.map_err(|e| (done, e))?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// One node at a time, durable cursor, from the first event.
    Cluster,
    /// One node at a time, durable cursor, from the newest event when the
    /// cursor is first made (work that is no use for what happened before,
    /// like the bot's answers).
    ClusterFromNow,
    /// Every node, in-memory cursor, from the newest event at start.
    EachNode,
}

/// How many events one read takes.
const BATCH: i64 = 256;
/// When nothing wakes a subscriber it still looks this often (a lost wake-up
/// costs at most this), and a cluster subscriber renews its lease.
const IDLE_LOOK: Duration = Duration::from_secs(2);
const RETRY_FIRST: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(30);
/// After a wake-up a durable subscriber lets events gather this long before it
/// reads, so that under load one read and one cursor save serve many events
/// instead of one each (on SQLite those writes share the single writer with
/// the chat itself).
const GATHER: Duration = Duration::from_millis(20);

pub struct Runner {
    stream: Arc<dyn EventStream>,
    clock: Arc<dyn Clock>,
    node: String,
}

impl Runner {
    pub fn new(stream: Arc<dyn EventStream>, clock: Arc<dyn Clock>) -> Runner {
        Runner {
            stream,
            clock,
            node: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// Runs `subscriber` until `stop` turns true. A node subscriber starts
    /// after the newest event committed before this call.
    pub async fn spawn(
        &self,
        subscriber: Arc<dyn Subscriber>,
        reach: Reach,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> Result<tokio::task::JoinHandle<()>, RepoError> {
        let (stream, clock, node) = (self.stream.clone(), self.clock.clone(), self.node.clone());
        Ok(match reach {
            Reach::Cluster => tokio::spawn(run_cluster(stream, clock, node, subscriber, 0, stop)),
            Reach::ClusterFromNow => {
                let head = stream.head().await?;
                tokio::spawn(run_cluster(stream, clock, node, subscriber, head, stop))
            }
            Reach::EachNode => {
                let head = stream.head().await?;
                tokio::spawn(run_node(stream, subscriber, head, stop))
            }
        })
    }
}

/// Waits for a wake-up, the idle timeout or the stop signal; true when stopping.
async fn wait(
    wake: &mut tokio::sync::watch::Receiver<u64>,
    stop: &mut tokio::sync::watch::Receiver<bool>,
    at_most: Duration,
) -> bool {
    tokio::select! {
        _ = wake.changed() => false,
        _ = tokio::time::sleep(at_most) => false,
        _ = stop.changed() => true,
    }
}

/// Handles the events after `position` until none is left or one fails.
/// Returns the new position and whether it stopped on a failure.
/// Where a subscriber's cursor lives.
enum Cursor<'a> {
    Memory,
    /// In the database, under a lease this node must still hold.
    Durable {
        name: &'static str,
        node: &'a str,
        clock: &'a dyn Clock,
    },
}

impl Cursor<'_> {
    /// Saves the position; false when the lease was lost (stop and re-take it).
    async fn save(&self, stream: &dyn EventStream, position: i64) -> bool {
        let Cursor::Durable { name, node, clock } = self else {
            return true;
        };
        match stream.advance(name, node, position, clock.now_ms()).await {
            Ok(held) => held,
            Err(error) => {
                tracing::warn!(subscriber = name, %error, "cannot save the cursor");
                false
            }
        }
    }
}

async fn drain(
    stream: &dyn EventStream,
    subscriber: &dyn Subscriber,
    mut position: i64,
    cursor: &Cursor<'_>,
) -> (i64, bool) {
    loop {
        let batch = match stream.after(position, BATCH).await {
            Ok(batch) => batch,
            Err(error) => {
                tracing::warn!(subscriber = subscriber.name(), %error, "cannot read events");
                return (position, true);
            }
        };
        let Some(last) = batch.last().map(|e| e.position) else {
            return (position, false);
        };
        if let Err((done, error)) = subscriber.handle_batch(&batch).await {
            if let Some(before) = done.checked_sub(1).and_then(|i| batch.get(i)) {
                position = before.position;
            }
            tracing::warn!(
                subscriber = subscriber.name(),
                event = %batch.get(done).map_or("?", |e| e.id.as_str()),
                %error,
                "event not handled; will retry"
            );
            metrics::counter!("xiaoer_subscriber_failures_total", "subscriber" => subscriber.name())
                .increment(1);
            cursor.save(stream, position).await;
            return (position, true);
        }
        position = last;
        metrics::gauge!("xiaoer_subscriber_position", "subscriber" => subscriber.name())
            .set(position as f64);
        if !cursor.save(stream, position).await {
            return (position, true);
        }
    }
}

async fn run_node(
    stream: Arc<dyn EventStream>,
    subscriber: Arc<dyn Subscriber>,
    mut position: i64,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut wake = stream.watch();
    let mut retry = RETRY_FIRST;
    loop {
        let (next, failed) = drain(
            stream.as_ref(),
            subscriber.as_ref(),
            position,
            &Cursor::Memory,
        )
        .await;
        position = next;
        let pause = if failed {
            retry = (retry * 2).min(RETRY_MAX);
            retry
        } else {
            retry = RETRY_FIRST;
            IDLE_LOOK
        };
        if wait(&mut wake, &mut stop, pause).await {
            return;
        }
    }
}

async fn run_cluster(
    stream: Arc<dyn EventStream>,
    clock: Arc<dyn Clock>,
    node: String,
    subscriber: Arc<dyn Subscriber>,
    start: i64,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let name = subscriber.name();
    let mut wake = stream.watch();
    let mut retry = RETRY_FIRST;
    loop {
        let held = stream.take_lease(name, &node, start, clock.now_ms()).await;
        let pause = match held {
            Ok(Some(position)) => {
                let cursor = Cursor::Durable {
                    name,
                    node: &node,
                    clock: clock.as_ref(),
                };
                let (_, failed) =
                    drain(stream.as_ref(), subscriber.as_ref(), position, &cursor).await;
                if failed {
                    retry = (retry * 2).min(RETRY_MAX);
                    retry
                } else {
                    retry = RETRY_FIRST;
                    IDLE_LOOK
                }
            }
            Ok(None) => IDLE_LOOK, // another node runs it
            Err(error) => {
                tracing::warn!(subscriber = name, %error, "cannot take the lease");
                IDLE_LOOK
            }
        };
        if wait(&mut wake, &mut stop, pause).await {
            let _ = stream.release(name, &node).await;
            return;
        }
        tokio::time::sleep(GATHER).await;
    }
}
