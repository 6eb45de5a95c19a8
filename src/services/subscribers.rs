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
use crate::ports::repositories::{EventStream, LEASE_MS, RepoError};
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

    /// How long after a wake-up it lets events gather before it reads, so
    /// that under load one read serves many events. The live staff feed,
    /// which people watch, reads at once.
    fn gather(&self) -> Duration {
        GATHER
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
/// reads, so that under load one read serves many events instead of one each.
const GATHER: Duration = Duration::from_millis(20);
/// A durable cursor that moved is saved at most this often: on SQLite every
/// save shares the single writer with the chat itself, and after a crash the
/// events since the last save are only handled again.
const SAVE_EVERY: Duration = Duration::from_millis(250);
/// An idle subscriber renews its lease this often (a third of the lease, so a
/// slow save or two does not lose it).
const RENEW_EVERY: Duration = Duration::from_millis(LEASE_MS as u64 / 3);

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

/// What one read of the stream came to.
struct Step {
    /// After the last event handled.
    position: i64,
    /// Stopped on a failure (retry after a pause).
    failed: bool,
    /// A full read: more events may be waiting.
    more: bool,
}

/// Reads and handles one batch of the events after `position`.
async fn step(stream: &dyn EventStream, subscriber: &dyn Subscriber, position: i64) -> Step {
    let batch = match stream.after(position, BATCH).await {
        Ok(batch) => batch,
        Err(error) => {
            tracing::warn!(subscriber = subscriber.name(), %error, "cannot read events");
            return Step {
                position,
                failed: true,
                more: false,
            };
        }
    };
    let Some(last) = batch.last().map(|e| e.position) else {
        return Step {
            position,
            failed: false,
            more: false,
        };
    };
    if let Err((done, error)) = subscriber.handle_batch(&batch).await {
        let position = match done.checked_sub(1).and_then(|i| batch.get(i)) {
            Some(before) => before.position,
            None => position,
        };
        tracing::warn!(
            subscriber = subscriber.name(),
            event = %batch.get(done).map_or("?", |e| e.id.as_str()),
            %error,
            "event not handled; will retry"
        );
        metrics::counter!("xiaoer_subscriber_failures_total", "subscriber" => subscriber.name())
            .increment(1);
        return Step {
            position,
            failed: true,
            more: false,
        };
    }
    metrics::gauge!("xiaoer_subscriber_position", "subscriber" => subscriber.name())
        .set(last as f64);
    Step {
        position: last,
        failed: false,
        more: batch.len() as i64 >= BATCH,
    }
}

/// Handles the events after `position` until none is left or one fails.
/// Returns the new position and whether it stopped on a failure.
async fn drain(
    stream: &dyn EventStream,
    subscriber: &dyn Subscriber,
    mut position: i64,
) -> (i64, bool) {
    loop {
        let Step {
            position: next,
            failed,
            more,
        } = step(stream, subscriber, position).await;
        position = next;
        if failed || !more {
            return (position, failed);
        }
    }
}

/// The pause after a drain: backing off after failures, else the idle look.
fn pause_after(failed: bool, retry: &mut Duration) -> Duration {
    if failed {
        *retry = (*retry * 2).min(RETRY_MAX);
        *retry
    } else {
        *retry = RETRY_FIRST;
        IDLE_LOOK
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
        let (next, failed) = drain(stream.as_ref(), subscriber.as_ref(), position).await;
        position = next;
        if wait(&mut wake, &mut stop, pause_after(failed, &mut retry)).await {
            return;
        }
        let gather = subscriber.gather();
        if !gather.is_zero() {
            tokio::time::sleep(gather).await;
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
    loop {
        match stream.take_lease(name, &node, start, clock.now_ms()).await {
            Ok(Some(position)) => {
                let lease = Lease {
                    stream: stream.as_ref(),
                    clock: clock.as_ref(),
                    name,
                    node: &node,
                };
                if lease
                    .hold(subscriber.as_ref(), position, &mut wake, &mut stop)
                    .await
                {
                    return;
                }
                // Lost (another node took over, or the cursor was moved by a
                // rebuild): take it again, from the stored cursor.
            }
            Ok(None) => {} // another node runs it
            Err(error) => tracing::warn!(subscriber = name, %error, "cannot take the lease"),
        }
        if wait(&mut wake, &mut stop, IDLE_LOOK).await {
            return;
        }
    }
}

/// A cluster subscriber's lease, held by this node.
struct Lease<'a> {
    stream: &'a dyn EventStream,
    clock: &'a dyn Clock,
    name: &'static str,
    node: &'a str,
}

/// Why a held lease's loop looks at the clock.
enum Save {
    /// Nothing to save before the lease needs renewing.
    NotDue(Duration),
    Now,
}

impl Lease<'_> {
    /// Runs the subscriber while this node holds the lease. The position lives
    /// in memory; the cursor is saved (renewing the lease) at most every
    /// `SAVE_EVERY` while it moves, every `RENEW_EVERY` while idle, and when
    /// stopping. After a crash the events since the last save are handled
    /// again, which handlers allow (idempotent by event id). Returns true when
    /// stopping, false when the lease is lost.
    async fn hold(
        &self,
        subscriber: &dyn Subscriber,
        mut position: i64,
        wake: &mut tokio::sync::watch::Receiver<u64>,
        stop: &mut tokio::sync::watch::Receiver<bool>,
    ) -> bool {
        let mut saved = (position, tokio::time::Instant::now());
        let mut retry = RETRY_FIRST;
        loop {
            // One read at a time, so a subscriber that never catches up
            // still saves its cursor and keeps its lease.
            let Step {
                position: next,
                failed,
                more,
            } = step(self.stream, subscriber, position).await;
            position = next;
            let pause = if more && !failed {
                Duration::ZERO
            } else {
                pause_after(failed, &mut retry)
            };
            let pause = match due(saved, position) {
                Save::Now => {
                    match self.save(position).await {
                        Some(true) => saved = (position, tokio::time::Instant::now()),
                        Some(false) => return false,
                        None => {} // tried again at the next turn
                    }
                    pause.min(RENEW_EVERY)
                }
                Save::NotDue(left) => pause.min(left),
            };
            if pause.is_zero() {
                if *stop.borrow() {
                    return self.stop(position, saved.0).await;
                }
                continue;
            }
            if wait(wake, stop, pause).await {
                return self.stop(position, saved.0).await;
            }
            let gather = subscriber.gather();
            if !gather.is_zero() {
                tokio::time::sleep(gather).await;
            }
        }
    }

    /// Saves the last position and lets the lease go (the server stops).
    async fn stop(&self, position: i64, saved: i64) -> bool {
        if position != saved {
            self.save(position).await;
        }
        let _ = self.stream.release(self.name, self.node).await;
        true
    }

    /// Saves the position and renews the lease: Some(false) when the lease
    /// was lost, None when the database did not answer.
    async fn save(&self, position: i64) -> Option<bool> {
        let now = self.clock.now_ms();
        match self
            .stream
            .advance(self.name, self.node, position, now)
            .await
        {
            Ok(held) => Some(held),
            Err(error) => {
                tracing::warn!(subscriber = self.name, %error, "cannot save the cursor");
                None
            }
        }
    }
}

/// Whether the cursor saved at `saved` must be saved now that the subscriber
/// is at `position`, or how long until it must.
fn due(saved: (i64, tokio::time::Instant), position: i64) -> Save {
    let since = saved.1.elapsed();
    let every = if position == saved.0 {
        RENEW_EVERY
    } else {
        SAVE_EVERY
    };
    match every.checked_sub(since) {
        Some(left) if !left.is_zero() => Save::NotDue(left),
        _ => Save::Now,
    }
}
