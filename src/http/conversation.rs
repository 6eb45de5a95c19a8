//! Conversation handlers shared by buyers and staff: the route table has
//! authenticated the caller, the chat service decides what they may see and do.

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, Caller, VisibleChat, attachment_id, conversation_id};
use crate::domain::message::{ClientMsgId, MessageBody, RawMessageBody};
use crate::services::chat::Ack;
use crate::services::events::ChatEvent;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    #[serde(default)]
    pub after: i64,
    pub limit: Option<i64>,
}

pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<Json<Vec<ChatEvent>>, ApiError> {
    let id = conversation_id(&id)?;
    state.chat.visible(caller.actor(), &id).await?;
    let events = state
        .chat
        .events(&id, q.after, q.limit.unwrap_or(100))
        .await?;
    Ok(Json(match caller {
        Caller::Staff(_) => events,
        Caller::Buyer(_) => events.iter().filter_map(ChatEvent::for_buyer).collect(),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    pub client_msg_id: String,
    pub body: RawMessageBody,
}

/// 201 for a new message, 200 for a retry of one already stored.
pub async fn send(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(msg): ApiJson<SendMessage>,
) -> Result<(StatusCode, Json<Ack>), ApiError> {
    let id = conversation_id(&id)?;
    let client_msg_id = ClientMsgId::parse(&msg.client_msg_id)?;
    let body = MessageBody::parse(msg.body)?;
    let ack = state
        .sender
        .send(caller.actor(), &id, Some(client_msg_id), body)
        .await?;
    let status = if ack.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(ack)))
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReadReceipt {
    pub seq: i64,
}

pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(r): ApiJson<ReadReceipt>,
) -> Result<Json<ReadReceipt>, ApiError> {
    let id = conversation_id(&id)?;
    let seq = state.chat.mark_read(caller.actor(), &id, r.seq).await?;
    Ok(Json(ReadReceipt { seq }))
}

/// The raw body is the file; its Content-Type says what it is.
pub async fn upload(
    State(state): State<AppState>,
    chat: VisibleChat,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let stored = state
        .attachments
        .store(chat.id.as_str(), declared, &body?)
        .await?;
    Ok((StatusCode::CREATED, Json(stored)).into_response())
}

/// Served with the stored type, never sniffed, and as a download unless it is an image.
pub async fn download(
    State(state): State<AppState>,
    chat: VisibleChat,
    Path((_, aid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (content_type, bytes) = state
        .attachments
        .fetch(chat.id.as_str(), &attachment_id(&aid)?)
        .await?;
    Ok(serve_file(content_type, bytes))
}

/// A stored file as a response: its stored type, never sniffed, and a
/// download unless it is an image.
pub(super) fn serve_file(content_type: String, bytes: Vec<u8>) -> Response {
    let disposition = if content_type.starts_with("image/") {
        "inline"
    } else {
        "attachment"
    };
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_DISPOSITION, disposition.to_owned()),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        (header::CACHE_CONTROL, "private, max-age=86400".to_owned()),
    ];
    (headers, bytes).into_response()
}
