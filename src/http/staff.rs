//! Staff-facing REST handlers. The route table has already checked the role's
//! permission; per-conversation access is checked by the chat service.

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, conversation_id};
use super::limits::ClientIp;
use crate::domain::chat_log::ConversationScope;
use crate::domain::conversation::ConversationState;
use crate::domain::staff::Role;
use crate::domain::visitor::VisitorContext;
use crate::services::chat::ConversationView;
use crate::services::conversations::ConversationDetail;
use crate::services::inbox::ChatSummary;
use crate::services::staff::{NewStaff, StaffUser};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub username: String,
    pub password: String,
    /// The code from the authenticator app, for accounts with two-step sign-in.
    #[serde(default)]
    pub totp: Option<String>,
}

#[derive(Serialize)]
pub struct LoginResponse {
    pub token: String,
    pub expires_at: i64,
    pub user: StaffUser,
}

pub async fn login(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    ApiJson(body): ApiJson<Login>,
) -> Result<Response, ApiError> {
    state.limits.check_login(&body.username, ip).await?;
    let code = body.totp.as_deref();
    let logged_in = match state
        .staff
        .login(&body.username, &body.password, code)
        .await
    {
        Ok(logged_in) => logged_in,
        Err(e) => {
            if e.is_failed_sign_in() {
                state.limits.login_failed(&body.username, ip).await?;
            }
            return Err(e.into());
        }
    };
    state.limits.login_succeeded(&body.username).await?;
    let max_age = (logged_in.expires_at - state.clock.now_ms()) / 1000;
    let cookie = state.edge.session_cookie(&logged_in.token, max_age);
    let body = LoginResponse {
        token: logged_in.token,
        expires_at: logged_in.expires_at,
        user: logged_in.user,
    };
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

pub async fn logout(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let token = super::extract::bearer_token(&request)
        .or_else(|| super::extract::session_cookie(&request, state.edge.cookie_name()));
    if let Some(token) = token {
        state.staff.logout(&token).await?;
    }
    let clear = state.edge.session_cookie("", 0);
    Ok(([(header::SET_COOKIE, clear)], StatusCode::NO_CONTENT).into_response())
}

pub async fn me(Extension(staff): Extension<StaffUser>) -> Json<StaffUser> {
    Json(staff)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub limit: Option<i64>,
}

/// A chat list as `staff` sees it: names, last messages, their unread counts.
async fn chat_list(
    state: &AppState,
    staff: &StaffUser,
    scope: ConversationScope,
    limit: Option<i64>,
) -> Result<Json<Vec<ChatSummary>>, ApiError> {
    let conversations = state.chat.list(scope, limit.unwrap_or(100)).await?;
    Ok(Json(state.chat.summaries(conversations, &staff.id).await?))
}

pub async fn queue(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Vec<ChatSummary>>, ApiError> {
    let scope = ConversationScope::State(ConversationState::Waiting.as_str().to_owned());
    chat_list(&state, &staff, scope, q.limit).await
}

pub async fn mine(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Vec<ChatSummary>>, ApiError> {
    let scope = ConversationScope::Agent(staff.id.clone());
    chat_list(&state, &staff, scope, q.limit).await
}

pub async fn all_open(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Vec<ChatSummary>>, ApiError> {
    chat_list(&state, &staff, ConversationScope::Open, q.limit).await
}

pub async fn detail(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(id): Path<String>,
) -> Result<Json<ConversationDetail>, ApiError> {
    let id = conversation_id(&id)?;
    Ok(Json(state.conversations.detail(&staff, &id).await?))
}

pub async fn claim(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(id): Path<String>,
) -> Result<Json<ConversationView>, ApiError> {
    let id = conversation_id(&id)?;
    Ok(Json(state.conversations.claim(&staff, &id).await?))
}

pub async fn resolve(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(id): Path<String>,
) -> Result<Json<ConversationView>, ApiError> {
    let id = conversation_id(&id)?;
    Ok(Json(state.conversations.resolve(&staff, &id).await?))
}

pub async fn hand_back(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(id): Path<String>,
) -> Result<Json<ConversationView>, ApiError> {
    let id = conversation_id(&id)?;
    Ok(Json(state.conversations.hand_back(&staff, &id).await?))
}

pub async fn close(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(id): Path<String>,
) -> Result<Json<ConversationView>, ApiError> {
    let id = conversation_id(&id)?;
    Ok(Json(state.conversations.close(&staff, &id).await?))
}

pub async fn list_users(State(state): State<AppState>) -> Result<Json<Vec<StaffUser>>, ApiError> {
    Ok(Json(state.staff.list_users().await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub username: String,
    pub password: String,
    pub role: Role,
    pub display_name: Option<String>,
    pub max_chats: Option<i64>,
}

pub async fn create_user(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateUser>,
) -> Result<(StatusCode, Json<StaffUser>), ApiError> {
    let new = NewStaff::parse(
        &body.username,
        &body.password,
        body.display_name.as_deref(),
        body.role,
        body.max_chats,
    )?;
    Ok((StatusCode::CREATED, Json(state.staff.add_user(new).await?)))
}

pub async fn put_visitor_context(
    State(state): State<AppState>,
    Path(visitor_id): Path<String>,
    ApiJson(raw): ApiJson<VisitorContext>,
) -> Result<StatusCode, ApiError> {
    let context = VisitorContext::parse(raw)?;
    state.visitors.set_context(&visitor_id, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}
