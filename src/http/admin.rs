//! Admin routes: staff accounts (role, status, password resets), one's own
//! password, and the shop settings that change at run time.

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, CurrentSession};
use crate::domain::staff::Password;
use crate::services::shop::{ShopSettings, ShopSettingsInput};
use crate::services::staff::{StaffChange, StaffUser};
use crate::services::totp::{TotpSetup, TotpStatus};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/staff/users/{user_id}", put(update_user))
        .route(
            "/api/v1/staff/users/{user_id}/password",
            post(reset_password),
        )
        .route("/api/v1/staff/me/password", put(change_my_password))
        .route("/api/v1/staff/me/totp", get(my_totp))
        .route("/api/v1/staff/me/totp/setup", post(totp_setup))
        .route("/api/v1/staff/me/totp/enable", post(totp_enable))
        .route("/api/v1/staff/me/totp/disable", post(totp_disable))
        .route("/api/v1/staff/users/{user_id}/totp", delete(reset_totp))
        .route(
            "/api/v1/admin/shop-settings",
            get(shop_settings).put(put_shop_settings),
        )
}

pub async fn update_user(
    State(state): State<AppState>,
    Extension(admin): Extension<StaffUser>,
    Path(user_id): Path<String>,
    ApiJson(change): ApiJson<StaffChange>,
) -> Result<Json<StaffUser>, ApiError> {
    Ok(Json(
        state.staff.update_user(&admin, &user_id, change).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    pub password: String,
}

pub async fn reset_password(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<NewPassword>,
) -> Result<StatusCode, ApiError> {
    let password = Password::parse(&body.password)?;
    state.staff.reset_password(&user_id, password).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

pub async fn change_my_password(
    State(state): State<AppState>,
    Extension(me): Extension<StaffUser>,
    Extension(session): Extension<CurrentSession>,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Result<Json<StaffUser>, ApiError> {
    let new = Password::parse(&body.new_password)?;
    let changed = state
        .staff
        .change_password(&me, &session.0, &body.current_password, new)
        .await?;
    Ok(Json(changed))
}

#[derive(Serialize)]
pub struct ShopView {
    #[serde(flatten)]
    pub settings: ShopSettings,
    /// Whether people answer chats right now (hours, holidays).
    pub open_now: bool,
}

fn view(state: &AppState, settings: &ShopSettings) -> ShopView {
    ShopView {
        settings: settings.clone(),
        open_now: settings.is_open(state.clock.now_ms()),
    }
}

pub async fn shop_settings(State(state): State<AppState>) -> Json<ShopView> {
    let settings = state.shop.current().await;
    Json(view(&state, &settings))
}

pub async fn put_shop_settings(
    State(state): State<AppState>,
    Extension(admin): Extension<StaffUser>,
    ApiJson(input): ApiJson<ShopSettingsInput>,
) -> Result<Json<ShopView>, ApiError> {
    let settings = state.shop.update(input, &admin.id).await?;
    Ok(Json(view(&state, &settings)))
}

/// My two-step sign-in: on, set up and waiting for a first code, or off.
pub async fn my_totp(
    State(state): State<AppState>,
    Extension(me): Extension<StaffUser>,
) -> Result<Json<TotpStatus>, ApiError> {
    Ok(Json(state.staff.totp_status(&me).await?))
}

pub async fn totp_setup(
    State(state): State<AppState>,
    Extension(me): Extension<StaffUser>,
) -> Result<(StatusCode, Json<TotpSetup>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.staff.totp_setup(&me).await?),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotpCode {
    pub code: String,
}

pub async fn totp_enable(
    State(state): State<AppState>,
    Extension(me): Extension<StaffUser>,
    ApiJson(body): ApiJson<TotpCode>,
) -> Result<Json<TotpStatus>, ApiError> {
    Ok(Json(state.staff.totp_enable(&me, &body.code).await?))
}

pub async fn totp_disable(
    State(state): State<AppState>,
    Extension(me): Extension<StaffUser>,
    ApiJson(body): ApiJson<TotpCode>,
) -> Result<Json<TotpStatus>, ApiError> {
    Ok(Json(state.staff.totp_disable(&me, &body.code).await?))
}

/// An admin turns another person's two-step sign-in off (a lost phone).
pub async fn reset_totp(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.staff.reset_totp(&user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
