//! Merging duplicates and watchers. A merged ticket is closed with a history
//! line that names the ticket it went into, and that ticket's history names
//! it back; both change in one transaction. Comments stay where they were
//! written, reachable through the link. Watchers follow a ticket: they may
//! see it and get its reminders like its assignee.

use crate::domain::events::{EventData, NewEvent};
use crate::domain::tickets::{self as t, Author, HistoryEntry, Ticket, TicketState, TicketWrite};
use crate::services::staff::StaffUser;
use crate::services::tickets::{TicketError, TicketService, refresh_due};
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeInput {
    /// The ticket that stays: its id or its number (T20261201-0001).
    pub into: String,
    pub expected_version: i64,
    pub note: Option<String>,
}

impl TicketService {
    /// Closes `id` as merged into `input.into`. Returns the closed ticket.
    #[tracing::instrument(skip_all, err)]
    pub async fn merge(
        &self,
        staff: &StaffUser,
        id: &str,
        input: MergeInput,
    ) -> Result<Ticket, TicketError> {
        let mut source = self.visible(staff, id).await?;
        let target_id = match self.tickets.by_number(input.into.trim()).await? {
            Some(found) => found.id,
            None => input.into.trim().to_owned(),
        };
        if target_id == source.id {
            return Err(TicketError::MergeIntoSelf);
        }
        let expected = input.expected_version;
        if source.version != expected {
            return Err(TicketError::Stale(expected));
        }
        if source.state == TicketState::Closed {
            return Err(TicketError::Transition {
                from: TicketState::Closed,
                to: TicketState::Closed,
            });
        }
        let mut target = match self.visible(staff, &target_id).await {
            Err(TicketError::NotFound) => return Err(TicketError::MergeTargetNotFound),
            other => other?,
        };
        if target.state == TicketState::Closed {
            return Err(TicketError::MergeIntoClosed);
        }
        let note = input.note.as_deref().map(t::parse_comment).transpose()?;
        let now = self.clock.now_ms();
        let calendar = self.calendar().await?;
        let author = Author::Staff(staff.id.clone());
        let from = source.state;
        source.state = TicketState::Closed;
        source.sla.pause(&calendar, now);
        source.resolved_at = source.resolved_at.or(Some(now));
        source.status_text = Some(format!(
            "已合并到工单 {} / Merged into {}",
            target.number, target.number
        ));
        refresh_due(&mut source, &calendar);
        source.version = expected + 1;
        source.updated_at = now;
        let target_expected = target.version;
        target.version += 1;
        target.updated_at = now;
        let source_write = TicketWrite {
            history: vec![HistoryEntry::new(
                "merged_into",
                &author,
                json!({ "ticket_id": target.id, "number": target.number, "note": note }),
                now,
            )],
            events: vec![event(
                &source,
                EventData::TicketStateChanged {
                    ticket_id: source.id.clone(),
                    from,
                    to: TicketState::Closed,
                    automation: None,
                },
            )],
            ..TicketWrite::default()
        };
        let target_write = TicketWrite {
            history: vec![HistoryEntry::new(
                "merged_from",
                &author,
                json!({ "ticket_id": source.id, "number": source.number, "note": note }),
                now,
            )],
            events: vec![event(
                &target,
                EventData::TicketUpdated {
                    ticket_id: target.id.clone(),
                    version: target.version,
                    fields: vec!["merged_from".into()],
                    automation: None,
                },
            )],
            ..TicketWrite::default()
        };
        let saved = self
            .tickets
            .save_all(&[
                (&source, expected, &source_write),
                (&target, target_expected, &target_write),
            ])
            .await?;
        if !saved {
            return Err(TicketError::Stale(expected));
        }
        Ok(source)
    }

    /// Adds `staff_id` (oneself or a colleague) to the ticket's watchers.
    pub async fn watch(
        &self,
        staff: &StaffUser,
        id: &str,
        staff_id: &str,
    ) -> Result<Vec<String>, TicketError> {
        let ticket = self.visible(staff, id).await?;
        if self.people.person(staff_id).await.is_err() {
            return Err(TicketError::UnknownAssignee);
        }
        self.tickets
            .add_watcher(&ticket.id, staff_id, &staff.id, self.clock.now_ms())
            .await?;
        Ok(self.tickets.watchers(&ticket.id).await?)
    }

    pub async fn unwatch(
        &self,
        staff: &StaffUser,
        id: &str,
        staff_id: &str,
    ) -> Result<Vec<String>, TicketError> {
        let ticket = self.visible(staff, id).await?;
        self.tickets.remove_watcher(&ticket.id, staff_id).await?;
        Ok(self.tickets.watchers(&ticket.id).await?)
    }
}

fn event(ticket: &Ticket, data: EventData) -> NewEvent {
    NewEvent {
        id: format!("evt_{}_{}", ticket.id, ticket.version),
        conversation_id: None,
        seq: None,
        data,
        created_at: ticket.updated_at,
    }
}
