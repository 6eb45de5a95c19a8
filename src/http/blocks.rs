//! Blocklists: an agent blocks a chat's visitor; admins block networks and
//! lift blocks.

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, VisibleChat};
use crate::services::blocks::BlockView;
use crate::services::staff::StaffUser;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisitorBlock {
    pub reason: String,
    /// Leave out for a block until lifted.
    pub hours: Option<u32>,
}

pub async fn block_visitor(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    chat: VisibleChat,
    ApiJson(body): ApiJson<VisitorBlock>,
) -> Result<(StatusCode, Json<BlockView>), ApiError> {
    let visitor_id = &chat.conversation.visitor_id;
    let block = state
        .blocks
        .block_visitor(&staff, visitor_id, &body.reason, body.hours)
        .await?;
    Ok((StatusCode::CREATED, Json(block)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkBlock {
    pub network: String,
    pub reason: String,
    pub hours: Option<u32>,
}

pub async fn block_network(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ApiJson(body): ApiJson<NetworkBlock>,
) -> Result<(StatusCode, Json<BlockView>), ApiError> {
    let block = state
        .blocks
        .block_network(&staff, &body.network, &body.reason, body.hours)
        .await?;
    Ok((StatusCode::CREATED, Json(block)))
}

pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<BlockView>>, ApiError> {
    Ok(Json(state.blocks.list().await?))
}

pub async fn lift(
    State(state): State<AppState>,
    Path(block_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.blocks.lift(&block_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
