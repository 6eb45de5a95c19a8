//! Webhook administration: endpoints, their delivery log, replays.

use super::AppState;
use super::error::ApiError;
use super::extract::ApiJson;
use crate::domain::events::EVENT_TYPES;
use crate::services::channels::{
    Accepted, ChannelKey, ChannelView, CreatedChannel, InboundMessage, NewChannel,
};
use crate::services::staff::StaffUser;
use crate::services::webhooks::{CreatedEndpoint, DeliveryView, EndpointView, NewEndpoint};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;

pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<EndpointView>>, ApiError> {
    Ok(Json(state.webhooks.list().await?))
}

pub async fn create(
    State(state): State<AppState>,
    Extension(admin): Extension<StaffUser>,
    ApiJson(input): ApiJson<NewEndpoint>,
) -> Result<(StatusCode, Json<CreatedEndpoint>), ApiError> {
    let created = state.webhooks.create(&admin, input).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn delete(
    State(state): State<AppState>,
    Path(endpoint_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.webhooks.delete(&endpoint_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn enable(
    State(state): State<AppState>,
    Path(endpoint_id): Path<String>,
) -> Result<Json<EndpointView>, ApiError> {
    Ok(Json(state.webhooks.set_enabled(&endpoint_id, true).await?))
}

pub async fn disable(
    State(state): State<AppState>,
    Path(endpoint_id): Path<String>,
) -> Result<Json<EndpointView>, ApiError> {
    Ok(Json(state.webhooks.set_enabled(&endpoint_id, false).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    pub status: Option<DeliveryStatus>,
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

pub async fn deliveries(
    State(state): State<AppState>,
    Path(endpoint_id): Path<String>,
    Query(query): Query<DeliveryQuery>,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    let status = query.status.map(|s| match s {
        DeliveryStatus::Pending => "pending",
        DeliveryStatus::Delivered => "delivered",
        DeliveryStatus::Failed => "failed",
    });
    let limit = query.limit.unwrap_or(100);
    Ok(Json(
        state
            .webhooks
            .deliveries(&endpoint_id, status, limit)
            .await?,
    ))
}

pub async fn replay(
    State(state): State<AppState>,
    Path((endpoint_id, delivery_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.webhooks.replay(&endpoint_id, &delivery_id).await?;
    Ok(StatusCode::ACCEPTED)
}

pub async fn channels(State(state): State<AppState>) -> Result<Json<Vec<ChannelView>>, ApiError> {
    Ok(Json(state.channels.list().await?))
}

pub async fn create_channel(
    State(state): State<AppState>,
    Extension(admin): Extension<StaffUser>,
    ApiJson(input): ApiJson<NewChannel>,
) -> Result<(StatusCode, Json<CreatedChannel>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.channels.create(&admin, input).await?),
    ))
}

pub async fn delete_channel(
    State(state): State<AppState>,
    Path(channel_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.channels.delete(&channel_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An app posts its user's message (the bot answers as in the widget).
pub async fn channel_message(
    State(state): State<AppState>,
    Extension(channel): Extension<ChannelKey>,
    ApiJson(input): ApiJson<InboundMessage>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let accepted = state.channels.post(&channel, input).await?;
    let status = if accepted.ack.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(accepted)))
}

/// An app asks a person for its user.
pub async fn channel_handoff(
    State(state): State<AppState>,
    Extension(channel): Extension<ChannelKey>,
    Path(id): Path<String>,
) -> Result<Json<crate::services::chat::ConversationView>, ApiError> {
    Ok(Json(state.channels.request_person(&channel, &id).await?))
}

pub async fn event_types() -> Json<&'static [&'static str]> {
    Json(EVENT_TYPES)
}

/// The event catalogue for the OpenAPI document (`x-webhooks`): one POST per
/// event type with an example body and the Standard Webhooks headers.
pub fn catalogue() -> serde_json::Value {
    use crate::domain::events::EventData;
    let mut out = serde_json::Map::new();
    for data in EventData::examples() {
        let name = data.type_name();
        let mut fields = serde_json::to_value(&data).expect("examples serialise");
        let object = fields.as_object_mut().expect("event data is an object");
        object.remove("type");
        object.insert("event_id".into(), "evt_01J9Z8Q1WZ_7".into());
        object.insert("position".into(), 1024.into());
        object.insert("conversation_id".into(), "01J9Z8Q1WZ".into());
        object.insert("seq".into(), 7.into());
        if name == "message.posted" {
            object.insert(
                "message".into(),
                serde_json::json!({ "seq": 7, "sender": { "kind": "buyer", "id": "vis_01J9Z8Q1" },
                    "created_at": 1764536400000i64, "kind": "message",
                    "body": { "type": "text", "text": "我的快递到哪了" } }),
            );
        }
        let header = |name: &str, description: &str| {
            serde_json::json!({ "name": name, "in": "header", "required": true,
                "schema": { "type": "string" }, "description": description })
        };
        out.insert(
            name.to_owned(),
            serde_json::json!({ "post": {
                "summary": name,
                "description": "Sent to every enabled endpoint whose filter names this type. Signed with the endpoint's secret (Standard Webhooks 1.0); retried with backoff for 24 h; the same webhook-id on every retry.",
                "parameters": [
                    header("webhook-id", "the event id: dedupe by it"),
                    header("webhook-timestamp", "Unix seconds of this attempt"),
                    header("webhook-signature", "v1,base64(HMAC-SHA256(key, id.timestamp.body))"),
                ],
                "requestBody": { "content": { "application/json": { "example": {
                    "type": name, "timestamp": "2026-11-30T21:00:00.000Z", "data": fields } } } },
                "responses": {
                    "200": { "description": "any 2xx: delivered" },
                    "410": { "description": "gone: the endpoint is turned off" }
                }
            } }),
        );
    }
    serde_json::Value::Object(out)
}
