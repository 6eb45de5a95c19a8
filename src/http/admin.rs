//! Admin routes: staff accounts (role, status, password resets), one's own
//! password, and the shop settings that change at run time.

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, CurrentSession};
use crate::domain::staff::Password;
use crate::services::shop::{ShopSettings, ShopSettingsInput};
use crate::services::staff::{StaffChange, StaffUser};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
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
