//! Cross-node live fan-out on PostgreSQL. Each group commit also sends
//! `NOTIFY xiaoer_commits` in its transaction (delivered only if it commits),
//! one line "node conversation seq" per event; every node listens and tells its
//! own sockets of the events other nodes committed, and they read them from
//! the database in order. SQLite is one node: nothing to fan out.

use super::{Pool, Store, StoreError};
use sqlx::postgres::PgListener;
use tokio::sync::mpsc;

pub(super) const CHANNEL: &str = "xiaoer_commits";
/// Visits whose list line changed ("node visit_id" per line): agents' visitor
/// lists on every node re-read them.
const VISITS_CHANNEL: &str = "xiaoer_visits";
pub(super) const NOTIFY_SQL: &str = "SELECT pg_notify($1, $2)";
/// PostgreSQL refuses payloads of 8000 bytes or more.
const MAX_PAYLOAD: usize = 7900;

pub use crate::domain::chat_log::ForeignCommit;

/// The notification payloads for one batch: lines joined up to the size limit.
pub(super) fn payloads<'a>(
    node: &str,
    events: impl Iterator<Item = (&'a str, i64)>,
) -> Vec<String> {
    joined(events.map(|(conversation_id, seq)| format!("{node} {conversation_id} {seq}")))
}

/// Lines joined into payloads under PostgreSQL's size limit.
fn joined(lines: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in lines {
        if !current.is_empty() && current.len() + 1 + line.len() > MAX_PAYLOAD {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(&line);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The events in a payload that another node than `own` committed.
fn parse(own: &str, payload: &str) -> Vec<ForeignCommit> {
    payload
        .lines()
        .filter_map(|line| {
            let mut parts = line.split(' ');
            let (node, conversation_id, seq) = (parts.next()?, parts.next()?, parts.next()?);
            let seq = seq.parse().ok()?;
            (node != own).then(|| ForeignCommit::Event {
                conversation_id: conversation_id.to_owned(),
                seq,
            })
        })
        .collect()
}

/// The visit ids in a payload that another node than `own` announced.
fn parse_visits(own: &str, payload: &str) -> Vec<String> {
    payload
        .lines()
        .filter_map(|line| {
            let (node, visit_id) = line.split_once(' ')?;
            (node != own && !visit_id.is_empty()).then(|| visit_id.to_owned())
        })
        .collect()
}

impl Store {
    pub(super) fn notify_commits(&self) -> bool {
        self.fanout && matches!(self.pool, Pool::Postgres(_))
    }

    /// Whether this node tells the others what changed (PostgreSQL with the
    /// fan-out on).
    pub fn fans_out(&self) -> bool {
        self.notify_commits()
    }

    /// Tells the other nodes that these visits changed (nothing on SQLite or
    /// with the fan-out off). Not transactional: the visits are already written.
    pub async fn announce_visits(&self, visit_ids: &[String]) -> Result<(), StoreError> {
        let Pool::Postgres(pool) = &self.pool else {
            return Ok(());
        };
        if !self.fanout {
            return Ok(());
        }
        let node = &self.node;
        for payload in joined(visit_ids.iter().map(|id| format!("{node} {id}"))) {
            sqlx::query(NOTIFY_SQL)
                .bind(VISITS_CHANNEL)
                .bind(payload)
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    /// PostgreSQL: the visits other nodes announce as changed. None on SQLite
    /// or with the fan-out off. A lost connection is re-made by the listener;
    /// announcements in between are missed (the lists also re-read on their own).
    pub async fn foreign_visit_changes(
        &self,
    ) -> Result<Option<mpsc::Receiver<String>>, StoreError> {
        let Pool::Postgres(pool) = &self.pool else {
            return Ok(None);
        };
        if !self.fanout {
            return Ok(None);
        }
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(VISITS_CHANNEL).await?;
        let own = self.node.clone();
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(async move {
            loop {
                // The listener holds a pooled connection: let it go as soon as
                // nobody follows (a stopping server's pool waits for it).
                let received = tokio::select! {
                    _ = tx.closed() => return,
                    received = listener.try_recv() => received,
                };
                let found = match received {
                    Ok(Some(notification)) => parse_visits(&own, notification.payload()),
                    Ok(None) => Vec::new(),
                    Err(error) => {
                        tracing::warn!(%error, "visit notifications interrupted");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        Vec::new()
                    }
                };
                for visit_id in found {
                    if tx.send(visit_id).await.is_err() {
                        return;
                    }
                }
            }
        });
        Ok(Some(rx))
    }

    /// Turns the cross-node announcements off (one node on PostgreSQL) or on.
    pub fn with_fanout(mut self, on: bool) -> Self {
        self.fanout = on;
        self
    }

    pub(super) fn node(&self) -> &str {
        &self.node
    }

    /// PostgreSQL: a stream of the events other nodes commit (the listener
    /// reconnects by itself and says so with `Resync`). None on SQLite or
    /// with the fan-out off.
    pub async fn foreign_commits(
        &self,
    ) -> Result<Option<mpsc::Receiver<ForeignCommit>>, StoreError> {
        let Pool::Postgres(pool) = &self.pool else {
            return Ok(None);
        };
        if !self.fanout {
            return Ok(None);
        }
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(CHANNEL).await?;
        let own = self.node.clone();
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(async move {
            loop {
                let found = match listener.try_recv().await {
                    Ok(Some(notification)) => parse(&own, notification.payload()),
                    Ok(None) => vec![ForeignCommit::Resync],
                    Err(error) => {
                        tracing::warn!(%error, "commit notifications interrupted");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        vec![ForeignCommit::Resync]
                    }
                };
                for commit in found {
                    if tx.send(commit).await.is_err() {
                        return; // nobody listens any more
                    }
                }
            }
        });
        Ok(Some(rx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visit_announcements_parse_back_without_our_own() {
        let lines = ["a v1", "b v2", "b v3"].map(String::from);
        let payload = joined(lines.into_iter()).join("\n");
        assert_eq!(parse_visits("a", &payload), ["v2", "v3"]);
        assert!(parse_visits("a", "garbage\nb ").is_empty());
        let many = joined((0..1_000).map(|i| format!("node-x visit-{i:08}")));
        assert!(many.len() > 1 && many.iter().all(|p| p.len() < 8000));
        let back: usize = many.iter().map(|p| parse_visits("own", p).len()).sum();
        assert_eq!(back, 1_000);
    }

    #[test]
    fn payloads_stay_under_the_limit_and_parse_back_without_our_own() {
        let ids: Vec<String> = (0..300)
            .map(|i| format!("conv-{i:04}-{}", "x".repeat(30)))
            .collect();
        let payloads = payloads("node-a", ids.iter().map(|id| (id.as_str(), 7)));
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() <= MAX_PAYLOAD));
        let back: Vec<ForeignCommit> = payloads.iter().flat_map(|p| parse("node-b", p)).collect();
        assert_eq!(back.len(), 300);
        assert_eq!(
            back[299],
            ForeignCommit::Event {
                conversation_id: ids[299].clone(),
                seq: 7
            }
        );
        assert!(payloads.iter().all(|p| parse("node-a", p).is_empty()));
        assert!(parse("node-b", "garbage\nnode-a c notanumber").is_empty());
    }
}
