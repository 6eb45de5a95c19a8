//! Extractors whose rejections speak the API's error format, and token lookup.

use super::error::ApiError;
use crate::domain::attachment::AttachmentId;
use crate::domain::conversation::ConversationId;
use crate::domain::message::ClientMsgId;
use crate::services::chat::{Actor, ConversationView};
use crate::services::staff::StaffUser;
use crate::services::visitors::Visitor;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;

pub const SESSION_COOKIE: &str = "xiaoer_session";
/// The cookie's name over https: the `__Host-` prefix makes browsers refuse it
/// unless it is Secure, host-only and for the whole path, so a sibling subdomain
/// or a plain-http page cannot plant or overwrite it.
pub const SECURE_SESSION_COOKIE: &str = "__Host-xiaoer_session";

/// The hash of the staff session token this request came with (put in place by
/// the route middleware), so a password change can end every other session.
#[derive(Debug, Clone)]
pub struct CurrentSession(pub Vec<u8>);

/// JSON body; malformed or wrongly typed bodies become 4xx with a stable code.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// Query string, with the same error format.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

pub fn conversation_id(raw: &str) -> Result<ConversationId, ApiError> {
    ConversationId::parse(raw).ok_or(ApiError::NotFound {
        code: "conversation_not_found",
        message: "conversation not found".into(),
    })
}

/// The optional `client_msg_id` of a send that the server writes (product,
/// order and coupon cards): a retry with the same id is the same message.
pub fn optional_client_msg_id(raw: Option<&str>) -> Result<Option<ClientMsgId>, ApiError> {
    Ok(raw.map(ClientMsgId::parse).transpose()?)
}

pub fn attachment_id(raw: &str) -> Result<AttachmentId, ApiError> {
    AttachmentId::parse(raw).ok_or(ApiError::NotFound {
        code: "attachment_not_found",
        message: "no such attachment in this conversation".into(),
    })
}

/// `Authorization: Bearer <token>`.
pub fn bearer_token(request: &Request) -> Option<String> {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned())
}

/// `?access_token=<token>`: only for the routes the table marks (browsers cannot
/// set headers on WebSocket connections or <img> requests). Elsewhere a token in
/// the URL would end up in proxy logs, browser history and Referer headers.
pub fn query_token(request: &Request) -> Option<String> {
    request.uri().query().and_then(|q| {
        q.split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == "access_token")
            .map(|(_, v)| v.to_owned())
    })
}

/// The cookie called `name` (see `Edge::cookie_name`).
pub fn session_cookie(request: &Request, name: &str) -> Option<String> {
    request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(cookie, _)| *cookie == name)
        .map(|(_, value)| value.to_owned())
}

/// Whoever the route table authenticated: a buyer on buyer routes, a staff member
/// on staff routes. Lets one handler serve both audiences where the rules are the
/// chat service's to decide (history, messages, receipts, attachments, sockets).
#[derive(Debug, Clone)]
pub enum Caller {
    Buyer(Visitor),
    Staff(StaffUser),
}

impl Caller {
    pub fn actor(&self) -> Actor<'_> {
        match self {
            Caller::Buyer(v) => Actor::Buyer(v),
            Caller::Staff(s) => Actor::Staff(s),
        }
    }

    /// How the other side sees this participant in typing indicators.
    pub fn kind(&self) -> &'static str {
        match self {
            Caller::Buyer(_) => "buyer",
            Caller::Staff(_) => "agent",
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        if let Some(visitor) = parts.extensions.get::<Visitor>() {
            return Ok(Caller::Buyer(visitor.clone()));
        }
        parts
            .extensions
            .get::<StaffUser>()
            .cloned()
            .map(Caller::Staff)
            .ok_or(ApiError::Unauthenticated)
    }
}

/// The conversation the path's `{id}` names, if the caller may see it (the chat
/// service's rule: to a buyer another buyer's conversation does not exist;
/// staff outside their scope are refused). The access check as an extractor,
/// like the route table's authentication, so a handler that acts on a chat
/// then makes one call.
#[derive(Debug, Clone)]
pub struct VisibleChat {
    pub id: ConversationId,
    pub conversation: ConversationView,
}

impl FromRequestParts<super::AppState> for VisibleChat {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &super::AppState,
    ) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        type Params = axum::extract::Path<std::collections::HashMap<String, String>>;
        let params = Params::from_request_parts(parts, state).await.ok();
        let raw = params.as_ref().and_then(|p| p.get("id"));
        let id = conversation_id(raw.map(String::as_str).unwrap_or_default())?;
        let conversation = state.chat.visible(caller.actor(), &id).await?;
        Ok(Self { id, conversation })
    }
}
