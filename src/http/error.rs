//! The one place where errors become HTTP responses. Every error has a stable
//! machine-readable code; 5xx bodies say nothing internal and the cause is logged.

use crate::domain::events::FilterError;
use crate::domain::message::MessageError;
use crate::domain::routing::QuickReplyError;
use crate::domain::staff::StaffInputError;
use crate::domain::visitor::{IdentityError, VisitorInputError};
use crate::domain::welcome::ScenarioError;
use crate::ports::vector_index::IndexError;
use crate::ports::{KnowledgeError as KbPortError, ModelError};
use crate::services::attachments::AttachmentError;
use crate::services::audit::AuditError;
use crate::services::bot::BotError;
use crate::services::channels::ChannelError;
use crate::services::chat::ChatError;
use crate::services::conversations::ConversationError;
use crate::services::knowledge::KnowledgeError;
use crate::services::quick_replies::QuickReplyServiceError;
use crate::services::routing::RoutingError;
use crate::services::staff::StaffError;
use crate::services::visitors::VisitorError;
use crate::services::webhooks::WebhookError;
use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug)]
pub enum ApiError {
    BadRequest {
        code: &'static str,
        message: String,
    },
    Unauthenticated,
    Forbidden {
        message: String,
    },
    /// Forbidden for a reason the client can act on (its own stable code).
    Refused {
        code: &'static str,
        message: String,
    },
    NotFound {
        code: &'static str,
        message: String,
    },
    /// The path exists but the route table declares no such method on it.
    MethodNotAllowed {
        method: String,
        /// The declared methods, for the `Allow` header.
        allow: String,
    },
    /// A cookie-authenticated write or socket from a page of another origin (CSRF).
    CrossOrigin,
    Conflict {
        code: &'static str,
        message: String,
    },
    PayloadTooLarge {
        message: String,
    },
    UnsupportedMediaType {
        message: String,
    },
    /// A model or another shared resource is saturated: retry shortly.
    Busy {
        message: String,
    },
    /// This client, visitor or account sent too much too fast.
    RateLimited {
        retry_after_secs: u64,
    },
    /// Too many failed sign-ins for this account or from this address.
    LoginLocked {
        retry_after_secs: u64,
    },
    /// A dependency (a remote index) cannot be reached.
    Unavailable {
        message: String,
    },
    /// Something on our side failed; the detail goes to the log only.
    Internal(String),
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl ToString) -> Self {
        ApiError::BadRequest {
            code,
            message: message.to_string(),
        }
    }

    pub fn public_parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            ApiError::BadRequest { code, message } => {
                (StatusCode::BAD_REQUEST, code, message.clone())
            }
            ApiError::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "sign in or present a valid token".into(),
            ),
            ApiError::Forbidden { message } => {
                (StatusCode::FORBIDDEN, "forbidden", message.clone())
            }
            ApiError::Refused { code, message } => (StatusCode::FORBIDDEN, code, message.clone()),
            ApiError::NotFound { code, message } => (StatusCode::NOT_FOUND, code, message.clone()),
            ApiError::MethodNotAllowed { method, allow } => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{method} is not allowed here; allowed: {allow}"),
            ),
            ApiError::CrossOrigin => (
                StatusCode::FORBIDDEN,
                "csrf_origin_mismatch",
                "a request with the session cookie must come from this server's own pages".into(),
            ),
            ApiError::Conflict { code, message } => (StatusCode::CONFLICT, code, message.clone()),
            ApiError::PayloadTooLarge { message } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                message.clone(),
            ),
            ApiError::UnsupportedMediaType { message } => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                message.clone(),
            ),
            ApiError::Busy { message } => (StatusCode::TOO_MANY_REQUESTS, "busy", message.clone()),
            ApiError::RateLimited { retry_after_secs } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests; retry in {retry_after_secs} s"),
            ),
            ApiError::LoginLocked { retry_after_secs } => (
                StatusCode::TOO_MANY_REQUESTS,
                "login_locked",
                format!("too many failed sign-ins; retry in {retry_after_secs} s"),
            ),
            ApiError::Unavailable { message } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                message.clone(),
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error; it has been logged".into(),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(%cause, "request failed");
        }
        let (status, code, message) = self.public_parts();
        let body = axum::Json(json!({ "error": { "code": code, "message": message } }));
        let mut response = (status, body).into_response();
        if let ApiError::MethodNotAllowed { allow, .. } = &self
            && let Ok(value) = HeaderValue::from_str(allow)
        {
            response.headers_mut().insert(header::ALLOW, value);
        }
        if let ApiError::RateLimited { retry_after_secs }
        | ApiError::LoginLocked { retry_after_secs } = &self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        response
    }
}

impl From<ChatError> for ApiError {
    fn from(e: ChatError) -> Self {
        let message = e.to_string();
        match e {
            ChatError::NotFound => ApiError::NotFound {
                code: "conversation_not_found",
                message,
            },
            ChatError::Forbidden => ApiError::Forbidden { message },
            ChatError::Closed => ApiError::Conflict {
                code: "conversation_closed",
                message,
            },
            ChatError::NotYourTurn(_) => ApiError::Conflict {
                code: "not_your_turn",
                message,
            },
            ChatError::Transition(_) => ApiError::Conflict {
                code: "invalid_transition",
                message,
            },
            ChatError::Conflict => ApiError::Conflict {
                code: "concurrent_change",
                message,
            },
            ChatError::AtCapacity(_) => ApiError::Conflict {
                code: "at_capacity",
                message,
            },
            ChatError::ReplyWindowClosed => ApiError::Conflict {
                code: "reply_window_closed",
                message,
            },
            ChatError::Attachment(inner) => inner.into(),
            ChatError::Corrupt(_) | ChatError::Records(_) => ApiError::Internal(message),
        }
    }
}

impl From<RoutingError> for ApiError {
    fn from(e: RoutingError) -> Self {
        let message = e.to_string();
        let not_found = |code| ApiError::NotFound {
            code,
            message: message.clone(),
        };
        match e {
            RoutingError::GroupNotFound => not_found("group_not_found"),
            RoutingError::AgentNotFound => not_found("agent_not_found"),
            RoutingError::RuleNotFound => not_found("rule_not_found"),
            RoutingError::VisitorNotFound => not_found("visitor_not_found"),
            RoutingError::GroupNameTaken => ApiError::Conflict {
                code: "group_name_taken",
                message,
            },
            RoutingError::Invalid(_) => ApiError::bad_request("invalid_routing", message),
            RoutingError::AgentUnavailable(_) => ApiError::Conflict {
                code: "agent_unavailable",
                message,
            },
            RoutingError::Chat(inner) => inner.into(),
            RoutingError::Corrupt(_) | RoutingError::Records(_) => ApiError::Internal(message),
        }
    }
}

impl From<QuickReplyServiceError> for ApiError {
    fn from(e: QuickReplyServiceError) -> Self {
        let message = e.to_string();
        match e {
            QuickReplyServiceError::Invalid(inner) => {
                let code = match inner {
                    QuickReplyError::BadShortcut => "bad_shortcut",
                    QuickReplyError::UnknownVariable(_) => "unknown_variable",
                    QuickReplyError::BadText => "bad_reply_text",
                    QuickReplyError::BadCategory => "bad_category",
                };
                ApiError::bad_request(code, message)
            }
            QuickReplyServiceError::NotFound => ApiError::NotFound {
                code: "quick_reply_not_found",
                message,
            },
            QuickReplyServiceError::ShortcutTaken => ApiError::Conflict {
                code: "shortcut_taken",
                message,
            },
            QuickReplyServiceError::Forbidden => ApiError::Forbidden { message },
            QuickReplyServiceError::Store(_) => ApiError::Internal(message),
        }
    }
}

impl From<BotError> for ApiError {
    fn from(e: BotError) -> Self {
        let message = e.to_string();
        match e {
            BotError::Chat(inner) => inner.into(),
            BotError::Conversation(inner) => inner.into(),
            BotError::Visitor(inner) => inner.into(),
            BotError::NotABotAnswer => ApiError::bad_request("not_a_bot_answer", message),
            BotError::NotAnAgentAnswer => ApiError::bad_request("not_an_agent_answer", message),
            BotError::NoQuestion => ApiError::bad_request("no_question", message),
            BotError::BadInput(_) => ApiError::bad_request("invalid_input", message),
            BotError::Welcome(inner) => ApiError::bad_request(
                match inner {
                    ScenarioError::Unknown | ScenarioError::BadCampaign => "invalid_input",
                    ScenarioError::BadEntryPrefix => "invalid_entry_page_prefix",
                    ScenarioError::BadMemberLevel => "invalid_member_level",
                    ScenarioError::UnknownMemberLevel => "unknown_member_level",
                },
                message,
            ),
            BotError::TooManyWelcomeRules => ApiError::Conflict {
                code: "too_many_welcome_rules",
                message,
            },
            BotError::Knowledge(KbPortError::Unavailable(_)) => ApiError::Unavailable { message },
            BotError::Model(ModelError::Overloaded) => ApiError::Busy { message },
            BotError::Commerce(inner) => {
                tracing::warn!(error = %inner, "the shop's system is unavailable to the bot");
                ApiError::Unavailable {
                    message: "the shop's system did not answer; try again shortly".into(),
                }
            }
            BotError::Knowledge(KbPortError::Model(_))
            | BotError::Model(_)
            | BotError::Records(_)
            | BotError::Prompt(_)
            | BotError::Corrupt(_) => ApiError::Internal(message),
        }
    }
}

impl From<AttachmentError> for ApiError {
    fn from(e: AttachmentError) -> Self {
        let message = e.to_string();
        match e {
            AttachmentError::TypeNotAllowed => ApiError::UnsupportedMediaType { message },
            AttachmentError::ContentMismatch => ApiError::bad_request("content_mismatch", message),
            AttachmentError::NotAudio => ApiError::bad_request("not_audio", message),
            AttachmentError::Empty => ApiError::bad_request("empty_attachment", message),
            AttachmentError::TooLarge(_) => ApiError::PayloadTooLarge { message },
            AttachmentError::NotFound => ApiError::NotFound {
                code: "attachment_not_found",
                message,
            },
            AttachmentError::Io(_) | AttachmentError::Tampered | AttachmentError::Records(_) => {
                ApiError::Internal(message)
            }
        }
    }
}

impl From<AuditError> for ApiError {
    fn from(e: AuditError) -> Self {
        let message = e.to_string();
        match e {
            AuditError::Broken(_) => ApiError::Conflict {
                code: "audit_chain_broken",
                message,
            },
            AuditError::Store(_) => ApiError::Internal(message),
        }
    }
}

impl From<StaffError> for ApiError {
    fn from(e: StaffError) -> Self {
        let message = e.to_string();
        match e {
            StaffError::BadCredentials => ApiError::BadRequest {
                code: "bad_credentials",
                message,
            },
            StaffError::Unauthenticated => ApiError::Unauthenticated,
            StaffError::UsernameTaken => ApiError::Conflict {
                code: "username_taken",
                message,
            },
            StaffError::NotFound => ApiError::NotFound {
                code: "staff_not_found",
                message,
            },
            StaffError::WrongPassword => ApiError::bad_request("wrong_password", message),
            StaffError::SamePassword => ApiError::bad_request("same_password", message),
            StaffError::PasswordChangeRequired => ApiError::Refused {
                code: "password_change_required",
                message,
            },
            StaffError::TotpRequired => ApiError::bad_request("totp_required", message),
            StaffError::TotpInvalid => ApiError::bad_request("totp_invalid", message),
            StaffError::TotpAlreadyOn => ApiError::Conflict {
                code: "totp_already_on",
                message,
            },
            StaffError::TotpNotOn => ApiError::Conflict {
                code: "totp_not_on",
                message,
            },
            StaffError::TotpNotSetUp => ApiError::Conflict {
                code: "totp_not_set_up",
                message,
            },
            StaffError::LastAdmin => ApiError::Conflict {
                code: "last_admin",
                message,
            },
            StaffError::SelfDeactivation => ApiError::Conflict {
                code: "self_deactivation",
                message,
            },
            StaffError::Input(inner) => inner.into(),
            StaffError::CorruptRow(_) | StaffError::Crypto(_) | StaffError::Records(_) => {
                ApiError::Internal(message)
            }
        }
    }
}

impl From<VisitorError> for ApiError {
    fn from(e: VisitorError) -> Self {
        match e {
            VisitorError::Unauthenticated => ApiError::Unauthenticated,
            VisitorError::NotFound => ApiError::NotFound {
                code: "visitor_not_found",
                message: e.to_string(),
            },
            VisitorError::Identity(inner) => inner.into(),
            VisitorError::IdentityNotConfigured => {
                ApiError::bad_request("identity_not_configured", e)
            }
            VisitorError::NotADemoAccount => ApiError::NotFound {
                code: "not_a_demo_account",
                message: e.to_string(),
            },
            VisitorError::Corrupt(_) | VisitorError::Records(_) => {
                ApiError::Internal(e.to_string())
            }
        }
    }
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> Self {
        let code = match e {
            IdentityError::BadAccount | IdentityError::MalformedSignature => "invalid_identity",
            IdentityError::BadSignature => "identity_signature_mismatch",
            IdentityError::Expired => "identity_expired",
            IdentityError::TooLongLived => "identity_too_long_lived",
        };
        ApiError::bad_request(code, e)
    }
}

impl From<MessageError> for ApiError {
    fn from(e: MessageError) -> Self {
        let code = match e {
            MessageError::EmptyText => "empty_text",
            MessageError::TextTooLong => "text_too_long",
            MessageError::ControlCharacters => "control_characters",
            MessageError::BadClientMsgId => "bad_client_msg_id",
            MessageError::BadAttachmentId => "bad_attachment_id",
            MessageError::BadFileName => "bad_file_name",
            MessageError::BadDuration => "bad_duration",
        };
        ApiError::bad_request(code, e)
    }
}

impl From<VisitorInputError> for ApiError {
    fn from(e: VisitorInputError) -> Self {
        let code = match e {
            VisitorInputError::BadUrl { .. } => "invalid_url",
            VisitorInputError::TooLong { .. }
            | VisitorInputError::BadPhone
            | VisitorInputError::TooMany { .. }
            | VisitorInputError::BadQuantity
            | VisitorInputError::ControlCharacters { .. } => "invalid_visitor_data",
        };
        ApiError::bad_request(code, e)
    }
}

impl From<StaffInputError> for ApiError {
    fn from(e: StaffInputError) -> Self {
        let code = match e {
            StaffInputError::BadPassword => "password_too_short",
            StaffInputError::CommonPassword => "password_too_common",
            StaffInputError::BadUsername
            | StaffInputError::BadDisplayName
            | StaffInputError::BadCapacity => "invalid_staff_data",
        };
        ApiError::bad_request(code, e)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let message = rejection.body_text();
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType { message },
            JsonRejection::BytesRejection(bytes) => bytes.into(),
            JsonRejection::JsonDataError(_) => ApiError::bad_request("invalid_fields", message),
            JsonRejection::JsonSyntaxError(_) => ApiError::bad_request("malformed_json", message),
            _ => ApiError::bad_request("malformed_json", message),
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge {
                message: "request body is too large".into(),
            }
        } else {
            ApiError::bad_request("unreadable_body", rejection.body_text())
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::bad_request("invalid_query", rejection.body_text())
    }
}

impl From<KnowledgeError> for ApiError {
    fn from(e: KnowledgeError) -> Self {
        let message = e.to_string();
        match e {
            KnowledgeError::Invalid(_) => ApiError::bad_request("invalid_entry", message),
            KnowledgeError::BadImport { .. } => ApiError::bad_request("bad_import", message),
            KnowledgeError::DuplicateId(_) => ApiError::bad_request("duplicate_id", message),
            KnowledgeError::UnknownCategory(_) => {
                ApiError::bad_request("unknown_category", message)
            }
            KnowledgeError::NotFound => ApiError::NotFound {
                code: "entry_not_found",
                message,
            },
            KnowledgeError::NoSuchVersion => ApiError::NotFound {
                code: "version_not_found",
                message,
            },
            KnowledgeError::Conflict => ApiError::Conflict {
                code: "concurrent_change",
                message,
            },
            KnowledgeError::ReindexRunning => ApiError::Conflict {
                code: "reindex_running",
                message,
            },
            KnowledgeError::Model(inner) => inner.into(),
            KnowledgeError::Index(IndexError::Unreachable(_)) => ApiError::Unavailable { message },
            KnowledgeError::Index(IndexError::Engine(_)) | KnowledgeError::Repo(_) => {
                ApiError::Internal(message)
            }
        }
    }
}

impl From<crate::services::wordings::WordingError> for ApiError {
    fn from(e: crate::services::wordings::WordingError) -> Self {
        use crate::services::wordings::WordingError;
        let message = e.to_string();
        match e {
            WordingError::NotFound => ApiError::NotFound {
                code: "suggestion_not_found",
                message,
            },
            WordingError::Decided(_) => ApiError::Conflict {
                code: "suggestion_decided",
                message,
            },
            WordingError::Off => ApiError::Conflict {
                code: "wording_suggestions_off",
                message,
            },
            WordingError::Knowledge(inner) => inner.into(),
            WordingError::Repo(_) => ApiError::Internal(message),
        }
    }
}

impl From<ModelError> for ApiError {
    fn from(e: ModelError) -> Self {
        let message = e.to_string();
        match e {
            ModelError::Overloaded => ApiError::Busy { message },
            ModelError::Input(_) => ApiError::bad_request("bad_model_input", message),
            ModelError::Unavailable(_) => ApiError::Unavailable { message },
            ModelError::Cancelled | ModelError::Load(_) | ModelError::Inference(_) => {
                ApiError::Internal(message)
            }
        }
    }
}

impl From<WebhookError> for ApiError {
    fn from(e: WebhookError) -> Self {
        let message = e.to_string();
        match e {
            WebhookError::NotFound => ApiError::NotFound {
                code: "webhook_not_found",
                message,
            },
            WebhookError::NotHttps => ApiError::bad_request("webhook_url_not_https", message),
            WebhookError::BadUrl => ApiError::bad_request("invalid_url", message),
            WebhookError::Filter(FilterError::Unknown(_)) => {
                ApiError::bad_request("unknown_event_type", message)
            }
            WebhookError::Filter(FilterError::Empty) => {
                ApiError::bad_request("no_event_types", message)
            }
            WebhookError::BadDescription => ApiError::bad_request("invalid_fields", message),
            WebhookError::Records(_) => ApiError::Internal(message),
        }
    }
}

impl From<ChannelError> for ApiError {
    fn from(e: ChannelError) -> Self {
        let message = e.to_string();
        match e {
            ChannelError::BadKey => ApiError::Unauthenticated,
            ChannelError::NotFound => ApiError::NotFound {
                code: "channel_not_found",
                message,
            },
            ChannelError::BadExternalId => {
                ApiError::bad_request("invalid_external_user_id", message)
            }
            ChannelError::BadName | ChannelError::BadPolicy => {
                ApiError::bad_request("invalid_fields", message)
            }
            ChannelError::NotThisChannel => ApiError::NotFound {
                code: "conversation_not_found",
                message,
            },
            ChannelError::UnknownUser => ApiError::NotFound {
                code: "unknown_channel_user",
                message,
            },
            ChannelError::Message(inner) => inner.into(),
            ChannelError::Input(inner) => inner.into(),
            ChannelError::Chat(inner) => inner.into(),
            ChannelError::Conversation(inner) => inner.into(),
            ChannelError::Visitor(inner) => inner.into(),
            ChannelError::Ticket(inner) => inner.into(),
            ChannelError::NewTicketMissing | ChannelError::Records(_) => {
                ApiError::Internal(message)
            }
        }
    }
}

impl From<ConversationError> for ApiError {
    fn from(e: ConversationError) -> Self {
        match e {
            ConversationError::Chat(inner) => inner.into(),
            ConversationError::Routing(inner) => inner.into(),
            ConversationError::Visitor(inner) => inner.into(),
            ConversationError::Input(inner) => inner.into(),
            ConversationError::Presence(inner) => inner.into(),
        }
    }
}

impl From<crate::services::history::HistoryError> for ApiError {
    fn from(e: crate::services::history::HistoryError) -> Self {
        use crate::services::history::HistoryError;
        let message = e.to_string();
        match e {
            HistoryError::NothingToFind => ApiError::bad_request("history_query_empty", message),
            HistoryError::TooLong => ApiError::bad_request("history_query_too_long", message),
            HistoryError::BadRange => ApiError::bad_request("invalid_date_range", message),
            HistoryError::Chat(inner) => inner.into(),
            HistoryError::Corrupt(_) | HistoryError::Records(_) => ApiError::Internal(message),
        }
    }
}

impl From<crate::services::orders::OrdersError> for ApiError {
    fn from(e: crate::services::orders::OrdersError) -> Self {
        use crate::services::orders::OrdersError;
        match e {
            OrdersError::Commerce(inner) => {
                tracing::warn!(error = %inner, "the shop's order system is unavailable");
                ApiError::Unavailable {
                    message: "the shop's order system did not answer; try again shortly".into(),
                }
            }
            OrdersError::Visitor(e) => e.into(),
            OrdersError::Chat(e) => e.into(),
            OrdersError::NotSignedIn => ApiError::Conflict {
                code: "buyer_not_signed_in",
                message: e.to_string(),
            },
            OrdersError::NotFound => ApiError::NotFound {
                code: "order_not_found",
                message: e.to_string(),
            },
        }
    }
}

impl From<crate::services::shop::ShopError> for ApiError {
    fn from(e: crate::services::shop::ShopError) -> Self {
        use crate::services::shop::ShopError;
        let message = e.to_string();
        match e {
            ShopError::BadInput(_) => ApiError::bad_request("invalid_shop_settings", message),
            ShopError::Corrupt | ShopError::Store(_) => ApiError::Internal(message),
        }
    }
}

impl From<crate::services::blocks::BlockError> for ApiError {
    fn from(e: crate::services::blocks::BlockError) -> Self {
        use crate::domain::block::BlockInputError;
        use crate::services::blocks::BlockError;
        let message = e.to_string();
        match e {
            BlockError::Input(BlockInputError::Reason) => {
                ApiError::bad_request("invalid_block_reason", message)
            }
            BlockError::Input(BlockInputError::Network) => {
                ApiError::bad_request("invalid_network", message)
            }
            BlockError::Input(BlockInputError::Expiry) => {
                ApiError::bad_request("invalid_block_expiry", message)
            }
            BlockError::NotFound => ApiError::NotFound {
                code: "block_not_found",
                message,
            },
            BlockError::Store(_) => ApiError::Internal(message),
        }
    }
}

impl From<crate::services::blocks::Blocked> for ApiError {
    fn from(e: crate::services::blocks::Blocked) -> Self {
        use crate::services::blocks::Blocked;
        match e {
            Blocked::Visitor => ApiError::Refused {
                code: "visitor_blocked",
                message: "this chat is closed to you".into(),
            },
            Blocked::Network => ApiError::Refused {
                code: "ip_blocked",
                message: "requests from this network are blocked".into(),
            },
        }
    }
}

impl From<crate::services::sender::SendError> for ApiError {
    fn from(e: crate::services::sender::SendError) -> Self {
        use crate::services::sender::SendError;
        match e {
            SendError::Screened(inner) => inner.into(),
            SendError::Chat(inner) => inner.into(),
        }
    }
}

impl From<crate::services::blocks::Screened> for ApiError {
    fn from(e: crate::services::blocks::Screened) -> Self {
        use crate::services::blocks::Screened;
        match e {
            Screened::Banned => ApiError::bad_request(
                "banned_words",
                "the message holds words this shop does not allow",
            ),
            Screened::Muted(flood) => ApiError::Refused {
                code: "visitor_muted",
                message: format!("{}; this chat is paused for a while", flood.as_str()),
            },
            Screened::Failed(cause) => ApiError::Internal(cause),
        }
    }
}

impl From<crate::services::tickets::TicketError> for ApiError {
    fn from(e: crate::services::tickets::TicketError) -> Self {
        use crate::domain::tickets::TicketInputError;
        use crate::services::tickets::TicketError;
        let message = e.to_string();
        match e {
            TicketError::Invalid(inner) => {
                let code = match inner {
                    TicketInputError::BadStateFilter => "unknown_ticket_state",
                    TicketInputError::BadCalendarDay => "invalid_calendar_day",
                    TicketInputError::BadSlaTarget => "invalid_sla_target",
                    TicketInputError::BadTypeKey => "invalid_ticket_type_key",
                    TicketInputError::TooManyFiles => "too_many_attachments",
                    TicketInputError::BadTitle
                    | TicketInputError::BadDescription
                    | TicketInputError::BadTags
                    | TicketInputError::BadCustomFields
                    | TicketInputError::BadShortText
                    | TicketInputError::BadComment
                    | TicketInputError::BadName => "invalid_ticket",
                };
                ApiError::bad_request(code, message)
            }
            TicketError::UnknownType => ApiError::bad_request("unknown_ticket_type", message),
            TicketError::UnknownDepartment => ApiError::bad_request("unknown_department", message),
            TicketError::UnknownAssignee => ApiError::bad_request("unknown_assignee", message),
            TicketError::MissingField(_) => ApiError::bad_request("missing_custom_field", message),
            TicketError::Transition { .. } => ApiError::Conflict {
                code: "invalid_ticket_transition",
                message,
            },
            TicketError::Stale(_) => ApiError::Conflict {
                code: "stale_ticket_version",
                message,
            },
            TicketError::NameTaken => ApiError::Conflict {
                code: "name_taken",
                message,
            },
            TicketError::ClosedForReplies => ApiError::Conflict {
                code: "ticket_closed",
                message,
            },
            TicketError::ReplyWindowClosed(_) => ApiError::Conflict {
                code: "ticket_reply_window_closed",
                message,
            },
            TicketError::BadReopenDays => ApiError::bad_request("invalid_ticket_settings", message),
            TicketError::BadRoutingRule => ApiError::bad_request("invalid_routing_rule", message),
            TicketError::MergeIntoSelf => ApiError::bad_request("merge_into_self", message),
            TicketError::BadAutomation => ApiError::bad_request("invalid_automation", message),
            TicketError::TooManyAutomations(_) => {
                ApiError::bad_request("too_many_automations", message)
            }
            TicketError::UnknownWebhookEndpoint => {
                ApiError::bad_request("unknown_webhook_endpoint", message)
            }
            TicketError::AutomationNotFound => ApiError::NotFound {
                code: "automation_not_found",
                message,
            },
            TicketError::BadAutomationOrder => {
                ApiError::bad_request("invalid_automation_order", message)
            }
            TicketError::ViewNotFound => ApiError::NotFound {
                code: "ticket_view_not_found",
                message,
            },
            TicketError::ViewNameTaken => ApiError::Conflict {
                code: "ticket_view_name_taken",
                message,
            },
            TicketError::TooManyViews(_) => ApiError::Conflict {
                code: "too_many_ticket_views",
                message,
            },
            TicketError::MergeTargetNotFound => {
                ApiError::bad_request("unknown_merge_target", message)
            }
            TicketError::MergeIntoClosed => ApiError::Conflict {
                code: "merge_into_closed",
                message,
            },
            TicketError::UnknownAttachment => ApiError::bad_request("unknown_attachment", message),
            TicketError::Attachment(inner) => ApiError::from(inner),
            TicketError::NotFound => ApiError::NotFound {
                code: "ticket_not_found",
                message,
            },
            TicketError::Forbidden => ApiError::Forbidden { message },
            TicketError::Chat(inner) => inner.into(),
            TicketError::Packet(_) | TicketError::Records(_) => ApiError::Internal(message),
        }
    }
}

// Visitors (issue 18): presence, invitations, invitation rules, product cards.
impl From<crate::services::presence::PresenceError> for ApiError {
    fn from(e: crate::services::presence::PresenceError) -> Self {
        use crate::services::presence::PresenceError;
        let message = e.to_string();
        match e {
            PresenceError::BrowserId(_) => ApiError::bad_request("invalid_browser_id", message),
            PresenceError::Input(inner) => inner.into(),
            PresenceError::Rule(_) => ApiError::bad_request("invalid_invitation_rule", message),
            PresenceError::UnknownAgent => ApiError::bad_request("unknown_agent", message),
            PresenceError::BadGreeting => ApiError::bad_request("invalid_greeting", message),
            PresenceError::VisitNotFound => ApiError::NotFound {
                code: "visit_not_found",
                message,
            },
            PresenceError::VisitGone => ApiError::Conflict {
                code: "visitor_left",
                message,
            },
            PresenceError::InvitationNotFound => ApiError::NotFound {
                code: "invitation_not_found",
                message,
            },
            PresenceError::InvitationAnswered => ApiError::Conflict {
                code: "invitation_answered",
                message,
            },
            PresenceError::RuleNotFound => ApiError::NotFound {
                code: "invitation_rule_not_found",
                message,
            },
            PresenceError::Corrupt(_) | PresenceError::Records(_) => ApiError::Internal(message),
        }
    }
}

impl From<crate::services::privacy::PrivacyError> for ApiError {
    fn from(e: crate::services::privacy::PrivacyError) -> Self {
        use crate::services::privacy::PrivacyError;
        let message = e.to_string();
        match e {
            PrivacyError::NotFound => ApiError::NotFound {
                code: "buyer_not_found",
                message,
            },
            PrivacyError::NoQuery => ApiError::bad_request("buyer_query_missing", message),
            PrivacyError::BadRetention => ApiError::bad_request("invalid_retention", message),
            PrivacyError::Corrupt(_) | PrivacyError::Records(_) => ApiError::Internal(message),
        }
    }
}

impl From<crate::services::catalogue::CatalogueError> for ApiError {
    fn from(e: crate::services::catalogue::CatalogueError) -> Self {
        use crate::services::catalogue::CatalogueError;
        match e {
            CatalogueError::ProductNotFound => ApiError::NotFound {
                code: "product_not_found",
                message: e.to_string(),
            },
            CatalogueError::Commerce(inner) => {
                tracing::warn!(error = %inner, "catalogue unavailable");
                ApiError::Unavailable {
                    message: "the shop's catalogue cannot be reached; try again shortly".into(),
                }
            }
            CatalogueError::Chat(inner) => inner.into(),
        }
    }
}

impl From<crate::services::portrait::PortraitError> for ApiError {
    fn from(e: crate::services::portrait::PortraitError) -> Self {
        use crate::services::portrait::PortraitError;
        use crate::services::recommend::RecommendError;
        match e {
            PortraitError::Commerce(inner)
            | PortraitError::Recommend(RecommendError::Commerce(inner)) => {
                tracing::warn!(error = %inner, "buyer profile: the shop's system is unavailable");
                ApiError::Unavailable {
                    message: "the shop's order system did not answer; try again shortly".into(),
                }
            }
            PortraitError::Visitor(inner) => inner.into(),
            PortraitError::NotSignedIn => ApiError::Conflict {
                code: "buyer_not_signed_in",
                message: e.to_string(),
            },
            PortraitError::BadTag(_) => ApiError::bad_request("invalid_buyer_tag", e),
            PortraitError::TooManyTags => ApiError::Conflict {
                code: "too_many_buyer_tags",
                message: e.to_string(),
            },
            PortraitError::TagNotFound => ApiError::NotFound {
                code: "buyer_tag_not_found",
                message: e.to_string(),
            },
            PortraitError::Records(_) | PortraitError::Recommend(_) => {
                ApiError::Internal(e.to_string())
            }
        }
    }
}

impl From<crate::services::coupons::CouponError> for ApiError {
    fn from(e: crate::services::coupons::CouponError) -> Self {
        use crate::services::coupons::CouponError;
        let message = e.to_string();
        let conflict = |code| ApiError::Conflict {
            code,
            message: message.clone(),
        };
        match e {
            CouponError::NotFound => ApiError::NotFound {
                code: "coupon_not_found",
                message,
            },
            CouponError::NotOffered => ApiError::NotFound {
                code: "coupon_not_offered",
                message,
            },
            CouponError::NotOfferable => conflict("coupon_unavailable"),
            CouponError::NotSignedIn => conflict("buyer_not_signed_in"),
            CouponError::SoldOut => conflict("coupon_sold_out"),
            CouponError::Expired => conflict("coupon_expired"),
            CouponError::Commerce(inner) => {
                tracing::warn!(error = %inner, "coupons unavailable");
                ApiError::Unavailable {
                    message: "the shop's coupon system cannot be reached; try again shortly".into(),
                }
            }
            CouponError::Chat(inner) => inner.into(),
            CouponError::Visitor(inner) => inner.into(),
        }
    }
}

impl From<crate::services::analytics::AnalyticsError> for ApiError {
    fn from(e: crate::services::analytics::AnalyticsError) -> Self {
        use crate::domain::analytics::ReportInputError;
        use crate::services::analytics::AnalyticsError;
        let message = e.to_string();
        match e {
            AnalyticsError::Invalid(inner) => {
                let code = match inner {
                    ReportInputError::BadDate | ReportInputError::BadRange => {
                        "invalid_report_range"
                    }
                    ReportInputError::UnknownMetric(_) => "unknown_metric",
                    ReportInputError::BadDimension => "unknown_dimension",
                    ReportInputError::BadSource => "invalid_report_source",
                    ReportInputError::NotByHour => "report_not_by_hour",
                    ReportInputError::NotByTopic => "report_not_by_topic",
                    ReportInputError::BadRating => "invalid_rating",
                };
                ApiError::bad_request(code, message)
            }
            AnalyticsError::NotRatable => ApiError::Conflict {
                code: "csat_not_open",
                message,
            },
            AnalyticsError::Forbidden => ApiError::Refused {
                code: "report_out_of_scope",
                message,
            },
            AnalyticsError::Chat(inner) => inner.into(),
            AnalyticsError::Records(_) | AnalyticsError::Facts(_) => ApiError::Internal(message),
        }
    }
}

impl From<crate::services::saved_reports::SavedReportError> for ApiError {
    fn from(e: crate::services::saved_reports::SavedReportError) -> Self {
        use crate::domain::analytics::ReportInputError;
        use crate::domain::saved_report::SpecError;
        use crate::services::saved_reports::SavedReportError;
        let message = e.to_string();
        match e {
            SavedReportError::Invalid(SpecError::Report(inner)) => {
                crate::services::analytics::AnalyticsError::Invalid(inner).into()
            }
            SavedReportError::Invalid(SpecError::NoMetrics) => {
                crate::services::analytics::AnalyticsError::Invalid(
                    ReportInputError::UnknownMetric(String::new()),
                )
                .into()
            }
            SavedReportError::Invalid(SpecError::BadName) => {
                ApiError::bad_request("invalid_report_name", message)
            }
            SavedReportError::Invalid(SpecError::BadRangeKind) => {
                ApiError::bad_request("invalid_report_range", message)
            }
            SavedReportError::TooMany => ApiError::Conflict {
                code: "too_many_saved_reports",
                message,
            },
            SavedReportError::NotFound => ApiError::NotFound {
                code: "saved_report_not_found",
                message,
            },
            SavedReportError::Repo(_) => ApiError::Internal(message),
        }
    }
}

impl From<crate::services::quality::QualityError> for ApiError {
    fn from(e: crate::services::quality::QualityError) -> Self {
        use crate::domain::quality::QualityInputError;
        use crate::services::quality::QualityError;
        let message = e.to_string();
        match e {
            QualityError::Invalid(inner) => {
                let code = match inner {
                    QualityInputError::BadItems
                    | QualityInputError::BadItem
                    | QualityInputError::BadBase => "invalid_rubric",
                    QualityInputError::BadScores => "invalid_scores",
                    QualityInputError::BadRule => "invalid_sampling_rule",
                };
                ApiError::bad_request(code, message)
            }
            QualityError::BadText(_) => ApiError::bad_request("invalid_text", message),
            QualityError::NotFound => ApiError::NotFound {
                code: "qa_not_found",
                message,
            },
            QualityError::Forbidden => ApiError::Refused {
                code: "qa_not_yours",
                message,
            },
            QualityError::WrongState => ApiError::Conflict {
                code: "qa_wrong_state",
                message,
            },
            QualityError::NoModel => ApiError::Conflict {
                code: "qa_no_model",
                message,
            },
            QualityError::Chat(inner) => inner.into(),
            QualityError::Records(_) | QualityError::Corrupt(_) => ApiError::Internal(message),
        }
    }
}

impl From<crate::services::challenge::ChallengeError> for ApiError {
    fn from(e: crate::services::challenge::ChallengeError) -> Self {
        use crate::services::challenge::ChallengeError;
        let message = e.to_string();
        match e {
            ChallengeError::Required => ApiError::Refused {
                code: "challenge_required",
                message,
            },
            ChallengeError::Failed => ApiError::bad_request("challenge_failed", message),
            ChallengeError::Replayed => ApiError::Conflict {
                code: "challenge_replayed",
                message,
            },
            ChallengeError::Store(_) => ApiError::Internal(message),
        }
    }
}

// Ticket e-mail reminders (issue 16).
impl From<crate::services::ticket_mail::MailError> for ApiError {
    fn from(e: crate::services::ticket_mail::MailError) -> Self {
        use crate::domain::ticket_mail::MailInputError;
        use crate::services::ticket_mail::MailError;
        let message = e.to_string();
        match e {
            MailError::Invalid(inner) => {
                let code = match inner {
                    MailInputError::BadHost
                    | MailInputError::BadPort
                    | MailInputError::BadFrom
                    | MailInputError::BadUser => "invalid_smtp_settings",
                    MailInputError::BadEmail => "invalid_email",
                };
                ApiError::bad_request(code, message)
            }
            MailError::Transient(_) => ApiError::Unavailable { message },
            MailError::Records(_) => ApiError::Internal(message),
        }
    }
}

impl From<crate::services::bell::BellError> for ApiError {
    fn from(e: crate::services::bell::BellError) -> Self {
        use crate::services::bell::BellError;
        let message = e.to_string();
        match e {
            BellError::NotFound => ApiError::NotFound {
                code: "notification_not_found",
                message,
            },
            BellError::Records(_) => ApiError::Internal(message),
        }
    }
}

impl From<crate::services::recommend::RecommendError> for ApiError {
    fn from(e: crate::services::recommend::RecommendError) -> Self {
        use crate::services::recommend::RecommendError;
        match e {
            RecommendError::Commerce(inner) => {
                tracing::warn!(error = %inner, "catalogue unavailable for recommendations");
                ApiError::Unavailable {
                    message: "the shop's catalogue cannot be reached; try again shortly".into(),
                }
            }
            RecommendError::Chat(inner) => inner.into(),
            RecommendError::Records(inner) => ApiError::Internal(inner.to_string()),
        }
    }
}
