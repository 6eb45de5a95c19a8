//! Coupons in the chat: the console's picker, the agent's coupon card, the
//! buyer's claim from the card.

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, conversation_id, optional_client_msg_id};
use crate::domain::coupon::CouponId;
use crate::domain::lang::Lang;
use crate::services::chat::Ack;
use crate::services::coupons::{Claimed, CouponView};
use crate::services::staff::StaffUser;
use crate::services::visitors::Visitor;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;

/// The staff side; the buyer's claim is routed with the other buyer routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/staff/coupons", get(list))
        .route(
            "/api/v1/staff/conversations/{id}/coupon-cards",
            post(send_card),
        )
}

pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<CouponView>>, ApiError> {
    Ok(Json(state.coupons.list().await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardBody {
    pub coupon_id: String,
    pub client_msg_id: Option<String>,
}

pub async fn send_card(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CardBody>,
) -> Result<(StatusCode, Json<Ack>), ApiError> {
    let id = conversation_id(&id)?;
    let coupon = CouponId::parse(&body.coupon_id)
        .map_err(|e| ApiError::bad_request("invalid_coupon_id", e))?;
    let client_msg_id = optional_client_msg_id(body.client_msg_id.as_deref())?;
    let ack = state
        .coupons
        .send_card(&staff, &id, &coupon, client_msg_id)
        .await?;
    Ok((StatusCode::CREATED, Json(ack)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimBody {
    /// The coupon card's message.
    pub seq: i64,
    /// The language of the line the chat gets (default zh).
    #[serde(default)]
    pub lang: Lang,
}

/// The buyer claims the coupon of a card in their chat: 201 the first time,
/// 200 `already_claimed` after.
pub async fn claim(
    State(state): State<AppState>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ClaimBody>,
) -> Result<(StatusCode, Json<Claimed>), ApiError> {
    let id = conversation_id(&id)?;
    let claimed = state
        .coupons
        .claim(&visitor, &id, body.seq, body.lang)
        .await?;
    let status = match claimed.outcome {
        crate::domain::coupon::Claim::Claimed => StatusCode::CREATED,
        _ => StatusCode::OK,
    };
    Ok((status, Json(claimed)))
}

#[derive(Debug, serde::Serialize)]
pub struct Held {
    /// Coupon ids the buyer holds; a card with one of them shows as claimed.
    pub coupon_ids: Vec<String>,
}

/// The coupons the buyer of this chat holds (empty when not signed in).
pub async fn claimed(
    State(state): State<AppState>,
    Extension(visitor): Extension<Visitor>,
    Path(id): Path<String>,
) -> Result<Json<Held>, ApiError> {
    let id = conversation_id(&id)?;
    let coupon_ids = state.coupons.claimed(&visitor, &id).await?;
    Ok(Json(Held { coupon_ids }))
}
