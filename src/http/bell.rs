//! The console bell: my in-app ticket reminders (services/bell.rs).

use super::AppState;
use super::error::ApiError;
use crate::services::bell::BellView;
use crate::services::staff::StaffUser;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/staff/me/bell", get(view))
        .route("/api/v1/staff/me/bell/read-all", post(read_all))
        .route("/api/v1/staff/me/bell/{id}/read", post(read))
}

pub async fn view(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
) -> Result<Json<BellView>, ApiError> {
    Ok(Json(state.bell.view(&staff.id).await?))
}

pub async fn read(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.bell.mark_read(&staff.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn read_all(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
) -> Result<StatusCode, ApiError> {
    state.bell.mark_all_read(&staff.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
