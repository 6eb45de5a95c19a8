//! Quality inspection (质检) routes: rubric schemes and sampling plans
//! (reviewers), the review queue, scoring, the agent's appeal and its
//! settlement. The route table checks the permission; the service narrows
//! every list and review to what the caller may see.

use super::AppState;
use super::error::ApiError;
use super::extract::ApiJson;
use crate::domain::analytics::DayRange;
use crate::domain::quality::{CheckItem, Rubric, SampleRule};
use crate::services::quality::{
    Outcome, PlanView, ReviewDetail, ReviewView, RunResult, SchemeView,
};
use crate::services::staff::StaffUser;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use std::collections::BTreeMap;

pub fn routes() -> Router<AppState> {
    let qa = "/api/v1/staff/qa";
    Router::new()
        .route(&format!("{qa}/schemes"), get(schemes).post(create_scheme))
        .route(&format!("{qa}/plans"), get(plans).post(create_plan))
        .route(&format!("{qa}/plans/{{plan_id}}/run"), post(run_plan))
        .route(&format!("{qa}/plans/{{plan_id}}/daily"), put(set_daily))
        .route(&format!("{qa}/reviews"), get(reviews))
        .route(&format!("{qa}/reviews/{{review_id}}"), get(review))
        .route(&format!("{qa}/reviews/{{review_id}}/score"), post(score))
        .route(&format!("{qa}/reviews/{{review_id}}/appeal"), post(appeal))
        .route(&format!("{qa}/reviews/{{review_id}}/settle"), post(settle))
        .route(&format!("{qa}/reviews/{{review_id}}/draft"), post(redraft))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemeInput {
    pub name: String,
    pub base: u32,
    pub items: Vec<CheckItem>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    pub name: String,
    pub scheme_id: String,
    pub rules: Vec<SampleRule>,
    /// The same seed picks the same conversations.
    pub seed: i64,
    /// Run by itself each day over the day before.
    #[serde(default)]
    pub daily: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DailyInput {
    pub daily: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunInput {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreInput {
    pub scores: BTreeMap<String, u32>,
    pub comment: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppealInput {
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettleInput {
    pub outcome: Outcome,
    pub scores: Option<BTreeMap<String, u32>>,
}

pub async fn schemes(State(state): State<AppState>) -> Result<Json<Vec<SchemeView>>, ApiError> {
    Ok(Json(state.quality.schemes().await?))
}

pub async fn create_scheme(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ApiJson(input): ApiJson<SchemeInput>,
) -> Result<(StatusCode, Json<SchemeView>), ApiError> {
    let rubric = Rubric::parse(input.base, input.items)
        .map_err(crate::services::quality::QualityError::from)?;
    let scheme = state
        .quality
        .create_scheme(&staff, &input.name, rubric)
        .await?;
    Ok((StatusCode::CREATED, Json(scheme)))
}

pub async fn plans(State(state): State<AppState>) -> Result<Json<Vec<PlanView>>, ApiError> {
    Ok(Json(state.quality.plans().await?))
}

pub async fn create_plan(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ApiJson(input): ApiJson<PlanInput>,
) -> Result<(StatusCode, Json<PlanView>), ApiError> {
    let plan = state
        .quality
        .create_plan(
            &staff,
            &input.name,
            &input.scheme_id,
            input.rules,
            input.seed,
            input.daily,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(plan)))
}

pub async fn set_daily(
    State(state): State<AppState>,
    Path(plan_id): Path<String>,
    ApiJson(input): ApiJson<DailyInput>,
) -> Result<Json<PlanView>, ApiError> {
    Ok(Json(state.quality.set_daily(&plan_id, input.daily).await?))
}

pub async fn run_plan(
    State(state): State<AppState>,
    Path(plan_id): Path<String>,
    ApiJson(input): ApiJson<RunInput>,
) -> Result<Json<RunResult>, ApiError> {
    let range = DayRange::parse(&input.from, &input.to)
        .map_err(crate::services::analytics::AnalyticsError::from)?;
    Ok(Json(state.quality.run_plan(&plan_id, &range).await?))
}

pub async fn reviews(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
) -> Result<Json<Vec<ReviewView>>, ApiError> {
    Ok(Json(state.quality.reviews(&staff).await?))
}

pub async fn review(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(review_id): Path<String>,
) -> Result<Json<ReviewDetail>, ApiError> {
    Ok(Json(state.quality.review(&staff, &review_id).await?))
}

pub async fn score(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(review_id): Path<String>,
    ApiJson(input): ApiJson<ScoreInput>,
) -> Result<Json<ReviewView>, ApiError> {
    let view = state
        .quality
        .score(&staff, &review_id, input.scores, input.comment.as_deref())
        .await?;
    Ok(Json(view))
}

pub async fn appeal(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(review_id): Path<String>,
    ApiJson(input): ApiJson<AppealInput>,
) -> Result<Json<ReviewView>, ApiError> {
    let view = state
        .quality
        .appeal(&staff, &review_id, &input.reason)
        .await?;
    Ok(Json(view))
}

pub async fn settle(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(review_id): Path<String>,
    ApiJson(input): ApiJson<SettleInput>,
) -> Result<Json<ReviewView>, ApiError> {
    let view = state
        .quality
        .settle(&staff, &review_id, input.outcome, input.scores)
        .await?;
    Ok(Json(view))
}

pub async fn redraft(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(review_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.quality.redraft(&staff, &review_id).await?;
    Ok(StatusCode::ACCEPTED)
}
