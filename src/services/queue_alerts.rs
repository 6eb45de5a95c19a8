//! Queue alerts: a sweeper looks at every skill group with alert thresholds
//! and raises an alert (once, with a `queue.alert_raised` event) when its
//! queue has too many chats waiting or a chat has waited too long, and clears
//! it (`queue.alert_cleared`) when the queue is back under both. Whichever
//! node sees a change first records it; the others find it done. Every node
//! passes the events to the consoles of the people who watch the queues
//! (supervisors and admins), and webhooks can forward them to an IM group.

use super::chat::ChatService;
use super::hub::{LiveFrame, QueueAlertFrame, StaffFrame};
use super::subscribers::Subscriber;
use crate::domain::conversation::ConversationState;
use crate::domain::events::{DomainEvent, EventData, NewEvent};
use crate::ports::Clock;
use crate::ports::repositories::{RepoError, WatchedQueues};
use std::sync::Arc;
use std::time::Duration;

/// How often the sweeper looks (a wait threshold is at least 10 s).
const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// What one sweep changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sweep {
    pub raised: usize,
    pub cleared: usize,
}

pub struct QueueAlerts {
    queues: Arc<dyn WatchedQueues>,
    clock: Arc<dyn Clock>,
}

impl QueueAlerts {
    pub fn new(queues: Arc<dyn WatchedQueues>, clock: Arc<dyn Clock>) -> QueueAlerts {
        QueueAlerts { queues, clock }
    }

    pub async fn run(self: Arc<Self>, shutdown: tokio::sync::watch::Receiver<bool>) {
        super::every(SWEEP_EVERY, shutdown, "queue alert sweep", || self.sweep()).await;
    }

    /// Looks once at every group's queue.
    pub async fn sweep(&self) -> Result<Sweep, RepoError> {
        let now = self.clock.now_ms();
        let mut sweep = Sweep::default();
        for group in self.queues.watched().await? {
            let waiting = group.waiting_since.len() as i64;
            let longest_wait_ms = group.waiting_since.iter().map(|at| now - at).max();
            let check = group.thresholds.check(waiting, longest_wait_ms);
            let data = match (check, group.alert_since) {
                (Some(reason), None) => EventData::QueueAlertRaised {
                    group_id: group.group_id.clone(),
                    reason,
                    waiting,
                    longest_wait_ms,
                },
                (None, Some(_)) => EventData::QueueAlertCleared {
                    group_id: group.group_id.clone(),
                    waiting,
                },
                _ => continue,
            };
            let raise = matches!(data, EventData::QueueAlertRaised { .. });
            let event = NewEvent {
                id: format!("evt_queue_alert_{}", uuid::Uuid::now_v7().simple()),
                conversation_id: None,
                seq: None,
                data,
                created_at: now,
            };
            let since = raise.then_some(now);
            if self
                .queues
                .set_alert(&group.group_id, since, &event)
                .await?
            {
                match raise {
                    true => sweep.raised += 1,
                    false => sweep.cleared += 1,
                }
            }
        }
        Ok(sweep)
    }
}

/// Every node's live push of queue alerts to the consoles that watch queues.
pub struct QueueAlertFeed {
    pub queues: Arc<dyn WatchedQueues>,
    pub chat: Arc<ChatService>,
}

#[async_trait::async_trait]
impl Subscriber for QueueAlertFeed {
    fn name(&self) -> &'static str {
        "queue-alert-feed"
    }

    async fn handle(&self, event: &DomainEvent) -> Result<(), String> {
        let (group_id, reason, waiting, longest_wait_ms) = match &event.data {
            EventData::QueueAlertRaised {
                group_id,
                reason,
                waiting,
                longest_wait_ms,
            } => (group_id, Some(*reason), *waiting, *longest_wait_ms),
            EventData::QueueAlertCleared { group_id, waiting } => (group_id, None, *waiting, None),
            _ => return Ok(()),
        };
        let Some(group_name) = self
            .queues
            .group_name(group_id)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(());
        };
        self.chat.hub().publish_staff(StaffFrame {
            frame: LiveFrame::QueueAlert(Arc::new(QueueAlertFrame {
                group_id: group_id.clone(),
                group_name,
                reason,
                waiting,
                longest_wait_ms,
            })),
            agent_id: None,
            // Not a conversation's frame: the feed shows it to those who watch queues.
            state: ConversationState::Closed,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::routing::{AlertReason, AlertThresholds};
    use crate::ports::repositories::WatchedQueue;
    use std::sync::Mutex;

    struct FixedClock(i64);
    impl Clock for FixedClock {
        fn now_ms(&self) -> i64 {
            self.0
        }
    }

    /// One queue in memory; `set_alert` records what it was asked and
    /// refuses a change another node made first (the stored state differs).
    struct OneQueue {
        queue: Mutex<WatchedQueue>,
        events: Mutex<Vec<EventData>>,
    }

    #[async_trait::async_trait]
    impl WatchedQueues for OneQueue {
        async fn watched(&self) -> Result<Vec<WatchedQueue>, RepoError> {
            Ok(vec![self.queue.lock().unwrap().clone()])
        }
        async fn set_alert(
            &self,
            _group_id: &str,
            since: Option<i64>,
            event: &NewEvent,
        ) -> Result<bool, RepoError> {
            let mut queue = self.queue.lock().unwrap();
            if queue.alert_since.is_some() == since.is_some() {
                return Ok(false);
            }
            queue.alert_since = since;
            self.events.lock().unwrap().push(event.data.clone());
            Ok(true)
        }
        async fn group_name(&self, _group_id: &str) -> Result<Option<String>, RepoError> {
            Ok(Some("售后".into()))
        }
    }

    #[tokio::test]
    async fn a_long_wait_raises_the_alert_once_and_an_empty_queue_clears_it() {
        const NOW: i64 = 1_796_000_400_000;
        let repo = Arc::new(OneQueue {
            queue: Mutex::new(WatchedQueue {
                group_id: "after-sales".into(),
                group_name: "售后".into(),
                thresholds: AlertThresholds::parse(Some(5), Some(60_000)).unwrap(),
                alert_since: None,
                // Two chats: 59 s and 61 s in the queue.
                waiting_since: vec![NOW - 59_000, NOW - 61_000],
            }),
            events: Mutex::new(Vec::new()),
        });
        let alerts = QueueAlerts::new(repo.clone(), Arc::new(FixedClock(NOW)));
        assert_eq!(
            alerts.sweep().await.unwrap(),
            Sweep {
                raised: 1,
                cleared: 0
            }
        );
        assert_eq!(
            alerts.sweep().await.unwrap(),
            Sweep::default(),
            "raised once"
        );
        assert_eq!(repo.queue.lock().unwrap().alert_since, Some(NOW));
        repo.queue.lock().unwrap().waiting_since = vec![NOW - 1_000];
        assert_eq!(
            alerts.sweep().await.unwrap(),
            Sweep {
                raised: 0,
                cleared: 1
            }
        );
        assert_eq!(
            *repo.events.lock().unwrap(),
            [
                EventData::QueueAlertRaised {
                    group_id: "after-sales".into(),
                    reason: AlertReason::Wait,
                    waiting: 2,
                    longest_wait_ms: Some(61_000),
                },
                EventData::QueueAlertCleared {
                    group_id: "after-sales".into(),
                    waiting: 1,
                },
            ]
        );
    }
}
