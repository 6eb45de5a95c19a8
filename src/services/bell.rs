//! The console bell: ticket reminders in the app. The same events that e-mail
//! people (services/ticket_mail.rs: assigned to me, buyer replied, SLA warning,
//! breach, escalation, to the same people) become one row per (event, person)
//! for everyone whose in-app preference is on, and a live `bell` frame on the
//! staff feed of every node, so the count changes without a reload.

use super::chat::ChatService;
use super::hub::{LiveFrame, StaffFrame};
use super::subscribers::Subscriber;
use super::ticket_mail::{ReminderSources, reminded, reminder_of};
use crate::domain::conversation::ConversationState;
use crate::domain::events::{DomainEvent, EventData};
use crate::ports::Clock;
use crate::ports::repositories::{
    BellItem, BellRecords, MailRecords, NewBell, RepoError, StaffDirectory, TicketRecords,
    TicketSetup,
};
use serde::Serialize;
use std::sync::Arc;

/// How many reminders the bell lists.
const LISTED: i64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum BellError {
    #[error("no such notification")]
    NotFound,
    #[error(transparent)]
    Records(#[from] RepoError),
}

/// What the bell shows a person.
#[derive(Debug, Clone, Serialize)]
pub struct BellView {
    pub unread: i64,
    pub items: Vec<BellItem>,
}

pub struct BellService {
    bell: Arc<dyn BellRecords>,
    /// Whose in-app preference is on.
    mail: Arc<dyn MailRecords>,
    sources: ReminderSources,
    clock: Arc<dyn Clock>,
}

impl BellService {
    pub fn new<R>(records: Arc<R>, clock: Arc<dyn Clock>) -> BellService
    where
        R: BellRecords + MailRecords + TicketRecords + TicketSetup + StaffDirectory + 'static,
    {
        BellService {
            sources: ReminderSources::of(&records),
            bell: records.clone(),
            mail: records,
            clock,
        }
    }

    pub async fn view(&self, staff_id: &str) -> Result<BellView, BellError> {
        let (items, unread) = self.bell.bell(staff_id, LISTED).await?;
        Ok(BellView { unread, items })
    }

    /// Marks one of my reminders read (another person's is not found).
    pub async fn mark_read(&self, staff_id: &str, id: &str) -> Result<(), BellError> {
        match self
            .bell
            .mark_read(staff_id, id, self.clock.now_ms())
            .await?
        {
            true => Ok(()),
            false => Err(BellError::NotFound),
        }
    }

    pub async fn mark_all_read(&self, staff_id: &str) -> Result<(), BellError> {
        self.bell
            .mark_all_read(staff_id, self.clock.now_ms())
            .await?;
        Ok(())
    }

    /// Writes the reminders `event` calls for (idempotent per person); returns
    /// the people who have one for it.
    async fn record(&self, event: &DomainEvent) -> Result<Vec<String>, RepoError> {
        let Some((reminder, ticket_id)) = reminder_of(&event.data) else {
            return Ok(Vec::new());
        };
        if let EventData::TicketNotified { bell: false, .. } = event.data {
            return Ok(Vec::new());
        }
        let Some((ticket, recipients)) =
            reminded(&self.sources, event, reminder, ticket_id).await?
        else {
            return Ok(Vec::new());
        };
        let mut reminded_people = Vec::with_capacity(recipients.len());
        for staff_id in recipients {
            if !self.mail.prefs(&staff_id).await?.in_app {
                continue;
            }
            self.bell
                .ring(&NewBell {
                    staff_id: &staff_id,
                    event_id: &event.id,
                    kind: reminder.as_str(),
                    ticket_id: &ticket.id,
                    ticket_number: &ticket.number,
                    created_at: event.created_at,
                })
                .await?;
            reminded_people.push(staff_id);
        }
        Ok(reminded_people)
    }
}

/// The durable writer (one node at a time, from its saved cursor): no reminder
/// is lost while the consoles are closed or a node is down.
pub struct BellWriter(pub Arc<BellService>);

#[async_trait::async_trait]
impl Subscriber for BellWriter {
    fn name(&self) -> &'static str {
        "ticket_bell"
    }

    async fn handle(&self, event: &DomainEvent) -> Result<(), String> {
        self.0
            .record(event)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Every node's live push: it writes the reminder too (whichever of the two
/// comes first writes it, the other finds it there), then tells the people's
/// consoles on this node their new unread count.
pub struct BellFeed {
    pub bell: Arc<BellService>,
    pub chat: Arc<ChatService>,
}

#[async_trait::async_trait]
impl Subscriber for BellFeed {
    fn name(&self) -> &'static str {
        "ticket-bell-feed"
    }

    async fn handle(&self, event: &DomainEvent) -> Result<(), String> {
        let people = self.bell.record(event).await.map_err(|e| e.to_string())?;
        for staff_id in people {
            let (_, unread) = self
                .bell
                .bell
                .bell(&staff_id, 0)
                .await
                .map_err(|e| e.to_string())?;
            self.chat.hub().publish_staff(StaffFrame {
                frame: LiveFrame::Bell { unread },
                agent_id: Some(Arc::from(staff_id.as_str())),
                // Not a conversation's frame: only its person sees it.
                state: ConversationState::Closed,
            });
        }
        Ok(())
    }
}
