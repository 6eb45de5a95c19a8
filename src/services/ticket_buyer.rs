//! The buyer's replies from 我的工单: a reply on a ticket waiting for the
//! buyer (pending) opens it again, a reply within the shop's reopen window
//! after resolution reopens it, and a later one (or one on a closed ticket) is
//! refused with words the buyer can act on.

use crate::domain::events::{EventData, NewEvent};
use crate::domain::tickets::{
    self as t, Author, Comment, HistoryEntry, Ticket, TicketState, TicketWrite, Visibility,
};
use crate::services::tickets::{BuyerReply, TicketError, TicketService};
use crate::services::visitors::Visitor;
use serde::{Deserialize, Serialize};
use serde_json::json;

const DAY_MS: i64 = 86_400_000;
/// Reopen window when the shop never chose one.
pub const DEFAULT_REOPEN_DAYS: i64 = 7;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuyerReplyInput {
    /// May be empty when photos go with it.
    #[serde(default)]
    pub body: String,
    /// Files uploaded to this ticket first (POST .../attachments), at most 6.
    #[serde(default)]
    pub attachments: Vec<String>,
}

/// The shop's ticket settings.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketSettings {
    /// Days after resolution in which a buyer's reply reopens the ticket (0–90).
    pub reopen_days: i64,
}

impl TicketService {
    pub async fn ticket_settings(&self) -> Result<TicketSettings, TicketError> {
        let reopen_days = self
            .setup
            .reopen_days()
            .await?
            .unwrap_or(DEFAULT_REOPEN_DAYS);
        Ok(TicketSettings { reopen_days })
    }

    pub async fn put_ticket_settings(
        &self,
        by: &str,
        settings: TicketSettings,
    ) -> Result<TicketSettings, TicketError> {
        if !(0..=90).contains(&settings.reopen_days) {
            return Err(TicketError::BadReopenDays);
        }
        self.setup
            .put_reopen_days(settings.reopen_days, by, self.clock.now_ms())
            .await?;
        Ok(settings)
    }

    /// The buyer's public reply on their own ticket.
    #[tracing::instrument(skip_all, err)]
    pub async fn buyer_reply(
        &self,
        visitor: &Visitor,
        id: &str,
        input: BuyerReplyInput,
    ) -> Result<BuyerReply, TicketError> {
        let mut ticket = self.buyers_ticket(visitor, id).await?;
        let body = t::parse_comment_with_files(&input.body, input.attachments.len())?;
        let attachments = self.comment_files(id, &input.attachments, true).await?;
        let now = self.clock.now_ms();
        let from = ticket.state;
        let to = self.state_after_reply(&ticket, now).await?;
        let expected = ticket.version;
        let author = Author::Buyer(visitor.id.clone());
        let comment = Comment {
            id: format!("tcm_{}", uuid::Uuid::now_v7().simple()),
            visibility: Visibility::Public,
            author_kind: "buyer".into(),
            author_id: Some(visitor.id.clone()),
            body,
            created_at: now,
            attachments,
        };
        ticket.version = expected + 1;
        ticket.updated_at = now;
        let mut write = TicketWrite {
            history: vec![HistoryEntry::new(
                "commented",
                &author,
                json!({ "visibility": "public", "comment_id": comment.id,
                        "files": comment.attachments.len() }),
                now,
            )],
            comment: Some(comment.clone()),
            events: vec![self.event(
                &ticket,
                "",
                now,
                EventData::TicketCommented {
                    ticket_id: ticket.id.clone(),
                    visibility: "public".into(),
                    by: Some("buyer".into()),
                },
            )],
        };
        if to != from {
            let calendar = self.calendar().await?;
            ticket.state = to;
            ticket.resolved_at = None;
            ticket.sla.resume(now);
            crate::services::tickets::refresh_due(&mut ticket, &calendar);
            write.history.push(HistoryEntry::new(
                "state_changed",
                &author,
                json!({ "from": from, "to": to, "reason": "buyer_replied" }),
                now,
            ));
            write.events.push(self.event(
                &ticket,
                "_state",
                now,
                EventData::TicketStateChanged {
                    ticket_id: ticket.id.clone(),
                    from,
                    to,
                    automation: None,
                },
            ));
        }
        if !self.tickets.save(&ticket, expected, &write).await? {
            return Err(TicketError::Stale(expected));
        }
        Ok(BuyerReply {
            from_staff: false,
            body: comment.body,
            created_at: now,
            attachments: comment.attachments,
        })
    }

    /// Pending and a recently resolved ticket open again; closed ones and
    /// those resolved too long ago take no more replies.
    pub(crate) async fn state_after_reply(
        &self,
        ticket: &Ticket,
        now: i64,
    ) -> Result<TicketState, TicketError> {
        match ticket.state {
            TicketState::Closed => Err(TicketError::ClosedForReplies),
            TicketState::Resolved => {
                let days = self.ticket_settings().await?.reopen_days;
                let resolved = ticket.resolved_at.unwrap_or(ticket.updated_at);
                if now - resolved > days * DAY_MS {
                    Err(TicketError::ReplyWindowClosed(days))
                } else {
                    Ok(TicketState::Open)
                }
            }
            TicketState::Pending => Ok(TicketState::Open),
            state @ (TicketState::New | TicketState::Open | TicketState::OnHold) => Ok(state),
        }
    }

    fn event(&self, ticket: &Ticket, suffix: &str, now: i64, data: EventData) -> NewEvent {
        NewEvent {
            id: format!("evt_{}_{}{suffix}", ticket.id, ticket.version),
            conversation_id: None,
            seq: None,
            data,
            created_at: now,
        }
    }
}
