//! The route table: one list that says, for every REST route, who may call it.
//! The authorisation middleware enforces it and the OpenAPI document is built
//! from it, so the two cannot drift apart.

use super::AppState;
use super::audit::audit_target;
use super::error::ApiError;
use super::extract::{CurrentSession, bearer_token, query_token, session_cookie};
use super::limits::{ClientIp, RateClass};
use crate::domain::audit::AuditAction;
use crate::domain::staff::Permission;
use crate::services::staff::{StaffError, StaffUser};
use crate::services::visitors::Visitor;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Map, Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    /// A visitor token (Authorization: Bearer vt_..., or ?access_token= where the
    /// route allows it: WebSocket and downloads).
    Buyer,
    /// A staff session (bearer or cookie) whose role has this permission.
    Staff(Permission),
    /// The scraper's metrics token (`--metrics-token`) or staff with view_metrics.
    Metrics,
    /// An app channel's key (Authorization: Bearer ck_...).
    Channel,
}

#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
    pub tag: &'static str,
    pub summary: &'static str,
    /// An example JSON request body, for the OpenAPI document.
    pub example: Option<&'static str>,
    /// The token may come as `?access_token=`: WebSocket upgrades and downloads
    /// shown in <img src>, where a browser cannot set a header.
    pub query_token: bool,
    /// The rate limit the route counts against.
    pub rate: RateClass,
    /// Written to the audit log when it succeeds (with the caller and the path).
    pub audit: Option<AuditAction>,
    /// The query parameters the route reads (all optional strings), for the
    /// OpenAPI document.
    pub query: &'static [&'static str],
    /// The statuses a success answers with (200 unless the route says).
    pub success: &'static [u16],
}

impl RouteSpec {
    const fn body(self, example: &'static str) -> RouteSpec {
        RouteSpec {
            example: Some(example),
            ..self
        }
    }

    const fn limited(self, rate: RateClass) -> RouteSpec {
        RouteSpec { rate, ..self }
    }

    const fn audited(self, action: AuditAction) -> RouteSpec {
        RouteSpec {
            audit: Some(action),
            ..self
        }
    }

    const fn params(self, query: &'static [&'static str]) -> RouteSpec {
        RouteSpec { query, ..self }
    }

    /// The success statuses when not just 200 (201 created, 202 accepted, 204 no content).
    const fn answers(self, success: &'static [u16]) -> RouteSpec {
        RouteSpec { success, ..self }
    }

    const fn token_in_query(self) -> RouteSpec {
        RouteSpec {
            query_token: true,
            ..self
        }
    }
}

const fn route(
    method: &'static str,
    path: &'static str,
    access: Access,
    tag: &'static str,
    summary: &'static str,
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        access,
        tag,
        summary,
        example: None,
        query_token: false,
        rate: RateClass::Unlimited,
        audit: None,
        query: &[],
        success: &[200],
    }
}

use Access::{Buyer, Channel, Metrics, Public, Staff};
use Permission as P;

/// Every REST route: method, path, who may call it, OpenAPI tag and summary,
/// and an example body where the route takes one.
#[rustfmt::skip]
pub const ROUTES: &[RouteSpec] = &[
    route("GET", "/healthz", Public, "ops", "Liveness: the process answers"),
    route("GET", "/readyz", Public, "ops", "Readiness: the database answers"),
    route("GET", "/metrics", Metrics, "ops", "Prometheus metrics (metrics token or view_metrics)"),
    route("GET", "/api/openapi.json", Public, "ops", "This document"),
    route("POST", "/api/v1/conversations", Public, "buyer", "Start a conversation; a new visitor gets a token. visit_key (the shop page's presence key) attributes the chat to that visit for the visitor funnel; an unknown or finished one is ignored").answers(&[201])
        .limited(RateClass::NewConversation)
        .body(r#"{"channel":"web","nickname":"小明","identity":{"account_id":"tb_123","expires_at":1767225600,"signature":"b79d33318edbe5bf95240a37d56686fa9da9742f03932986817231fb711cba5e"},"visitor_token":null}"#),
    route("GET", "/api/v1/demo/identity", Public, "buyer", "Demo store only: a signed identity for one of its demo buyers (?account=demo_buyer_1)").params(&["account"]),
    route("GET", "/api/v1/conversations/{id}", Buyer, "buyer", "A conversation of this visitor"),
    route("GET", "/api/v1/conversations/{id}/events", Buyer, "buyer", "Committed events after a sequence number (?after=&limit=)").params(&["after", "limit"]),
    route("POST", "/api/v1/conversations/{id}/messages", Buyer, "buyer", "Send a message (idempotent by client_msg_id)").answers(&[200, 201])
        .limited(RateClass::BuyerMessage)
        .body(r#"{"client_msg_id":"c-1","body":{"type":"text","text":"你好 👋"}}"#),
    route("POST", "/api/v1/conversations/{id}/read", Buyer, "buyer", "Read receipt up to a sequence number")
        .body(r#"{"seq":7}"#),
    route("GET", "/api/v1/conversations/{id}/coupon-claims", Buyer, "buyer", "The coupons I hold (ids; none unless signed in with a shop account): the widget shows those cards as claimed after a reload"),
    route("POST", "/api/v1/conversations/{id}/coupon-claims", Buyer, "buyer", "Claim the coupon of a coupon card in this chat (the card's seq; a buyer signed in with a shop account only): 201 claimed, 200 already claimed").answers(&[200, 201])
        .body(r#"{"seq":5,"lang":"zh"}"#),
    route("POST", "/api/v1/conversations/{id}/handoff", Buyer, "buyer", "Ask for a human agent (optional routing hints)")
        .body(r#"{"category":"phones","entry_page":"https://shop.example/item/42"}"#),
    route("GET", "/api/v1/conversations/{id}/queue", Buyer, "buyer", "Place in the queue and expected wait (null when not waiting)"),
    route("POST", "/api/v1/conversations/{id}/attachments", Buyer, "buyer", "Upload an attachment (raw body, Content-Type)").answers(&[201])
        .limited(RateClass::BuyerMessage),
    route("GET", "/api/v1/conversations/{id}/attachments/{attachment_id}", Buyer, "buyer", "Download an attachment")
        .token_in_query(),
    route("GET", "/api/v1/conversations/{id}/ws", Buyer, "buyer", "WebSocket: live events with resume (?after=seq)").params(&["after"])
        .token_in_query(),
    route("POST", "/api/v1/buyer/conversations/{id}/ratings", Buyer, "buyer", "Rate a bot answer (the event at seq) helpful or not")
        .body(r#"{"seq":4,"helpful":true}"#),
    route("PUT", "/api/v1/visitor/context", Buyer, "buyer", "Report current page, pages viewed and cart").answers(&[204])
        .body(r#"{"current_page":"https://shop.example/item/42","pages_viewed":[{"url":"https://shop.example/","title":"首页","at":1700000000000}],"cart":[{"sku":"TS-42-L","name":"纯棉T恤 L","quantity":2,"unit_price_cents":7900}]}"#),
    route("PUT", "/api/v1/visitor/profile", Buyer, "buyer", "Set name, phone, address (encrypted at rest)").answers(&[204])
        .body(r#"{"real_name":"张三","phone":"13800138000","address":"浙江省杭州市西湖区文三路 1 号"}"#),
    route("POST", "/api/v1/staff/login", Public, "staff", "Sign in; sets a session cookie and returns a bearer token. With two-step sign-in on, also `totp` (the app's code): 400 totp_required without it, 400 totp_invalid when wrong or used (counted like a wrong password)")
        .limited(RateClass::Login)
        .body(r#"{"username":"alice","password":"a long password"}"#),
    route("POST", "/api/v1/staff/logout", Staff(P::ViewOwnProfile), "staff", "End this session").answers(&[204])
        .audited(AuditAction::SignOut),
    route("GET", "/api/v1/staff/me", Staff(P::ViewOwnProfile), "staff", "The signed-in staff member"),
    route("GET", "/api/v1/staff/queue", Staff(P::ViewQueue), "staff", "Conversations waiting for an agent, oldest first").params(&["limit"]),
    route("GET", "/api/v1/staff/conversations", Staff(P::ViewOwnChats), "staff", "My open conversations").params(&["limit"]),
    route("GET", "/api/v1/staff/supervision/conversations", Staff(P::ViewAllChats), "staff", "All open conversations").params(&["limit"]),
    route("GET", "/api/v1/staff/conversations/{id}", Staff(P::ViewOwnChats), "staff", "A conversation with the visitor's profile"),
    route("GET", "/api/v1/staff/conversations/{id}/events", Staff(P::ViewOwnChats), "staff", "Committed events after a sequence number").params(&["after", "limit"]),
    route("POST", "/api/v1/staff/conversations/{id}/claim", Staff(P::ClaimChat), "staff", "Take a waiting conversation"),
    route("POST", "/api/v1/staff/conversations/{id}/reveal", Staff(P::ReplyChat), "staff", "The buyer's unmasked name, phone and address (the chat's own agent only; audited)")
        .audited(AuditAction::PiiRevealed),
    route("POST", "/api/v1/staff/conversations/{id}/block", Staff(P::ReplyChat), "staff", "Block the chat's visitor (reason, optional hours); their requests then answer 403 visitor_blocked").answers(&[201])
        .body(r#"{"reason":"反复辱骂客服","hours":72}"#)
        .audited(AuditAction::Blocked),
    route("GET", "/api/v1/admin/buyers", Staff(P::ManageUsers), "admin", "Find a buyer by visitor id or shop account id (?visitor_id= or ?account=); no personal data in the answer").params(&["visitor_id", "account"]),
    route("GET", "/api/v1/admin/buyers/{visitor_id}/export", Staff(P::ManageUsers), "admin", "Everything stored about one buyer, as JSON (PIPL; audited)")
        .audited(AuditAction::Exported),
    route("DELETE", "/api/v1/admin/buyers/{visitor_id}", Staff(P::ManageUsers), "admin", "Erase a buyer: personal data, message bodies and attachments; anonymous statistics stay (PIPL; audited)").answers(&[204])
        .audited(AuditAction::BuyerErased),
    route("GET", "/api/v1/admin/data-protection", Staff(P::ManageUsers), "admin", "Retention period and whether every new conversation is challenged"),
    route("PUT", "/api/v1/admin/data-protection", Staff(P::ManageUsers), "admin", "Set the retention period (days, or null to keep) and the challenge for every new conversation")
        .body(r#"{"retention_days":180,"challenge_all":false}"#)
        .audited(AuditAction::SettingsChanged),
    route("POST", "/api/v1/admin/data-protection/purge", Staff(P::ManageUsers), "admin", "Purge messages and attachments past the retention period now (it runs hourly too)")
        .audited(AuditAction::DataPurged),
    route("GET", "/api/v1/admin/data-protection/keys", Staff(P::ManageUsers), "admin", "The data keys (fingerprints only) and how far re-sealing under the newest one has got after a rotation"),
    route("GET", "/api/v1/challenge", Public, "buyer", "A proof-of-work challenge (ALTCHA v2) to solve before starting a conversation when asked (403 challenge_required)"),
    route("GET", "/api/v1/admin/blocks", Staff(P::ManageUsers), "admin", "Blocks in force: visitors and networks"),
    route("POST", "/api/v1/admin/blocks", Staff(P::ManageUsers), "admin", "Block an IP address or CIDR network from the buyer side (reason, optional hours)").answers(&[201])
        .body(r#"{"network":"203.0.113.0/24","reason":"scripted conversations","hours":24}"#)
        .audited(AuditAction::Blocked),
    route("DELETE", "/api/v1/admin/blocks/{block_id}", Staff(P::ManageUsers), "admin", "Lift a block").answers(&[204])
        .audited(AuditAction::Unblocked),
    route("GET", "/api/v1/staff/conversations/{id}/handoff", Staff(P::ViewOwnChats), "staff", "The bot's hand-off packet: reason, summary, intent, slots, retrieved entries, answers, visitor"),
    route("POST", "/api/v1/staff/conversations/{id}/faq-draft", Staff(P::ReplyChat), "staff", "Turn an agent's reply into a draft FAQ entry for approval").answers(&[201])
        .body(r#"{"seq":9,"question":"可以开发票吗？"}"#),
    route("GET", "/api/v1/kb/unanswered", Staff(P::WriteKnowledge), "kb", "Questions the bot could not answer, grouped by similarity (?days=)").params(&["days"]),
    route("GET", "/api/v1/admin/welcome-messages", Staff(P::ManageBot), "admin", "Welcome messages per scenario, the menus, and the member levels the shop lists"),
    route("PUT", "/api/v1/admin/welcome-messages/{scenario}", Staff(P::ManageBot), "admin", "Set the welcome message of a scenario (new_visitor, returning_visitor, out_of_hours, campaign:<code>, entry_page:<path prefix>, member_level:<level>; URL-encode the '/'; 400 invalid_entry_page_prefix, invalid_member_level, unknown_member_level; 409 too_many_welcome_rules past 50 rules)")
        .body(r#"{"text":"双11活动进行中，满300减50！有什么可以帮您？"}"#)
        .audited(AuditAction::SettingsChanged),
    route("DELETE", "/api/v1/admin/welcome-messages/{scenario}", Staff(P::ManageBot), "admin", "Remove a welcome message (the built-in greeting applies again)").answers(&[204]).params(&["lang"])
        .audited(AuditAction::SettingsChanged),
    route("PUT", "/api/v1/admin/bot-menu", Staff(P::ManageBot), "admin", "Set the quick-reply menu the greetings carry in a language (1 to 6 different buttons of 1 to 20 characters; 400 invalid_input)")
        .body(r#"{"lang":"zh","buttons":["查物流","开发票","退换货","转人工"]}"#)
        .audited(AuditAction::SettingsChanged),
    route("DELETE", "/api/v1/admin/bot-menu", Staff(P::ManageBot), "admin", "Back to the built-in menu in a language (404 not_found when none was set)").answers(&[204]).params(&["lang"])
        .audited(AuditAction::SettingsChanged),
    route("POST", "/api/v1/staff/conversations/{id}/messages", Staff(P::ReplyChat), "staff", "Reply (idempotent by client_msg_id)").answers(&[200, 201])
        .body(r#"{"client_msg_id":"a-1","body":{"type":"text","text":"您好，我来帮您查一下"}}"#),
    route("POST", "/api/v1/staff/conversations/{id}/read", Staff(P::ViewOwnChats), "staff", "Read receipt up to a sequence number")
        .body(r#"{"seq":7}"#),
    route("POST", "/api/v1/staff/conversations/{id}/resolve", Staff(P::ChangeChatState), "staff", "Mark resolved"),
    route("POST", "/api/v1/staff/conversations/{id}/handback", Staff(P::ChangeChatState), "staff", "Hand back to the bot"),
    route("POST", "/api/v1/staff/conversations/{id}/close", Staff(P::ChangeChatState), "staff", "Close for good"),
    route("POST", "/api/v1/staff/conversations/{id}/attachments", Staff(P::ReplyChat), "staff", "Upload an attachment").answers(&[201]),
    route("GET", "/api/v1/staff/conversations/{id}/attachments/{attachment_id}", Staff(P::ViewOwnChats), "staff", "Download an attachment")
        .token_in_query(),
    route("GET", "/api/v1/staff/conversations/{id}/ws", Staff(P::ViewOwnChats), "staff", "WebSocket on one conversation with resume").params(&["after"])
        .token_in_query(),
    route("GET", "/api/v1/staff/ws", Staff(P::ViewQueue), "staff", "WebSocket feed: queue changes and my conversations' events")
        .token_in_query(),
    route("POST", "/api/v1/staff/conversations/{id}/transfer", Staff(P::ChangeChatState), "staff", "Transfer to an agent or a skill group, with an internal note")
        .body(r#"{"to_group":"GROUP_ID","note":"买家要换货，需要售后处理"}"#),
    route("POST", "/api/v1/staff/conversations/{id}/takeover", Staff(P::ViewAllChats), "supervision", "Take the chat over from its agent"),
    route("POST", "/api/v1/staff/conversations/{id}/notes", Staff(P::ViewOwnChats), "staff", "Whisper: an internal note only staff see").answers(&[201])
        .body(r#"{"text":"先确认订单号再退款"}"#),
    route("PUT", "/api/v1/staff/presence", Staff(P::ViewQueue), "staff", "Set my presence: online, busy, away, offline").answers(&[204])
        .body(r#"{"status":"online"}"#),
    route("GET", "/api/v1/staff/agents", Staff(P::ViewQueue), "staff", "Agents with presence, open chats and capacity"),
    route("GET", "/api/v1/staff/supervision/board", Staff(P::ViewAllChats), "supervision", "Queues (longest wait, standing alert), agents (reply speed over 15 min) and live chats with waiting and reply times"),
    route("GET", "/api/v1/staff/routing/groups", Staff(P::ViewQueue), "routing", "Skill groups with members and queue length"),
    route("POST", "/api/v1/staff/routing/groups", Staff(P::ManageRouting), "routing", "Create a skill group").answers(&[201])
        .body(r#"{"name":"售后 after-sales","strategy":"saturation","overflow_group_id":null,"overflow_after_ms":null}"#)
        .audited(AuditAction::SettingsChanged),
    route("PUT", "/api/v1/staff/routing/groups/{group_id}", Staff(P::ManageRouting), "routing", "Change a group's strategy, overflow and queue alert thresholds")
        .body(r#"{"name":"售后 after-sales","strategy":"weighted","overflow_group_id":"GROUP_ID","overflow_after_ms":60000,"alert_waiting":5,"alert_wait_ms":120000}"#)
        .audited(AuditAction::SettingsChanged),
    route("PUT", "/api/v1/staff/routing/groups/{group_id}/members/{agent_id}", Staff(P::ManageRouting), "routing", "Add an agent to a group (level, weight)").answers(&[204])
        .body(r#"{"level":1,"weight":200}"#)
        .audited(AuditAction::SettingsChanged),
    route("DELETE", "/api/v1/staff/routing/groups/{group_id}/members/{agent_id}", Staff(P::ManageRouting), "routing", "Remove an agent from a group").answers(&[204])
        .audited(AuditAction::SettingsChanged),
    route("GET", "/api/v1/staff/routing/rules", Staff(P::ViewQueue), "routing", "Routing rules"),
    route("POST", "/api/v1/staff/routing/rules", Staff(P::ManageRouting), "routing", "Route an intent, category or entry page to a group").answers(&[201])
        .body(r#"{"kind":"intent","pattern":"refund","group_id":"GROUP_ID","priority":0}"#)
        .audited(AuditAction::SettingsChanged),
    route("DELETE", "/api/v1/staff/routing/rules/{rule_id}", Staff(P::ManageRouting), "routing", "Delete a routing rule").answers(&[204])
        .audited(AuditAction::SettingsChanged),
    route("GET", "/api/v1/staff/quick-replies", Staff(P::ReplyChat), "staff", "My quick replies and the shared ones"),
    route("POST", "/api/v1/staff/quick-replies", Staff(P::ReplyChat), "staff", "Create a quick reply (shared: supervisors and admins)").answers(&[201])
        .body(r#"{"category":"售后","shortcut":"/refund","text":"{buyer_name}您好，订单 {order_no} 的退款已提交","shared":false}"#),
    route("PUT", "/api/v1/staff/quick-replies/{reply_id}", Staff(P::ReplyChat), "staff", "Change a quick reply")
        .body(r#"{"category":"售后","shortcut":"/refund","text":"退款已提交","shared":false}"#),
    route("DELETE", "/api/v1/staff/quick-replies/{reply_id}", Staff(P::ReplyChat), "staff", "Delete a quick reply").answers(&[204]),
    route("PUT", "/api/v1/staff/visitors/{visitor_id}/vip", Staff(P::WriteVisitorContext), "admin", "Shop systems mark a VIP buyer (their chats jump the queue)").answers(&[204])
        .body(r#"{"vip":true}"#),
    route("GET", "/api/v1/staff/users", Staff(P::ManageUsers), "admin", "List staff accounts"),
    route("POST", "/api/v1/staff/users", Staff(P::ManageUsers), "admin", "Create a staff account").answers(&[201])
        .body(r#"{"username":"agent-li","password":"a long password","role":"agent","display_name":"小李","max_chats":5}"#)
        .audited(AuditAction::AccountCreated),
    route("PUT", "/api/v1/staff/users/{user_id}", Staff(P::ManageUsers), "admin", "Change an account's name, role, capacity or status (active: false signs it out everywhere)")
        .body(r#"{"role":"supervisor","display_name":"小李","max_chats":8,"active":true}"#)
        .audited(AuditAction::AccountChanged),
    route("POST", "/api/v1/staff/users/{user_id}/password", Staff(P::ManageUsers), "admin", "Reset a password: sessions end and the next sign-in must choose a new one").answers(&[204])
        .body(r#"{"password":"a temporary password"}"#)
        .audited(AuditAction::AccountChanged),
    route("GET", "/api/v1/staff/me/totp", Staff(P::ViewOwnProfile), "staff", "My two-step sign-in: enabled, or set up and waiting for a first code (pending)"),
    route("POST", "/api/v1/staff/me/totp/setup", Staff(P::ViewOwnProfile), "staff", "Set up two-step sign-in: a new secret for an authenticator app (base32 and an otpauth:// link), shown once; 409 totp_already_on").answers(&[201])
        .audited(AuditAction::AccountChanged),
    route("POST", "/api/v1/staff/me/totp/enable", Staff(P::ViewOwnProfile), "staff", "Turn two-step sign-in on with a first code from the app (400 totp_invalid; 409 totp_not_set_up / totp_already_on)")
        .body(r#"{"code":"123456"}"#)
        .audited(AuditAction::AccountChanged),
    route("POST", "/api/v1/staff/me/totp/disable", Staff(P::ViewOwnProfile), "staff", "Turn two-step sign-in off with a current code (400 totp_invalid; 409 totp_not_on)")
        .body(r#"{"code":"123456"}"#)
        .audited(AuditAction::AccountChanged),
    route("DELETE", "/api/v1/staff/users/{user_id}/totp", Staff(P::ManageUsers), "admin", "Turn another person's two-step sign-in off (a lost phone); they sign in with the password and may set it up again").answers(&[204])
        .audited(AuditAction::AccountChanged),
    route("PUT", "/api/v1/staff/me/password", Staff(P::ViewOwnProfile), "staff", "Choose a new password (required after a reset)")
        .body(r#"{"current_password":"a temporary password","new_password":"my own long password"}"#),
    route("GET", "/api/v1/admin/shop-settings", Staff(P::ManageBot), "admin", "Shop name, service hours, holidays and time zone"),
    route("PUT", "/api/v1/admin/shop-settings", Staff(P::ManageBot), "admin", "Change the shop settings (in effect at once, no restart)")
        .body(r#"{"shop_name":"店小二示例店","service_hours":"09:00-22:00","utc_offset_minutes":480,"holidays":["2026-10-01"]}"#)
        .audited(AuditAction::SettingsChanged),
    route("PUT", "/api/v1/staff/visitors/{visitor_id}/context", Staff(P::WriteVisitorContext), "admin", "Shop systems report a visitor's context").answers(&[204])
        .body(r#"{"current_page":"https://shop.example/cart","pages_viewed":[],"cart":[]}"#),
    route("GET", "/api/v1/admin/webhooks", Staff(P::ManageIntegrations), "integrations", "Webhook endpoints (secrets are never shown again)"),
    route("POST", "/api/v1/admin/webhooks", Staff(P::ManageIntegrations), "integrations", "Register an endpoint for some event types; the answer holds its signing secret, once").answers(&[201])
        .body(r#"{"url":"https://shop.example/xiaoer-hooks","event_types":["message.posted","conversation.handed_off"],"description":"订单系统"}"#)
        .audited(AuditAction::SettingsChanged),
    route("DELETE", "/api/v1/admin/webhooks/{endpoint_id}", Staff(P::ManageIntegrations), "integrations", "Delete an endpoint and its delivery log").answers(&[204])
        .audited(AuditAction::SettingsChanged),
    route("POST", "/api/v1/admin/webhooks/{endpoint_id}/enable", Staff(P::ManageIntegrations), "integrations", "Turn an endpoint on again (e.g. after a 410)")
        .audited(AuditAction::SettingsChanged),
    route("POST", "/api/v1/admin/webhooks/{endpoint_id}/disable", Staff(P::ManageIntegrations), "integrations", "Turn an endpoint off; deliveries wait")
        .audited(AuditAction::SettingsChanged),
    route("GET", "/api/v1/admin/webhooks/{endpoint_id}/deliveries", Staff(P::ManageIntegrations), "integrations", "The delivery log, newest first (?status=pending|delivered|failed&limit=)").params(&["status", "limit"]),
    route("POST", "/api/v1/admin/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay", Staff(P::ManageIntegrations), "integrations", "Send a delivery again").answers(&[202]),
    route("GET", "/api/v1/admin/channels", Staff(P::ManageIntegrations), "integrations", "App channels (keys are never shown again)"),
    route("POST", "/api/v1/admin/channels", Staff(P::ManageIntegrations), "integrations", "Create an app channel; the answer holds its key, once").answers(&[201])
        .body(r#"{"name":"微信客服","reply_limit":5,"reply_window_seconds":172800}"#)
        .audited(AuditAction::SettingsChanged),
    route("DELETE", "/api/v1/admin/channels/{channel_id}", Staff(P::ManageIntegrations), "integrations", "Delete a channel (its key stops working)").answers(&[204])
        .audited(AuditAction::SettingsChanged),
    route("POST", "/api/v1/channel/messages", Channel, "channels", "An app posts its user's message; replies come back through the webhooks").answers(&[200, 201])
        .body(r#"{"external_user_id":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","nickname":"小红","client_msg_id":"wx-msg-1","text":"我的快递到哪了"}"#),
    route("POST", "/api/v1/channel/conversations/{id}/handoff", Channel, "channels", "An app asks a person for its user (as the widget's button does)"),
    route("GET", "/api/v1/channel/tickets", Channel, "channels", "An app's user's tickets with their status texts and public replies, as 我的工单 shows them (?external_user_id=&lang=zh|en; 404 unknown_channel_user for a user who never wrote on this channel)").params(&["external_user_id", "lang"]),
    route("POST", "/api/v1/channel/tickets", Channel, "channels", "An app opens a ticket for its user in their current chat (routed like any new ticket; source api); 404 unknown_channel_user, 400 invalid_ticket").answers(&[201])
        .body(r#"{"external_user_id":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","title":"快递三天没动","description":"订单 XE20261201001","order_number":"XE20261201001"}"#),
    route("POST", "/api/v1/channel/tickets/{ticket_id}/replies", Channel, "channels", "The app's user answers on their ticket (a pending one opens again; 409 ticket_closed / ticket_reply_window_closed; another user's ticket 404)").answers(&[201])
        .body(r#"{"external_user_id":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","body":"还是没收到"}"#),
    route("GET", "/api/v1/admin/event-types", Staff(P::ManageIntegrations), "integrations", "The event catalogue: every type a webhook can subscribe to"),
    route("GET", "/api/v1/admin/audit", Staff(P::ViewAuditLog), "admin", "Search the audit log, newest first (?action=&actor=&target=&before=&limit=)").params(&["action", "actor", "target", "before", "limit"]),
    route("GET", "/api/v1/admin/audit/verify", Staff(P::ViewAuditLog), "admin", "Recompute the audit log's hash chain"),
    route("GET", "/api/v1/staff/conversations/{id}/orders", Staff(P::ViewOwnChats), "staff", "The buyer's recent orders as cards with status and tracking (a verified shop account only)"),
    route("GET", "/api/v1/staff/conversations/{id}/portrait", Staff(P::ViewOwnChats), "staff", "The buyer profile: member level, orders and spend, interests, conversations, tickets and ratings, the rule tags (vip, high_value, returns_often, complained_recently, new_buyer, repeat_buyer) and the tags set by hand"),
    route("POST", "/api/v1/staff/conversations/{id}/portrait/tags", Staff(P::ReplyChat), "staff", "Tag the chat's signed-in buyer by hand (staff who can see the chat; 1 to 16 characters, at most 20 per buyer; 400 invalid_buyer_tag, 409 buyer_not_signed_in / too_many_buyer_tags); answers the buyer's hand tags")
        .body(r#"{"tag":"老客户"}"#)
        .audited(AuditAction::BuyerTagged),
    route("DELETE", "/api/v1/staff/conversations/{id}/portrait/tags/{tag}", Staff(P::ReplyChat), "staff", "Remove a tag set by hand from the chat's buyer (404 buyer_tag_not_found)").answers(&[204])
        .audited(AuditAction::BuyerUntagged),
    route("GET", "/api/v1/staff/history", Staff(P::ViewOwnChats), "staff", "Past conversations by words, order number, buyer, agent and date, newest first (?q=&order_no=&buyer=&visitor_id=&agent_id=&from=&until=&before=&limit=; agents find only their own)").params(&["q", "order_no", "buyer", "visitor_id", "agent_id", "from", "until", "before", "limit"]),
    route("GET", "/api/v1/staff/tickets", Staff(P::WorkTickets), "tickets", "Tickets I may see, newest change first (?state=open,pending&department_id=&assignee_id=&priority=&type=&conversation_id=&limit=)").params(&["state", "department_id", "assignee_id", "priority", "type", "conversation_id", "limit"]),
    route("POST", "/api/v1/staff/tickets", Staff(P::WorkTickets), "tickets", "Open a ticket by hand").answers(&[201])
        .body(r#"{"type_key":"logistics","title":"包裹丢失","description":"买家说快递三天没更新","priority":"high","department_id":"DEPARTMENT_ID","order_number":"E20261130001","custom_fields":{"tracking_number":"SF1234567890"},"tags":["物流"]}"#),
    route("GET", "/api/v1/staff/tickets/board", Staff(P::WorkTickets), "tickets", "The board: counts by state, department and priority, overdue and due-soon lists, active tickets by age (under 1 day, 1-3, 3-7, over 7 days), each agent's open tickets, SLA attainment % (same filters as the list; within what I may see)").params(&["state", "department_id", "assignee_id", "priority", "type", "conversation_id", "limit"]),
    route("GET", "/api/v1/staff/tickets/export.csv", Staff(P::WorkTickets), "tickets", "The filtered list as CSV, streamed (same filters as the list, no limit)").params(&["state", "department_id", "assignee_id", "priority", "type", "conversation_id", "limit"]),
    route("GET", "/api/v1/staff/ticket-views", Staff(P::WorkTickets), "tickets", "My saved views of the ticket list (named filters; nobody else sees them)"),
    route("POST", "/api/v1/staff/ticket-views", Staff(P::WorkTickets), "tickets", "Save the list's filters under a name (at most 20 per person; 409 ticket_view_name_taken / too_many_ticket_views; 400 unknown_ticket_state / unknown_department / unknown_assignee / unknown_ticket_type)").answers(&[201])
        .body(r#"{"name":"物流加急","filters":{"state":"new,open","priority":"urgent"}}"#),
    route("DELETE", "/api/v1/staff/ticket-views/{view_id}", Staff(P::WorkTickets), "tickets", "Delete one of my views (another person's: 404 ticket_view_not_found)").answers(&[204]),
    route("GET", "/api/v1/staff/tickets/{ticket_id}", Staff(P::WorkTickets), "tickets", "A ticket with its history and comments"),
    route("PUT", "/api/v1/staff/tickets/{ticket_id}", Staff(P::WorkTickets), "tickets", "Change fields (absent fields stay; expected_version guards against lost updates)")
        .body(r#"{"expected_version":1,"department_id":"DEPARTMENT_ID","priority":"urgent","status_text":"已联系快递公司"}"#),
    route("POST", "/api/v1/staff/tickets/{ticket_id}/transition", Staff(P::WorkTickets), "tickets", "Move to another state (new, open, pending, on_hold, resolved, closed) with a note")
        .body(r#"{"to":"resolved","expected_version":3,"note":"已补发","status_text":"已为您补发商品"}"#),
    route("POST", "/api/v1/staff/tickets/{ticket_id}/comments", Staff(P::WorkTickets), "tickets", "An internal comment or a public reply the buyer sees, with files uploaded to the ticket first (attachments: at most 6 ids; body may be empty then; 400 unknown_attachment / too_many_attachments)").answers(&[201])
        .body(r#"{"visibility":"public","body":"您好，已为您联系快递公司，请耐心等待","attachments":[]}"#),
    route("POST", "/api/v1/staff/tickets/{ticket_id}/attachments", Staff(P::WorkTickets), "tickets", "Add a file to a ticket (raw body, Content-Type): internal until sent with a public reply").answers(&[201]),
    route("GET", "/api/v1/staff/tickets/{ticket_id}/attachments/{attachment_id}", Staff(P::WorkTickets), "tickets", "Download a file of a ticket")
        .token_in_query(),
    route("POST", "/api/v1/staff/tickets/{ticket_id}/merge", Staff(P::WorkTickets), "tickets", "Merge a duplicate: this ticket is closed as merged into another (by id or number); both histories link to each other; 400 merge_into_self / unknown_merge_target, 409 merge_into_closed")
        .body(r#"{"into":"T20261201-0001","expected_version":2,"note":"同一个包裹"}"#),
    route("PUT", "/api/v1/staff/tickets/{ticket_id}/watchers/{staff_id}", Staff(P::WorkTickets), "tickets", "Watch a ticket (oneself or a colleague): watchers may see it and get its reminders"),
    route("DELETE", "/api/v1/staff/tickets/{ticket_id}/watchers/{staff_id}", Staff(P::WorkTickets), "tickets", "Stop watching a ticket"),
    route("POST", "/api/v1/staff/conversations/{id}/ticket", Staff(P::WorkTickets), "tickets", "One click: a ticket from this chat, prefilled from the hand-off packet (fields sent win)").answers(&[201])
        .body(r#"{"type_key":"logistics","priority":"high"}"#),
    route("GET", "/api/v1/staff/ticket-departments", Staff(P::WorkTickets), "tickets", "Departments with their members"),
    route("POST", "/api/v1/staff/ticket-departments", Staff(P::ManageTickets), "tickets", "Create a department (its lead becomes a member)").answers(&[201])
        .body(r#"{"name":"物流 Logistics","lead_id":null}"#)
        .audited(AuditAction::SettingsChanged),
    route("PUT", "/api/v1/staff/ticket-departments/{department_id}/members/{agent_id}", Staff(P::ManageTickets), "tickets", "Add a member to a department").answers(&[204])
        .audited(AuditAction::SettingsChanged),
    route("GET", "/api/v1/staff/ticket-types", Staff(P::WorkTickets), "tickets", "Ticket types with required custom fields and SLA policies"),
    route("POST", "/api/v1/staff/ticket-types", Staff(P::ManageTickets), "tickets", "Create a ticket type with required custom fields and SLA targets in business minutes").answers(&[201])
        .body(r#"{"key":"logistics","name":"物流 Logistics","required_fields":["tracking_number"],"sla":[{"priority":"high","first_response_minutes":60,"resolution_minutes":480}]}"#)
        .audited(AuditAction::SettingsChanged),
    route("GET", "/api/v1/admin/business-calendar", Staff(P::ManageTickets), "tickets", "Holidays and make-up working days of the SLA calendar"),
    route("PUT", "/api/v1/admin/business-calendar", Staff(P::ManageTickets), "tickets", "Replace the holidays and make-up working days (shop-local dates)")
        .body(r#"{"holidays":["2026-10-01","2026-10-02"],"workdays":["2026-10-10"]}"#)
        .audited(AuditAction::SettingsChanged),
    route("GET", "/api/v1/buyer/tickets", Buyer, "buyer", "My tickets with their status text and public replies (?lang=zh|en)").params(&["lang"]),
    route("POST", "/api/v1/buyer/tickets/{ticket_id}/replies", Buyer, "buyer", "Reply on my ticket: a pending one opens again, a resolved one reopens within the shop's reopen window (409 ticket_reply_window_closed after it, 409 ticket_closed when closed)").answers(&[201])
        .limited(RateClass::BuyerMessage)
        .body(r#"{"body":"还是没有收到，麻烦再查一下","attachments":[]}"#),
    route("POST", "/api/v1/buyer/tickets/{ticket_id}/attachments", Buyer, "buyer", "Add a photo to my ticket (raw body, Content-Type), then send it with a reply; 409 ticket_closed / ticket_reply_window_closed as for replies").answers(&[201])
        .limited(RateClass::BuyerMessage),
    route("GET", "/api/v1/buyer/tickets/{ticket_id}/attachments/{attachment_id}", Buyer, "buyer", "Download a file of my ticket: my own, the chat's photos, and those sent with public replies")
        .token_in_query(),
    route("GET", "/api/v1/admin/ticket-settings", Staff(P::ManageTickets), "tickets", "Ticket settings: the days after resolution in which a buyer's reply reopens a ticket"),
    route("PUT", "/api/v1/admin/ticket-settings", Staff(P::ManageTickets), "tickets", "Set the reopen window (0 to 90 days; default 7)")
        .body(r#"{"reopen_days":7}"#)
        .audited(AuditAction::SettingsChanged),
    route("GET", "/api/v1/admin/ticket-routing-rules", Staff(P::ManageTickets), "tickets", "Ticket routing rules, in order: the first whose conditions all hold routes a new ticket"),
    route("PUT", "/api/v1/admin/ticket-routing-rules", Staff(P::ManageTickets), "tickets", "Replace the routing rules (conditions: type_key, category, priority, keywords; actions: department_id, assignee_id where the creator chose none, priority, tags); 400 invalid_routing_rule / unknown_department / unknown_assignee / unknown_ticket_type")
        .body(r#"{"rules":[{"name":"物流问题","when":{"keywords":["快递","物流","包裹"]},"then":{"department_id":null,"priority":"high","tags":["物流"]}}]}"#)
        .audited(AuditAction::SettingsChanged),
    route("GET", "/api/v1/admin/ticket-automations", Staff(P::ManageTickets), "tickets", "Ticket automations, in the order they run: when EVENT and CONDITIONS then ACTIONS, on committed ticket events"),
    route("POST", "/api/v1/admin/ticket-automations", Staff(P::ManageTickets), "tickets", "Add an automation (events: ticket_created, state_changed (when.to_state), buyer_replied, sla_warning, sla_breached, priority_changed, assigned; conditions: type_key, category, priority, department_id, state, tags (all), keywords (any), unassigned; actions: assignee_id, department_id, priority, state (through the state machine), tags, notify (bell/email to assignee, department_lead, staff_ids), webhook_endpoint_id); changes by automations trigger none; 400 invalid_automation / too_many_automations / unknown_department / unknown_assignee / unknown_webhook_endpoint / unknown_ticket_type").answers(&[201])
        .body(r#"{"name":"超时通知组长","event":"sla_breached","when":{"priority":"high"},"then":{"priority":"urgent","tags":["超时"],"notify":{"bell":true,"email":true,"department_lead":true}}}"#)
        .audited(AuditAction::SettingsChanged),
    route("PUT", "/api/v1/admin/ticket-automations/{automation_id}", Staff(P::ManageTickets), "tickets", "Replace an automation, keeping its place (enabled: false turns it off); 404 automation_not_found")
        .body(r#"{"name":"超时通知组长","enabled":false,"event":"sla_breached","then":{"notify":{"bell":true,"department_lead":true}}}"#)
        .audited(AuditAction::SettingsChanged),
    route("PUT", "/api/v1/admin/ticket-automations/order", Staff(P::ManageTickets), "tickets", "Set the order automations run in: every automation's id once, first to run first; the list in its new order; 400 invalid_automation_order when an id is missing, unknown or twice")
        .body(r#"{"ids":["tau_0192a0b1c2d37e8f9a0b1c2d3e4f5a6b","tau_0192a0b1c2d37e8f9a0b1c2d3e4f5a6c"]}"#)
        .audited(AuditAction::SettingsChanged),
    route("DELETE", "/api/v1/admin/ticket-automations/{automation_id}", Staff(P::ManageTickets), "tickets", "Delete an automation; 404 automation_not_found").answers(&[204])
        .audited(AuditAction::SettingsChanged),
    route("GET", "/api/v1/admin/smtp", Staff(P::ManageIntegrations), "tickets", "The SMTP server reminders go through (the password is never shown)"),
    route("PUT", "/api/v1/admin/smtp", Staff(P::ManageIntegrations), "tickets", "Set the SMTP server (tls: none, starttls or tls; a password left out keeps the stored one, an empty one clears it)")
        .body(r#"{"host":"smtp.shop.example","port":587,"tls":"starttls","username":"kefu@shop.example","password":"app-password","from_address":"店小二 <kefu@shop.example>","enabled":true}"#)
        .audited(AuditAction::SettingsChanged),
    route("GET", "/api/v1/staff/me/notifications", Staff(P::ViewOwnProfile), "staff", "My notification preferences: my e-mail address, in-app reminders, and which ticket events e-mail me"),
    route("PUT", "/api/v1/staff/me/notifications", Staff(P::ViewOwnProfile), "staff", "Set my notification preferences (an empty email: no e-mail)")
        .body(r#"{"email":"li@shop.example","in_app":true,"email_on":{"assigned":true,"buyer_replied":true,"sla_warning":false,"sla_breach":true,"sla_escalation":true}}"#),
    route("GET", "/api/v1/staff/me/bell", Staff(P::ViewOwnProfile), "staff", "My console bell: my newest ticket reminders (assigned, buyer replied, SLA warning, breach, escalation) and how many are unread"),
    route("POST", "/api/v1/staff/me/bell/read-all", Staff(P::ViewOwnProfile), "staff", "Mark all my reminders read").answers(&[204]),
    route("POST", "/api/v1/staff/me/bell/{id}/read", Staff(P::ViewOwnProfile), "staff", "Mark one of my reminders read (another person's is not found)").answers(&[204]),
    route("GET", "/api/v1/kb/entries", Staff(P::ReadKnowledge), "kb", "List entries (?q=&category=&status=&limit=&offset=)").params(&["q", "category", "status", "limit", "offset"]),
    route("POST", "/api/v1/kb/entries", Staff(P::WriteKnowledge), "kb", "Create an entry (a draft unless status says otherwise)").answers(&[201])
        .body(r#"{"id":"returns-7day","question":"支持七天无理由退货吗？","similar":["不喜欢能退吗"],"answer":"支持，签收后 7 天内…","category":"售后/退货","tags":["退货"],"products":[],"locale":"zh"}"#),
    route("GET", "/api/v1/kb/entries/{id}", Staff(P::ReadKnowledge), "kb", "An entry with its usage"),
    route("PUT", "/api/v1/kb/entries/{id}", Staff(P::WriteKnowledge), "kb", "New content, a new version (?expected_version=N guards against lost updates)").params(&["expected_version"])
        .body(r#"{"question":"支持七天无理由退货吗？","answer":"支持，签收次日起 7 天内…","category":"售后/退货"}"#),
    route("DELETE", "/api/v1/kb/entries/{id}", Staff(P::WriteKnowledge), "kb", "Archive an entry (history is kept)"),
    route("POST", "/api/v1/kb/entries/{id}/publish", Staff(P::WriteKnowledge), "kb", "Publish: the bot may answer with it")
        .audited(AuditAction::KbPublished),
    route("POST", "/api/v1/kb/entries/{id}/unpublish", Staff(P::WriteKnowledge), "kb", "Back to draft")
        .audited(AuditAction::KbUnpublished),
    route("GET", "/api/v1/kb/entries/{id}/versions", Staff(P::ReadKnowledge), "kb", "Version history with authors"),
    route("GET", "/api/v1/kb/entries/{id}/diff", Staff(P::ReadKnowledge), "kb", "Field and line changes between two versions (?from=&to=)").params(&["from", "to"]),
    route("POST", "/api/v1/kb/entries/{id}/rollback", Staff(P::WriteKnowledge), "kb", "Write an old version back as a new one")
        .body(r#"{"version":2}"#),
    route("GET", "/api/v1/kb/search", Staff(P::ReadKnowledge), "kb", "Hybrid search with the bot's decision (?q=&limit=&category=&locale=&product=)").params(&["q", "limit", "category", "locale", "product"]),
    route("GET", "/api/v1/kb/suggest", Staff(P::ReadKnowledge), "kb", "Search-as-you-type question suggestions, typo tolerant (?q=)").params(&["q"]),
    route("GET", "/api/v1/kb/categories", Staff(P::ReadKnowledge), "kb", "The category tree as paths"),
    route("POST", "/api/v1/kb/categories", Staff(P::WriteKnowledge), "kb", "Create a category (and its parents)").answers(&[201])
        .body(r#"{"path":"售后/退货"}"#),
    route("POST", "/api/v1/kb/import", Staff(P::WriteKnowledge), "kb", "Bulk import, all or nothing (?format=jsonl|csv|yaml|md&publish=true; raw file body)").params(&["format", "publish"])
        .audited(AuditAction::KbImported),
    route("GET", "/api/v1/kb/export", Staff(P::ReadKnowledge), "kb", "Export every entry (?format=jsonl|csv)").params(&["format"])
        .audited(AuditAction::Exported),
    route("POST", "/api/v1/kb/reindex", Staff(P::WriteKnowledge), "kb", "Rebuild the index in the background").answers(&[202]),
    route("GET", "/api/v1/kb/reindex", Staff(P::ReadKnowledge), "kb", "Progress of the last reindex"),
    route("GET", "/api/v1/kb/calibration", Staff(P::ReadKnowledge), "kb", "How the bot's confidence is calibrated on this KB, and what that does to held-out questions"),
    route("GET", "/api/v1/kb/wording-suggestions", Staff(P::ReadKnowledge), "kb", "Other wordings the local model proposes for entries with fewer than three (?status=pending|accepted|rejected|all, default pending)").params(&["status"]),
    route("POST", "/api/v1/kb/wording-suggestions/refresh", Staff(P::WriteKnowledge), "kb", "Look for entries to propose wordings for now, in the background").answers(&[202]),
    route("POST", "/api/v1/kb/wording-suggestions/{id}/accept", Staff(P::WriteKnowledge), "kb", "The wording becomes a similar question of its entry (a new version)"),
    route("POST", "/api/v1/kb/wording-suggestions/{id}/reject", Staff(P::WriteKnowledge), "kb", "Never propose this wording for its entry again"),
    // Who is on the shop now (issue 18): presence, invitations, rules, product cards.
    route("POST", "/api/v1/presence", Public, "visitors", "The widget's heartbeat from a shop page: page, referrer, cart; answers the visit key and any invitation")
        .limited(RateClass::Presence)
        .body(r#"{"visit_key":null,"browser_id":"b_4f9c2a7d1e","url":"https://shop.example/item?sku=TS-001&utm_source=baidu&utm_medium=cpc","title":"纯棉T恤","referrer":"https://www.baidu.com/","cart":[{"sku":"TS-001","name":"纯棉T恤","quantity":1,"unit_price_cents":7900}]}"#),
    route("POST", "/api/v1/presence/invitations/{invitation_id}/decline", Public, "visitors", "The visitor closed an invitation (with the visit key)").answers(&[204])
        .limited(RateClass::Presence)
        .body(r#"{"visit_key":"vk_..."}"#),
    route("GET", "/api/v1/demo/products/{sku}", Public, "visitors", "Demo store only: one product of the catalogue, for the demo shop's product page"),
    route("GET", "/api/v1/staff/visits", Staff(P::ViewQueue), "visitors", "Visitors on the shop now (?sort=last_seen|dwell|cart_value|pages|arrived&source=&returning=&min_cart_cents=&page=&member_level=&vip=&tag=)").params(&["sort", "source", "returning", "min_cart_cents", "page", "member_level", "vip", "tag", "limit"]),
    route("GET", "/api/v1/staff/visits/stream", Staff(P::ViewQueue), "visitors", "Server-sent events: a visit started, moved, changed its cart or took an invitation")
        .token_in_query(),
    route("POST", "/api/v1/staff/visits/{visit_id}/invite", Staff(P::ClaimChat), "visitors", "Invite a visitor to chat: their widget opens with this greeting and the chat starts with me").answers(&[201])
        .body(r#"{"greeting":"您好，这款T恤今天有优惠，需要帮您看看尺码吗？"}"#),
    route("GET", "/api/v1/admin/invitation-rules", Staff(P::ManageBot), "visitors", "Proactive invitation rules, with how often each was shown and accepted"),
    route("POST", "/api/v1/admin/invitation-rules", Staff(P::ManageBot), "visitors", "Add a rule: conditions, a bot or agent greeting, frequency caps").answers(&[201])
        .body(r#"{"name":"商品页停留","priority":0,"conditions":{"page_url_contains":"sku=","min_dwell_seconds":20,"sources":["search","ads"],"time_window":{"from":"09:00","to":"22:00"}},"action":{"kind":"bot","greeting":"您好，这款商品有什么想了解的吗？"},"caps":{"once_per_session":true,"per_day":2}}"#)
        .audited(AuditAction::SettingsChanged),
    route("PUT", "/api/v1/admin/invitation-rules/{rule_id}", Staff(P::ManageBot), "visitors", "Edit a rule, or switch it on or off: the whole rule, as when it was added; its counts stay")
        .body(r#"{"name":"商品页停留","enabled":false,"priority":0,"conditions":{"page_url_contains":"sku=","min_dwell_seconds":30},"action":{"kind":"bot","greeting":"您好，这款商品有什么想了解的吗？"},"caps":{"once_per_session":true,"per_day":1}}"#)
        .audited(AuditAction::SettingsChanged),
    route("DELETE", "/api/v1/admin/invitation-rules/{rule_id}", Staff(P::ManageBot), "visitors", "Delete a rule").answers(&[204])
        .audited(AuditAction::SettingsChanged),
    route("GET", "/api/v1/admin/agent-invitations", Staff(P::ManageBot), "visitors", "The invitations agents sent themselves from the visitor list, counted as a rule's: shown, accepted, and accepted chats that turned into a paid order"),
    route("GET", "/api/v1/staff/products", Staff(P::ReplyChat), "visitors", "Search the shop's catalogue for a product card (?q=&limit=)").params(&["q", "limit"]),
    route("GET", "/api/v1/staff/conversations/{id}/recommendations", Staff(P::ReplyChat), "visitors", "Products recommended for the chat's buyer (item-to-item from co-view and co-buy), in stock, at most 10"),
    route("POST", "/api/v1/staff/conversations/{id}/product-cards", Staff(P::ReplyChat), "visitors", "Send a product card (image, title, price, stock, link, add to cart) from the catalogue").answers(&[201])
        .body(r#"{"sku":"TS-001","client_msg_id":"card-1"}"#),
    route("POST", "/api/v1/staff/conversations/{id}/order-cards", Staff(P::ReplyChat), "visitors", "Send one of the buyer's own orders as a card (status, items, total, newest tracking step); only an order on the account the buyer is signed in with").answers(&[201])
        .body(r#"{"order_no":"XE20261101001","client_msg_id":"order-card-1"}"#),
    route("GET", "/api/v1/staff/coupons", Staff(P::ReplyChat), "visitors", "The shop's coupons for the coupon picker (rule in words, how many left, whether it can be offered)"),
    route("POST", "/api/v1/staff/conversations/{id}/coupon-cards", Staff(P::ReplyChat), "visitors", "Offer one of the shop's coupons in the chat as a card (some left and still valid)").answers(&[201])
        .body(r#"{"coupon_id":"SHOP20","client_msg_id":"coupon-1"}"#),
    route("GET", "/api/v1/staff/analytics/summary", Staff(P::ViewReports), "analytics", "Standard report of the day, week or month holding ?date= (?period=day|week|month&channel=&agent_id=&group_id=&source=search|ads|recommendation|referral|direct|none): totals, per agent, per day; scoped by role").params(&["date", "period", "channel", "agent_id", "group_id", "source"]),
    route("GET", "/api/v1/staff/analytics/report", Staff(P::ViewReports), "analytics", "Custom report: ?metrics=a,b&by=day|week|month|hour|agent|channel|group|source|intent|category|product (or two, comma-separated: by=agent,day gives a row per agent and day; by=source splits by how the buyer came: search, ads, recommendation, referral, direct, none; by=hour by the shop-local hour the chat started, for conversations, engaged, handoffs and handoff_rate only, else 400 report_not_by_hour; by=intent|category|product by what the chat was about, none while not known, shop-wide (admins and knowledge managers, else 403), with a day, week or month at most, no queue-wait percentile or agent time and no filter, else 400 report_not_by_topic)&from=&to=&channel=&agent_id=&group_id=&source=&format=json|csv|xlsx (CSV streamed; XLSX one sheet, dates as dates, numbers as numbers; exports audited)").params(&["metrics", "by", "from", "to", "channel", "agent_id", "group_id", "source", "format"])
        .audited(AuditAction::Exported),
    route("GET", "/api/v1/staff/analytics/funnel", Staff(P::ViewReports), "analytics", "The visitor funnel (访客漏斗) of the days from..to: visits → chats → orders per source (search, ads, recommendation, referral, direct) and in total, with pages per visit, seconds per page, pages before the chat and the rates, `campaigns`: the 20 most visited utm_campaign values with their visits, chats, orders and rates, and `days`: visits, chats and orders on each day of the range; admins only (403 otherwise)").params(&["from", "to"]),
    route("GET", "/api/v1/staff/analytics/conversations.csv", Staff(P::ViewReports), "analytics", "Drill-down: one CSV line per conversation started on the days from..to (channel, agent, start, hand-off reason, and its counters: waits, first response, handle time, CSAT, conversion...; the same numbers the reports add up), streamed; the same scope and filters as the reports; audited").params(&["from", "to", "channel", "agent_id", "group_id", "source"])
        .audited(AuditAction::Exported),
    route("GET", "/api/v1/staff/analytics/saved", Staff(P::ViewReports), "analytics", "The caller's saved custom reports (我的报表), newest first, each with the days its range covers today (run_from, run_to)"),
    route("POST", "/api/v1/staff/analytics/saved", Staff(P::ViewReports), "analytics", "Save a custom report: name, metrics, by, range (yesterday|last7_days|last30_days|this_month|last_month|fixed with from/to), optional channel/agent_id/group_id; at most 50 per person")
        .answers(&[201])
        .body(r#"{"name":"客服周报","metrics":["conversations","csat_avg"],"by":"agent","range":"last7_days"}"#),
    route("DELETE", "/api/v1/staff/analytics/saved/{id}", Staff(P::ViewReports), "analytics", "Delete one of the caller's saved reports").answers(&[204]),
    route("GET", "/api/v1/staff/qa/schemes", Staff(P::ReviewQuality), "quality", "Quality-inspection (质检) rubric schemes"),
    route("POST", "/api/v1/staff/qa/schemes", Staff(P::ReviewQuality), "quality", "Create a rubric scheme: check items that add or deduct points from a base (score clamped 0-100)").answers(&[201])
        .body(r#"{"name":"售后质检","base":90,"items":[{"key":"greeting","label":"主动问候","kind":"add","points":10},{"key":"rude","label":"态度生硬","kind":"deduct","points":30}]}"#)
        .audited(AuditAction::SettingsChanged),
    route("GET", "/api/v1/staff/qa/plans", Staff(P::ReviewQuality), "quality", "Sampling plans"),
    route("POST", "/api/v1/staff/qa/plans", Staff(P::ReviewQuality), "quality", "Create a sampling plan: random_percent, per_agent, low_csat, escalated, complaint rules and a seed; daily: true runs it by itself each day (after 01:00 shop time, over the day before)").answers(&[201])
        .body(r#"{"name":"每日抽检","scheme_id":"qas_...","rules":[{"kind":"random_percent","percent":10},{"kind":"low_csat","max_stars":2}],"seed":7,"daily":true}"#)
        .audited(AuditAction::SettingsChanged),
    route("PUT", "/api/v1/staff/qa/plans/{plan_id}/daily", Staff(P::ReviewQuality), "quality", "Turn a plan's daily run on or off; 404 when there is no such plan")
        .body(r#"{"daily":true}"#)
        .audited(AuditAction::SettingsChanged),
    route("POST", "/api/v1/staff/qa/plans/{plan_id}/run", Staff(P::ReviewQuality), "quality", "Queue the resolved conversations the plan picks among those started on the days from..to (same seed, same picks; nothing queued twice)")
        .body(r#"{"from":"2026-11-30","to":"2026-11-30"}"#),
    route("GET", "/api/v1/staff/qa/reviews", Staff(P::ViewReports), "quality", "Reviews: a reviewer's groups (admins all); an agent their own scored ones"),
    route("GET", "/api/v1/staff/qa/reviews/{review_id}", Staff(P::ViewReports), "quality", "One review with its rubric and the decrypted transcript (same scope)"),
    route("POST", "/api/v1/staff/qa/reviews/{review_id}/score", Staff(P::ReviewQuality), "quality", "Score every check item (0..its points) with an optional comment (sealed)")
        .body(r#"{"scores":{"greeting":10,"rude":0},"comment":"回复及时"}"#),
    route("POST", "/api/v1/staff/qa/reviews/{review_id}/appeal", Staff(P::ViewReports), "quality", "The reviewed agent appeals a scored review once, with a reason (sealed)")
        .body(r#"{"reason":"买家要求的是换货，我已按流程处理"}"#),
    route("POST", "/api/v1/staff/qa/reviews/{review_id}/settle", Staff(P::ReviewQuality), "quality", "Settle an appeal: upheld, or revised with new scores")
        .body(r#"{"outcome":"revised","scores":{"greeting":10,"rude":0}}"#),
    route("POST", "/api/v1/staff/qa/reviews/{review_id}/draft", Staff(P::ReviewQuality), "quality", "Ask the local model for the review's draft score again (after it failed); the draft shows in the review once made (409 qa_no_model without a local model)").answers(&[202]),
    route("GET", "/api/v1/conversations/{id}/csat", Buyer, "buyer", "Whether this finished conversation may be rated (once)"),
    route("POST", "/api/v1/conversations/{id}/csat", Buyer, "buyer", "Rate a finished conversation: 1-5 stars, optional tags and comment, once").answers(&[201])
        .body(r#"{"stars":5,"tags":["回复及时"],"comment":"很耐心"}"#),
];

/// All a staff member whose password was reset may do until they choose a new one.
const PASSWORD_CHANGE_PATHS: [&str; 3] = [
    "/api/v1/staff/me",
    "/api/v1/staff/logout",
    "/api/v1/staff/me/password",
];

pub fn spec_for(method: &str, path: &str) -> Option<&'static RouteSpec> {
    // axum answers HEAD with the GET handler (without the body).
    let method = if method == "HEAD" { "GET" } else { method };
    ROUTES.iter().find(|r| r.method == method && r.path == path)
}

/// The methods the table declares for a path, for the `Allow` header.
pub fn methods_for(path: &str) -> Vec<&'static str> {
    let mut methods: Vec<&'static str> = ROUTES
        .iter()
        .filter(|r| r.path == path)
        .map(|r| r.method)
        .collect();
    if methods.contains(&"GET") {
        methods.push("HEAD");
    }
    methods
}

/// Runs after routing: looks the matched route up in the table and authenticates
/// and authorises accordingly. A method the table does not declare for the path
/// is refused with 405, whether or not a handler exists.
pub async fn authorize(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    let Some(spec) = spec_for(request.method().as_str(), &path) else {
        let allow = methods_for(&path);
        if allow.is_empty() {
            return Err(ApiError::Internal(format!(
                "route {path} is not in the route table"
            )));
        }
        return Err(ApiError::MethodNotAllowed {
            method: request.method().to_string(),
            allow: allow.join(", "),
        });
    };
    let client_ip = state.limits.client_ip(&request);
    state.limits.check(spec.rate, client_ip, None).await?;
    request.extensions_mut().insert(ClientIp(client_ip));
    let target = audit_target(&request);
    let mut actor = None;
    if matches!(spec.access, Access::Public | Access::Buyer) {
        state.blocks.check(client_ip, None)?;
    }
    match spec.access {
        Access::Public => {}
        Access::Buyer => {
            let token = bearer_token(&request)
                .or_else(|| spec.query_token.then(|| query_token(&request)).flatten())
                .ok_or(ApiError::Unauthenticated)?;
            let visitor: Visitor = state.visitors.authenticate(&token).await?;
            state.blocks.check(None, Some(&visitor.id))?;
            state
                .limits
                .check(spec.rate, None, Some(&visitor.id))
                .await?;
            request.extensions_mut().insert(visitor);
        }
        Access::Staff(permission) => {
            let token = staff_token(&state, &request, spec)?;
            let staff = state.staff.authenticate(&token).await?;
            require(&state, &target, &staff, permission).await?;
            actor = Some(staff.id.clone());
            if staff.must_change_password && !PASSWORD_CHANGE_PATHS.contains(&path.as_str()) {
                return Err(StaffError::PasswordChangeRequired.into());
            }
            request.extensions_mut().insert(staff);
            request
                .extensions_mut()
                .insert(CurrentSession(crate::crypto::hash_token(&token)));
        }
        Access::Channel => {
            let key = bearer_token(&request).ok_or(ApiError::Unauthenticated)?;
            let channel = state.channels.authenticate(&key).await?;
            request.extensions_mut().insert(channel);
        }
        Access::Metrics => {
            let scraper = bearer_token(&request).is_some_and(|t| state.edge.is_metrics_token(&t));
            if !scraper {
                let token = staff_token(&state, &request, spec)?;
                let staff = state.staff.authenticate(&token).await?;
                require(&state, &target, &staff, Permission::ViewMetrics).await?;
            }
        }
    }
    let response = next.run(request).await;
    if let Some(action) = spec.audit
        && response.status().is_success()
    {
        state.audit.record(actor.as_deref(), action, &target).await;
    }
    Ok(response)
}

/// A bearer token wins over the cookie (a page on another site cannot make a
/// browser add one); a cookie must pass the CSRF origin check. Synchronous, so
/// no borrow of the request lives across an await.
pub(super) fn staff_token(
    state: &AppState,
    request: &Request,
    spec: &RouteSpec,
) -> Result<String, ApiError> {
    if let Some(token) = bearer_token(request) {
        return Ok(token);
    }
    if let Some(token) = session_cookie(request, state.edge.cookie_name()) {
        state.edge.check_origin(request)?;
        return Ok(token);
    }
    spec.query_token
        .then(|| query_token(request))
        .flatten()
        .ok_or(ApiError::Unauthenticated)
}

/// The permission check; a denial is written to the audit log.
async fn require(
    state: &AppState,
    target: &str,
    staff: &StaffUser,
    permission: Permission,
) -> Result<(), ApiError> {
    if staff.can(permission) {
        return Ok(());
    }
    state
        .audit
        .record(Some(&staff.id), AuditAction::PermissionDenied, target)
        .await;
    Err(ApiError::Forbidden {
        message: format!(
            "role {} lacks permission {}",
            staff.role.as_str(),
            permission.as_str()
        ),
    })
}

/// OpenAPI 3.0 document of every route in the table.
pub fn openapi() -> Value {
    let mut paths = Map::new();
    for spec in ROUTES {
        let entry = paths
            .entry(spec.path.to_owned())
            .or_insert_with(|| json!({}));
        entry[spec.method.to_ascii_lowercase()] = operation(spec);
    }
    json!({
        "openapi": "3.0.3",
        "info": { "title": "Xiaoer (店小二) customer service API", "version": env!("CARGO_PKG_VERSION") },
        "paths": paths,
        "x-webhooks": super::webhooks::catalogue(),
        "components": {
            "securitySchemes": {
                "visitorToken": { "type": "http", "scheme": "bearer", "description": "vt_... token from POST /api/v1/conversations" },
                "staffSession": { "type": "apiKey", "in": "cookie", "name": super::extract::SESSION_COOKIE, "description": "__Host-xiaoer_session when the server is reached over https; writes need a same-origin Origin header" },
                "staffToken": { "type": "http", "scheme": "bearer", "description": "st_... token from POST /api/v1/staff/login" },
                "accessToken": { "type": "apiKey", "in": "query", "name": "access_token", "description": "the visitor or staff token, only on WebSocket upgrades and downloads" },
                "metricsToken": { "type": "http", "scheme": "bearer", "description": "the --metrics-token setting" },
                "channelKey": { "type": "http", "scheme": "bearer", "description": "ck_... key of an app channel, from POST /api/v1/admin/channels" }
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": { "error": { "type": "object", "properties": {
                        "code": { "type": "string" }, "message": { "type": "string" } } } }
                }
            }
        }
    })
}

fn success_words(status: u16) -> &'static str {
    match status {
        201 => "created",
        202 => "accepted: the work goes on in the background",
        204 => "done, nothing to return",
        _ => "success",
    }
}

/// The request body's JSON schema as its example shows it: each field's type,
/// none required (the handler says which are, with a 4xx), nulls allowed where
/// the example has one. Enough for a fuzzer to build well-typed bodies and
/// wrongly typed ones.
fn schema_of(example: &Value) -> Value {
    match example {
        Value::Null => json!({ "nullable": true }),
        Value::Bool(_) => json!({ "type": "boolean" }),
        Value::Number(n) if n.is_f64() => json!({ "type": "number" }),
        Value::Number(_) => json!({ "type": "integer" }),
        Value::String(_) => json!({ "type": "string" }),
        Value::Array(items) => match items.first() {
            Some(first) => json!({ "type": "array", "items": schema_of(first) }),
            None => json!({ "type": "array" }),
        },
        Value::Object(fields) => {
            let properties: Map<String, Value> = fields
                .iter()
                .map(|(name, value)| (name.clone(), schema_of(value)))
                .collect();
            json!({ "type": "object", "properties": properties })
        }
    }
}

fn operation(spec: &RouteSpec) -> Value {
    let path_params = spec
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }));
    let query_params = spec
        .query
        .iter()
        .map(|name| json!({ "name": name, "in": "query", "required": false, "schema": { "type": "string" } }));
    let parameters: Vec<Value> = path_params.chain(query_params).collect();
    let (mut security, permission) = match spec.access {
        Access::Public => (json!([]), None),
        Access::Buyer => (json!([{ "visitorToken": [] }]), None),
        Access::Staff(p) => (
            json!([{ "staffSession": [] }, { "staffToken": [] }]),
            Some(p.as_str()),
        ),
        Access::Channel => (json!([{ "channelKey": [] }]), None),
        Access::Metrics => (
            json!([{ "metricsToken": [] }, { "staffSession": [] }, { "staffToken": [] }]),
            Some(Permission::ViewMetrics.as_str()),
        ),
    };
    if spec.query_token
        && let Some(list) = security.as_array_mut()
    {
        list.push(json!({ "accessToken": [] }));
    }
    let limited = spec.rate != RateClass::Unlimited;
    let error = json!({ "description": "error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
    let mut op = json!({
        "summary": spec.summary,
        "tags": [spec.tag],
        "operationId": format!("{}_{}", spec.method.to_ascii_lowercase(), spec.path.replace(['/', '{', '}', '.'], "_")),
        "parameters": parameters,
        "security": security,
        "responses": { "4XX": error.clone(), "5XX": error },
    });
    for status in spec.success {
        op["responses"][status.to_string()] = json!({ "description": success_words(*status) });
    }
    if let Some(example) = spec.example {
        let example: Value = serde_json::from_str(example).expect("route examples are valid JSON");
        op["requestBody"] = json!({ "required": true, "content": { "application/json": {
            "schema": schema_of(&example), "example": example } } });
    }
    if let Some(p) = permission {
        op["x-required-permission"] = json!(p);
    }
    if limited {
        op["responses"]["429"] = json!({ "description": "rate_limited; see Retry-After" });
    }
    op
}
