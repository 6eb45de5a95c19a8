//! API channels for apps and IM bridges. A channel has its own key (hashed at
//! rest); it posts its users' messages by their external id, which maps to a
//! visitor and that visitor's current conversation (channel `api`). Replies
//! (bot and agent) reach the app through the webhooks, which name the channel
//! and the external user. A channel may cap agent replies after each user
//! message (ChatService enforces it when an agent writes).

use super::chat::{Ack, Actor, ChatError, ChatService, ConversationView};
use super::conversations::{ConversationError, ConversationService, HandoffInput};
use super::staff::StaffUser;
use super::ticket_buyer::BuyerReplyInput;
use super::tickets::{BuyerReply, BuyerTicket, NewTicketInput, TicketError, TicketService};
use super::visitors::{Visitor, VisitorError, VisitorService};
use crate::crypto::{self, Cipher};
use crate::domain::conversation::{Channel, ConversationId, ConversationState};
use crate::domain::message::{ClientMsgId, MessageBody, MessageError, MessageText};
use crate::domain::visitor::{BuyerIdentity, VisitorInputError};
use crate::ports::Clock;
use crate::ports::repositories::{ApiChannel, ChannelRecords, ChannelUser, RepoError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

const KEY_PREFIX: &str = "ck_";
const MAX_EXTERNAL_ID: usize = 128;
const MAX_NAME: usize = 64;
/// WeChat's customer-service messages: 5 replies within 48 hours.
const DEFAULT_REPLY_LIMIT: i32 = 5;
const DEFAULT_REPLY_WINDOW_SECS: i64 = 48 * 3600;

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("unknown or revoked channel key")]
    BadKey,
    #[error("channel not found")]
    NotFound,
    #[error("external_user_id must be 1 to 128 visible characters")]
    BadExternalId,
    #[error("name must be 1 to 64 characters")]
    BadName,
    #[error("reply_limit must be 1 to 1000 and reply_window_seconds 1 to 2592000 (30 days)")]
    BadPolicy,
    #[error("this conversation belongs to another channel")]
    NotThisChannel,
    #[error("no user with this external_user_id has written on this channel")]
    UnknownUser,
    #[error(transparent)]
    Message(#[from] MessageError),
    #[error(transparent)]
    Input(#[from] VisitorInputError),
    #[error(transparent)]
    Chat(#[from] ChatError),
    #[error(transparent)]
    Conversation(#[from] ConversationError),
    #[error(transparent)]
    Visitor(#[from] VisitorError),
    #[error(transparent)]
    Ticket(#[from] TicketError),
    #[error("the new ticket is not among the user's")]
    NewTicketMissing,
    #[error(transparent)]
    Records(RepoError),
}

impl From<RepoError> for ChannelError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::NotFound => ChannelError::NotFound,
            other => ChannelError::Records(other),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewChannel {
    pub name: String,
    pub reply_limit: Option<i32>,
    pub reply_window_seconds: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChannelView {
    pub id: String,
    pub name: String,
    pub reply_limit: i32,
    pub reply_window_seconds: i64,
    pub created_at: i64,
}

impl ChannelView {
    fn from_channel(row: &ApiChannel) -> ChannelView {
        ChannelView {
            id: row.id.clone(),
            name: row.name.clone(),
            reply_limit: row.reply_limit,
            reply_window_seconds: row.reply_window_ms / 1000,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CreatedChannel {
    #[serde(flatten)]
    pub channel: ChannelView,
    /// Shown once; only its hash is kept.
    pub key: String,
}

/// An app posts one of its user's messages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundMessage {
    pub external_user_id: String,
    pub nickname: Option<String>,
    pub client_msg_id: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Accepted {
    pub conversation_id: String,
    #[serde(flatten)]
    pub ack: Ack,
}

/// The channel a request came with (the route table's `Channel` access).
#[derive(Debug, Clone)]
pub struct ChannelKey(pub ApiChannel);

/// Who an API-channel conversation belongs to, for webhook payloads.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelParty {
    pub channel_id: String,
    pub external_user_id: String,
}

pub struct ChannelService {
    records: Arc<dyn ChannelRecords>,
    cipher: Cipher,
    clock: Arc<dyn Clock>,
    chat: Arc<ChatService>,
    visitors: Arc<VisitorService>,
    conversations: Arc<ConversationService>,
    /// The app's users' tickets (我的工单 through the app).
    tickets: Arc<TicketService>,
}

impl ChannelService {
    pub fn new(
        records: Arc<dyn ChannelRecords>,
        cipher: Cipher,
        clock: Arc<dyn Clock>,
        chat: Arc<ChatService>,
        visitors: Arc<VisitorService>,
        conversations: Arc<ConversationService>,
        tickets: Arc<TicketService>,
    ) -> ChannelService {
        ChannelService {
            records,
            cipher,
            clock,
            chat,
            visitors,
            conversations,
            tickets,
        }
    }

    pub async fn create(
        &self,
        admin: &StaffUser,
        input: NewChannel,
    ) -> Result<CreatedChannel, ChannelError> {
        let name = input.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > MAX_NAME {
            return Err(ChannelError::BadName);
        }
        let limit = input.reply_limit.unwrap_or(DEFAULT_REPLY_LIMIT);
        let window = input
            .reply_window_seconds
            .unwrap_or(DEFAULT_REPLY_WINDOW_SECS);
        if !(1..=1000).contains(&limit) || !(1..=30 * 24 * 3600).contains(&window) {
            return Err(ChannelError::BadPolicy);
        }
        let key = crypto::Token::generate(KEY_PREFIX);
        let row = ApiChannel {
            id: format!("ch_{}", uuid::Uuid::now_v7().simple()),
            name,
            key_hash: key.hash.clone(),
            reply_limit: limit,
            reply_window_ms: window * 1000,
            created_by: admin.id.clone(),
            created_at: self.clock.now_ms(),
        };
        self.records.add_channel(&row).await?;
        Ok(CreatedChannel {
            channel: ChannelView::from_channel(&row),
            key: key.value,
        })
    }

    pub async fn list(&self) -> Result<Vec<ChannelView>, ChannelError> {
        Ok(self
            .records
            .all_channels()
            .await?
            .iter()
            .map(ChannelView::from_channel)
            .collect())
    }

    pub async fn delete(&self, id: &str) -> Result<(), ChannelError> {
        Ok(self.records.remove_channel(id).await?)
    }

    pub async fn authenticate(&self, key: &str) -> Result<ChannelKey, ChannelError> {
        if !key.starts_with(KEY_PREFIX) {
            return Err(ChannelError::BadKey);
        }
        match self.records.channel_of_key(&crypto::hash_token(key)).await {
            Ok(row) => Ok(ChannelKey(row)),
            Err(RepoError::NotFound) => Err(ChannelError::BadKey),
            Err(e) => Err(e.into()),
        }
    }

    /// A user's message: to their open conversation, or a new one.
    pub async fn post(
        &self,
        channel: &ChannelKey,
        input: InboundMessage,
    ) -> Result<Accepted, ChannelError> {
        let external = parse_external_id(&input.external_user_id)?;
        let text = MessageText::parse(&input.text)?;
        let client_msg_id = ClientMsgId::parse(&input.client_msg_id)?;
        let identity = BuyerIdentity::new(None, input.nickname.clone())?;
        let channel = &channel.0;
        let hash = external_hash(&channel.id, external);
        let known = self.records.user_of_hash(&channel.id, &hash).await?;
        let (visitor, conversation) = match known {
            Some(user) => {
                let visitor = Visitor {
                    id: user.visitor_id.clone(),
                };
                let id = ConversationId::parse(&user.conversation_id)
                    .ok_or_else(|| ChatError::Corrupt("channel conversation id".into()))?;
                let current = self.chat.conversation(&id).await?;
                if current.state == ConversationState::Closed {
                    let fresh = self.chat.start_conversation(&visitor, Channel::Api).await?;
                    (visitor, fresh)
                } else {
                    (visitor, current)
                }
            }
            None => {
                let (visitor, _token) = self.visitors.identify(None, &identity).await?;
                let fresh = self.chat.start_conversation(&visitor, Channel::Api).await?;
                (visitor, fresh)
            }
        };
        self.records
            .save_user(&ChannelUser {
                channel_id: channel.id.clone(),
                external_hash: hash,
                sealed_external: self.cipher.seal(external.as_bytes(), channel.id.as_bytes()),
                visitor_id: visitor.id.clone(),
                conversation_id: conversation.id.clone(),
                last_inbound_at: self.clock.now_ms(),
            })
            .await?;
        let id = ConversationId::parse(&conversation.id)
            .ok_or_else(|| ChatError::Corrupt("conversation id".into()))?;
        let ack = self
            .chat
            .send(
                Actor::Buyer(&visitor),
                &id,
                Some(client_msg_id),
                MessageBody::Text { text },
            )
            .await?;
        Ok(Accepted {
            conversation_id: conversation.id,
            ack,
        })
    }

    /// The visitor an app's user is and their current conversation, once
    /// they have written on this channel (another channel's users are not
    /// this one's).
    pub async fn user(
        &self,
        channel: &ChannelKey,
        external_user_id: &str,
    ) -> Result<(Visitor, String), ChannelError> {
        let external = parse_external_id(external_user_id)?;
        let hash = external_hash(&channel.0.id, external);
        let user = self
            .records
            .user_of_hash(&channel.0.id, &hash)
            .await?
            .ok_or(ChannelError::UnknownUser)?;
        let visitor = Visitor {
            id: user.visitor_id,
        };
        Ok((visitor, user.conversation_id))
    }

    /// The tickets of an app's user, as the widget shows a buyer theirs.
    pub async fn user_tickets(
        &self,
        channel: &ChannelKey,
        external_user_id: &str,
        zh: bool,
    ) -> Result<Vec<BuyerTicket>, ChannelError> {
        let (visitor, _) = self.user(channel, external_user_id).await?;
        Ok(self.tickets.for_buyer(&visitor, zh).await?)
    }

    /// An app opens a ticket for its user in their current chat (routed like
    /// any new ticket), shown as the user sees it.
    pub async fn open_user_ticket(
        &self,
        channel: &ChannelKey,
        external_user_id: &str,
        title: &str,
        fields: NewTicketInput,
    ) -> Result<BuyerTicket, ChannelError> {
        let (visitor, conversation_id) = self.user(channel, external_user_id).await?;
        let ticket = self
            .tickets
            .open_for_app(visitor.id.clone(), conversation_id, title, fields)
            .await?;
        self.tickets
            .for_buyer(&visitor, true)
            .await?
            .into_iter()
            .find(|t| t.id == ticket.id)
            .ok_or(ChannelError::NewTicketMissing)
    }

    /// The app's user answers on their ticket (the widget's reply rules).
    pub async fn user_ticket_reply(
        &self,
        channel: &ChannelKey,
        external_user_id: &str,
        ticket_id: &str,
        reply: BuyerReplyInput,
    ) -> Result<BuyerReply, ChannelError> {
        let (visitor, _) = self.user(channel, external_user_id).await?;
        Ok(self.tickets.buyer_reply(&visitor, ticket_id, reply).await?)
    }

    /// The app asks a person for its user (the same path as the widget's button).
    /// A conversation of another channel does not exist for this one.
    pub async fn request_person(
        &self,
        channel: &ChannelKey,
        conversation_id: &str,
    ) -> Result<ConversationView, ChannelError> {
        let user = self
            .records
            .user_of_conversation(conversation_id)
            .await?
            .filter(|u| u.channel_id == channel.0.id)
            .ok_or(ChannelError::NotThisChannel)?;
        let id = ConversationId::parse(conversation_id).ok_or(ChannelError::NotThisChannel)?;
        let visitor = Visitor {
            id: user.visitor_id,
        };
        Ok(self
            .conversations
            .request_person(&visitor, &id, HandoffInput::default())
            .await?)
    }

    /// The channel and external user of a conversation, if it came through one.
    pub async fn party(&self, conversation_id: &str) -> Result<Option<ChannelParty>, ChannelError> {
        let Some(user) = self.records.user_of_conversation(conversation_id).await? else {
            return Ok(None);
        };
        let external = self
            .cipher
            .open(&user.sealed_external, user.channel_id.as_bytes())
            .map_err(|e| ChatError::Corrupt(e.to_string()))?;
        Ok(Some(ChannelParty {
            channel_id: user.channel_id,
            external_user_id: String::from_utf8_lossy(&external).into_owned(),
        }))
    }
}

fn parse_external_id(raw: &str) -> Result<&str, ChannelError> {
    let ok = !raw.is_empty()
        && raw.chars().count() <= MAX_EXTERNAL_ID
        && raw.chars().all(|c| !c.is_control() && !c.is_whitespace());
    ok.then_some(raw).ok_or(ChannelError::BadExternalId)
}

fn external_hash(channel_id: &str, external: &str) -> Vec<u8> {
    crypto::hash_token(&format!("{channel_id}\u{0}{external}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_ids_are_bounded_and_visible() {
        assert!(parse_external_id("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o").is_ok());
        assert!(parse_external_id(&"x".repeat(128)).is_ok());
        assert!(parse_external_id(&"x".repeat(129)).is_err());
        assert!(parse_external_id("").is_err());
        assert!(parse_external_id("a b").is_err());
        assert!(parse_external_id("a\u{0}b").is_err());
        assert_ne!(external_hash("ch_a", "u1"), external_hash("ch_b", "u1"));
    }
}
