//! Blocklists as rules: who is blocked (a visitor, or a network of addresses),
//! why, and until when. Parsed once at the edge.

use ipnet::IpNet;
use std::net::IpAddr;

const MAX_REASON_CHARS: usize = 200;
const MAX_HOURS: u32 = 24 * 366;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockInputError {
    #[error("give a reason of 1 to 200 characters")]
    Reason,
    #[error(
        "an IP address or CIDR network is expected (203.0.113.7, 203.0.113.0/24, 2001:db8::/32)"
    )]
    Network,
    #[error("a block lasts 1 to 8784 hours, or leave it out for no expiry")]
    Expiry,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockReason(String);

impl BlockReason {
    pub fn parse(raw: &str) -> Result<Self, BlockInputError> {
        let trimmed = raw.trim();
        let count = trimmed.chars().count();
        if count == 0 || count > MAX_REASON_CHARS || trimmed.chars().any(char::is_control) {
            return Err(BlockInputError::Reason);
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An address (a /32 or /128) or a network; host bits are cleared.
pub fn parse_network(raw: &str) -> Result<IpNet, BlockInputError> {
    let raw = raw.trim();
    let net = match raw.parse::<IpNet>() {
        Ok(net) => net,
        Err(_) => IpNet::from(
            raw.parse::<IpAddr>()
                .map_err(|_| BlockInputError::Network)?,
        ),
    };
    Ok(net.trunc())
}

/// When a block of `hours` made at `now_ms` ends; `None` lasts until lifted.
pub fn expiry(now_ms: i64, hours: Option<u32>) -> Result<Option<i64>, BlockInputError> {
    match hours {
        None => Ok(None),
        Some(h) if (1..=MAX_HOURS).contains(&h) => Ok(Some(now_ms + i64::from(h) * 3_600_000)),
        Some(_) => Err(BlockInputError::Expiry),
    }
}

/// What is blocked now: checked on every buyer request, so it lives in memory.
#[derive(Debug, Clone, Default)]
pub struct Blocklist {
    pub visitors: Vec<(String, Option<i64>)>,
    pub networks: Vec<(IpNet, Option<i64>)>,
}

fn in_force(expires_at: Option<i64>, now_ms: i64) -> bool {
    expires_at.is_none_or(|end| end > now_ms)
}

impl Blocklist {
    pub fn blocks_visitor(&self, visitor_id: &str, now_ms: i64) -> bool {
        self.visitors
            .iter()
            .any(|(id, end)| id == visitor_id && in_force(*end, now_ms))
    }

    pub fn blocks_ip(&self, ip: IpAddr, now_ms: i64) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.networks
            .iter()
            .any(|(net, end)| net.contains(&ip) && in_force(*end, now_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_parse_from_addresses_and_cidrs_and_match_mapped_addresses() {
        let list = Blocklist {
            visitors: vec![("v1".into(), Some(1000))],
            networks: vec![
                (parse_network("203.0.113.77/24").unwrap(), None),
                (parse_network("2001:db8::1").unwrap(), Some(5000)),
            ],
        };
        assert_eq!(
            parse_network("203.0.113.77/24").unwrap().to_string(),
            "203.0.113.0/24"
        );
        assert!(list.blocks_ip("203.0.113.9".parse().unwrap(), 0));
        assert!(list.blocks_ip("::ffff:203.0.113.9".parse().unwrap(), 0));
        assert!(!list.blocks_ip("203.0.114.9".parse().unwrap(), 0));
        assert!(list.blocks_ip("2001:db8::1".parse().unwrap(), 4999));
        assert!(
            !list.blocks_ip("2001:db8::1".parse().unwrap(), 5000),
            "expired"
        );
        assert!(list.blocks_visitor("v1", 999) && !list.blocks_visitor("v1", 1000));
        assert!(parse_network("not an address").is_err());
    }

    #[test]
    fn reasons_and_expiries_are_bounded() {
        assert!(BlockReason::parse("  ").is_err());
        assert!(BlockReason::parse(&"骂".repeat(201)).is_err());
        assert_eq!(
            BlockReason::parse(" 辱骂客服 ").unwrap().as_str(),
            "辱骂客服"
        );
        assert_eq!(expiry(0, Some(2)).unwrap(), Some(7_200_000));
        assert_eq!(expiry(0, None).unwrap(), None);
        assert!(expiry(0, Some(0)).is_err());
    }
}
