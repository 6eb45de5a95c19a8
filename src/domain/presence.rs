//! Who is on the shop now: a visit (one tab's session of the shop's pages, kept
//! alive by the widget's heartbeat), where it came from, what it looks at and
//! what is in its cart. Pure rules: how a heartbeat changes a visit, how the
//! source is told from the entry URL and the referrer, how agents filter.

use super::portrait::is_vip_level;
use super::visitor::{CartItem, VisitorInputError, page_url};
use serde::{Deserialize, Serialize};

/// A visit is online while its last heartbeat is younger than this.
pub const ONLINE_FOR_MS: i64 = 30_000;
/// How often the widget on the shop page says it is still there.
pub const HEARTBEAT_EVERY_MS: i64 = 5_000;
/// The pages of one visit kept (the newest).
pub const MAX_VISIT_PAGES: usize = 50;

/// How the visitor reached the shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A search engine or the marketplace's search.
    Search,
    /// A paid campaign (utm_medium cpc/ads..., or a click id).
    Ads,
    /// A recommendation slot (utm_medium recommend, 猜你喜欢).
    Recommendation,
    /// Another site linked here.
    Referral,
    /// Typed, bookmarked, or no referrer.
    Direct,
}

impl Source {
    /// Every source, in the order reports list them.
    pub const ALL: [Source; 5] = [
        Source::Search,
        Source::Ads,
        Source::Recommendation,
        Source::Referral,
        Source::Direct,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Search => "search",
            Source::Ads => "ads",
            Source::Recommendation => "recommendation",
            Source::Referral => "referral",
            Source::Direct => "direct",
        }
    }

    pub fn parse(raw: &str) -> Option<Source> {
        Some(match raw {
            "search" => Source::Search,
            "ads" => Source::Ads,
            "recommendation" => Source::Recommendation,
            "referral" => Source::Referral,
            "direct" => Source::Direct,
            _ => return None,
        })
    }
}

/// The campaign tags of the entry URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Utm {
    pub source: Option<String>,
    pub medium: Option<String>,
    pub campaign: Option<String>,
}

const SEARCH_HOSTS: &[&str] = &[
    "baidu.",
    "google.",
    "bing.",
    "so.com",
    "sogou.",
    "sm.cn",
    "s.taobao.com",
    "search.jd.com",
    "duckduckgo.",
];
const AD_MEDIA: &[&str] = &[
    "cpc",
    "ppc",
    "cpm",
    "ads",
    "ad",
    "paid",
    "display",
    "zhitongche",
];
const AD_CLICK_IDS: &[&str] = &["gclid", "bd_vid", "msclkid"];
const RECOMMEND_MEDIA: &[&str] = &["recommend", "recommendation", "rec", "guess_you_like"];

/// The source and the campaign tags, from the first page of the visit and the
/// page that linked to it.
pub fn classify(entry_url: &str, referrer: Option<&str>) -> (Source, Utm) {
    let entry = url::Url::parse(entry_url).ok();
    let param = |name: &str| {
        entry.as_ref().and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.chars().take(64).collect::<String>())
                .filter(|v| !v.is_empty())
        })
    };
    let utm = Utm {
        source: param("utm_source"),
        medium: param("utm_medium"),
        campaign: param("utm_campaign"),
    };
    let medium = utm.medium.as_deref().unwrap_or("").to_lowercase();
    let referrer_host = referrer
        .and_then(|r| url::Url::parse(r).ok())
        .and_then(|u| u.host_str().map(str::to_owned))
        .filter(|host| entry.as_ref().and_then(|e| e.host_str()) != Some(host.as_str()));
    let source =
        if AD_MEDIA.contains(&medium.as_str()) || AD_CLICK_IDS.iter().any(|k| param(k).is_some()) {
            Source::Ads
        } else if RECOMMEND_MEDIA.contains(&medium.as_str()) {
            Source::Recommendation
        } else if medium == "organic"
            || referrer_host
                .as_deref()
                .is_some_and(|h| SEARCH_HOSTS.iter().any(|s| h.contains(s)))
        {
            Source::Search
        } else if referrer_host.is_some() {
            Source::Referral
        } else {
            Source::Direct
        };
    (source, utm)
}

/// One page of the visit and when the visitor opened it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitPage {
    pub url: String,
    pub title: Option<String>,
    /// Unix milliseconds.
    pub at: i64,
}

/// What the server keeps of a visit, beyond its ids and times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitState {
    pub entry_url: String,
    pub referrer: Option<String>,
    pub source: Source,
    pub utm: Utm,
    /// Oldest first; the last is the current page.
    pub pages: Vec<VisitPage>,
    pub cart: Vec<CartItem>,
    /// The shop account, when the shop vouched for the buyer.
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub member_level: Option<String>,
}

/// A heartbeat from the shop page, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Heartbeat {
    pub url: String,
    pub title: Option<String>,
    pub referrer: Option<String>,
    /// None: the page did not say (keep the last cart).
    pub cart: Option<Vec<CartItem>>,
}

/// The shop page's long-lived browser id: it tells a returning visitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserId(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("browser_id must be 8 to 64 letters, digits, '-' or '_'")]
pub struct BadBrowserId;

impl BrowserId {
    pub fn parse(raw: &str) -> Result<Self, BadBrowserId> {
        let ok = (8..=64).contains(&raw.len())
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(BadBrowserId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Heartbeat {
    pub fn parse(
        url: &str,
        title: Option<String>,
        referrer: Option<String>,
        cart: Option<Vec<CartItem>>,
    ) -> Result<Self, VisitorInputError> {
        let cart = match cart {
            Some(items) => Some(
                super::visitor::VisitorContext::parse(super::visitor::VisitorContext {
                    cart: items,
                    ..Default::default()
                })?
                .cart,
            ),
            None => None,
        };
        let title = title
            .map(|t| {
                t.chars()
                    .filter(|c| !c.is_control())
                    .take(256)
                    .collect::<String>()
            })
            .filter(|t| !t.trim().is_empty());
        Ok(Self {
            url: page_url("url", url)?,
            title,
            referrer: referrer
                .filter(|r| !r.trim().is_empty())
                .and_then(|r| page_url("referrer", &r).ok()),
            cart,
        })
    }
}

impl VisitState {
    /// The first heartbeat of a visit.
    pub fn begin(beat: &Heartbeat, now: i64) -> VisitState {
        let (source, utm) = classify(&beat.url, beat.referrer.as_deref());
        VisitState {
            entry_url: beat.url.clone(),
            referrer: beat.referrer.clone(),
            source,
            utm,
            pages: vec![VisitPage {
                url: beat.url.clone(),
                title: beat.title.clone(),
                at: now,
            }],
            cart: beat.cart.clone().unwrap_or_default(),
            account: None,
            member_level: None,
        }
    }

    /// A later heartbeat: a new page when the URL changed, the cart when reported.
    /// Returns whether anything an agent sees changed.
    pub fn apply(&mut self, beat: &Heartbeat, now: i64) -> bool {
        let mut changed = false;
        if self.pages.last().map(|p| p.url.as_str()) != Some(beat.url.as_str()) {
            self.pages.push(VisitPage {
                url: beat.url.clone(),
                title: beat.title.clone(),
                at: now,
            });
            if self.pages.len() > MAX_VISIT_PAGES {
                self.pages.remove(0);
            }
            changed = true;
        }
        if let Some(cart) = &beat.cart
            && *cart != self.cart
        {
            self.cart = cart.clone();
            changed = true;
        }
        changed
    }

    pub fn current(&self) -> Option<&VisitPage> {
        self.pages.last()
    }

    /// The pages in the order opened, each with the time on it: until the
    /// next page, and for the last until `last_seen` (the last heartbeat).
    pub fn path(&self, last_seen: i64) -> Vec<(&VisitPage, i64)> {
        self.pages
            .iter()
            .enumerate()
            .map(|(i, page)| {
                let until = self.pages.get(i + 1).map_or(last_seen, |next| next.at);
                (page, (until - page.at).max(0))
            })
            .collect()
    }

    /// How long the visitor has been on the current page.
    pub fn dwell_ms(&self, now: i64) -> i64 {
        self.current().map_or(0, |p| (now - p.at).max(0))
    }

    pub fn cart_cents(&self) -> i64 {
        self.cart
            .iter()
            .map(|c| c.quantity.saturating_mul(c.unit_price_cents))
            .sum()
    }

    pub fn cart_items(&self) -> i64 {
        self.cart.iter().map(|c| c.quantity).sum()
    }
}

/// What an agent sorts the visitor list by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum VisitSort {
    /// Newest activity first.
    #[default]
    LastSeen,
    /// Longest on the current page first.
    Dwell,
    /// Largest cart first.
    CartValue,
    /// Most pages first.
    Pages,
    /// Earliest arrival first.
    Arrived,
}

/// The visitor list's filters, all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VisitFilter {
    pub source: Option<Source>,
    pub returning: Option<bool>,
    pub min_cart_cents: Option<i64>,
    pub page_contains: Option<String>,
    pub member_level: Option<String>,
    pub vip: Option<bool>,
    pub tag: Option<Tag>,
}

/// The facts of one visit that filters and rules look at.
#[derive(Debug, Clone, Copy)]
pub struct VisitFacts<'a> {
    pub state: &'a VisitState,
    pub returning: bool,
    /// The shop marked the buyer a VIP (known once the visitor opened the chat),
    /// or their member level is a VIP level.
    pub vip: bool,
    pub now: i64,
}

/// A cart worth this much (分) makes a high-value visit.
pub const HIGH_VALUE_CART_CENTS: i64 = 50_000;

/// Tags the server puts on a visit from what it sees (the console names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tag {
    /// Something in the cart.
    Cart,
    /// A cart of at least HIGH_VALUE_CART_CENTS.
    HighValue,
    /// Came back: this browser visited before.
    Returning,
    /// Came from a campaign (utm_campaign).
    Campaign,
    /// Signed in to the shop.
    Member,
}

impl<'a> VisitFacts<'a> {
    /// The visit's facts; a signed-in visitor whose member level the buyer
    /// profile counts as VIP is one here too, as in the queue, without the
    /// shop marking them.
    pub fn of(state: &'a VisitState, returning: bool, marked_vip: bool, now: i64) -> Self {
        VisitFacts {
            state,
            returning,
            vip: marked_vip || is_vip_level(state.member_level.as_deref()),
            now,
        }
    }

    pub fn tags(&self) -> Vec<Tag> {
        let s = self.state;
        [
            (!s.cart.is_empty(), Tag::Cart),
            (s.cart_cents() >= HIGH_VALUE_CART_CENTS, Tag::HighValue),
            (self.returning, Tag::Returning),
            (s.utm.campaign.is_some(), Tag::Campaign),
            (s.account.is_some(), Tag::Member),
        ]
        .into_iter()
        .filter_map(|(on, tag)| on.then_some(tag))
        .collect()
    }
}

impl VisitFilter {
    pub fn admits(&self, facts: VisitFacts<'_>) -> bool {
        let s = facts.state;
        self.source.is_none_or(|want| s.source == want)
            && self.returning.is_none_or(|want| facts.returning == want)
            && self.min_cart_cents.is_none_or(|min| s.cart_cents() >= min)
            && self
                .page_contains
                .as_deref()
                .is_none_or(|p| s.current().is_some_and(|c| c.url.contains(p)))
            && self
                .member_level
                .as_deref()
                .is_none_or(|l| s.member_level.as_deref() == Some(l))
            && self.vip.is_none_or(|want| facts.vip == want)
            && self.tag.is_none_or(|t| facts.tags().contains(&t))
    }
}

/// A visit as callers see it: its state opened.
#[derive(Debug, Clone)]
pub struct VisitRecord {
    pub id: String,
    pub browser_id: String,
    pub visitor_id: Option<String>,
    pub is_returning: bool,
    pub started_at: i64,
    pub last_seen_at: i64,
    /// JSON of `VisitState`.
    pub state: String,
    /// The shop marked the linked visitor a VIP.
    pub vip: bool,
}

/// A visit the sweeper ends: its state opened, None when it no longer opens.
#[derive(Debug, Clone)]
pub struct EndingVisit {
    pub id: String,
    pub is_returning: bool,
    pub started_at: i64,
    pub last_seen_at: i64,
    pub state: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_told_from_utm_click_ids_and_referrers() {
        let cases = [
            (
                "https://shop.example/p?utm_source=baidu&utm_medium=cpc&utm_campaign=double11",
                None,
                Source::Ads,
            ),
            ("https://shop.example/p?gclid=abc", None, Source::Ads),
            (
                "https://shop.example/p?utm_medium=recommend",
                None,
                Source::Recommendation,
            ),
            (
                "https://shop.example/p",
                Some("https://www.baidu.com/s?wd=T恤"),
                Source::Search,
            ),
            (
                "https://shop.example/p",
                Some("https://blog.example/post"),
                Source::Referral,
            ),
            (
                "https://shop.example/p",
                Some("https://shop.example/"),
                Source::Direct,
            ),
            ("https://shop.example/p", None, Source::Direct),
        ];
        for (entry, referrer, want) in cases {
            assert_eq!(classify(entry, referrer).0, want, "{entry} {referrer:?}");
        }
        let (_, utm) = classify(
            "https://shop.example/p?utm_source=baidu&utm_medium=cpc&utm_campaign=double11",
            None,
        );
        assert_eq!(utm.campaign.as_deref(), Some("double11"));
        assert_eq!(utm.source.as_deref(), Some("baidu"));
    }

    fn beat(url: &str) -> Heartbeat {
        Heartbeat::parse(url, Some("T恤".into()), None, None).unwrap()
    }

    #[test]
    fn a_new_url_is_a_new_page_and_resets_the_dwell_time() {
        let mut state = VisitState::begin(&beat("https://shop.example/a"), 1_000);
        assert!(!state.apply(&beat("https://shop.example/a"), 5_000));
        assert_eq!(state.dwell_ms(9_000), 8_000);
        assert!(state.apply(&beat("https://shop.example/b"), 10_000));
        assert_eq!(state.pages.len(), 2);
        assert_eq!(state.dwell_ms(12_000), 2_000);
    }

    #[test]
    fn filters_combine() {
        let state = VisitState::begin(&beat("https://shop.example/item?sku=TS-001"), 0);
        let facts = VisitFacts {
            state: &state,
            returning: true,
            vip: false,
            now: 0,
        };
        let mut filter = VisitFilter {
            source: Some(Source::Direct),
            returning: Some(true),
            page_contains: Some("TS-001".into()),
            ..Default::default()
        };
        assert!(filter.admits(facts));
        filter.min_cart_cents = Some(1);
        assert!(!filter.admits(facts));
    }

    #[test]
    fn a_visitor_is_a_vip_when_marked_or_by_member_level() {
        let mut state = VisitState::begin(&beat("https://shop.example/"), 0);
        let vip = |state: &VisitState, marked| VisitFacts::of(state, false, marked, 0).vip;
        assert!(!vip(&state, false), "an anonymous visitor");
        assert!(vip(&state, true), "marked by the shop");
        state.member_level = Some("regular".into());
        assert!(!vip(&state, false));
        state.member_level = Some("Gold".into());
        assert!(vip(&state, false), "a VIP member level");
        let only_vips = VisitFilter {
            vip: Some(true),
            ..Default::default()
        };
        assert!(only_vips.admits(VisitFacts::of(&state, false, false, 0)));
    }

    #[test]
    fn browser_ids_are_short_and_plain() {
        assert!(BrowserId::parse("b_0123456789abcdef").is_ok());
        assert!(BrowserId::parse("short").is_err());
        assert!(BrowserId::parse("has space in it!").is_err());
    }
}
