//! Rate limits at the edge, so one client cannot flood new conversations, a
//! visitor cannot flood messages, and nobody can guess passwords at speed.
//! GCRA (the `governor` crate): a burst of the per-minute quota, then an even
//! pace; keys are client IPs, visitor ids and account names.

use super::error::ApiError;
use crate::config::Settings;
use crate::domain::lockout::Lockout;
use axum::extract::{ConnectInfo, Request};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;

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

pub struct Limits {
    conversations_per_ip: Option<Keyed>,
    /// The soft limit on new conversations: past it, a challenge.
    challenge_per_ip: Option<Keyed>,
    messages_per_visitor: Option<Keyed>,
    typing_per_visitor: Option<Keyed>,
    logins_per_ip: Option<Keyed>,
    logins_per_account: Option<Keyed>,
    presence_per_ip: Option<Keyed>,
    presence_per_visit: Option<Keyed>,
    /// Failed sign-ins by lower-cased account name, and by client address.
    account_lockout: Lockout,
    ip_lockout: Lockout,
    /// Peers whose `X-Forwarded-For` is believed (the shop's reverse proxies).
    trusted_proxies: Vec<IpAddr>,
}

fn per_minute(n: u32) -> Option<Keyed> {
    NonZeroU32::new(n).map(|n| Keyed::keyed(Quota::per_minute(n)))
}

impl Limits {
    pub fn new(settings: &Settings) -> Self {
        let r = &settings.rate_limits;
        Limits {
            conversations_per_ip: per_minute(r.conversations_per_ip),
            challenge_per_ip: per_minute(r.challenge_conversations_per_ip),
            messages_per_visitor: per_minute(r.messages_per_visitor),
            typing_per_visitor: per_minute(r.typing_per_visitor),
            logins_per_ip: per_minute(r.logins_per_ip),
            logins_per_account: per_minute(r.logins_per_account),
            presence_per_ip: per_minute(r.presence_per_ip),
            presence_per_visit: per_minute(r.presence_per_visit),
            account_lockout: Lockout::new(r.account_lockout),
            ip_lockout: Lockout::new(r.ip_lockout),
            trusted_proxies: r.trusted_proxies.clone(),
        }
    }

    /// The client's address: the socket peer, or, when the peer is a trusted
    /// proxy, the nearest untrusted address in `X-Forwarded-For`.
    pub fn client_ip(&self, request: &Request) -> Option<IpAddr> {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()?
            .0
            .ip();
        if !self.trusted_proxies.contains(&peer) {
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
            .find(|ip| !self.trusted_proxies.contains(ip))
            .or(Some(peer))
    }

    /// Counts a request of `class`; `visitor` is the authenticated buyer, if any.
    pub fn check(
        &self,
        class: RateClass,
        ip: Option<IpAddr>,
        visitor: Option<&str>,
    ) -> Result<(), ApiError> {
        let ip_key = || ip.map(|ip| ip.to_string());
        match class {
            RateClass::Unlimited => Ok(()),
            RateClass::NewConversation => hit(&self.conversations_per_ip, ip_key()),
            RateClass::BuyerMessage => hit(&self.messages_per_visitor, visitor.map(str::to_owned)),
            RateClass::Login => hit(&self.logins_per_ip, ip_key()),
            RateClass::Typing => hit(&self.typing_per_visitor, visitor.map(str::to_owned)),
            RateClass::Presence => hit(&self.presence_per_ip, ip_key()),
        }
    }

    /// A heartbeat counts against its visit: the visit key the page holds, or,
    /// for a heartbeat starting a visit, the browser id (so a page cannot start
    /// visits without end either).
    pub fn check_presence_visit(
        &self,
        visit_key: Option<&str>,
        browser_id: &str,
    ) -> Result<(), ApiError> {
        let key = match visit_key {
            Some(visit) => format!("visit:{visit}"),
            None => format!("browser:{browser_id}"),
        };
        hit(&self.presence_per_visit, Some(key))
    }

    /// Before a sign-in is tried: attempts for one account from wherever they
    /// come, and the lockouts of the account and of the address. A locked
    /// account is refused even with the right password, and an unknown name
    /// locks like a known one (nothing tells them apart).
    pub fn check_login(
        &self,
        username: &str,
        ip: Option<IpAddr>,
        now_ms: i64,
    ) -> Result<(), ApiError> {
        let account = account_key(username);
        hit(&self.logins_per_account, Some(account.clone()))?;
        let locked = [
            self.account_lockout.locked_for(&account, now_ms),
            ip.and_then(|ip| self.ip_lockout.locked_for(&ip.to_string(), now_ms)),
        ];
        match locked.into_iter().flatten().max() {
            Some(retry_after_secs) => Err(ApiError::LoginLocked { retry_after_secs }),
            None => Ok(()),
        }
    }

    /// A wrong password (or unknown name) counts against the account and the address.
    pub fn login_failed(&self, username: &str, ip: Option<IpAddr>, now_ms: i64) {
        self.account_lockout.failed(&account_key(username), now_ms);
        if let Some(ip) = ip {
            self.ip_lockout.failed(&ip.to_string(), now_ms);
        }
    }

    /// The account's failures are forgiven; the address's are not (one good
    /// account must not reset a sprayer's count).
    pub fn login_succeeded(&self, username: &str) {
        self.account_lockout.succeeded(&account_key(username));
    }
}

fn account_key(username: &str) -> String {
    username.trim().to_lowercase()
}

impl Limits {
    /// Counts a new conversation against the soft limit: true once this client
    /// started more than its share this minute (it must then solve a challenge).
    pub fn past_soft_limit(&self, ip: Option<IpAddr>) -> bool {
        hit(&self.challenge_per_ip, ip.map(|ip| ip.to_string())).is_err()
    }
}

/// The client's address as the edge saw it (see [`Limits::client_ip`]); the
/// authorisation layer puts it on every request.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

fn hit(limiter: &Option<Keyed>, key: Option<String>) -> Result<(), ApiError> {
    let (Some(limiter), Some(key)) = (limiter, key) else {
        return Ok(());
    };
    if limiter.len() > PRUNE_ABOVE {
        limiter.retain_recent();
    }
    limiter.check_key(&key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        ApiError::RateLimited {
            retry_after_secs: wait.as_secs() + 1,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RateLimits;
    use axum::body::Body;

    fn limits(trusted: &[&str]) -> Limits {
        let mut settings = Settings::for_data_dir(std::path::Path::new("unused"));
        settings.rate_limits = RateLimits {
            conversations_per_ip: 2,
            trusted_proxies: trusted.iter().map(|p| p.parse().unwrap()).collect(),
            ..settings.rate_limits
        };
        Limits::new(&settings)
    }

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
        let l = limits(&["10.0.0.1"]);
        let spoofed = from("198.51.100.9", Some("203.0.113.7"));
        assert_eq!(l.client_ip(&spoofed), "198.51.100.9".parse().ok());
        let proxied = from("10.0.0.1", Some("1.2.3.4, 203.0.113.7"));
        assert_eq!(l.client_ip(&proxied), "203.0.113.7".parse().ok());
        let direct = from("10.0.0.1", None);
        assert_eq!(l.client_ip(&direct), "10.0.0.1".parse().ok());
    }

    #[test]
    fn a_burst_past_the_quota_waits_and_other_clients_do_not() {
        let l = limits(&[]);
        let a = "203.0.113.7".parse().ok();
        let b = "203.0.113.8".parse().ok();
        assert!(l.check(RateClass::NewConversation, a, None).is_ok());
        assert!(l.check(RateClass::NewConversation, a, None).is_ok());
        let Err(ApiError::RateLimited { retry_after_secs }) =
            l.check(RateClass::NewConversation, a, None)
        else {
            panic!("the third in a burst of a 2/min quota is limited");
        };
        assert!((1..=31).contains(&retry_after_secs));
        assert!(l.check(RateClass::NewConversation, b, None).is_ok());
    }
}
