//! Who is on the shop now: the widget's heartbeat and invitations on the
//! buyer side; the visitor list (with a live stream), invitations, invitation
//! rules and product cards on the staff side. Thin: parse, call one service.

use super::AppState;
use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, conversation_id, optional_client_msg_id};
use crate::domain::catalogue::{Product, Sku};
use crate::domain::invitation::InvitationRule;
use crate::domain::presence::{BrowserId, Heartbeat, Source, Tag, VisitFilter, VisitSort};
use crate::domain::visitor::{CartItem, SignedIdentity};
use crate::services::chat::Ack;
use crate::services::presence::{
    Beat, BeatReply, InvitationCounts, Offer, OnlineVisit, PresenceError, RuleView,
};
use crate::services::staff::StaffUser;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use futures::Stream;
use serde::Deserialize;
use std::convert::Infallible;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/presence", post(heartbeat))
        .route(
            "/api/v1/presence/invitations/{invitation_id}/decline",
            post(decline),
        )
        .route("/api/v1/demo/products/{sku}", get(demo_product))
        .route("/api/v1/staff/visits", get(list))
        .route("/api/v1/staff/visits/stream", get(stream))
        .route("/api/v1/staff/visits/{visit_id}/invite", post(invite))
        .route(
            "/api/v1/admin/invitation-rules",
            get(rules).post(create_rule),
        )
        .route(
            "/api/v1/admin/invitation-rules/{rule_id}",
            put(update_rule).delete(delete_rule),
        )
        .route("/api/v1/admin/agent-invitations", get(agent_invitations))
        .route("/api/v1/staff/products", get(products))
        .route(
            "/api/v1/staff/conversations/{id}/product-cards",
            post(send_card),
        )
        .route(
            "/api/v1/staff/conversations/{id}/recommendations",
            get(recommendations),
        )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatBody {
    /// The key the first heartbeat of this tab's visit returned; omit to start one.
    pub visit_key: Option<String>,
    pub browser_id: String,
    pub url: String,
    pub title: Option<String>,
    pub referrer: Option<String>,
    /// The cart as the shop page knows it; omit to keep the last one.
    pub cart: Option<Vec<CartItem>>,
    pub identity: Option<SignedIdentity>,
}

pub async fn heartbeat(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<HeartbeatBody>,
) -> Result<Json<BeatReply>, ApiError> {
    state
        .limits
        .check_presence_visit(body.visit_key.as_deref(), &body.browser_id)
        .await?;
    let beat = Beat {
        browser_id: BrowserId::parse(&body.browser_id).map_err(PresenceError::from)?,
        heartbeat: Heartbeat::parse(&body.url, body.title, body.referrer, body.cart)?,
        visit_key: body.visit_key,
        identity: body.identity,
    };
    Ok(Json(state.presence.heartbeat(beat).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisitKey {
    pub visit_key: String,
}

pub async fn decline(
    State(state): State<AppState>,
    Path(invitation_id): Path<String>,
    ApiJson(body): ApiJson<VisitKey>,
) -> Result<StatusCode, ApiError> {
    state
        .presence
        .decline(&body.visit_key, &invitation_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The visitor list's query: `?sort=dwell&source=ads&returning=true&min_cart_cents=10000...`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    pub sort: VisitSort,
    pub source: Option<String>,
    pub returning: Option<bool>,
    pub min_cart_cents: Option<i64>,
    pub page: Option<String>,
    pub member_level: Option<String>,
    pub vip: Option<bool>,
    pub tag: Option<Tag>,
    pub limit: Option<i64>,
}

impl ListQuery {
    fn filter(self) -> Result<VisitFilter, ApiError> {
        let source = match self.source.as_deref() {
            Some(raw) => Some(Source::parse(raw).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_query",
                    "source must be search, ads, recommendation, referral or direct",
                )
            })?),
            None => None,
        };
        Ok(VisitFilter {
            source,
            returning: self.returning,
            min_cart_cents: self.min_cart_cents,
            page_contains: self.page.filter(|p| !p.is_empty()),
            member_level: self.member_level.filter(|l| !l.is_empty()),
            vip: self.vip,
            tag: self.tag,
        })
    }
}

pub async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Vec<OnlineVisit>>, ApiError> {
    let (sort, limit) = (query.sort, query.limit.unwrap_or(500));
    let visits = state.presence.online(&query.filter()?, sort, limit).await?;
    Ok(Json(visits))
}

/// Server-sent events: `visit` with the visit's id whenever a visit starts,
/// moves to another page, changes its cart or takes an invitation. The list
/// re-reads on each; visits that go quiet drop out of the list by themselves.
pub async fn stream(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let changes = state.presence.changes();
    let events = futures::stream::unfold(changes, |mut changes| async move {
        use tokio::sync::broadcast::error::RecvError;
        let data = match changes.recv().await {
            Ok(change) => serde_json::to_string(&change).unwrap_or_default(),
            // Fell behind: "something changed" is all the list needs to re-read.
            Err(RecvError::Lagged(_)) => "{}".to_owned(),
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(Event::default().event("visit").data(data)), changes))
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    /// Leave out for the standard greeting with the agent's name.
    pub greeting: Option<String>,
}

pub async fn invite(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(visit_id): Path<String>,
    ApiJson(body): ApiJson<InviteBody>,
) -> Result<(StatusCode, Json<Offer>), ApiError> {
    let offer = state
        .presence
        .invite(&staff, &visit_id, body.greeting.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(offer)))
}

pub async fn rules(State(state): State<AppState>) -> Result<Json<Vec<RuleView>>, ApiError> {
    Ok(Json(state.presence.rule_views().await?))
}

pub async fn agent_invitations(
    State(state): State<AppState>,
) -> Result<Json<InvitationCounts>, ApiError> {
    Ok(Json(state.presence.agent_invitation_counts().await?))
}

/// The body is read as any JSON and parsed into a rule here, so unknown fields
/// and bad values answer `invalid_invitation_rule`.
pub async fn create_rule(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<(StatusCode, Json<RuleView>), ApiError> {
    let rule = InvitationRule::parse(body).map_err(PresenceError::from)?;
    Ok((
        StatusCode::CREATED,
        Json(state.presence.add_rule(&staff, rule).await?),
    ))
}

/// The whole rule, as `create_rule` reads it (an edit, or a switch on or off).
pub async fn update_rule(
    State(state): State<AppState>,
    Path(rule_id): Path<String>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Json<RuleView>, ApiError> {
    let rule = InvitationRule::parse(body).map_err(PresenceError::from)?;
    Ok(Json(state.presence.update_rule(&rule_id, rule).await?))
}

pub async fn delete_rule(
    State(state): State<AppState>,
    Path(rule_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.presence.delete_rule(&rule_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductQuery {
    #[serde(default)]
    pub q: String,
    pub limit: Option<i64>,
}

pub async fn products(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ProductQuery>,
) -> Result<Json<Vec<Product>>, ApiError> {
    let limit = query.limit.unwrap_or(20);
    Ok(Json(state.catalogue.search(&query.q, limit).await?))
}

pub async fn demo_product(
    State(state): State<AppState>,
    Path(sku): Path<String>,
) -> Result<Json<Product>, ApiError> {
    let sku = parse_sku(&sku)?;
    Ok(Json(state.catalogue.product(&sku).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardBody {
    pub sku: String,
    pub client_msg_id: Option<String>,
}

pub async fn send_card(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CardBody>,
) -> Result<(StatusCode, Json<Ack>), ApiError> {
    let id = conversation_id(&id)?;
    let sku = parse_sku(&body.sku)?;
    let client_msg_id = optional_client_msg_id(body.client_msg_id.as_deref())?;
    let ack = state
        .catalogue
        .send_card(&staff, &id, &sku, client_msg_id)
        .await?;
    Ok((StatusCode::CREATED, Json(ack)))
}

fn parse_sku(raw: &str) -> Result<Sku, ApiError> {
    Sku::parse(raw).map_err(|e| ApiError::bad_request("invalid_sku", e))
}

/// Products recommended for the chat's buyer, for the card picker.
pub async fn recommendations(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(id): Path<String>,
) -> Result<Json<Vec<Product>>, ApiError> {
    let id = conversation_id(&id)?;
    Ok(Json(state.recommender.for_conversation(&staff, &id).await?))
}
