//! Webhook administration: endpoints, their delivery log, replays.

use super::AppState;
use super::error::ApiError;
use super::extract::ApiJson;
use crate::domain::events::EVENT_TYPES;
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

pub async fn event_types() -> Json<&'static [&'static str]> {
    Json(EVENT_TYPES)
}
