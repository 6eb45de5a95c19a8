//! Tickets listen to the conversation event stream: an agent's message in a
//! chat that has tickets is a human reply on them (it satisfies their
//! first-response target and cancels that escalation). Bot and system
//! messages never count. Out of hours, a buyer's message in a chat waiting
//! for a person becomes a ticket.

use crate::domain::conversation::{ConversationId, ConversationState};
use crate::domain::events::{DomainEvent, EventData, NewEvent};
use crate::domain::lang::Lang;
use crate::domain::message::MessageBody;
use crate::domain::sla::Responder;
use crate::domain::tickets::{
    Author, Comment, HistoryEntry, TicketFilter, TicketSource, TicketWrite, Visibility,
};
use crate::ports::repositories::RepoError;
use crate::services::events::EventPayload;
use crate::services::subscribers::Subscriber;
use crate::services::tickets::{TicketError, TicketService};
use serde_json::json;
use std::sync::Arc;

/// Who wrote a chat message, as the SLA sees it.
pub fn responder(sender_kind: &str) -> Option<Responder> {
    match sender_kind {
        "agent" => Some(Responder::Human),
        "bot" | "system" => Some(Responder::Bot),
        _ => None,
    }
}

impl TicketService {
    /// A reply in the chat `conversation_id` at `at`. Idempotent: a ticket
    /// already answered is left alone, so a redelivered event changes nothing.
    pub async fn chat_reply(
        &self,
        conversation_id: &str,
        who: Responder,
        at: i64,
    ) -> Result<usize, TicketError> {
        if who == Responder::Bot {
            return Ok(0);
        }
        let filter = TicketFilter {
            conversation_id: Some(conversation_id.to_owned()),
            limit: 50,
            ..TicketFilter::default()
        };
        let calendar = self.calendar().await?;
        let mut answered = 0;
        for mut ticket in self.tickets.list(&filter).await? {
            if ticket.state.is_done() || ticket.sla.first_responded_at.is_some() {
                continue;
            }
            ticket.sla.on_reply(&calendar, who, at);
            ticket.first_response_due_at = None;
            let write = TicketWrite {
                history: vec![HistoryEntry::new(
                    "first_response",
                    &Author::System,
                    json!({ "in_chat": conversation_id }),
                    at,
                )],
                ..TicketWrite::default()
            };
            if self.tickets.save(&ticket, ticket.version, &write).await? {
                answered += 1;
            }
        }
        Ok(answered)
    }
}

impl TicketService {
    /// A buyer's message while nobody is on duty: the first becomes a ticket
    /// (and the buyer is told its number in the chat), later ones are added to
    /// it as the buyer's replies. Idempotent by the message's sequence number.
    pub async fn buyer_message(
        &self,
        conversation_id: &str,
        seq: i64,
        at: i64,
    ) -> Result<(), TicketError> {
        if self.shop.current().await.is_open(at) {
            return Ok(());
        }
        let Some(id) = ConversationId::parse(conversation_id) else {
            return Ok(());
        };
        let conversation = self.chat.conversation(&id).await?;
        if conversation.state != ConversationState::Waiting {
            return Ok(());
        }
        let Some((text, photo)) = self.message_content(&id, seq).await? else {
            return Ok(());
        };
        let filter = TicketFilter {
            conversation_id: Some(conversation_id.to_owned()),
            limit: 50,
            ..TicketFilter::default()
        };
        let open = self
            .tickets
            .list(&filter)
            .await?
            .into_iter()
            .find(|t| t.source == TicketSource::OutOfHours && !t.state.is_done());
        if let Some(ticket) = open {
            let comment_id = format!("tcm_{}_{seq}", id.as_str());
            let files = self.chat_photo(&id, photo.as_deref()).await?;
            return self
                .add_buyer_reply(ticket, comment_id, (&text, files), at)
                .await;
        }
        let ticket_id = format!("tkt_{}_{seq}", id.as_str().replace('-', ""));
        let ticket = match self
            .open_for_buyer(
                ticket_id,
                conversation.visitor_id,
                conversation.id,
                &text,
                photo,
            )
            .await
        {
            Err(TicketError::Records(RepoError::AlreadyExists)) => return Ok(()),
            other => other?,
        };
        let notice = match Lang::detect(&text) {
            Lang::Zh => format!(
                "已为您创建工单 {}，客服上班后会第一时间处理。您可以在「我的工单」中查看进度。",
                ticket.number
            ),
            Lang::En => format!(
                "We've opened ticket {} for you; our team will pick it up as soon as they're back. Follow it under \"My tickets\".",
                ticket.number
            ),
        };
        self.chat.post_system(&id, notice).await?;
        Ok(())
    }

    /// The photo of a buyer's message as a ticket's file; none when it is no
    /// longer there (the buyer was erased, or retention purged it, before
    /// this event was handled: the reply goes on without it rather than
    /// holding up the ticket events behind it).
    async fn chat_photo(
        &self,
        id: &ConversationId,
        photo: Option<&str>,
    ) -> Result<Vec<crate::domain::tickets::TicketFile>, TicketError> {
        let Some(photo) = photo.and_then(crate::domain::attachment::AttachmentId::parse) else {
            return Ok(Vec::new());
        };
        match self.attachments.chat_file(id.as_str(), &photo).await {
            Ok(file) => Ok(vec![file]),
            Err(crate::services::attachments::AttachmentError::NotFound) => Ok(Vec::new()),
            Err(other) => Err(other.into()),
        }
    }

    /// A buyer's message as a ticket takes it: its words (a photo's caption
    /// or a note that it is one) and the photo.
    async fn message_content(
        &self,
        id: &ConversationId,
        seq: i64,
    ) -> Result<Option<(String, Option<String>)>, TicketError> {
        let events = self.chat.events(id, seq - 1, 1).await?;
        Ok(events
            .into_iter()
            .find(|e| e.seq == seq)
            .and_then(|e| match e.payload {
                EventPayload::Message {
                    body: MessageBody::Text { text },
                } => Some((text.as_str().to_owned(), None)),
                EventPayload::Message {
                    body:
                        MessageBody::Image {
                            caption,
                            attachment_id,
                        },
                } => Some((
                    caption.map_or("[图片 photo]".to_owned(), |c| c.as_str().to_owned()),
                    Some(attachment_id.as_str().to_owned()),
                )),
                _ => None,
            }))
    }

    async fn add_buyer_reply(
        &self,
        mut ticket: crate::domain::tickets::Ticket,
        comment_id: String,
        (text, attachments): (&str, Vec<crate::domain::tickets::TicketFile>),
        at: i64,
    ) -> Result<(), TicketError> {
        let comments = self.tickets.comments(&ticket.id, true).await?;
        if comments.iter().any(|c| c.id == comment_id) {
            return Ok(());
        }
        let author = Author::Buyer(ticket.visitor_id.clone().unwrap_or_default());
        let expected = ticket.version;
        ticket.version += 1;
        ticket.updated_at = at;
        let write = TicketWrite {
            history: vec![HistoryEntry::new(
                "commented",
                &author,
                json!({ "visibility": "public", "comment_id": comment_id }),
                at,
            )],
            comment: Some(Comment {
                id: comment_id,
                visibility: Visibility::Public,
                author_kind: "buyer".into(),
                author_id: author.id().map(str::to_owned),
                body: crate::domain::tickets::parse_comment(text)?,
                created_at: at,
                attachments,
            }),
            events: vec![NewEvent {
                id: format!("evt_{}_{}", ticket.id, ticket.version),
                conversation_id: None,
                seq: None,
                data: EventData::TicketCommented {
                    ticket_id: ticket.id.clone(),
                    visibility: "public".into(),
                    by: Some("buyer".into()),
                },
                created_at: at,
            }],
        };
        if self.tickets.save(&ticket, expected, &write).await? {
            Ok(())
        } else {
            Err(TicketError::Stale(expected))
        }
    }
}

/// The cluster subscriber that feeds chat replies to tickets.
pub struct TicketReplies(pub Arc<TicketService>);

#[async_trait::async_trait]
impl Subscriber for TicketReplies {
    fn name(&self) -> &'static str {
        "tickets"
    }

    async fn handle(&self, event: &DomainEvent) -> Result<(), String> {
        let (EventData::MessagePosted { sender_kind, .. }, Some(conversation)) =
            (&event.data, &event.conversation_id)
        else {
            return Ok(());
        };
        if sender_kind == "buyer" {
            let Some(seq) = event.seq else { return Ok(()) };
            return self
                .0
                .buyer_message(conversation, seq, event.created_at)
                .await
                .map_err(|e| e.to_string());
        }
        let Some(who) = responder(sender_kind) else {
            return Ok(());
        };
        self.0
            .chat_reply(conversation, who, event.created_at)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_agents_are_people_to_the_sla() {
        assert_eq!(responder("agent"), Some(Responder::Human));
        assert_eq!(responder("bot"), Some(Responder::Bot));
        assert_eq!(responder("system"), Some(Responder::Bot));
        assert_eq!(responder("buyer"), None);
    }
}
