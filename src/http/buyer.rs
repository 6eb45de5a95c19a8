//! Buyer-facing REST handlers: thin, they parse and call a service.

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, conversation_id};
use super::limits::ClientIp;
use crate::domain::conversation::Channel;
use crate::domain::visitor::{BuyerIdentity, BuyerPii, SignedIdentity, VisitorContext, page_url};
use crate::services::chat::{Actor, ConversationView};
use crate::services::conversations::{HandoffInput, InvitationClaim, StartRequest, Started};
use crate::services::visitors::Visitor;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartConversation {
    /// A returning visitor's token; omit to become a new visitor.
    pub visitor_token: Option<String>,
    #[serde(default)]
    pub channel: Channel,
    /// The buyer's shop account, vouched for by the shop's signature; omit for an
    /// anonymous visitor.
    pub identity: Option<SignedIdentity>,
    /// Refused: an account id without the shop's signature proves nothing.
    #[serde(default)]
    pub shop_account_id: Option<serde::de::IgnoredAny>,
    pub nickname: Option<String>,
    /// The campaign the visitor arrived from (chooses the welcome message).
    pub campaign: Option<String>,
    /// The URL of the shop page the chat is opened on (chooses the welcome
    /// message by its path).
    pub entry_page: Option<String>,
    /// The widget's language, for the welcome message (zh by default).
    #[serde(default)]
    pub lang: crate::domain::lang::Lang,
    /// An invitation the shop page showed and the visitor accepted.
    pub invitation: Option<AcceptedInvitation>,
    /// The visit key the shop page's widget holds (`POST /api/v1/presence`):
    /// the chat counts in the visitor funnel under the visit's source.
    pub visit_key: Option<String>,
    /// A solved proof-of-work challenge (the ALTCHA widget's base64 payload),
    /// needed past the soft limit or while an admin requires it for everyone.
    pub altcha: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptedInvitation {
    pub id: String,
    pub visit_key: String,
}

impl StartConversation {
    /// Who the buyer is: the account only when the shop's signature proves it.
    fn identity(&mut self, state: &AppState) -> Result<BuyerIdentity, ApiError> {
        if self.shop_account_id.is_some() {
            return Err(ApiError::bad_request(
                "unsigned_account",
                "shop_account_id is not accepted: send `identity`, signed by the shop",
            ));
        }
        let account = match &self.identity {
            Some(signed) => Some(state.visitors.verify(signed)?),
            None => None,
        };
        Ok(BuyerIdentity::new(account, self.nickname.take())?)
    }
}

pub async fn start(
    State(state): State<AppState>,
    ip: Option<Extension<ClientIp>>,
    ApiJson(mut body): ApiJson<StartConversation>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    let ip = ip.and_then(|Extension(ClientIp(ip))| ip);
    super::challenge::gate(&state, ip, body.altcha.as_deref()).await?;
    let request = StartRequest {
        identity: body.identity(&state)?,
        visitor_token: body.visitor_token.as_deref(),
        channel: body.channel,
        campaign: body.campaign.as_deref(),
        entry_page: body
            .entry_page
            .as_deref()
            .map(|page| page_url("entry_page", page))
            .transpose()?,
        lang: body.lang,
        invitation: body.invitation.as_ref().map(|i| InvitationClaim {
            id: &i.id,
            visit_key: &i.visit_key,
        }),
        visit_key: body.visit_key.as_deref().filter(|k| !k.is_empty()),
    };
    let started = state.conversations.start(request).await?;
    Ok((StatusCode::CREATED, Json(started)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoIdentityQuery {
    pub account: String,
}

/// The demo shop page's stand-in for a shop's own sign-in: a signed identity for
/// one of the demo store's buyers (refused with a real shop's order API).
pub async fn demo_identity(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<DemoIdentityQuery>,
) -> Result<Json<SignedIdentity>, ApiError> {
    Ok(Json(state.visitors.demo_identity(&q.account)?))
}

pub async fn conversation(
    State(state): State<AppState>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<String>,
) -> Result<Json<ConversationView>, ApiError> {
    let id = conversation_id(&id)?;
    Ok(Json(state.chat.visible(Actor::Buyer(&visitor), &id).await?))
}

/// The buyer asks for a person: the chat waits and joins the routed group's queue,
/// with a hand-off packet when it leaves the bot. The body (routing hints:
/// category, entry_page) is optional.
pub async fn handoff(
    State(state): State<AppState>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ConversationView>, ApiError> {
    let id = conversation_id(&id)?;
    let input: HandoffInput = if body.iter().all(u8::is_ascii_whitespace) {
        HandoffInput::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request("invalid_fields", e))?
    };
    Ok(Json(
        state
            .conversations
            .request_person(&visitor, &id, input)
            .await?,
    ))
}

pub async fn put_context(
    State(state): State<AppState>,
    Extension(visitor): Extension<Visitor>,
    ApiJson(raw): ApiJson<VisitorContext>,
) -> Result<StatusCode, ApiError> {
    let context = VisitorContext::parse(raw)?;
    state.visitors.set_context(&visitor.id, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileInput {
    pub real_name: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
}

pub async fn put_profile(
    State(state): State<AppState>,
    Extension(visitor): Extension<Visitor>,
    ApiJson(p): ApiJson<ProfileInput>,
) -> Result<StatusCode, ApiError> {
    let pii = BuyerPii::parse(p.real_name, p.phone, p.address)?;
    state.visitors.set_pii(&visitor, &pii).await?;
    Ok(StatusCode::NO_CONTENT)
}
