//! Buyer-facing REST handlers: thin, they parse and call a service.

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, attachment_id, conversation_id};
use crate::domain::conversation::Channel;
use crate::domain::message::{ClientMsgId, MessageBody, RawMessageBody};
use crate::domain::visitor::{BuyerIdentity, BuyerPii, VisitorContext};
use crate::services::chat::{Ack, Actor, ConversationView};
use crate::services::events::ChatEvent;
use crate::services::visitors::Visitor;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartConversation {
    /// A returning visitor's token; omit to become a new visitor.
    pub visitor_token: Option<String>,
    #[serde(default)]
    pub channel: Channel,
    pub shop_account_id: Option<String>,
    pub nickname: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Started {
    pub conversation: ConversationView,
    pub visitor_id: String,
    /// Only for a new visitor: keep it, it is not shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visitor_token: Option<String>,
}

pub async fn start(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<StartConversation>,
) -> Result<(StatusCode, Json<Started>), ApiError> {
    let identity = BuyerIdentity::parse(body.shop_account_id, body.nickname)?;
    let (visitor, visitor_token) = state
        .visitors
        .identify(body.visitor_token.as_deref(), &identity)
        .await?;
    let conversation = state
        .chat
        .start_conversation(&visitor, body.channel)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Started {
            conversation,
            visitor_id: visitor.id,
            visitor_token,
        }),
    ))
}

pub async fn conversation(
    State(state): State<AppState>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<String>,
) -> Result<Json<ConversationView>, ApiError> {
    let id = conversation_id(&id)?;
    Ok(Json(state.chat.visible(Actor::Buyer(&visitor), &id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    #[serde(default)]
    pub after: i64,
    pub limit: Option<i64>,
}

pub async fn events(
    State(state): State<AppState>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<Json<Vec<ChatEvent>>, ApiError> {
    let id = conversation_id(&id)?;
    state.chat.visible(Actor::Buyer(&visitor), &id).await?;
    Ok(Json(
        state
            .chat
            .events(&id, q.after, q.limit.unwrap_or(100))
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    pub client_msg_id: String,
    pub body: RawMessageBody,
}

/// 201 for a new message, 200 for a retry of one already stored.
pub fn ack_response(ack: Ack) -> (StatusCode, Json<Ack>) {
    let status = if ack.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    (status, Json(ack))
}

pub async fn send(
    State(state): State<AppState>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<String>,
    ApiJson(msg): ApiJson<SendMessage>,
) -> Result<(StatusCode, Json<Ack>), ApiError> {
    let id = conversation_id(&id)?;
    let client_msg_id = ClientMsgId::parse(&msg.client_msg_id)?;
    let body = MessageBody::parse(msg.body)?;
    let ack = state
        .chat
        .send(Actor::Buyer(&visitor), &id, Some(client_msg_id), body)
        .await?;
    Ok(ack_response(ack))
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReadReceipt {
    pub seq: i64,
}

pub async fn read(
    State(state): State<AppState>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<String>,
    ApiJson(r): ApiJson<ReadReceipt>,
) -> Result<Json<ReadReceipt>, ApiError> {
    let id = conversation_id(&id)?;
    let seq = state
        .chat
        .mark_read(Actor::Buyer(&visitor), &id, r.seq)
        .await?;
    Ok(Json(ReadReceipt { seq }))
}

pub async fn handoff(
    State(state): State<AppState>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<String>,
) -> Result<Json<ConversationView>, ApiError> {
    let id = conversation_id(&id)?;
    Ok(Json(state.chat.request_agent(&visitor, &id).await?))
}

/// Shared by buyer and staff upload routes: the caller has checked access.
pub async fn store_upload(
    state: &AppState,
    conversation_id: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let stored = state
        .attachments
        .store(conversation_id, declared, &body)
        .await?;
    Ok((StatusCode::CREATED, Json(stored)).into_response())
}

/// Served with the stored type, never sniffed, and as a download unless it is an image.
pub fn attachment_response(content_type: String, bytes: Vec<u8>) -> Response {
    let disposition = if content_type.starts_with("image/") {
        "inline"
    } else {
        "attachment"
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition.to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (header::CACHE_CONTROL, "private, max-age=86400".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

pub async fn upload(
    State(state): State<AppState>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let id = conversation_id(&id)?;
    state.chat.visible(Actor::Buyer(&visitor), &id).await?;
    store_upload(&state, id.as_str(), &headers, body?).await
}

pub async fn download(
    State(state): State<AppState>,
    Extension(visitor): Extension<Visitor>,
    Path((id, aid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = conversation_id(&id)?;
    state.chat.visible(Actor::Buyer(&visitor), &id).await?;
    let (content_type, bytes) = state
        .attachments
        .fetch(id.as_str(), &attachment_id(&aid)?)
        .await?;
    Ok(attachment_response(content_type, bytes))
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
