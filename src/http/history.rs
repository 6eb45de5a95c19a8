//! History search: past conversations by words, buyer, order number, agent and
//! date (agents find only their own); and the buyer's orders beside a chat.

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, optional_client_msg_id};
use super::extract::{VisibleChat, conversation_id};
use crate::domain::commerce::OrderNumber;
use crate::services::chat::Ack;
use crate::services::history::{HistoryHit, HistoryQuery};
use crate::services::orders::BuyerOrders;
use crate::services::portrait::{HandTagView, Portrait};
use crate::services::staff::StaffUser;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/staff/history", get(search))
        .route("/api/v1/staff/conversations/{id}/orders", get(orders))
        .route("/api/v1/staff/conversations/{id}/portrait", get(portrait))
        .route(
            "/api/v1/staff/conversations/{id}/portrait/tags",
            post(add_tag),
        )
        .route(
            "/api/v1/staff/conversations/{id}/portrait/tags/{tag}",
            delete(remove_tag),
        )
        .route(
            "/api/v1/staff/conversations/{id}/order-cards",
            post(send_order_card),
        )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    pub q: Option<String>,
    pub order_no: Option<String>,
    pub buyer: Option<String>,
    pub visitor_id: Option<String>,
    pub agent_id: Option<String>,
    /// Started at or after (Unix ms).
    pub from: Option<i64>,
    /// Started before (Unix ms).
    pub until: Option<i64>,
    /// The next page: started before this (the last hit's created_at).
    pub before: Option<i64>,
    pub limit: Option<i64>,
}

pub async fn search(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> Result<Json<Vec<HistoryHit>>, ApiError> {
    let query = HistoryQuery {
        text: p.q,
        order_no: p.order_no,
        buyer: p.buyer,
        visitor_id: p.visitor_id,
        agent_id: p.agent_id,
        from: p.from,
        until: p.until,
        before: p.before,
        limit: p.limit.unwrap_or(30),
    };
    Ok(Json(state.history.search(&staff, &query).await?))
}

/// The chat's buyer's recent orders as cards (only for a verified shop account).
pub async fn orders(
    State(state): State<AppState>,
    chat: VisibleChat,
) -> Result<Json<BuyerOrders>, ApiError> {
    let visitor_id = &chat.conversation.visitor_id;
    Ok(Json(state.orders.for_visitor(visitor_id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderCardBody {
    pub order_no: String,
    pub client_msg_id: Option<String>,
}

/// The chat's agent sends one of the buyer's own orders into the chat as a card.
pub async fn send_order_card(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<OrderCardBody>,
) -> Result<(StatusCode, Json<Ack>), ApiError> {
    let id = conversation_id(&id)?;
    let order_no = OrderNumber::parse(&body.order_no)
        .map_err(|e| ApiError::bad_request("invalid_order_no", e))?;
    let client_msg_id = optional_client_msg_id(body.client_msg_id.as_deref())?;
    let ack = state
        .orders
        .send_card(&staff, &id, &order_no, client_msg_id)
        .await?;
    Ok((StatusCode::CREATED, Json(ack)))
}

/// The chat's buyer's profile: member level, orders, interests, our history
/// with them and the rule tags.
pub async fn portrait(
    State(state): State<AppState>,
    chat: VisibleChat,
) -> Result<Json<Portrait>, ApiError> {
    Ok(Json(state.portraits.of(&chat.conversation).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagBody {
    pub tag: String,
}

/// Staff who may see the chat tag its signed-in buyer by hand; the answer is
/// the buyer's hand tags.
pub async fn add_tag(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    chat: VisibleChat,
    ApiJson(body): ApiJson<TagBody>,
) -> Result<Json<Vec<HandTagView>>, ApiError> {
    let tags = state
        .portraits
        .tag(&chat.conversation, &body.tag, &staff.id);
    Ok(Json(tags.await?))
}

pub async fn remove_tag(
    State(state): State<AppState>,
    chat: VisibleChat,
    Path((_, tag)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.portraits.untag(&chat.conversation, &tag).await?;
    Ok(StatusCode::NO_CONTENT)
}
