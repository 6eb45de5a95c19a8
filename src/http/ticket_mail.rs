//! E-mail reminders: the shop's SMTP server (admins) and each person's own
//! notification preferences.

use super::AppState;
use super::error::ApiError;
use super::extract::ApiJson;
use crate::domain::ticket_mail::{NotificationPrefs, SmtpInput};
use crate::services::staff::StaffUser;
use crate::services::ticket_mail::SmtpView;
use axum::extract::State;
use axum::routing::get;
use axum::{Extension, Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/smtp", get(smtp).put(put_smtp))
        .route("/api/v1/staff/me/notifications", get(prefs).put(put_prefs))
}

pub async fn smtp(State(state): State<AppState>) -> Result<Json<SmtpView>, ApiError> {
    Ok(Json(state.ticket_mail.smtp().await?))
}

pub async fn put_smtp(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ApiJson(input): ApiJson<SmtpInput>,
) -> Result<Json<SmtpView>, ApiError> {
    Ok(Json(state.ticket_mail.put_smtp(&staff.id, input).await?))
}

pub async fn prefs(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
) -> Result<Json<NotificationPrefs>, ApiError> {
    Ok(Json(state.ticket_mail.prefs(&staff.id).await?))
}

pub async fn put_prefs(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ApiJson(input): ApiJson<NotificationPrefs>,
) -> Result<Json<NotificationPrefs>, ApiError> {
    Ok(Json(state.ticket_mail.put_prefs(&staff.id, input).await?))
}
