//! Rate limits at the edge, so one client cannot flood new conversations, a
//! visitor cannot flood messages, and nobody can guess passwords at speed.
//!
//! Two lines, so the limits hold for the cluster and not once per node:
//! first each node's GCRA (the `governor` crate: a burst of the per-minute
//! quota, then an even pace), which turns a flood away in memory before it
//! reaches the database; a request it lets through then counts in a sliding
//! window kept in the database (`domain::rate_window`) and is refused when
//! the cluster's count is over the same quota. Sign-in lockouts live in the
//! database only. Typing frames and shop-page heartbeats stay per node.
//! Keys are client IPs, visitor ids and account names, stored only as keyed
//! hashes.

use super::error::ApiError;
use crate::config::{RateLimits, Settings};
use crate::domain::lockout::LockoutPolicy;
use crate::domain::rate_window;
use crate::ports::Clock;
use crate::storage::{Backend, Store};
use axum::extract::{ConnectInfo, Request};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

/// Which limit a route counts against; the route table names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateClass {
    Unlimited,
    /// `POST /api/v1/conversations`: per client IP.
    NewConversation,
    /// A buyer's message: per visitor.
    BuyerMessage,
    /// Staff sign-in: per client IP here, per account in the handler.
    Login,
    /// A buyer's typing frame on the chat socket: per visitor.
    Typing,
    /// The shop page's heartbeat (`POST /api/v1/presence`): per client IP
    /// here, per visit in the handler ([`Limits::check_presence_visit`]).
    Presence,
}

type Keyed = DefaultKeyedRateLimiter<String>;

/// Above this many remembered keys, idle ones are dropped.
const PRUNE_ABOVE: usize = 100_000;

/// Blind-index purposes of the shared windows and of the lockouts: they keep
/// the counts of different limits apart in the database.
const CONVERSATIONS: &str = "rate.conversations_per_ip";
const CHALLENGE: &str = "rate.challenge_conversations_per_ip";
const MESSAGES: &str = "rate.messages_per_visitor";
const LOGINS_PER_IP: &str = "rate.logins_per_ip";
const LOGINS_PER_ACCOUNT: &str = "rate.logins_per_account";
const ACCOUNT_LOCKOUT: &str = "lockout.account";
const ADDRESS_LOCKOUT: &str = "lockout.address";

/// One limit: the node's GCRA and the cluster's window, both at `quota`.
struct Limit {
    node: Keyed,
    quota: u32,
    /// The window's blind-index purpose; None: this limit stays per node.
    shared: Option<&'static str>,
}

pub struct Limits {
    conversations_per_ip: Option<Limit>,
    /// The soft limit on new conversations: past it, a challenge.
    challenge_per_ip: Option<Limit>,
    messages_per_visitor: Option<Limit>,
    typing_per_visitor: Option<Limit>,
    logins_per_ip: Option<Limit>,
    logins_per_account: Option<Limit>,
    presence_per_ip: Option<Limit>,
    presence_per_visit: Option<Limit>,
    /// Failed sign-ins by lower-cased account name, and by client address.
    account_lockout: LockoutPolicy,
    ip_lockout: LockoutPolicy,
    /// Peers whose `X-Forwarded-For` is believed (the shop's reverse proxies).
    trusted_proxies: Vec<IpAddr>,
    /// Where the shared windows and the lockouts are kept.
    store: Store,
    clock: Arc<dyn Clock>,
}

fn per_minute(n: u32, shared: Option<&'static str>) -> Option<Limit> {
    NonZeroU32::new(n).map(|q| Limit {
        node: Keyed::keyed(Quota::per_minute(q)),
        quota: n,
        shared,
    })
}

impl Limits {
    pub fn new(settings: &Settings, store: Store, clock: Arc<dyn Clock>) -> Self {
        let r: &RateLimits = &settings.rate_limits;
        Limits {
            conversations_per_ip: per_minute(r.conversations_per_ip, Some(CONVERSATIONS)),
            challenge_per_ip: per_minute(r.challenge_conversations_per_ip, Some(CHALLENGE)),
            // A buyer's messages, the busy path, share their window only where
            // several nodes serve one shop (PostgreSQL); a SQLite shop is one
            // node, whose own GCRA already is the whole count.
            messages_per_visitor: per_minute(
                r.messages_per_visitor,
                (store.backend() == Backend::Postgres).then_some(MESSAGES),
            ),
            typing_per_visitor: per_minute(r.typing_per_visitor, None),
            logins_per_ip: per_minute(r.logins_per_ip, Some(LOGINS_PER_IP)),
            logins_per_account: per_minute(r.logins_per_account, Some(LOGINS_PER_ACCOUNT)),
            presence_per_ip: per_minute(r.presence_per_ip, None),
            presence_per_visit: per_minute(r.presence_per_visit, None),
            account_lockout: r.account_lockout,
            ip_lockout: r.ip_lockout,
            trusted_proxies: r.trusted_proxies.clone(),
            store,
            clock,
        }
    }

    /// The client's address: the socket peer, or, when the peer is a trusted
    /// proxy, the nearest untrusted address in `X-Forwarded-For`.
    pub fn client_ip(&self, request: &Request) -> Option<IpAddr> {
        client_ip(&self.trusted_proxies, request)
    }

    /// Counts a request of `class`; `visitor` is the authenticated buyer, if any.
    pub async fn check(
        &self,
        class: RateClass,
        ip: Option<IpAddr>,
        visitor: Option<&str>,
    ) -> Result<(), ApiError> {
        let ip_key = ip.map(|ip| ip.to_string());
        let visitor_key = visitor.map(str::to_owned);
        match class {
            RateClass::Unlimited => Ok(()),
            RateClass::NewConversation => self.hit(&self.conversations_per_ip, ip_key).await,
            RateClass::BuyerMessage => self.hit(&self.messages_per_visitor, visitor_key).await,
            RateClass::Login => self.hit(&self.logins_per_ip, ip_key).await,
            RateClass::Typing => self.hit(&self.typing_per_visitor, visitor_key).await,
            RateClass::Presence => self.hit(&self.presence_per_ip, ip_key).await,
        }
    }

    /// A heartbeat counts against its visit: the visit key the page holds, or,
    /// for a heartbeat starting a visit, the browser id (so a page cannot start
    /// visits without end either).
    pub async fn check_presence_visit(
        &self,
        visit_key: Option<&str>,
        browser_id: &str,
    ) -> Result<(), ApiError> {
        let key = match visit_key {
            Some(visit) => format!("visit:{visit}"),
            None => format!("browser:{browser_id}"),
        };
        self.hit(&self.presence_per_visit, Some(key)).await
    }

    /// Before a sign-in is tried: attempts for one account from wherever they
    /// come, and the lockouts of the account and of the address (as the whole
    /// cluster counted them). A locked account is refused even with the right
    /// password, and an unknown name locks like a known one (nothing tells
    /// them apart).
    pub async fn check_login(&self, username: &str, ip: Option<IpAddr>) -> Result<(), ApiError> {
        let account = account_key(username);
        self.hit(&self.logins_per_account, Some(account.clone()))
            .await?;
        let now = self.clock.now_ms();
        let mut locked = Vec::new();
        if !self.account_lockout.is_off() {
            let failures = self
                .store
                .sign_in_failures(ACCOUNT_LOCKOUT, &account)
                .await
                .map_err(internal)?;
            locked.push(self.account_lockout.locked_for(&failures, now));
        }
        if let Some(ip) = ip.filter(|_| !self.ip_lockout.is_off()) {
            let failures = self
                .store
                .sign_in_failures(ADDRESS_LOCKOUT, &ip.to_string())
                .await
                .map_err(internal)?;
            locked.push(self.ip_lockout.locked_for(&failures, now));
        }
        match locked.into_iter().flatten().max() {
            Some(retry_after_secs) => Err(ApiError::LoginLocked { retry_after_secs }),
            None => Ok(()),
        }
    }

    /// A wrong password (or unknown name) counts against the account and the address.
    pub async fn login_failed(&self, username: &str, ip: Option<IpAddr>) -> Result<(), ApiError> {
        let now = self.clock.now_ms();
        if !self.account_lockout.is_off() {
            let account = account_key(username);
            self.store
                .count_sign_in_failure(ACCOUNT_LOCKOUT, &account, &self.account_lockout, now)
                .await
                .map_err(internal)?;
        }
        if let Some(ip) = ip.filter(|_| !self.ip_lockout.is_off()) {
            self.store
                .count_sign_in_failure(ADDRESS_LOCKOUT, &ip.to_string(), &self.ip_lockout, now)
                .await
                .map_err(internal)?;
        }
        Ok(())
    }

    /// The account's failures are forgiven; the address's are not (one good
    /// account must not reset a sprayer's count).
    pub async fn login_succeeded(&self, username: &str) -> Result<(), ApiError> {
        self.store
            .forgive_sign_in_failures(ACCOUNT_LOCKOUT, &account_key(username))
            .await
            .map_err(internal)
    }

    /// Counts a new conversation against the soft limit: true once this client
    /// started more than its share this minute, on this node or in the cluster
    /// (it must then solve a challenge).
    pub async fn past_soft_limit(&self, ip: Option<IpAddr>) -> Result<bool, ApiError> {
        match self
            .hit(&self.challenge_per_ip, ip.map(|ip| ip.to_string()))
            .await
        {
            Ok(()) => Ok(false),
            Err(ApiError::RateLimited { .. }) => Ok(true),
            Err(other) => Err(other),
        }
    }

    /// The node's GCRA first (no database for what it refuses), then the
    /// cluster's window for a shared limit.
    async fn hit(&self, limit: &Option<Limit>, key: Option<String>) -> Result<(), ApiError> {
        let (Some(limit), Some(key)) = (limit, key) else {
            return Ok(());
        };
        hit_node(&limit.node, &key)?;
        let Some(purpose) = limit.shared else {
            return Ok(());
        };
        let now = self.clock.now_ms();
        let (previous, current) = self
            .store
            .count_in_window(purpose, &key, rate_window::window_start(now))
            .await
            .map_err(internal)?;
        match rate_window::over_quota(previous, current, now, limit.quota) {
            Some(retry_after_secs) => Err(ApiError::RateLimited { retry_after_secs }),
            None => Ok(()),
        }
    }
}

fn internal(e: crate::storage::StoreError) -> ApiError {
    ApiError::Internal(format!("rate limit store: {e}"))
}

fn account_key(username: &str) -> String {
    username.trim().to_lowercase()
}

/// See [`Limits::client_ip`].
fn client_ip(trusted_proxies: &[IpAddr], request: &Request) -> Option<IpAddr> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()?
        .0
        .ip();
    if !trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let forwarded = request
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    // Proxies append: the right-most hop no trusted proxy added is the client.
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !trusted_proxies.contains(ip))
        .or(Some(peer))
}

/// The client's address as the edge saw it (see [`Limits::client_ip`]); the
/// authorisation layer puts it on every request.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

fn hit_node(limiter: &Keyed, key: &str) -> Result<(), ApiError> {
    if limiter.len() > PRUNE_ABOVE {
        limiter.retain_recent();
    }
    limiter.check_key(&key.to_owned()).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        ApiError::RateLimited {
            retry_after_secs: wait.as_secs() + 1,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn from(peer: &str, forwarded: Option<&str>) -> Request {
        let mut builder = Request::post("/api/v1/conversations");
        if let Some(f) = forwarded {
            builder = builder.header("x-forwarded-for", f);
        }
        let mut request = builder.body(Body::empty()).unwrap();
        let peer: SocketAddr = format!("{peer}:40000").parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let trusted = ["10.0.0.1".parse().unwrap()];
        let spoofed = from("198.51.100.9", Some("203.0.113.7"));
        assert_eq!(client_ip(&trusted, &spoofed), "198.51.100.9".parse().ok());
        let proxied = from("10.0.0.1", Some("1.2.3.4, 203.0.113.7"));
        assert_eq!(client_ip(&trusted, &proxied), "203.0.113.7".parse().ok());
        let direct = from("10.0.0.1", None);
        assert_eq!(client_ip(&trusted, &direct), "10.0.0.1".parse().ok());
    }

    #[test]
    fn a_burst_past_the_quota_waits_and_other_clients_do_not() {
        let node = per_minute(2, None).unwrap().node;
        let (a, b) = ("203.0.113.7", "203.0.113.8");
        assert!(hit_node(&node, a).is_ok());
        assert!(hit_node(&node, a).is_ok());
        let Err(ApiError::RateLimited { retry_after_secs }) = hit_node(&node, a) else {
            panic!("the third in a burst of a 2/min quota is limited");
        };
        assert!((1..=31).contains(&retry_after_secs));
        assert!(hit_node(&node, b).is_ok());
    }
}
