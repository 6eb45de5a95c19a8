//! Bot routes: answer ratings (buyers), hand-off packets and FAQ drafts (agents),
//! the unanswered-question queue (knowledge managers), welcome messages (admins).

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, conversation_id};
use crate::domain::lang::Lang;
use crate::services::bot::handoff::HandoffPacket;
use crate::services::bot::welcome::{MenuView, WelcomeView};
use crate::services::staff::StaffUser;
use crate::services::unanswered::ReviewedGroup;
use crate::services::visitors::Visitor;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rating {
    pub seq: i64,
    pub helpful: bool,
}

pub async fn rate(
    State(state): State<AppState>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<String>,
    ApiJson(rating): ApiJson<Rating>,
) -> Result<Json<Rating>, ApiError> {
    let id = conversation_id(&id)?;
    state
        .bot
        .rate(&visitor, &id, rating.seq, rating.helpful)
        .await?;
    Ok(Json(rating))
}

pub async fn handoff_packet(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(id): Path<String>,
) -> Result<Json<HandoffPacket>, ApiError> {
    let id = conversation_id(&id)?;
    state
        .bot
        .handoff_packet(&staff, &id)
        .await?
        .map(|packet| Json(super::privacy::mask_packet(packet)))
        .ok_or(ApiError::NotFound {
            code: "not_found",
            message: "this conversation has not been handed off by the bot".into(),
        })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftRequest {
    /// The agent's message to turn into an answer.
    pub seq: i64,
    /// The question it answers; defaults to the buyer's last message before it.
    pub question: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DraftCreated {
    pub entry_id: String,
    pub status: &'static str,
}

pub async fn draft_faq(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<DraftRequest>,
) -> Result<(StatusCode, Json<DraftCreated>), ApiError> {
    let id = conversation_id(&id)?;
    let entry_id = state
        .bot
        .draft_from_agent_answer(&staff, &id, request.seq, request.question)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(DraftCreated {
            entry_id,
            status: "draft",
        }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnansweredQuery {
    /// How far back to look, in days (default 30).
    pub days: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct UnansweredGroups {
    /// Still unanswered: the bot would hand these over today.
    pub groups: Vec<ReviewedGroup>,
    /// Answered since: an entry now answers them (kept for a look, off the to-do list).
    pub answered: Vec<ReviewedGroup>,
}

pub async fn unanswered(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<UnansweredQuery>,
) -> Result<Json<UnansweredGroups>, ApiError> {
    let reviewed = state.unanswered.review(q.days.unwrap_or(30)).await?;
    let (answered, groups) = reviewed.into_iter().partition(|g| g.answered_by.is_some());
    Ok(Json(UnansweredGroups { groups, answered }))
}

#[derive(Debug, Serialize)]
pub struct WelcomeList {
    pub messages: Vec<WelcomeView>,
    /// The quick-reply menu the greetings carry, per language.
    pub menus: Vec<MenuView>,
    /// The member levels the shop lists, lowest first (empty: any plain level).
    pub member_levels: Vec<String>,
}

pub async fn welcome_messages(
    State(state): State<AppState>,
) -> Result<Json<WelcomeList>, ApiError> {
    Ok(Json(WelcomeList {
        messages: state.bot.welcome_messages().await?,
        menus: state.bot.menus().await?,
        member_levels: state.bot.member_levels().await?,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MenuBody {
    /// zh (the default) or en.
    #[serde(default)]
    pub lang: Lang,
    pub buttons: Vec<String>,
}

pub async fn put_menu(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ApiJson(body): ApiJson<MenuBody>,
) -> Result<Json<MenuView>, ApiError> {
    Ok(Json(
        state
            .bot
            .set_menu(body.lang, &body.buttons, &staff.id)
            .await?,
    ))
}

pub async fn delete_menu(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<WelcomeLang>,
) -> Result<StatusCode, ApiError> {
    if state.bot.reset_menu(q.lang).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound {
            code: "not_found",
            message: "no menu of the shop's own is set for this language".into(),
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WelcomeText {
    pub text: String,
    /// zh (the default) or en.
    #[serde(default)]
    pub lang: Lang,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WelcomeLang {
    #[serde(default)]
    pub lang: Lang,
}

pub async fn put_welcome(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(scenario): Path<String>,
    ApiJson(body): ApiJson<WelcomeText>,
) -> Result<Json<WelcomeView>, ApiError> {
    Ok(Json(
        state
            .bot
            .set_welcome(&scenario, body.lang, &body.text, &staff.id)
            .await?,
    ))
}

pub async fn delete_welcome(
    State(state): State<AppState>,
    Path(scenario): Path<String>,
    ApiQuery(q): ApiQuery<WelcomeLang>,
) -> Result<StatusCode, ApiError> {
    if state.bot.delete_welcome(&scenario, q.lang).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound {
            code: "not_found",
            message: "no welcome message is set for this scenario".into(),
        })
    }
}
