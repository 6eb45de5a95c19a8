//! The conversation's life as one service: starting a chat, handing it to
//! people (one path, whether the bot decided, the buyer pressed the widget's
//! button or an app channel asked for its user), claim, transfer, take-over,
//! resolve, hand back and close. Each HTTP handler is one call here; what
//! follows a change (dropping a stale queue entry, offering the freed agent
//! the next chat) happens here, not in the handler.

use super::bot::BotService;
use super::bot::welcome::{NewChat, menu};
use super::catalogue::Catalogue;
use super::chat::{Actor, ChatError, ChatService, ConversationView};
use super::presence::{ChatVisit, PresenceError, PresenceService};
use super::routing::{QueueStatus, RoutingError, RoutingService, TransferTarget};
use super::staff::StaffUser;
use super::visitors::{Visitor, VisitorError, VisitorProfile, VisitorService};
use crate::domain::conversation::{Channel, ConversationId, ConversationState, Transition};
use crate::domain::lang::Lang;
use crate::domain::message::{AnswerSource, MessageBody, MessageText};
use crate::domain::routing::RouteHints;
use crate::domain::visitor::{BuyerIdentity, VisitorInputError, page_url};
use crate::ports::repositories::StaffAccounts;
use serde::Serialize;
use std::sync::{Arc, Weak};

#[derive(Debug, thiserror::Error)]
pub enum ConversationError {
    #[error(transparent)]
    Chat(#[from] ChatError),
    #[error(transparent)]
    Routing(#[from] RoutingError),
    #[error(transparent)]
    Visitor(#[from] VisitorError),
    #[error(transparent)]
    Input(#[from] VisitorInputError),
    #[error(transparent)]
    Presence(#[from] PresenceError),
}

/// Where the buyer asks from; the server adds VIP status and the entry page it knows.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffInput {
    pub category: Option<String>,
    pub entry_page: Option<String>,
}

/// Who hands the chat to people, with what they know.
#[derive(Debug, Clone)]
pub enum HandoffBy {
    /// The buyer (the widget's button, or an app channel for its user). Leaving
    /// the bot, the bot writes the packet of what it gathered.
    Buyer(HandoffInput),
    /// The bot, which has written its packet: routing hints from it, and the
    /// notice the buyer reads before the chat joins the queue.
    Bot { hints: RouteHints, notice: String },
}

/// A new chat as the buyer's client sees it.
#[derive(Debug, Serialize)]
pub struct Started {
    pub conversation: ConversationView,
    pub visitor_id: String,
    /// Only for a new visitor: keep it, it is not shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visitor_token: Option<String>,
}

/// How a buyer starts a chat (parsed by the handler).
#[derive(Debug)]
pub struct StartRequest<'a> {
    pub visitor_token: Option<&'a str>,
    pub identity: BuyerIdentity,
    pub channel: Channel,
    /// The campaign the visitor arrived from (chooses the welcome message).
    pub campaign: Option<&'a str>,
    /// The shop page the chat was opened on, a checked URL (chooses the
    /// welcome message).
    pub entry_page: Option<String>,
    pub lang: Lang,
    /// The invitation the visitor accepted (the chat opens with its greeting).
    pub invitation: Option<InvitationClaim<'a>>,
    /// The visit key the shop page's widget holds: the chat is attributed to
    /// that visit (`PresenceService::attribute`).
    pub visit_key: Option<&'a str>,
}

/// An invitation the shop page showed, claimed with the visit's key.
#[derive(Debug, Clone, Copy)]
pub struct InvitationClaim<'a> {
    pub id: &'a str,
    pub visit_key: &'a str,
}

/// A conversation with its buyer, as the console's chat view shows it.
#[derive(Debug, Serialize)]
pub struct ConversationDetail {
    pub conversation: ConversationView,
    pub visitor: VisitorProfile,
    /// The app channel's name (e.g. a WeChat bridge) for an `api` chat.
    pub channel_name: Option<String>,
    /// The shop visit the chat was opened from: source and pages in order.
    pub visit: Option<ChatVisit>,
}

pub struct ConversationService {
    chat: Arc<ChatService>,
    /// Weak: the bot hands off through this service, and this service asks
    /// the bot for its packet when the buyer leaves it.
    bot: Weak<BotService>,
    routing: Arc<RoutingService>,
    visitors: Arc<VisitorService>,
    invitations: Option<Invitations>,
}

/// Invitations (accepting one starts a chat, maybe with the inviting agent)
/// and product cards.
struct Invitations {
    presence: Arc<PresenceService>,
    catalogue: Arc<Catalogue>,
    /// Whether the inviting agent may still take the chat.
    staff: Arc<dyn StaffAccounts>,
}

impl ConversationService {
    pub fn new(
        chat: Arc<ChatService>,
        bot: Weak<BotService>,
        routing: Arc<RoutingService>,
        visitors: Arc<VisitorService>,
    ) -> ConversationService {
        ConversationService {
            chat,
            bot,
            routing,
            visitors,
            invitations: None,
        }
    }

    /// Chats may start from accepted invitations.
    pub fn with_invitations<S: StaffAccounts + 'static>(
        mut self,
        presence: Arc<PresenceService>,
        catalogue: Arc<Catalogue>,
        staff: Arc<S>,
    ) -> ConversationService {
        self.invitations = Some(Invitations {
            presence,
            catalogue,
            staff,
        });
        self
    }

    /// A buyer (new or returning) starts a chat; the bot welcomes them. A
    /// welcome that fails does not fail the start.
    /// The quick-reply menu a greeting carries: the shop's own, else the
    /// built-in one (also when it cannot be read: a greeting is never lost
    /// for its buttons).
    async fn menu(&self, lang: Lang) -> Vec<String> {
        match self.bot.upgrade() {
            Some(bot) => match bot.menu_for(lang).await {
                Ok(buttons) => buttons,
                Err(error) => {
                    tracing::warn!(%error, "the shop's menu is unreadable; the built-in one is used");
                    menu(lang)
                }
            },
            None => menu(lang),
        }
    }

    pub async fn start(&self, request: StartRequest<'_>) -> Result<Started, ConversationError> {
        if let (Some(claim), Some(invitations)) = (request.invitation, &self.invitations) {
            return self
                .start_invited(
                    request,
                    claim,
                    &invitations.presence,
                    &invitations.catalogue,
                )
                .await;
        }
        let (visitor, visitor_token) = self
            .visitors
            .identify(request.visitor_token, &request.identity)
            .await?;
        let conversation = self
            .chat
            .start_conversation(&visitor, request.channel)
            .await?;
        if let Some(key) = request.visit_key {
            self.attribute(key, &visitor.id, &conversation.id).await;
        }
        let chat = NewChat {
            returning: visitor_token.is_none(),
            campaign: request.campaign,
            entry_page: request.entry_page.as_deref(),
            account: request.identity.account.as_ref().map(|a| a.as_str()),
            lang: request.lang,
        };
        if let (Some(bot), Some(id)) = (self.bot.upgrade(), ConversationId::parse(&conversation.id))
            && let Err(error) = bot.welcome(&id, chat).await
        {
            tracing::warn!(%error, "welcome message not sent");
        }
        Ok(Started {
            conversation,
            visitor_id: visitor.id,
            visitor_token,
        })
    }

    /// Attributes a new chat to the visit its page holds; a failure is logged
    /// and the chat goes on (the funnel then misses it).
    async fn attribute(&self, visit_key: &str, visitor_id: &str, conversation_id: &str) {
        let Some(Invitations { presence, .. }) = &self.invitations else {
            return;
        };
        if let Err(error) = presence
            .attribute(visit_key, visitor_id, conversation_id)
            .await
        {
            tracing::warn!(%error, "chat not attributed to its visit");
        }
    }

    /// A visitor accepted an invitation: the chat opens with its greeting, from
    /// the inviting agent (the chat starts assigned to them, through the same
    /// hand-off and claim as any chat) or from the bot, which then shows the
    /// product the visitor was looking at. No welcome message: the greeting is it.
    async fn start_invited(
        &self,
        request: StartRequest<'_>,
        claim: InvitationClaim<'_>,
        presence: &PresenceService,
        catalogue: &Catalogue,
    ) -> Result<Started, ConversationError> {
        let accepted = presence.open_invitation(claim.visit_key, claim.id).await?;
        let (visitor, visitor_token) = self
            .visitors
            .identify(request.visitor_token, &request.identity)
            .await?;
        let mut conversation = self
            .chat
            .start_conversation(&visitor, request.channel)
            .await?;
        let id = ConversationId::parse(&conversation.id).ok_or(ChatError::NotFound)?;
        presence
            .accepted(&accepted, &visitor.id, id.as_str())
            .await?;
        self.attribute(claim.visit_key, &visitor.id, id.as_str())
            .await;
        match &accepted.agent_id {
            Some(agent_id) => {
                conversation = self
                    .start_with_agent(&visitor, &id, agent_id, &accepted.greeting)
                    .await?;
            }
            None => {
                let greeting = MessageBody::BotAnswer {
                    text: accepted.greeting.clone(),
                    citations: Vec::new(),
                    source: AnswerSource::Curated,
                    stream_id: None,
                    buttons: self.menu(request.lang).await,
                };
                self.chat.send_bot(&id, greeting).await?;
                if let Some(sku) = &accepted.product
                    && let Err(error) = catalogue.bot_card(&id, sku).await
                {
                    tracing::warn!(%error, "product card not sent");
                }
            }
        }
        Ok(Started {
            conversation,
            visitor_id: visitor.id,
            visitor_token,
        })
    }

    /// The inviting agent takes the chat: the buyer's side asks for a person
    /// and the agent claims it at once, within their capacity, then greets. An
    /// agent who is full or no longer active leaves it to routing, as any chat.
    async fn start_with_agent(
        &self,
        visitor: &Visitor,
        id: &ConversationId,
        agent_id: &str,
        greeting: &str,
    ) -> Result<ConversationView, ConversationError> {
        self.chat.request_agent(visitor, id).await?;
        let agent = match &self.invitations {
            Some(invitations) => match invitations.staff.account(agent_id).await {
                Ok(account) => StaffUser::from_row(account).ok().filter(|a| a.active),
                Err(_) => None,
            },
            None => None,
        };
        if let Some(agent) = agent {
            match self.claim(&agent, id).await {
                Ok(claimed) => {
                    if let Ok(text) = MessageText::parse(greeting) {
                        self.chat
                            .send(Actor::Staff(&agent), id, None, MessageBody::Text { text })
                            .await?;
                    }
                    return Ok(claimed);
                }
                Err(ConversationError::Chat(ChatError::AtCapacity(_) | ChatError::Conflict)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.routing.enqueue(id, RouteHints::default()).await?)
    }

    /// The conversation and its buyer's profile, if `staff` may see it.
    pub async fn detail(
        &self,
        staff: &StaffUser,
        id: &ConversationId,
    ) -> Result<ConversationDetail, ConversationError> {
        let conversation = self.chat.visible(Actor::Staff(staff), id).await?;
        // Personal data by need: masked until the chat's own agent reveals it.
        let visitor = self
            .visitors
            .profile(&conversation.visitor_id)
            .await?
            .masked();
        let channel_name = self.chat.channel_name(&conversation.id).await?;
        let visit = match &self.invitations {
            Some(Invitations { presence, .. }) => presence
                .chat_visit(&conversation.id, conversation.created_at)
                .await
                .unwrap_or_else(|error| {
                    tracing::warn!(%error, "the chat's visit could not be read");
                    None
                }),
            None => None,
        };
        Ok(ConversationDetail {
            conversation,
            visitor,
            channel_name,
            visit,
        })
    }

    /// The buyer asks for a person (widget button or app channel).
    pub async fn request_person(
        &self,
        visitor: &Visitor,
        id: &ConversationId,
        input: HandoffInput,
    ) -> Result<ConversationView, ConversationError> {
        self.hand_off(visitor, id, HandoffBy::Buyer(input)).await
    }

    /// The one hand-off path: the chat waits and joins the routed group's
    /// queue. Asking again while waiting or served changes nothing.
    #[tracing::instrument(skip_all, fields(conversation = %id), err(level = "info"))]
    pub async fn hand_off(
        &self,
        visitor: &Visitor,
        id: &ConversationId,
        by: HandoffBy,
    ) -> Result<ConversationView, ConversationError> {
        let entry_page = match &by {
            HandoffBy::Buyer(HandoffInput {
                entry_page: Some(page),
                ..
            }) => Some(page_url("entry_page", page)?),
            _ => None,
        };
        let before = self.chat.visible(Actor::Buyer(visitor), id).await?;
        let conversation = self.chat.request_agent(visitor, id).await?;
        if conversation.state != ConversationState::Waiting {
            return Ok(conversation);
        }
        let hints = match by {
            HandoffBy::Bot { hints, notice } => {
                // The notice goes first: once queued, an agent may be assigned at
                // once, and "an agent has joined" must never precede "you are queued".
                self.chat.post_system(id, notice).await?;
                hints
            }
            HandoffBy::Buyer(input) => {
                let from_bot = if before.state == ConversationState::Bot {
                    self.packet_hints(id, &conversation).await
                } else {
                    (None, None)
                };
                let entry_page = match entry_page {
                    Some(page) => Some(page),
                    None => {
                        self.visitors
                            .profile(&visitor.id)
                            .await?
                            .context
                            .current_page
                    }
                };
                RouteHints {
                    intent: from_bot.0,
                    category: input.category.or(from_bot.1),
                    entry_page,
                    vip: false,
                }
            }
        };
        Ok(self.routing.enqueue(id, hints).await?)
    }

    /// Leaving the bot at the buyer's request: the agent gets the packet of
    /// what the bot gathered, routing its intent and category. The chat is
    /// queued even if the packet cannot be written: it must not be lost.
    async fn packet_hints(
        &self,
        id: &ConversationId,
        conversation: &ConversationView,
    ) -> (Option<String>, Option<String>) {
        let Some(bot) = self.bot.upgrade() else {
            return (None, None);
        };
        match bot.packet_on_request(id, conversation.clone()).await {
            Ok(packet) => (packet.intent, packet.category),
            Err(error) => {
                tracing::error!(%error, "no hand-off packet for the buyer's request");
                (None, None)
            }
        }
    }

    /// Where the buyer's chat stands in its queue; None when it is not waiting.
    pub async fn queue_status(
        &self,
        visitor: &Visitor,
        id: &ConversationId,
    ) -> Result<Option<QueueStatus>, ConversationError> {
        self.chat.visible(Actor::Buyer(visitor), id).await?;
        Ok(self.routing.status(id.as_str()).await?)
    }

    /// An agent takes a waiting chat, within their capacity.
    pub async fn claim(
        &self,
        staff: &StaffUser,
        id: &ConversationId,
    ) -> Result<ConversationView, ConversationError> {
        let claimed = self.chat.claim(staff, id).await?;
        self.routing.after_change(&claimed, None).await?;
        Ok(claimed)
    }

    /// Moves a chat to another agent or into a group's queue, with a note only staff see.
    pub async fn transfer(
        &self,
        staff: &StaffUser,
        id: &ConversationId,
        target: TransferTarget,
        note: Option<String>,
    ) -> Result<ConversationView, ConversationError> {
        Ok(self.routing.transfer(staff, id, target, note).await?)
    }

    /// A supervisor takes a chat over from whoever has it.
    pub async fn take_over(
        &self,
        supervisor: &StaffUser,
        id: &ConversationId,
    ) -> Result<ConversationView, ConversationError> {
        Ok(self.routing.take_over(supervisor, id).await?)
    }

    pub async fn resolve(
        &self,
        staff: &StaffUser,
        id: &ConversationId,
    ) -> Result<ConversationView, ConversationError> {
        self.change_state(staff, id, Transition::Resolve).await
    }

    pub async fn hand_back(
        &self,
        staff: &StaffUser,
        id: &ConversationId,
    ) -> Result<ConversationView, ConversationError> {
        self.change_state(staff, id, Transition::HandBack).await
    }

    pub async fn close(
        &self,
        staff: &StaffUser,
        id: &ConversationId,
    ) -> Result<ConversationView, ConversationError> {
        self.change_state(staff, id, Transition::Close).await
    }

    /// A change by staff; the agent it frees is offered the next waiting chat.
    async fn change_state(
        &self,
        staff: &StaffUser,
        id: &ConversationId,
        transition: Transition,
    ) -> Result<ConversationView, ConversationError> {
        let before = self.chat.conversation(id).await?;
        let after = self.chat.change_state(staff, id, transition).await?;
        self.routing
            .after_change(&after, before.agent_id.as_deref())
            .await?;
        Ok(after)
    }
}
