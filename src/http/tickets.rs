//! Ticket routes for staff (list, detail, create, edit, transitions, comments,
//! one-click from a chat), ticket administration, and the buyer's "my tickets".

use super::AppState;
use super::conversation::serve_file;
use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, attachment_id, conversation_id};
use crate::domain::tickets::{Comment, Ticket};
use crate::services::attachments::StoredAttachment;
use crate::services::channels::ChannelKey;
use crate::services::staff::StaffUser;
use crate::services::ticket_admin::{
    CalendarDays, Department, DepartmentInput, TicketType, TicketTypeInput,
};
use crate::services::ticket_board::Board;
use crate::services::ticket_buyer::{BuyerReplyInput, TicketSettings};
use crate::services::ticket_merge::MergeInput;
use crate::services::ticket_routing::RoutingRules;
use crate::services::ticket_views::{NewView, TicketView};
use crate::services::tickets::{
    BuyerReply, BuyerTicket, CommentInput, ListQuery, NewTicketInput, TicketDetail, TicketPatch,
    TransitionInput,
};
use crate::services::visitors::Visitor;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::{delete, get, post, put};
use axum::{Extension, Json, Router};
use serde::Deserialize;

pub fn routes(upload_limit: DefaultBodyLimit) -> Router<AppState> {
    let ticket = "/api/v1/staff/tickets/{ticket_id}";
    let buyer_ticket = "/api/v1/buyer/tickets/{ticket_id}";
    Router::new()
        .route(
            &format!("{ticket}/attachments"),
            post(staff_upload).layer(upload_limit),
        )
        .route(
            &format!("{ticket}/attachments/{{attachment_id}}"),
            get(staff_file),
        )
        .route(
            &format!("{buyer_ticket}/attachments"),
            post(buyer_upload).layer(upload_limit),
        )
        .route(
            &format!("{buyer_ticket}/attachments/{{attachment_id}}"),
            get(buyer_file),
        )
        .route("/api/v1/staff/tickets", get(list).post(create))
        .route("/api/v1/staff/tickets/board", get(board))
        .route("/api/v1/staff/tickets/export.csv", get(export_csv))
        .route("/api/v1/staff/ticket-views", get(views).post(save_view))
        .route("/api/v1/staff/ticket-views/{view_id}", delete(delete_view))
        .route(ticket, get(detail).put(update))
        .route(&format!("{ticket}/transition"), post(transition))
        .route(&format!("{ticket}/comments"), post(comment))
        .route(&format!("{ticket}/merge"), post(merge))
        .route(
            &format!("{ticket}/watchers/{{staff_id}}"),
            put(watch).delete(unwatch),
        )
        .route(
            "/api/v1/staff/conversations/{id}/ticket",
            post(create_from_chat),
        )
        .route(
            "/api/v1/staff/ticket-departments",
            get(departments).post(create_department),
        )
        .route(
            "/api/v1/staff/ticket-departments/{department_id}/members/{agent_id}",
            put(add_member),
        )
        .route("/api/v1/staff/ticket-types", get(types).post(create_type))
        .route(
            "/api/v1/admin/business-calendar",
            get(calendar).put(put_calendar),
        )
        .route("/api/v1/buyer/tickets", get(buyer_tickets))
        .route(
            "/api/v1/channel/tickets",
            get(channel_tickets).post(channel_open_ticket),
        )
        .route(
            "/api/v1/channel/tickets/{ticket_id}/replies",
            post(channel_reply),
        )
        .route(
            "/api/v1/buyer/tickets/{ticket_id}/replies",
            post(buyer_reply),
        )
        .route(
            "/api/v1/admin/ticket-settings",
            get(ticket_settings).put(put_ticket_settings),
        )
        .route(
            "/api/v1/admin/ticket-routing-rules",
            get(routing_rules).put(put_routing_rules),
        )
}

pub async fn list(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Vec<Ticket>>, ApiError> {
    Ok(Json(state.tickets.list(&staff, query).await?))
}

pub async fn create(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ApiJson(input): ApiJson<NewTicketInput>,
) -> Result<(StatusCode, Json<Ticket>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.tickets.create(&staff, input).await?),
    ))
}

pub async fn create_from_chat(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<NewTicketInput>,
) -> Result<(StatusCode, Json<Ticket>), ApiError> {
    let id = conversation_id(&id)?;
    let ticket = state.tickets.create_from_chat(&staff, &id, input).await?;
    Ok((StatusCode::CREATED, Json(ticket)))
}

pub async fn detail(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(ticket_id): Path<String>,
) -> Result<Json<TicketDetail>, ApiError> {
    Ok(Json(state.tickets.detail(&staff, &ticket_id).await?))
}

pub async fn update(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(ticket_id): Path<String>,
    ApiJson(patch): ApiJson<TicketPatch>,
) -> Result<Json<Ticket>, ApiError> {
    Ok(Json(state.tickets.update(&staff, &ticket_id, patch).await?))
}

pub async fn transition(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(ticket_id): Path<String>,
    ApiJson(input): ApiJson<TransitionInput>,
) -> Result<Json<Ticket>, ApiError> {
    Ok(Json(
        state.tickets.transition(&staff, &ticket_id, input).await?,
    ))
}

pub async fn comment(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(ticket_id): Path<String>,
    ApiJson(input): ApiJson<CommentInput>,
) -> Result<(StatusCode, Json<Comment>), ApiError> {
    let comment = state.tickets.comment(&staff, &ticket_id, input).await?;
    Ok((StatusCode::CREATED, Json(comment)))
}

pub async fn departments(State(state): State<AppState>) -> Result<Json<Vec<Department>>, ApiError> {
    Ok(Json(state.tickets.departments().await?))
}

pub async fn create_department(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<DepartmentInput>,
) -> Result<(StatusCode, Json<Department>), ApiError> {
    let department = state.tickets.create_department(input).await?;
    Ok((StatusCode::CREATED, Json(department)))
}

pub async fn add_member(
    State(state): State<AppState>,
    Path((department_id, agent_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.tickets.add_member(&department_id, &agent_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn types(State(state): State<AppState>) -> Result<Json<Vec<TicketType>>, ApiError> {
    Ok(Json(state.tickets.types().await?))
}

pub async fn create_type(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<TicketTypeInput>,
) -> Result<(StatusCode, Json<TicketType>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.tickets.create_type(input).await?),
    ))
}

pub async fn calendar(State(state): State<AppState>) -> Result<Json<CalendarDays>, ApiError> {
    Ok(Json(state.tickets.calendar_days().await?))
}

pub async fn put_calendar(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<CalendarDays>,
) -> Result<Json<CalendarDays>, ApiError> {
    Ok(Json(state.tickets.put_calendar_days(input).await?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LangQuery {
    /// zh (the default) or en: the language of the status texts.
    pub lang: Option<String>,
}

pub async fn buyer_tickets(
    State(state): State<AppState>,
    Extension(visitor): Extension<Visitor>,
    ApiQuery(query): ApiQuery<LangQuery>,
) -> Result<Json<Vec<BuyerTicket>>, ApiError> {
    let zh = query.lang.as_deref() != Some("en");
    Ok(Json(state.tickets.for_buyer(&visitor, zh).await?))
}

pub async fn buyer_reply(
    State(state): State<AppState>,
    Extension(visitor): Extension<Visitor>,
    Path(ticket_id): Path<String>,
    ApiJson(input): ApiJson<BuyerReplyInput>,
) -> Result<(StatusCode, Json<BuyerReply>), ApiError> {
    let reply = state
        .tickets
        .buyer_reply(&visitor, &ticket_id, input)
        .await?;
    Ok((StatusCode::CREATED, Json(reply)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelUserQuery {
    pub external_user_id: String,
    pub lang: Option<String>,
}

/// An app's user's tickets, as the widget's 我的工单 shows them.
pub async fn channel_tickets(
    State(state): State<AppState>,
    Extension(channel): Extension<ChannelKey>,
    ApiQuery(q): ApiQuery<ChannelUserQuery>,
) -> Result<Json<Vec<BuyerTicket>>, ApiError> {
    let zh = q.lang.as_deref() != Some("en");
    let tickets = state
        .channels
        .user_tickets(&channel, &q.external_user_id, zh)
        .await?;
    Ok(Json(tickets))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelTicketInput {
    pub external_user_id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub order_number: Option<String>,
    pub category: Option<String>,
}

/// An app opens a ticket for its user (one who has written on the channel),
/// in their current chat; it is routed like any new ticket.
pub async fn channel_open_ticket(
    State(state): State<AppState>,
    Extension(channel): Extension<ChannelKey>,
    ApiJson(input): ApiJson<ChannelTicketInput>,
) -> Result<(StatusCode, Json<BuyerTicket>), ApiError> {
    let fields = NewTicketInput {
        description: input.description,
        order_number: input.order_number,
        category: input.category,
        ..NewTicketInput::default()
    };
    let shown = state
        .channels
        .open_user_ticket(&channel, &input.external_user_id, &input.title, fields)
        .await?;
    Ok((StatusCode::CREATED, Json(shown)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelReplyInput {
    pub external_user_id: String,
    pub body: String,
}

/// The app's user answers on their ticket (the widget's reply rules).
pub async fn channel_reply(
    State(state): State<AppState>,
    Extension(channel): Extension<ChannelKey>,
    Path(ticket_id): Path<String>,
    ApiJson(input): ApiJson<ChannelReplyInput>,
) -> Result<(StatusCode, Json<BuyerReply>), ApiError> {
    let reply = BuyerReplyInput {
        body: input.body,
        attachments: Vec::new(),
    };
    let reply = state
        .channels
        .user_ticket_reply(&channel, &input.external_user_id, &ticket_id, reply)
        .await?;
    Ok((StatusCode::CREATED, Json(reply)))
}

/// The raw body is the file; its Content-Type says what it is.
pub async fn staff_upload(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(ticket_id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<StoredAttachment>), ApiError> {
    let stored = state
        .tickets
        .staff_upload(&staff, &ticket_id, declared_type(&headers), &body?)
        .await?;
    Ok((StatusCode::CREATED, Json(stored)))
}

pub async fn staff_file(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path((ticket_id, aid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (content_type, bytes) = state
        .tickets
        .staff_file(&staff, &ticket_id, &attachment_id(&aid)?)
        .await?;
    Ok(serve_file(content_type, bytes))
}

/// The buyer's photo on their own ticket (raw body, Content-Type).
pub async fn buyer_upload(
    State(state): State<AppState>,
    Extension(visitor): Extension<Visitor>,
    Path(ticket_id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<StoredAttachment>), ApiError> {
    let stored = state
        .tickets
        .buyer_upload(&visitor, &ticket_id, declared_type(&headers), &body?)
        .await?;
    Ok((StatusCode::CREATED, Json(stored)))
}

pub async fn buyer_file(
    State(state): State<AppState>,
    Extension(visitor): Extension<Visitor>,
    Path((ticket_id, aid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (content_type, bytes) = state
        .tickets
        .buyer_file(&visitor, &ticket_id, &attachment_id(&aid)?)
        .await?;
    Ok(serve_file(content_type, bytes))
}

fn declared_type(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

pub async fn ticket_settings(
    State(state): State<AppState>,
) -> Result<Json<TicketSettings>, ApiError> {
    Ok(Json(state.tickets.ticket_settings().await?))
}

pub async fn put_ticket_settings(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ApiJson(input): ApiJson<TicketSettings>,
) -> Result<Json<TicketSettings>, ApiError> {
    Ok(Json(
        state.tickets.put_ticket_settings(&staff.id, input).await?,
    ))
}

pub async fn merge(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(ticket_id): Path<String>,
    ApiJson(input): ApiJson<MergeInput>,
) -> Result<Json<Ticket>, ApiError> {
    Ok(Json(state.tickets.merge(&staff, &ticket_id, input).await?))
}

pub async fn watch(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path((ticket_id, staff_id)): Path<(String, String)>,
) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(
        state.tickets.watch(&staff, &ticket_id, &staff_id).await?,
    ))
}

pub async fn unwatch(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path((ticket_id, staff_id)): Path<(String, String)>,
) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(
        state.tickets.unwatch(&staff, &ticket_id, &staff_id).await?,
    ))
}

pub async fn board(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Board>, ApiError> {
    Ok(Json(state.tickets.board(&staff, query).await?))
}

/// The filtered list as CSV (UTF-8 with a BOM so spreadsheets read Chinese),
/// streamed a page at a time.
pub async fn export_csv(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    use futures::StreamExt;
    let pages = state.tickets.clone().export_pages(&staff, query).await?;
    let header =
        "\u{feff}number,title,type,category,priority,state,department_id,assignee_id,order_number,\
                  created_at,updated_at,resolution_due_at,resolved_at\r\n"
            .to_owned();
    let lines = pages.map(|page| page.iter().map(csv_line).collect::<String>());
    let body = futures::stream::once(async move { header })
        .chain(lines)
        .map(Ok::<_, std::convert::Infallible>);
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"xiaoer-tickets.csv\"",
            ),
        ],
        axum::body::Body::from_stream(body),
    )
        .into_response())
}

fn csv_line(t: &Ticket) -> String {
    use super::analytics::csv_cell;
    let time = |ms: Option<i64>| {
        ms.map(crate::services::bot::hours::rfc3339)
            .unwrap_or_default()
    };
    let cells = [
        csv_cell(&t.number),
        csv_cell(&t.title),
        csv_cell(&t.type_key),
        csv_cell(t.category.as_deref().unwrap_or_default()),
        t.priority.as_str().to_owned(),
        t.state.as_str().to_owned(),
        csv_cell(t.department_id.as_deref().unwrap_or_default()),
        csv_cell(t.assignee_id.as_deref().unwrap_or_default()),
        csv_cell(t.order_number.as_deref().unwrap_or_default()),
        time(Some(t.created_at)),
        time(Some(t.updated_at)),
        time(t.resolution_due_at),
        time(t.resolved_at),
    ];
    format!("{}\r\n", cells.join(","))
}

pub async fn routing_rules(State(state): State<AppState>) -> Result<Json<RoutingRules>, ApiError> {
    Ok(Json(state.tickets.routing_rules().await?))
}

pub async fn put_routing_rules(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ApiJson(input): ApiJson<RoutingRules>,
) -> Result<Json<RoutingRules>, ApiError> {
    Ok(Json(
        state.tickets.put_routing_rules(&staff.id, input).await?,
    ))
}

/// The person's saved views of the list.
pub async fn views(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
) -> Result<Json<Vec<TicketView>>, ApiError> {
    Ok(Json(state.tickets.views(&staff).await?))
}

pub async fn save_view(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    ApiJson(view): ApiJson<NewView>,
) -> Result<(StatusCode, Json<TicketView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(state.tickets.save_view(&staff, view).await?),
    ))
}

pub async fn delete_view(
    State(state): State<AppState>,
    Extension(staff): Extension<StaffUser>,
    Path(view_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.tickets.delete_view(&staff, &view_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
