//! Data protection for admins (PIPL): find a buyer, export everything stored
//! about them, erase them, and the retention policy with its purge. The route
//! table checks the permission and writes the audit records (ids only).

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery};
use crate::services::privacy::{BuyerSummary, ProtectionSettings, PurgeReport};
use crate::services::staff::StaffUser;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuyerQuery {
    pub visitor_id: Option<String>,
    /// The shop's account id of the buyer (matched by its blind index).
    pub account: Option<String>,
}

pub async fn find(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<BuyerQuery>,
) -> Result<Json<Vec<BuyerSummary>>, ApiError> {
    let found = state
        .privacy
        .find(q.visitor_id.as_deref(), q.account.as_deref())
        .await?;
    Ok(Json(found))
}

/// Everything stored about the buyer, as a JSON download read and sent page by
/// page (a failure midway ends it unfinished, never as a complete document).
pub async fn export(
    State(state): State<AppState>,
    Path(visitor_id): Path<String>,
) -> Result<Response, ApiError> {
    let pieces = state.privacy.export(&visitor_id).await?;
    let disposition = format!("attachment; filename=\"buyer-{visitor_id}.json\"");
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        Body::from_stream(pieces),
    )
        .into_response())
}

pub async fn erase(
    State(state): State<AppState>,
    Path(visitor_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.privacy.erase(&visitor_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn settings(State(state): State<AppState>) -> Result<Json<ProtectionSettings>, ApiError> {
    Ok(Json(state.privacy.settings().await?))
}

pub async fn put_settings(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ApiJson(body): ApiJson<ProtectionSettings>,
) -> Result<Json<ProtectionSettings>, ApiError> {
    Ok(Json(state.privacy.put_settings(body, &staff.id).await?))
}

/// Runs the retention purge now (it also runs every hour).
pub async fn purge(State(state): State<AppState>) -> Result<Json<PurgeReport>, ApiError> {
    Ok(Json(state.privacy.purge().await?))
}

/// The data keys (fingerprints) and the re-sealing after a rotation.
pub async fn keys(State(state): State<AppState>) -> Json<crate::services::keys::RekeyStatus> {
    Json(state.privacy.keys.status())
}
