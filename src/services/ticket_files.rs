//! Files on tickets: the buyer adds photos to their own ticket from 我的工单,
//! staff attach files to comments and replies, and a ticket made from a chat
//! carries the chat's photos. Who is served a file: staff who may see the
//! ticket, and its buyer only the public ones (their own, the chat's, and
//! those staff sent with a public reply; never an internal comment's).

use crate::domain::attachment::AttachmentId;
use crate::domain::tickets::{Ticket, TicketFile};
use crate::services::attachments::StoredAttachment;
use crate::services::staff::StaffUser;
use crate::services::tickets::{TicketError, TicketService};
use crate::services::visitors::Visitor;

impl TicketService {
    /// An agent's file on a ticket they may see: internal until it goes with
    /// a public reply.
    pub async fn staff_upload(
        &self,
        staff: &StaffUser,
        ticket_id: &str,
        declared_type: &str,
        bytes: &[u8],
    ) -> Result<StoredAttachment, TicketError> {
        let ticket = self.visible(staff, ticket_id).await?;
        let added_by = format!("staff:{}", staff.id);
        Ok(self
            .attachments
            .store_on_ticket(&ticket.id, false, &added_by, declared_type, bytes)
            .await?)
    }

    /// The buyer's photo on their own ticket, while it still takes replies.
    pub async fn buyer_upload(
        &self,
        visitor: &Visitor,
        ticket_id: &str,
        declared_type: &str,
        bytes: &[u8],
    ) -> Result<StoredAttachment, TicketError> {
        let ticket = self.buyers_ticket(visitor, ticket_id).await?;
        self.state_after_reply(&ticket, self.clock.now_ms()).await?;
        Ok(self
            .attachments
            .store_on_ticket(&ticket.id, true, "buyer", declared_type, bytes)
            .await?)
    }

    pub async fn staff_file(
        &self,
        staff: &StaffUser,
        ticket_id: &str,
        id: &AttachmentId,
    ) -> Result<(String, Vec<u8>), TicketError> {
        let ticket = self.visible(staff, ticket_id).await?;
        Ok(self
            .attachments
            .fetch_on_ticket(&ticket.id, id, false)
            .await?)
    }

    pub async fn buyer_file(
        &self,
        visitor: &Visitor,
        ticket_id: &str,
        id: &AttachmentId,
    ) -> Result<(String, Vec<u8>), TicketError> {
        let ticket = self.buyers_ticket(visitor, ticket_id).await?;
        Ok(self
            .attachments
            .fetch_on_ticket(&ticket.id, id, true)
            .await?)
    }

    /// The files a comment names, each once in the order named: uploaded to
    /// this ticket first (and public there, for the buyer's replies).
    pub(crate) async fn comment_files(
        &self,
        ticket_id: &str,
        ids: &[String],
        public_only: bool,
    ) -> Result<Vec<TicketFile>, TicketError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let on_ticket = self
            .attachments
            .ticket_files(ticket_id, public_only)
            .await?;
        let mut named: Vec<TicketFile> = Vec::with_capacity(ids.len());
        for id in ids {
            if named.iter().any(|f| &f.id == id) {
                continue;
            }
            let file = on_ticket
                .iter()
                .find(|f| &f.id == id)
                .ok_or(TicketError::UnknownAttachment)?;
            named.push(file.clone());
        }
        Ok(named)
    }

    /// The buyer's own ticket; another's is not found (its existence is not
    /// told).
    pub(crate) async fn buyers_ticket(
        &self,
        visitor: &Visitor,
        ticket_id: &str,
    ) -> Result<Ticket, TicketError> {
        let ticket = self
            .tickets
            .ticket(ticket_id)
            .await?
            .ok_or(TicketError::NotFound)?;
        if ticket.visitor_id.as_deref() != Some(visitor.id.as_str()) {
            return Err(TicketError::NotFound);
        }
        Ok(ticket)
    }
}
