//! In-process fan-out of live frames to connected participants. Delivery is best
//! effort by design: the database is the source of truth, and a subscriber that
//! falls behind (or sees a gap in sequence numbers) re-reads from storage.

use super::events::ChatEvent;
use super::routing::QueueStatus;
use crate::domain::conversation::ConversationState;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

const PER_CONVERSATION_CAPACITY: usize = 256;
const STAFF_FEED_CAPACITY: usize = 8192;

/// Something a participant should see now.
#[derive(Debug, Clone)]
pub enum LiveFrame {
    Event(Arc<ChatEvent>),
    /// Not stored: typing indicators.
    Typing {
        conversation_id: Arc<str>,
        from: &'static str,
    },
    /// Not stored: a piece of a bot answer as the model writes it. The committed
    /// bot_answer event carries the same stream id.
    Stream {
        conversation_id: Arc<str>,
        stream_id: Arc<str>,
        delta: String,
    },
    /// A participant read up to `seq`.
    Read {
        conversation_id: Arc<str>,
        reader: Arc<str>,
        seq: i64,
    },
    /// Not stored: the buyer's place in the queue and the expected wait.
    Queue(Arc<QueueStatus>),
    /// Staff feed only, to the one person named by the frame's `agent_id`:
    /// their console bell's unread count changed (services/bell.rs).
    Bell {
        unread: i64,
    },
    /// Staff feed only, to those who watch queues: a group's queue alert was
    /// raised (reason) or cleared (no reason), services/queue_alerts.rs.
    QueueAlert(Arc<QueueAlertFrame>),
    /// Another node committed the event with this sequence number (or, with
    /// i64::MAX, may have): the socket reads what it lacks from the database.
    Committed {
        seq: i64,
    },
}

/// A queue alert as the consoles show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QueueAlertFrame {
    pub group_id: String,
    pub group_name: String,
    /// Why it was raised; None when it was cleared.
    pub reason: Option<crate::domain::routing::AlertReason>,
    pub waiting: i64,
    pub longest_wait_ms: Option<i64>,
}

/// A frame on the staff feed, with what the feed needs to decide who sees it.
#[derive(Debug, Clone)]
pub struct StaffFrame {
    pub frame: LiveFrame,
    pub agent_id: Option<Arc<str>>,
    pub state: ConversationState,
}

pub struct Hub {
    conversations: Mutex<HashMap<Arc<str>, broadcast::Sender<LiveFrame>>>,
    staff: broadcast::Sender<StaffFrame>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            conversations: Mutex::new(HashMap::new()),
            staff: broadcast::channel(STAFF_FEED_CAPACITY).0,
        }
    }
}

impl Hub {
    pub fn subscribe(&self, conversation_id: &str) -> broadcast::Receiver<LiveFrame> {
        let mut map = self.conversations.lock().expect("hub lock");
        if let Some(sender) = map.get(conversation_id) {
            return sender.subscribe();
        }
        let (sender, receiver) = broadcast::channel(PER_CONVERSATION_CAPACITY);
        map.insert(Arc::from(conversation_id), sender);
        receiver
    }

    pub fn subscribe_staff(&self) -> broadcast::Receiver<StaffFrame> {
        self.staff.subscribe()
    }

    /// Sends to the conversation's subscribers and, except committed events, to
    /// the staff feed: those reach it from the committed-event stream (the
    /// staff-feed subscriber), so that every node's feed shows every node's
    /// changes, in commit order.
    pub fn publish(
        &self,
        conversation_id: &str,
        frame: LiveFrame,
        state: ConversationState,
        agent_id: Option<&str>,
    ) {
        {
            let mut map = self.conversations.lock().expect("hub lock");
            if let Some(sender) = map.get(conversation_id)
                && sender.send(frame.clone()).is_err()
            {
                // Nobody listens any more: forget the channel.
                map.remove(conversation_id);
            }
        }
        if !matches!(frame, LiveFrame::Event(_)) {
            self.publish_staff(StaffFrame {
                frame,
                agent_id: agent_id.map(Arc::from),
                state,
            });
        }
    }

    /// Sends to the staff feed only.
    pub fn publish_staff(&self, frame: StaffFrame) {
        let _ = self.staff.send(frame);
    }

    /// Sends to the conversation's own subscribers only (not the staff feed).
    pub fn publish_to_conversation(&self, conversation_id: &str, frame: LiveFrame) {
        let map = self.conversations.lock().expect("hub lock");
        if let Some(sender) = map.get(conversation_id) {
            let _ = sender.send(frame);
        }
    }

    /// Sends to every conversation's subscribers (not the staff feed).
    pub fn publish_everywhere(&self, frame: LiveFrame) {
        let map = self.conversations.lock().expect("hub lock");
        for sender in map.values() {
            let _ = sender.send(frame.clone());
        }
    }

    /// Conversations with at least one live channel (for metrics).
    pub fn channels(&self) -> usize {
        self.conversations.lock().expect("hub lock").len()
    }
}
