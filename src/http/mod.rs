//! axum only: routes, extractors, the error mapping, WebSockets.

pub mod admin;
pub mod analytics;
pub mod assets;
pub mod audit;
pub mod bell; // the console bell (issue 16)
pub mod blocks;
pub mod bot;
pub mod buyer;
pub mod challenge;
pub mod conversation;
pub mod coupons; // coupon cards (issue 18)
pub mod data_protection;
pub mod edge;
pub mod error;
pub mod extract;
pub mod history;
pub mod kb;
pub mod limits;
pub mod ops;
pub mod privacy;
pub mod quality; // 质检 (issue 17)
pub mod routes;
pub mod routing;
pub mod staff;
pub mod ticket_automations;
pub mod ticket_mail; // e-mail reminders (issue 16)
pub mod tickets;
pub mod visitors; // who is on the shop now (issue 18)
pub mod webhooks;
pub mod ws;
pub mod xlsx; // report export (issue 17)

use crate::ports::Clock;
use crate::services::attachments::AttachmentService;
use crate::services::audit::AuditService;
use crate::services::bot::BotService;
use crate::services::chat::ChatService;
use crate::services::knowledge::KnowledgeService;
use crate::services::quick_replies::QuickReplies;
use crate::services::routing::RoutingService;
use crate::services::skill_groups::SkillGroups;
use crate::services::staff::StaffService;
use crate::services::visitors::VisitorService;
use crate::storage::Store;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, post, put};
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use std::time::Instant;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// Largest JSON body: a maximal text message in 4-byte characters plus envelope.
const JSON_BODY_LIMIT: usize = 64 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub chat: Arc<ChatService>,
    /// Messages sent over REST and the socket: a buyer's text screened first.
    pub sender: Arc<crate::services::sender::MessageSender>,
    pub bot: Arc<BotService>,
    pub staff: Arc<StaffService>,
    pub visitors: Arc<VisitorService>,
    pub attachments: Arc<AttachmentService>,
    /// The hash-chained audit log.
    pub audit: Arc<AuditService>,
    pub routing: Arc<RoutingService>,
    pub groups: Arc<SkillGroups>,
    pub quick_replies: Arc<QuickReplies>,
    pub knowledge: Arc<KnowledgeService>,
    /// The bot's unanswered questions, checked against the knowledge base.
    pub unanswered: Arc<crate::services::unanswered::UnansweredQuestions>,
    pub wordings: Arc<crate::services::wordings::WordingService>,
    pub webhooks: Arc<crate::services::webhooks::WebhookService>,
    pub channels: Arc<crate::services::channels::ChannelService>,
    pub conversations: Arc<crate::services::conversations::ConversationService>,
    /// Shop name, service hours, holidays and time zone, changeable at run time.
    pub shop: Arc<crate::services::shop::ShopService>,
    /// Tickets, departments, ticket types and the SLA calendar.
    pub tickets: Arc<crate::services::tickets::TicketService>,
    /// E-mail reminders: SMTP settings, notification preferences.
    pub ticket_mail: Arc<crate::services::ticket_mail::TicketMail>,
    pub bell: Arc<crate::services::bell::BellService>,
    /// Past conversations found through the blind index.
    pub history: Arc<crate::services::history::HistoryService>,
    /// The buyer's orders beside a chat (the Commerce port).
    pub orders: Arc<crate::services::orders::OrderLookup>,
    /// Facts, rollups, CSAT and reports.
    pub analytics: Arc<crate::services::analytics::AnalyticsService>,
    /// Finds the chats that turned into a paid order (swept in the background).
    pub conversions: Arc<crate::services::conversion::ConversionTracker>,
    pub queue_alerts: Arc<crate::services::queue_alerts::QueueAlerts>,
    pub saved_reports: Arc<crate::services::saved_reports::SavedReportService>,
    /// Quality inspection (质检): rubrics, sampling, reviews, appeals.
    pub quality: Arc<crate::services::quality::QualityService>,
    pub clock: Arc<dyn Clock>,
    pub metrics: PrometheusHandle,
    /// CSRF origins, cookie attributes, the metrics token.
    pub edge: Arc<edge::Edge>,
    /// Per-IP, per-visitor and per-account rate limits.
    pub limits: Arc<limits::Limits>,
    /// Visitors and networks blocked from the buyer side.
    pub blocks: Arc<crate::services::blocks::BlockService>,
    /// Who is on the shop now: visits, invitations and their rules.
    pub presence: Arc<crate::services::presence::PresenceService>,
    /// Products recommended for a buyer (item-to-item).
    pub recommender: Arc<crate::services::recommend::Recommender>,
    /// Product cards from the shop's catalogue.
    pub catalogue: Arc<crate::services::catalogue::Catalogue>,
    /// Coupon cards and the buyers' claims.
    pub coupons: Arc<crate::services::coupons::CouponDesk>,
    /// The buyer profile beside a chat.
    pub portraits: Arc<crate::services::portrait::PortraitService>,
    /// PIPL: buyer export and erasure, retention.
    pub privacy: Arc<crate::services::privacy::PrivacyService>,
    /// Proof-of-work challenges before new conversations (ALTCHA).
    pub challenges: Arc<crate::services::challenge::ChallengeService>,
    /// Flips to true when the server starts shutting down; sockets close with 1012.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

/// PIPL: buyers' data export and erasure, retention.
fn data_protection_routes() -> Router<AppState> {
    use data_protection as dp;
    Router::new()
        .route("/api/v1/admin/buyers", get(dp::find))
        .route("/api/v1/admin/buyers/{visitor_id}", delete(dp::erase))
        .route("/api/v1/admin/buyers/{visitor_id}/export", get(dp::export))
        .route(
            "/api/v1/admin/data-protection",
            get(dp::settings).put(dp::put_settings),
        )
        .route("/api/v1/admin/data-protection/purge", post(dp::purge))
        .route("/api/v1/admin/data-protection/keys", get(dp::keys))
        .route("/api/v1/challenge", get(challenge::create))
}

/// Knowledge-base management and search.
fn kb_routes() -> Router<AppState> {
    let entry = "/api/v1/kb/entries/{id}";
    Router::new()
        .route("/api/v1/kb/entries", get(kb::list).post(kb::create))
        .route(entry, get(kb::get).put(kb::update).delete(kb::archive))
        .route(&format!("{entry}/publish"), post(kb::publish))
        .route(&format!("{entry}/unpublish"), post(kb::unpublish))
        .route(&format!("{entry}/versions"), get(kb::versions))
        .route(&format!("{entry}/diff"), get(kb::diff))
        .route(&format!("{entry}/rollback"), post(kb::rollback))
        .route("/api/v1/kb/search", get(kb::search))
        .route("/api/v1/kb/suggest", get(kb::suggest))
        .route(
            "/api/v1/kb/categories",
            get(kb::categories).post(kb::create_category),
        )
        .route(
            "/api/v1/kb/import",
            post(kb::import).layer(DefaultBodyLimit::max(IMPORT_BODY_LIMIT)),
        )
        .route("/api/v1/kb/export", get(kb::export))
        .route(
            "/api/v1/kb/reindex",
            get(kb::reindex_progress).post(kb::start_reindex),
        )
        .route("/api/v1/kb/calibration", get(kb::calibration))
        .route(
            "/api/v1/kb/wording-suggestions",
            get(kb::wording_suggestions),
        )
        .route(
            "/api/v1/kb/wording-suggestions/refresh",
            post(kb::refresh_wording_suggestions),
        )
        .route(
            "/api/v1/kb/wording-suggestions/{id}/accept",
            post(kb::accept_wording),
        )
        .route(
            "/api/v1/kb/wording-suggestions/{id}/reject",
            post(kb::reject_wording),
        )
}

/// Largest bulk-import file.
const IMPORT_BODY_LIMIT: usize = 64 * 1024 * 1024;

pub fn router(state: AppState) -> Router {
    let upload_limit = DefaultBodyLimit::max(state.attachments.max_bytes() + 1024);
    let conversation = "/api/v1/conversations/{id}";
    let staff_conversation = "/api/v1/staff/conversations/{id}";
    Router::new()
        .merge(admin::routes())
        .merge(tickets::routes(upload_limit))
        .merge(ticket_automations::routes())
        .merge(ticket_mail::routes())
        .merge(bell::routes())
        .merge(history::routes())
        .merge(coupons::routes())
        .merge(visitors::routes())
        .merge(analytics::routes())
        .merge(quality::routes())
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/api/openapi.json", get(ops::openapi))
        .route("/api/v1/conversations", post(buyer::start))
        .route("/api/v1/demo/identity", get(buyer::demo_identity))
        .route(conversation, get(buyer::conversation))
        .route(&format!("{conversation}/events"), get(conversation::events))
        .route(
            &format!("{conversation}/messages"),
            post(conversation::send),
        )
        .route(&format!("{conversation}/read"), post(conversation::read))
        .route(&format!("{conversation}/handoff"), post(buyer::handoff))
        .route(
            &format!("{conversation}/coupon-claims"),
            post(coupons::claim).get(coupons::claimed),
        )
        .route(
            &format!("{conversation}/attachments"),
            post(conversation::upload).layer(upload_limit),
        )
        .route(
            &format!("{conversation}/attachments/{{attachment_id}}"),
            get(conversation::download),
        )
        .route(&format!("{conversation}/ws"), get(ws::conversation_socket))
        .route("/api/v1/buyer/conversations/{id}/ratings", post(bot::rate))
        .route("/api/v1/visitor/context", put(buyer::put_context))
        .route("/api/v1/visitor/profile", put(buyer::put_profile))
        .route("/api/v1/staff/login", post(staff::login))
        .route("/api/v1/staff/logout", post(staff::logout))
        .route("/api/v1/staff/me", get(staff::me))
        .route("/api/v1/staff/queue", get(staff::queue))
        .route("/api/v1/staff/conversations", get(staff::mine))
        .route(
            "/api/v1/staff/supervision/conversations",
            get(staff::all_open),
        )
        .route(staff_conversation, get(staff::detail))
        .route(
            &format!("{staff_conversation}/events"),
            get(conversation::events),
        )
        .route(&format!("{staff_conversation}/claim"), post(staff::claim))
        .route(
            &format!("{staff_conversation}/reveal"),
            post(privacy::reveal),
        )
        .route(
            &format!("{staff_conversation}/block"),
            post(blocks::block_visitor),
        )
        .route(
            "/api/v1/admin/blocks",
            get(blocks::list).post(blocks::block_network),
        )
        .route("/api/v1/admin/blocks/{block_id}", delete(blocks::lift))
        .route(
            &format!("{staff_conversation}/handoff"),
            get(bot::handoff_packet),
        )
        .route(
            &format!("{staff_conversation}/faq-draft"),
            post(bot::draft_faq),
        )
        .route("/api/v1/kb/unanswered", get(bot::unanswered))
        .route(
            "/api/v1/admin/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route(
            "/api/v1/admin/webhooks/{endpoint_id}",
            delete(webhooks::delete),
        )
        .route(
            "/api/v1/admin/webhooks/{endpoint_id}/enable",
            post(webhooks::enable),
        )
        .route(
            "/api/v1/admin/webhooks/{endpoint_id}/disable",
            post(webhooks::disable),
        )
        .route(
            "/api/v1/admin/webhooks/{endpoint_id}/deliveries",
            get(webhooks::deliveries),
        )
        .route(
            "/api/v1/admin/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay",
            post(webhooks::replay),
        )
        .route("/api/v1/admin/event-types", get(webhooks::event_types))
        .route(
            "/api/v1/admin/channels",
            get(webhooks::channels).post(webhooks::create_channel),
        )
        .route(
            "/api/v1/admin/channels/{channel_id}",
            delete(webhooks::delete_channel),
        )
        .route("/api/v1/channel/messages", post(webhooks::channel_message))
        .route(
            "/api/v1/channel/conversations/{id}/handoff",
            post(webhooks::channel_handoff),
        )
        .route("/api/v1/admin/welcome-messages", get(bot::welcome_messages))
        .route(
            "/api/v1/admin/bot-menu",
            put(bot::put_menu).delete(bot::delete_menu),
        )
        .route(
            "/api/v1/admin/welcome-messages/{scenario}",
            put(bot::put_welcome).delete(bot::delete_welcome),
        )
        .route(
            &format!("{staff_conversation}/messages"),
            post(conversation::send),
        )
        .route(
            &format!("{staff_conversation}/read"),
            post(conversation::read),
        )
        .route(
            &format!("{staff_conversation}/resolve"),
            post(staff::resolve),
        )
        .route(
            &format!("{staff_conversation}/handback"),
            post(staff::hand_back),
        )
        .route(&format!("{staff_conversation}/close"), post(staff::close))
        .route(
            &format!("{staff_conversation}/attachments"),
            post(conversation::upload).layer(upload_limit),
        )
        .route(
            &format!("{staff_conversation}/attachments/{{attachment_id}}"),
            get(conversation::download),
        )
        .route(
            &format!("{staff_conversation}/ws"),
            get(ws::conversation_socket),
        )
        .route("/api/v1/staff/ws", get(ws::staff_feed_socket))
        .route(&format!("{conversation}/queue"), get(routing::queue_status))
        .route(
            &format!("{staff_conversation}/transfer"),
            post(routing::transfer),
        )
        .route(
            &format!("{staff_conversation}/takeover"),
            post(routing::take_over),
        )
        .route(
            &format!("{staff_conversation}/notes"),
            post(routing::whisper),
        )
        .route("/api/v1/staff/presence", put(routing::put_presence))
        .route("/api/v1/staff/agents", get(routing::agents))
        .route("/api/v1/staff/supervision/board", get(routing::board))
        .route(
            "/api/v1/staff/routing/groups",
            get(routing::groups).post(routing::create_group),
        )
        .route(
            "/api/v1/staff/routing/groups/{group_id}",
            put(routing::update_group),
        )
        .route(
            "/api/v1/staff/routing/groups/{group_id}/members/{agent_id}",
            put(routing::put_member).delete(routing::delete_member),
        )
        .route(
            "/api/v1/staff/routing/rules",
            get(routing::rules).post(routing::create_rule),
        )
        .route(
            "/api/v1/staff/routing/rules/{rule_id}",
            delete(routing::delete_rule),
        )
        .route(
            "/api/v1/staff/quick-replies",
            get(routing::quick_replies).post(routing::create_quick_reply),
        )
        .route(
            "/api/v1/staff/quick-replies/{reply_id}",
            put(routing::update_quick_reply).delete(routing::delete_quick_reply),
        )
        .route(
            "/api/v1/staff/visitors/{visitor_id}/vip",
            put(routing::put_visitor_vip),
        )
        .route(
            "/api/v1/staff/users",
            get(staff::list_users).post(staff::create_user),
        )
        .route(
            "/api/v1/staff/visitors/{visitor_id}/context",
            put(staff::put_visitor_context),
        )
        .route("/api/v1/admin/audit", get(audit::search))
        .route("/api/v1/admin/audit/verify", get(audit::verify))
        .merge(kb_routes())
        .merge(data_protection_routes())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            routes::authorize,
        ))
        .route_layer(middleware::from_fn(record_metrics))
        .route_layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_request(())
                .on_failure(()),
        )
        .merge(assets::router(state.edge.widget_frame_origins()))
        .layer(middleware::from_fn(edge::security_headers))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// One span per request: method, matched route and request id. Never the raw URI
/// (query strings may carry tokens) and never bodies.
fn request_span(request: &Request) -> tracing::Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str)
        .unwrap_or("unmatched");
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!("request", method = %request.method(), route, request_id)
}

async fn record_metrics(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let labels = [
        ("route", route),
        ("method", method),
        ("status", response.status().as_u16().to_string()),
    ];
    metrics::counter!("xiaoer_http_requests_total", &labels).increment(1);
    metrics::histogram!("xiaoer_http_request_seconds", &labels[..2])
        .record(started.elapsed().as_secs_f64());
    response
}
