//! Ticket automations (admins): list, create, replace (turn on or off),
//! reorder, delete. Rules run in the order of the list.

use super::AppState;
use super::error::ApiError;
use super::extract::ApiJson;
use crate::domain::ticket_automations::{Automation, AutomationInput};
use crate::services::staff::StaffUser;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Extension, Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/ticket-automations", get(list).post(create))
        .route("/api/v1/admin/ticket-automations/order", put(reorder))
        .route(
            "/api/v1/admin/ticket-automations/{automation_id}",
            put(update).delete(remove),
        )
}

pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<Automation>>, ApiError> {
    Ok(Json(state.tickets.automations().await?))
}

pub async fn create(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ApiJson(input): ApiJson<AutomationInput>,
) -> Result<(StatusCode, Json<Automation>), ApiError> {
    let made = state.tickets.create_automation(&staff.id, input).await?;
    Ok((StatusCode::CREATED, Json(made)))
}

pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<AutomationInput>,
) -> Result<Json<Automation>, ApiError> {
    Ok(Json(state.tickets.update_automation(&id, input).await?))
}

/// The new order: every automation's id once, first to run first.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Order {
    pub ids: Vec<String>,
}

pub async fn reorder(
    State(state): State<AppState>,
    ApiJson(order): ApiJson<Order>,
) -> Result<Json<Vec<Automation>>, ApiError> {
    Ok(Json(state.tickets.reorder_automations(order.ids).await?))
}

pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.tickets.delete_automation(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
