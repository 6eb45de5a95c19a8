//! A message sent into a conversation by its buyer or by staff, over REST and
//! the socket alike: a buyer's text is screened first (banned words, floods),
//! then the chat service stores it.

use crate::domain::audit::AuditAction;
use crate::domain::conversation::ConversationId;
use crate::domain::message::{ClientMsgId, MessageBody};
use crate::services::audit::AuditService;
use crate::services::blocks::{BlockService, Screened};
use crate::services::chat::{Ack, Actor, ChatError, ChatService};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the buyer's text was refused")]
    Screened(Screened),
    #[error(transparent)]
    Chat(#[from] ChatError),
}

pub struct MessageSender {
    blocks: Arc<BlockService>,
    /// A flood that mutes the visitor is audited (no text kept).
    audit: Arc<AuditService>,
    chat: Arc<ChatService>,
}

impl MessageSender {
    pub fn new(
        blocks: Arc<BlockService>,
        audit: Arc<AuditService>,
        chat: Arc<ChatService>,
    ) -> Self {
        Self {
            blocks,
            audit,
            chat,
        }
    }

    pub async fn send(
        &self,
        actor: Actor<'_>,
        id: &ConversationId,
        client_msg_id: Option<ClientMsgId>,
        body: MessageBody,
    ) -> Result<Ack, SendError> {
        self.screen(&actor, &body).await?;
        Ok(self.chat.send(actor, id, client_msg_id, body).await?)
    }

    /// Banned words and flood detection on a buyer's text message.
    async fn screen(&self, actor: &Actor<'_>, body: &MessageBody) -> Result<(), SendError> {
        let (Actor::Buyer(visitor), MessageBody::Text { text }) = (actor, body) else {
            return Ok(());
        };
        match self.blocks.screen(&visitor.id, text.as_str()).await {
            Err(Screened::Muted(flood)) => {
                let target = format!("visitor {} ({})", visitor.id, flood.as_str());
                self.audit.record(None, AuditAction::Blocked, &target).await;
                Err(SendError::Screened(Screened::Muted(flood)))
            }
            other => other.map_err(SendError::Screened),
        }
    }
}
