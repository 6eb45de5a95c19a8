//! Outbound webhooks (Standard Webhooks 1.0). Admins register endpoints with an
//! event filter; each gets its own signing secret. A cluster subscriber queues
//! one delivery per endpoint and event (idempotent by event id); a sender sends
//! them, in event order per conversation, with retries and exponential backoff
//! for 24 hours. A receiver that answers 410 Gone has its endpoint turned off.
//! Sending never happens on the chat path: a slow or dead receiver only grows
//! its own backlog.

use super::channels::ChannelService;
use super::chat::ChatService;
use super::staff::StaffUser;
use super::subscribers::Subscriber;
use crate::crypto::Cipher;
use crate::domain::conversation::ConversationId;
use crate::domain::events::{DomainEvent, EventFilter, FilterError};
use crate::domain::ticket_automations::QueuedDelivery;
use crate::ports::Clock;
use crate::ports::repositories::{
    AttemptResult, Delivery, Endpoint, EventStream, LEASE_MS, RepoError, WebhookRecords,
};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Serialize;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The lease that lets one node at a time send deliveries (a row among the
/// subscribers' cursors, though its position means nothing).
pub const SENDER_LEASE: &str = "webhook-sender";

/// Deliveries are retried for this long after the event, then given up.
pub const RETRY_WINDOW_MS: i64 = 24 * 3600 * 1000;
/// The longest pause between two attempts.
const MAX_BACKOFF_MS: i64 = 10 * 3600 * 1000;
/// How long a receiver may take to answer one delivery.
const SEND_TIMEOUT: Duration = Duration::from_secs(15);
/// Deliveries in flight per endpoint (each of a different conversation).
const IN_FLIGHT: usize = 16;
const MAX_URL: usize = 2048;
const MAX_DESCRIPTION: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("webhook endpoint not found")]
    NotFound,
    #[error("the endpoint must be an https:// URL (http:// only on this machine's loopback)")]
    NotHttps,
    #[error("the endpoint URL is not a valid absolute URL (at most 2048 characters)")]
    BadUrl,
    #[error(transparent)]
    Filter(#[from] FilterError),
    #[error("description must be at most 200 characters")]
    BadDescription,
    #[error(transparent)]
    Records(RepoError),
}

impl From<RepoError> for WebhookError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::NotFound => WebhookError::NotFound,
            other => WebhookError::Records(other),
        }
    }
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct NewEndpoint {
    pub url: String,
    pub event_types: Vec<String>,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EndpointView {
    pub id: String,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A new endpoint with its secret, shown once.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedEndpoint {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    /// `whsec_` + base64 of the key, as Standard Webhooks libraries take it.
    pub secret: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeliveryView {
    pub id: String,
    pub event_id: String,
    pub conversation_id: Option<String>,
    /// pending, delivered or failed.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<i64>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

impl DeliveryView {
    fn from_row(r: Delivery) -> DeliveryView {
        let pending = r.status == "pending";
        DeliveryView {
            id: r.id,
            event_id: r.event_id,
            conversation_id: r.conversation_id,
            status: r.status,
            attempts: r.attempts,
            next_attempt_at: pending.then_some(r.next_attempt_at),
            last_status: r.last_status,
            last_error: r.last_error,
            created_at: r.created_at,
            delivered_at: r.delivered_at,
        }
    }
}

fn endpoint_view(row: &Endpoint) -> EndpointView {
    EndpointView {
        id: row.id.clone(),
        url: row.url.clone(),
        description: row.description.clone(),
        event_types: row.event_types.clone(),
        enabled: row.enabled,
        disabled_reason: row.disabled_reason.clone(),
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// An endpoint URL: https anywhere, plain http only on loopback.
pub fn parse_endpoint_url(raw: &str) -> Result<url::Url, WebhookError> {
    let raw = raw.trim();
    if raw.len() > MAX_URL {
        return Err(WebhookError::BadUrl);
    }
    let url = url::Url::parse(raw).map_err(|_| WebhookError::BadUrl)?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(WebhookError::BadUrl);
    }
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => return Err(WebhookError::BadUrl),
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(WebhookError::NotHttps),
        _ => Err(WebhookError::BadUrl),
    }
}

/// The `webhook-signature` value: `v1,` + base64(HMAC-SHA256(key, "id.timestamp.body")).
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD;
    format!("v1,{}", b64.encode(mac.finalize().into_bytes()))
}

/// The pause before attempt `attempts + 1`: 5 s × 4^(attempts − 1), at most
/// 10 h, with ±10 % jitter so a recovering receiver is not hit all at once.
pub fn backoff_ms(base_ms: i64, attempts: i32, jitter: f64) -> i64 {
    let exp = attempts.saturating_sub(1).clamp(0, 20) as u32;
    let raw = base_ms
        .saturating_mul(4i64.saturating_pow(exp))
        .min(MAX_BACKOFF_MS);
    (raw as f64 * (1.0 + 0.1 * jitter.clamp(-1.0, 1.0))) as i64
}

pub struct WebhookService {
    records: Arc<dyn WebhookRecords>,
    /// The events delivered, and the sender's lease.
    events: Arc<dyn EventStream>,
    cipher: Cipher,
    clock: Arc<dyn Clock>,
    chat: Arc<ChatService>,
    channels: Arc<ChannelService>,
    http: reqwest::Client,
    retry_base_ms: i64,
    /// Wakes the sender when deliveries were queued or replayed.
    queued: tokio::sync::Notify,
    /// Endpoints being sent right now (one round per endpoint at a time).
    sending: Mutex<HashSet<String>>,
}

impl WebhookService {
    pub fn new<R>(
        records: Arc<R>,
        cipher: Cipher,
        clock: Arc<dyn Clock>,
        chat: Arc<ChatService>,
        channels: Arc<ChannelService>,
        retry_base_ms: i64,
    ) -> WebhookService
    where
        R: WebhookRecords + EventStream + 'static,
    {
        let http = crate::net::client_builder()
            .timeout(SEND_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("xiaoer-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client builds");
        WebhookService {
            events: records.clone(),
            records,
            cipher,
            clock,
            chat,
            channels,
            http,
            retry_base_ms: retry_base_ms.max(1),
            queued: tokio::sync::Notify::new(),
            sending: Mutex::new(HashSet::new()),
        }
    }

    pub async fn create(
        &self,
        admin: &StaffUser,
        input: NewEndpoint,
    ) -> Result<CreatedEndpoint, WebhookError> {
        let url = parse_endpoint_url(&input.url)?;
        let filter = EventFilter::parse(&input.event_types)?;
        let description = input.description.trim().to_owned();
        if description.chars().count() > MAX_DESCRIPTION {
            return Err(WebhookError::BadDescription);
        }
        let id = format!("wh_{}", uuid::Uuid::now_v7().simple());
        let key: [u8; 24] = rand::random();
        let secret = format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(key)
        );
        let now = self.clock.now_ms();
        let row = Endpoint {
            sealed_secret: self.cipher.seal(&key, id.as_bytes()),
            id,
            url: url.to_string(),
            description,
            event_types: filter.names(),
            enabled: true,
            disabled_reason: None,
            // Events committed from now on are sent; earlier ones are not.
            since_position: self.events.head().await?,
            created_by: admin.id.clone(),
            created_at: now,
            updated_at: now,
        };
        self.records.insert_endpoint(&row).await?;
        Ok(CreatedEndpoint {
            endpoint: endpoint_view(&row),
            secret,
        })
    }

    pub async fn list(&self) -> Result<Vec<EndpointView>, WebhookError> {
        Ok(self
            .records
            .endpoints()
            .await?
            .iter()
            .map(endpoint_view)
            .collect())
    }

    pub async fn set_enabled(&self, id: &str, enabled: bool) -> Result<EndpointView, WebhookError> {
        let reason = (!enabled).then_some("turned off by an admin");
        self.records
            .set_endpoint_enabled(id, enabled, reason, self.clock.now_ms())
            .await?;
        self.queued.notify_one();
        Ok(endpoint_view(&self.records.endpoint(id).await?))
    }

    pub async fn delete(&self, id: &str) -> Result<(), WebhookError> {
        Ok(self.records.delete_endpoint(id).await?)
    }

    pub async fn deliveries(
        &self,
        endpoint_id: &str,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DeliveryView>, WebhookError> {
        self.records.endpoint(endpoint_id).await?;
        let rows = self
            .records
            .deliveries(endpoint_id, status, limit.clamp(1, 500))
            .await?;
        Ok(rows.into_iter().map(DeliveryView::from_row).collect())
    }

    pub async fn replay(&self, endpoint_id: &str, delivery_id: &str) -> Result<(), WebhookError> {
        self.records
            .replay(endpoint_id, delivery_id, self.clock.now_ms())
            .await?;
        self.queued.notify_one();
        Ok(())
    }

    /// Sends due deliveries until `stop` turns true. Runs on every node; each
    /// round takes the endpoints' oldest pending deliveries, one per
    /// conversation, so a conversation's events arrive in order.
    pub async fn run_sender(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let node = uuid::Uuid::new_v4().to_string();
        // When this node last took or renewed the lease: renewed a third of
        // the way through it, not on every wake-up (each is a write).
        let mut renewed: Option<tokio::time::Instant> = None;
        let renew_every = Duration::from_millis(LEASE_MS as u64 / 3);
        loop {
            // One node sends at a time (others would only send duplicates).
            let held = match renewed {
                Some(at) if at.elapsed() < renew_every => Ok(Some(0)),
                _ => {
                    self.events
                        .take_lease(SENDER_LEASE, &node, 0, self.clock.now_ms())
                        .await
                }
            };
            renewed = match held {
                Ok(Some(_)) => renewed
                    .filter(|at| at.elapsed() < renew_every)
                    .or_else(|| Some(tokio::time::Instant::now())),
                _ => None,
            };
            let endpoints = match held {
                Ok(Some(_)) => self.records.endpoints().await,
                Ok(None) => Ok(Vec::new()),
                Err(e) => Err(e),
            };
            match endpoints {
                Ok(endpoints) => {
                    for endpoint in endpoints.into_iter().filter(|e| e.enabled) {
                        let fresh = self
                            .sending
                            .lock()
                            .expect("lock")
                            .insert(endpoint.id.clone());
                        if fresh {
                            let me = self.clone();
                            tokio::spawn(async move {
                                let id = endpoint.id.clone();
                                me.send_round(endpoint).await;
                                me.sending.lock().expect("lock").remove(&id);
                            });
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot read webhook endpoints"),
            }
            tokio::select! {
                _ = self.queued.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = stop.changed() => {
                    let _ = self.events.release(SENDER_LEASE, &node).await;
                    return;
                }
            }
        }
    }

    async fn send_round(&self, endpoint: Endpoint) {
        let key = match self
            .cipher
            .open(&endpoint.sealed_secret, endpoint.id.as_bytes())
        {
            Ok(key) => key,
            Err(error) => {
                tracing::error!(endpoint = %endpoint.id, %error, "webhook secret cannot be opened");
                return;
            }
        };
        loop {
            let pending = match self.records.pending(&endpoint.id, 200).await {
                Ok(p) => p,
                Err(error) => {
                    tracing::warn!(%error, "cannot read pending deliveries");
                    return;
                }
            };
            let now = self.clock.now_ms();
            let mut blocked: HashSet<Option<String>> = HashSet::new();
            let mut due = Vec::new();
            for d in pending {
                // Only the oldest pending delivery of a conversation may go.
                let lane = d
                    .conversation_id
                    .clone()
                    .or_else(|| Some(d.event_id.clone()));
                if !blocked.insert(lane) {
                    continue;
                }
                if d.next_attempt_at <= now && due.len() < IN_FLIGHT {
                    due.push(d);
                }
            }
            if due.is_empty() {
                return;
            }
            let sent =
                futures::future::join_all(due.iter().map(|d| self.send_one(&endpoint, &key, d)))
                    .await;
            if sent.iter().any(|gone| *gone) {
                return; // the endpoint was turned off
            }
        }
    }

    /// One attempt; true when the receiver said the endpoint is gone.
    async fn send_one(&self, endpoint: &Endpoint, key: &[u8], delivery: &Delivery) -> bool {
        let body = match self.body(delivery).await {
            Ok(body) => body,
            Err(error) => {
                tracing::error!(delivery = %delivery.id, %error, "webhook body cannot be built");
                let failed = AttemptResult::Failed {
                    status: None,
                    error: "the event could not be read".into(),
                    next_attempt_at: self.clock.now_ms(),
                    give_up: true,
                };
                let _ = self.records.record_attempt(&delivery.id, &failed).await;
                return false;
            }
        };
        let timestamp = self.clock.now_ms() / 1000;
        let signature = sign(key, &delivery.event_id, timestamp, &body);
        let response = self
            .http
            .post(&endpoint.url)
            .header("content-type", "application/json")
            .header("webhook-id", &delivery.event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        let now = self.clock.now_ms();
        let (status, error) = match response {
            Ok(r) if r.status().is_success() => {
                let done = AttemptResult::Delivered {
                    status: r.status().as_u16() as i32,
                    at: now,
                };
                if let Err(error) = self.records.record_attempt(&delivery.id, &done).await {
                    tracing::warn!(%error, "delivery sent but not recorded (it will be sent again)");
                }
                metrics::counter!("xiaoer_webhook_deliveries_total", "result" => "delivered")
                    .increment(1);
                return false;
            }
            Ok(r) => (
                Some(r.status().as_u16() as i32),
                format!("the receiver answered HTTP {}", r.status().as_u16()),
            ),
            Err(e) if e.is_timeout() => (None, "the receiver did not answer in 15 s".to_owned()),
            Err(e) if e.is_connect() => (None, "cannot connect to the receiver".to_owned()),
            Err(_) => (None, "the request failed".to_owned()),
        };
        metrics::counter!("xiaoer_webhook_deliveries_total", "result" => "failed").increment(1);
        let gone = status == Some(410);
        let jitter = rand::random::<f64>() * 2.0 - 1.0;
        let next = now + backoff_ms(self.retry_base_ms, delivery.attempts + 1, jitter);
        let failed = AttemptResult::Failed {
            status,
            error,
            next_attempt_at: next,
            give_up: gone || next - delivery.created_at > RETRY_WINDOW_MS,
        };
        if let Err(error) = self.records.record_attempt(&delivery.id, &failed).await {
            tracing::warn!(%error, "failed delivery not recorded");
        }
        if gone {
            let reason = "the receiver answered 410 Gone";
            if let Err(error) = self
                .records
                .set_endpoint_enabled(&endpoint.id, false, Some(reason), now)
                .await
            {
                tracing::warn!(%error, "endpoint could not be turned off");
            }
        }
        gone
    }

    /// The JSON sent for a delivery: `{type, timestamp, data}` as Standard
    /// Webhooks recommends; a message event carries the message itself.
    async fn body(&self, delivery: &Delivery) -> Result<String, String> {
        let events = self
            .events
            .after(delivery.position - 1, 1)
            .await
            .map_err(|e| e.to_string())?;
        let event = events
            .into_iter()
            .find(|e| e.id == delivery.event_id)
            .ok_or("event missing")?;
        let mut data = serde_json::to_value(&event.data).map_err(|e| e.to_string())?;
        let fields = data.as_object_mut().ok_or("event data is not an object")?;
        fields.remove("type");
        fields.insert("event_id".into(), event.id.clone().into());
        fields.insert("position".into(), event.position.into());
        if let Some(c) = &event.conversation_id {
            fields.insert("conversation_id".into(), c.clone().into());
        }
        if let Some(seq) = event.seq {
            fields.insert("seq".into(), seq.into());
        }
        if let Some(conversation) = &event.conversation_id {
            // Every conversation event names its channel (and an app channel's user).
            let id = ConversationId::parse(conversation).ok_or("bad conversation id")?;
            match self.chat.conversation(&id).await {
                Ok(c) => {
                    fields.insert("channel".into(), c.channel.into());
                }
                Err(crate::services::chat::ChatError::NotFound) => {}
                Err(e) => return Err(e.to_string()),
            }
            if let Some(party) = self
                .channels
                .party(conversation)
                .await
                .map_err(|e| e.to_string())?
            {
                fields.insert("channel_id".into(), party.channel_id.into());
                fields.insert("external_user_id".into(), party.external_user_id.into());
            }
        }
        if let (Some(conversation), Some(seq), "message.posted") =
            (&event.conversation_id, event.seq, event.type_name())
        {
            let id = ConversationId::parse(conversation).ok_or("bad conversation id")?;
            let opened = self
                .chat
                .events(&id, seq - 1, 1)
                .await
                .map_err(|e| e.to_string())?;
            if let Some(message) = opened.into_iter().find(|e| e.seq == seq) {
                fields.insert(
                    "message".into(),
                    serde_json::to_value(&message).map_err(|e| e.to_string())?,
                );
            }
        }
        let envelope = serde_json::json!({
            "type": event.type_name(),
            "timestamp": rfc3339_ms(event.created_at),
            "data": data,
        });
        Ok(envelope.to_string())
    }
}

fn rfc3339_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The subscriber that turns committed events into queued deliveries.
pub struct WebhookQueue(pub Arc<WebhookService>);

#[async_trait::async_trait]
impl Subscriber for WebhookQueue {
    fn name(&self) -> &'static str {
        "webhooks"
    }

    async fn handle(&self, event: &DomainEvent) -> Result<(), String> {
        self.queue(std::slice::from_ref(event)).await
    }

    /// One read of the endpoints and one write for a whole read of events; on
    /// failure the whole read is queued again (a delivery is unique by
    /// endpoint and event).
    async fn handle_batch(&self, events: &[DomainEvent]) -> Result<(), (usize, String)> {
        self.queue(events).await.map_err(|e| (0, e))
    }
}

impl WebhookQueue {
    async fn queue(&self, events: &[DomainEvent]) -> Result<(), String> {
        let service = &self.0;
        let endpoints = service
            .records
            .endpoints()
            .await
            .map_err(|e| e.to_string())?;
        let listening: Vec<(&Endpoint, EventFilter)> = endpoints
            .iter()
            .filter(|e| e.enabled)
            .filter_map(|e| EventFilter::parse(&e.event_types).ok().map(|f| (e, f)))
            .collect();
        if listening.is_empty() {
            return Ok(());
        }
        let rows: Vec<QueuedDelivery> = events
            .iter()
            .flat_map(|event| {
                listening
                    .iter()
                    .filter(|(e, f)| {
                        e.since_position < event.position && f.matches(event.type_name())
                    })
                    .map(|(e, _)| QueuedDelivery {
                        id: format!("dl_{}", uuid::Uuid::now_v7().simple()),
                        endpoint_id: e.id.clone(),
                        event_id: event.id.clone(),
                        position: event.position,
                        conversation_id: event.conversation_id.clone(),
                        next_attempt_at: event.created_at,
                        created_at: event.created_at,
                    })
            })
            .collect();
        if !rows.is_empty() {
            service
                .records
                .queue(&rows)
                .await
                .map_err(|e| e.to_string())?;
            service.queued.notify_one();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_standard_webhooks_reference_vector() {
        // The example of the Standard Webhooks specification (checked against the
        // reference Python library, which the integration tests also run).
        let key = base64::engine::general_purpose::STANDARD
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap();
        assert_eq!(
            sign(
                &key,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                r#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn endpoints_must_be_https_except_on_loopback() {
        assert!(parse_endpoint_url("https://shop.example/hooks").is_ok());
        assert!(parse_endpoint_url("http://127.0.0.1:9000/h").is_ok());
        assert!(parse_endpoint_url("http://localhost/h").is_ok());
        assert!(parse_endpoint_url("http://[::1]:8/h").is_ok());
        assert!(matches!(
            parse_endpoint_url("http://shop.example/h"),
            Err(WebhookError::NotHttps)
        ));
        assert!(matches!(
            parse_endpoint_url("http://10.0.0.1/h"),
            Err(WebhookError::NotHttps)
        ));
        assert!(matches!(
            parse_endpoint_url("ftp://shop.example/h"),
            Err(WebhookError::BadUrl)
        ));
        assert!(matches!(
            parse_endpoint_url("https://u:p@shop.example/"),
            Err(WebhookError::BadUrl)
        ));
        assert!(matches!(
            parse_endpoint_url("not a url"),
            Err(WebhookError::BadUrl)
        ));
    }

    #[test]
    fn backoff_grows_fourfold_and_stops_at_ten_hours() {
        assert_eq!(backoff_ms(5000, 1, 0.0), 5000);
        assert_eq!(backoff_ms(5000, 2, 0.0), 20_000);
        assert_eq!(backoff_ms(5000, 4, 0.0), 320_000);
        assert_eq!(backoff_ms(5000, 30, 0.0), MAX_BACKOFF_MS);
        assert_eq!(backoff_ms(5000, 1, 1.0), 5500);
        // Attempts with this schedule span the 24-hour window.
        let total: i64 = (1..=9).map(|a| backoff_ms(5000, a, 0.0)).sum();
        assert!(total > RETRY_WINDOW_MS, "{total}");
    }
}
