//! Routing and workspace handlers: skill groups, rules, presence, transfer,
//! supervision, quick replies, and the buyer's place in the queue.

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, conversation_id};
use crate::domain::message::MessageText;
use crate::domain::routing::{MatchKind, Presence, RouteRule};
use crate::services::chat::{Ack, ConversationView};
use crate::services::quick_replies::{QuickReply, QuickReplyInput};
use crate::services::routing::{QueueStatus, TransferTarget};
use crate::services::skill_groups::{AgentStatus, Board, GroupInput, SkillGroup};
use crate::services::staff::StaffUser;
use crate::services::visitors::Visitor;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

pub async fn groups(State(state): State<AppState>) -> Result<Json<Vec<SkillGroup>>, ApiError> {
    Ok(Json(state.groups.list().await?))
}

pub async fn create_group(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<GroupInput>,
) -> Result<(StatusCode, Json<SkillGroup>), ApiError> {
    Ok((StatusCode::CREATED, Json(state.groups.create(input).await?)))
}

pub async fn update_group(
    State(state): State<AppState>,
    Path(group_id): Path<String>,
    ApiJson(input): ApiJson<GroupInput>,
) -> Result<Json<SkillGroup>, ApiError> {
    Ok(Json(state.groups.update(&group_id, input).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberInput {
    #[serde(default)]
    pub level: i64,
    #[serde(default = "default_weight")]
    pub weight: i64,
}

fn default_weight() -> i64 {
    100
}

pub async fn put_member(
    State(state): State<AppState>,
    Path((group_id, agent_id)): Path<(String, String)>,
    ApiJson(input): ApiJson<MemberInput>,
) -> Result<StatusCode, ApiError> {
    state
        .groups
        .set_member(&group_id, &agent_id, input.level, input.weight)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_member(
    State(state): State<AppState>,
    Path((group_id, agent_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.groups.remove_member(&group_id, &agent_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn rules(State(state): State<AppState>) -> Result<Json<Vec<RouteRule>>, ApiError> {
    Ok(Json(state.routing.rules().await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    pub kind: MatchKind,
    pub pattern: String,
    pub group_id: String,
    #[serde(default)]
    pub priority: i64,
}

pub async fn create_rule(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<RuleInput>,
) -> Result<(StatusCode, Json<RouteRule>), ApiError> {
    let rule = state
        .groups
        .add_rule(input.kind, &input.pattern, &input.group_id, input.priority)
        .await?;
    Ok((StatusCode::CREATED, Json(rule)))
}

pub async fn delete_rule(
    State(state): State<AppState>,
    Path(rule_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.groups.delete_rule(&rule_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresenceInput {
    pub status: Presence,
}

pub async fn put_presence(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ApiJson(input): ApiJson<PresenceInput>,
) -> Result<StatusCode, ApiError> {
    state.routing.set_presence(&staff, input.status).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn agents(State(state): State<AppState>) -> Result<Json<Vec<AgentStatus>>, ApiError> {
    Ok(Json(state.groups.agents().await?))
}

pub async fn board(State(state): State<AppState>) -> Result<Json<Board>, ApiError> {
    Ok(Json(state.groups.board().await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferInput {
    pub to_agent: Option<String>,
    pub to_group: Option<String>,
    pub note: Option<String>,
}

pub async fn transfer(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<TransferInput>,
) -> Result<Json<ConversationView>, ApiError> {
    let id = conversation_id(&id)?;
    let target = match (input.to_agent, input.to_group) {
        (Some(agent), None) => TransferTarget::Agent(agent),
        (None, Some(group)) => TransferTarget::Group(group),
        _ => {
            return Err(ApiError::bad_request(
                "invalid_transfer",
                "give exactly one of to_agent or to_group",
            ));
        }
    };
    let note = match input.note.as_deref().map(str::trim) {
        Some("") | None => None,
        Some(text) => Some(MessageText::parse(text)?.as_str().to_owned()),
    };
    Ok(Json(
        state
            .conversations
            .transfer(&staff, &id, target, note)
            .await?,
    ))
}

pub async fn take_over(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(id): Path<String>,
) -> Result<Json<ConversationView>, ApiError> {
    let id = conversation_id(&id)?;
    Ok(Json(state.conversations.take_over(&staff, &id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteInput {
    pub text: String,
}

/// A whisper: an internal note only staff see.
pub async fn whisper(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<NoteInput>,
) -> Result<(StatusCode, Json<Ack>), ApiError> {
    let id = conversation_id(&id)?;
    let text = MessageText::parse(&input.text)?;
    let ack = state.chat.whisper(&staff, &id, text).await?;
    Ok((StatusCode::CREATED, Json(ack)))
}

pub async fn quick_replies(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
) -> Result<Json<Vec<QuickReply>>, ApiError> {
    Ok(Json(state.quick_replies.list(&staff).await?))
}

pub async fn create_quick_reply(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ApiJson(input): ApiJson<QuickReplyInput>,
) -> Result<(StatusCode, Json<QuickReply>), ApiError> {
    let reply = state.quick_replies.create(&staff, input).await?;
    Ok((StatusCode::CREATED, Json(reply)))
}

pub async fn update_quick_reply(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(reply_id): Path<String>,
    ApiJson(input): ApiJson<QuickReplyInput>,
) -> Result<Json<QuickReply>, ApiError> {
    Ok(Json(
        state.quick_replies.update(&staff, &reply_id, input).await?,
    ))
}

pub async fn delete_quick_reply(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(reply_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.quick_replies.delete(&staff, &reply_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VipInput {
    pub vip: bool,
}

pub async fn put_visitor_vip(
    State(state): State<AppState>,
    Path(visitor_id): Path<String>,
    ApiJson(input): ApiJson<VipInput>,
) -> Result<StatusCode, ApiError> {
    state.routing.set_vip(&visitor_id, input.vip).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize)]
pub struct QueueView {
    /// None when the chat is not waiting for an agent.
    pub queue: Option<QueueStatus>,
}

pub async fn queue_status(
    State(state): State<AppState>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<String>,
) -> Result<Json<QueueView>, ApiError> {
    let id = conversation_id(&id)?;
    Ok(Json(QueueView {
        queue: state.conversations.queue_status(&visitor, &id).await?,
    }))
}
