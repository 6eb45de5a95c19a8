//! Cross-node live fan-out on PostgreSQL. Each group commit also sends
//! `NOTIFY xiaoer_commits` in its transaction (delivered only if it commits),
//! one line "node conversation seq" per event; every node listens and tells its
//! own sockets of the events other nodes committed, and they read them from
//! the database in order. SQLite is one node: nothing to fan out.

use super::{Pool, Store, StoreError};
use sqlx::postgres::PgListener;
use tokio::sync::mpsc;

pub(super) const CHANNEL: &str = "xiaoer_commits";
pub(super) const NOTIFY_SQL: &str = "SELECT pg_notify($1, $2)";
/// PostgreSQL refuses payloads of 8000 bytes or more.
const MAX_PAYLOAD: usize = 7900;

/// What another node committed, as this node learns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForeignCommit {
    /// An event with this sequence number now exists in the conversation.
    Event { conversation_id: String, seq: i64 },
    /// The listening connection was lost and re-made: notifications may have
    /// been missed, so every open conversation should look again.
    Resync,
}

/// The notification payloads for one batch: lines joined up to the size limit.
pub(super) fn payloads<'a>(
    node: &str,
    events: impl Iterator<Item = (&'a str, i64)>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for (conversation_id, seq) in events {
        let line = format!("{node} {conversation_id} {seq}");
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

impl Store {
    pub(super) fn notify_commits(&self) -> bool {
        self.fanout && matches!(self.pool, Pool::Postgres(_))
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
