//! The visitor funnel (访客漏斗): visit → chat → order, by how the visitor came.
//! Pure rules: what a visit adds to the daily rollups, and how a report reads
//! the funnel back from them. The conversation side (chats opened from a
//! visit, and their orders) is in `domain::analytics::contribution`, which
//! adds the `src_*` counters below from the conversation's facts.
//!
//! Every number, for the shop-local days of a range and one source S (or all):
//! - **visits**: visits of the shop's pages that started on those days and came
//!   from S (`visit.started`; a visit is one tab's pages without a half-hour
//!   silence, `domain::presence`);
//! - **returning**: of those, visits from a browser seen before;
//! - **pages per visit** and **seconds per page**: over those of the visits
//!   that are over (`visit.ended`, half an hour after the last heartbeat):
//!   pages opened / visits over, and (last heartbeat − first page) / pages;
//! - **chats**: conversations started on those days from a visit of S (the
//!   widget names the visit; a visit's first chat only, so chats ≤ visits when
//!   every visit is counted);
//! - **pages before the chat**: the visit's pages opened up to the chat,
//!   averaged over those chats;
//! - **orders**: of those chats, the ones whose buyer asked something and paid an
//!   order within 24 h of the question (the conversion metric's `converted_24h`);
//! - **chat rate** = chats / visits, **order rate** = orders / chats, **visit to
//!   order** = orders / visits; empty when the denominator is 0.
//!
//! The same visits, chats and orders are also counted per campaign: the entry
//! URL's `utm_campaign` ([`campaign_of`]), whatever the source; a line per
//! campaign, the most visited first ([`campaigns`]).

use super::analytics::{Contribution, RollupKey};
use super::events::EventData;
use super::presence::Source;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The rollup channel visits count under (the widget runs on web pages).
pub const VISIT_CHANNEL: &str = "web";

/// What analytics keeps of one visit, folded from its events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VisitTally {
    /// The shop-local day it started.
    pub day: String,
    pub source: Option<Source>,
    pub returning: bool,
    pub ended: bool,
    pub pages: i64,
    pub dwell_ms: i64,
    /// The entry URL's campaign, when it named one.
    pub campaign: Option<String>,
}

/// The most campaign lines a funnel shows (the most visited).
pub const MAX_CAMPAIGNS: usize = 20;

/// A campaign as counted: the entry URL's `utm_campaign` trimmed, without
/// control characters (it is at most 64 characters already); None when that
/// leaves nothing.
pub fn campaign_of(utm_campaign: Option<&str>) -> Option<String> {
    let kept: String = utm_campaign?.chars().filter(|c| !c.is_control()).collect();
    let kept = kept.trim();
    (!kept.is_empty()).then(|| kept.to_owned())
}

/// The campaign counters' names: `name:campaign` (the campaign may hold ':').
const CAMPAIGN_COUNTERS: [&str; 3] = ["campaign_visits", "campaign_chats", "campaign_orders"];

impl VisitTally {
    /// Folds a visit event in; `day` is the shop-local day the visit started.
    /// Other events change nothing.
    pub fn apply(&mut self, data: &EventData, day: &str) {
        match data {
            EventData::VisitStarted {
                source,
                returning,
                campaign,
                ..
            } => {
                self.day = day.to_owned();
                self.source = Some(*source);
                self.returning = *returning;
                self.campaign = campaign.clone();
            }
            EventData::VisitEnded {
                source,
                returning,
                pages,
                dwell_ms,
                campaign,
                ..
            } => {
                // A visit from before visits were counted has no start event.
                self.day = day.to_owned();
                if self.campaign.is_none() {
                    self.campaign = campaign.clone();
                }
                self.source = Some(*source);
                self.returning = *returning;
                self.ended = true;
                self.pages = (*pages).max(0);
                self.dwell_ms = (*dwell_ms).max(0);
            }
            _ => {}
        }
    }

    /// The counters the visit adds to its day's rollup row (no agent).
    pub fn contribution(&self) -> (RollupKey, Contribution) {
        let key = RollupKey {
            day: self.day.clone(),
            channel: VISIT_CHANNEL.to_owned(),
            agent_id: String::new(),
            source: super::analytics::source_key(self.source),
        };
        let mut c = Contribution::new();
        let Some(source) = self.source else {
            return (key, c);
        };
        let s = source.as_str();
        let mut add = |name: &str, v: i64| {
            if v != 0 {
                *c.entry(format!("{name}:{s}")).or_default() += v;
            }
        };
        add("visits", 1);
        add("visits_returning", i64::from(self.returning));
        if self.ended {
            add("visits_ended", 1);
            add("visit_pages", self.pages);
            add("visit_dwell_ms", self.dwell_ms);
        }
        if let Some(campaign) = &self.campaign {
            c.insert(format!("campaign_visits:{campaign}"), 1);
        }
        (key, c)
    }
}

/// The conversation-side funnel counters of a chat opened from a visit of
/// `source` (added by `domain::analytics::contribution`).
pub fn chat_counters(
    source: Source,
    pages_before: i64,
    inquired: bool,
    ordered: bool,
) -> Vec<(String, i64)> {
    let s = source.as_str();
    vec![
        (format!("src_chats:{s}"), 1),
        (format!("src_pages_before:{s}"), pages_before.max(0)),
        (format!("src_orders:{s}"), i64::from(inquired && ordered)),
    ]
}

/// The counters of the funnel (a report reads only these).
const COUNTERS: [&str; 8] = [
    "visits",
    "visits_returning",
    "visits_ended",
    "visit_pages",
    "visit_dwell_ms",
    "src_chats",
    "src_pages_before",
    "src_orders",
];

/// The campaign-side funnel counters of a chat opened from a visit of
/// `campaign` (added by `domain::analytics::contribution`).
pub fn campaign_chat_counters(campaign: &str, inquired: bool, ordered: bool) -> Vec<(String, i64)> {
    vec![
        (format!("campaign_chats:{campaign}"), 1),
        (
            format!("campaign_orders:{campaign}"),
            i64::from(inquired && ordered),
        ),
    ]
}

/// Whether a rollup counter is one of the funnel's (`name:source`, or
/// `name:campaign` for the campaign lines).
pub fn is_funnel_counter(counter: &str) -> bool {
    counter.split_once(':').is_some_and(|(name, rest)| {
        (COUNTERS.contains(&name) && Source::parse(rest).is_some())
            || (CAMPAIGN_COUNTERS.contains(&name) && !rest.is_empty())
    })
}

/// A campaign's line of the funnel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CampaignRow {
    pub campaign: String,
    pub visits: i64,
    pub chats: i64,
    pub orders: i64,
    pub chat_rate: Option<f64>,
    pub order_rate: Option<f64>,
    pub visit_to_order: Option<f64>,
}

/// The campaign lines of the counters summed over a range: the
/// [`MAX_CAMPAIGNS`] with the most visits (then the most chats, then by
/// name), each with its rates.
pub fn campaigns(sums: &BTreeMap<String, i64>) -> Vec<CampaignRow> {
    let mut by: BTreeMap<&str, [i64; 3]> = BTreeMap::new();
    for (counter, value) in sums {
        let Some((name, campaign)) = counter.split_once(':') else {
            continue;
        };
        if let Some(i) = CAMPAIGN_COUNTERS.iter().position(|c| *c == name) {
            by.entry(campaign).or_default()[i] += value;
        }
    }
    let mut rows: Vec<CampaignRow> = by
        .into_iter()
        .filter(|(_, [visits, chats, _])| *visits > 0 || *chats > 0)
        .map(|(campaign, [visits, chats, orders])| {
            let ratio = |a: i64, b: i64| (b > 0).then(|| a as f64 / b as f64);
            CampaignRow {
                campaign: campaign.to_owned(),
                visits,
                chats,
                orders,
                chat_rate: ratio(chats, visits),
                order_rate: ratio(orders, chats),
                visit_to_order: ratio(orders, visits),
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        (b.visits, b.chats)
            .cmp(&(a.visits, a.chats))
            .then_with(|| a.campaign.cmp(&b.campaign))
    });
    rows.truncate(MAX_CAMPAIGNS);
    rows
}

/// Whether a rollup counter is one of a visit's own (not of a chat).
pub fn is_visit_counter(counter: &str) -> bool {
    is_funnel_counter(counter)
        && (counter.starts_with("visit") || counter.starts_with("campaign_visits:"))
}

/// One line of the funnel: a source, or every source together (`source` None).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelRow {
    pub source: Option<Source>,
    pub visits: i64,
    pub returning: i64,
    pub pages_per_visit: Option<f64>,
    pub seconds_per_page: Option<f64>,
    pub chats: i64,
    pub pages_before_chat: Option<f64>,
    pub orders: i64,
    pub chat_rate: Option<f64>,
    pub order_rate: Option<f64>,
    pub visit_to_order: Option<f64>,
}

/// The funnel of the counters summed over a range (counter name → sum): a line
/// per source that has any visit or chat, in `Source::ALL` order, then the
/// total line.
pub fn funnel(sums: &BTreeMap<String, i64>) -> Vec<FunnelRow> {
    let get = |name: &str, s: Source| sums.get(&format!("{name}:{}", s.as_str())).copied();
    let mut rows: Vec<FunnelRow> = Vec::new();
    let mut total = [0i64; 8];
    for source in Source::ALL {
        let n = COUNTERS.map(|name| get(name, source).unwrap_or(0));
        if n[0] == 0 && n[5] == 0 {
            continue;
        }
        for (t, v) in total.iter_mut().zip(n) {
            *t += v;
        }
        rows.push(row(Some(source), n));
    }
    rows.push(row(None, total));
    rows
}

/// One day of the funnel, every source together.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelDay {
    pub day: String,
    pub visits: i64,
    pub chats: i64,
    pub orders: i64,
}

/// The funnel day by day: `days` in order, each with the sums of its own
/// counters (day → counter name → sum); a day without any is all zeros.
pub fn by_day(
    days: impl IntoIterator<Item = String>,
    sums: &BTreeMap<String, BTreeMap<String, i64>>,
) -> Vec<FunnelDay> {
    let empty = BTreeMap::new();
    days.into_iter()
        .map(|day| {
            let total = funnel(sums.get(&day).unwrap_or(&empty))
                .pop()
                .unwrap_or_else(|| row(None, [0; 8]));
            FunnelDay {
                day,
                visits: total.visits,
                chats: total.chats,
                orders: total.orders,
            }
        })
        .collect()
}

fn row(source: Option<Source>, n: [i64; 8]) -> FunnelRow {
    let [
        visits,
        returning,
        ended,
        pages,
        dwell_ms,
        chats,
        pages_before,
        orders,
    ] = n;
    let ratio = |a: i64, b: i64| (b > 0).then(|| a as f64 / b as f64);
    FunnelRow {
        source,
        visits,
        returning,
        pages_per_visit: ratio(pages, ended),
        seconds_per_page: ratio(dwell_ms, pages).map(|ms| ms / 1000.0),
        chats,
        pages_before_chat: ratio(pages_before, chats),
        orders,
        chat_rate: ratio(chats, visits),
        order_rate: ratio(orders, chats),
        visit_to_order: ratio(orders, visits),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started(source: Source, returning: bool) -> EventData {
        EventData::VisitStarted {
            visit_id: "v".into(),
            source,
            returning,
            campaign: None,
        }
    }

    fn ended(source: Source, pages: i64, dwell_ms: i64) -> EventData {
        EventData::VisitEnded {
            visit_id: "v".into(),
            source,
            returning: false,
            started_at: 0,
            pages,
            dwell_ms,
            campaign: None,
        }
    }

    #[test]
    fn campaigns_are_counted_by_their_utm_name_and_the_most_visited_are_listed() {
        assert_eq!(
            campaign_of(Some("  双12预热\n ")),
            Some("双12预热".to_owned())
        );
        assert_eq!(campaign_of(Some(" \t ")), None);
        assert_eq!(campaign_of(None), None);
        // A visit of a campaign, then a chat from it that ordered.
        let mut v = VisitTally::default();
        v.apply(
            &EventData::VisitStarted {
                visit_id: "v".into(),
                source: Source::Ads,
                returning: false,
                campaign: Some("双12".into()),
            },
            "2026-12-01",
        );
        let (_, c) = v.contribution();
        assert_eq!(c.get("campaign_visits:双12"), Some(&1));
        assert_eq!(
            campaign_chat_counters("双12", true, true),
            [
                ("campaign_chats:双12".to_owned(), 1),
                ("campaign_orders:双12".to_owned(), 1)
            ]
        );
        // 25 campaigns: the 20 most visited, ties by chats then name.
        let mut sums: BTreeMap<String, i64> = BTreeMap::new();
        for i in 0..25 {
            sums.insert(format!("campaign_visits:c{i:02}"), 100 - i);
        }
        sums.insert("campaign_visits:tie-b".into(), 90);
        sums.insert("campaign_visits:tie-a".into(), 90);
        sums.insert("campaign_chats:tie-b".into(), 2);
        sums.insert("campaign_chats:c00".into(), 10);
        sums.insert("campaign_orders:c00".into(), 4);
        sums.insert("visits:ads".into(), 1000);
        let rows = campaigns(&sums);
        assert_eq!(rows.len(), MAX_CAMPAIGNS);
        let names: Vec<&str> = rows.iter().map(|r| r.campaign.as_str()).take(12).collect();
        assert_eq!(
            names,
            [
                "c00", "c01", "c02", "c03", "c04", "c05", "c06", "c07", "c08", "c09", "tie-b",
                "c10"
            ]
        );
        assert_eq!(
            rows[12].campaign, "tie-a",
            "90 visits each: most chats, then by name"
        );
        let c00 = &rows[0];
        assert_eq!((c00.visits, c00.chats, c00.orders), (100, 10, 4));
        assert_eq!(
            (c00.chat_rate, c00.order_rate, c00.visit_to_order),
            (Some(0.1), Some(0.4), Some(0.04))
        );
    }

    #[test]
    fn a_visit_counts_when_it_starts_and_its_pages_when_it_ends() {
        let mut v = VisitTally::default();
        v.apply(&started(Source::Search, true), "2026-12-01");
        let (key, c) = v.contribution();
        assert_eq!(
            (
                key.day.as_str(),
                key.channel.as_str(),
                key.agent_id.as_str()
            ),
            ("2026-12-01", "web", "")
        );
        assert_eq!(
            c,
            Contribution::from([
                ("visits:search".into(), 1),
                ("visits_returning:search".into(), 1)
            ])
        );
        v.apply(&ended(Source::Search, 4, 120_000), "2026-12-01");
        let (_, c) = v.contribution();
        assert_eq!(c["visits_ended:search"], 1);
        assert_eq!(c["visit_pages:search"], 4);
        assert_eq!(c["visit_dwell_ms:search"], 120_000);
        assert_eq!(
            c.get("visits_returning:search"),
            None,
            "the end event says it was new"
        );
        // Another event changes nothing.
        let before = v.clone();
        v.apply(&EventData::Closed, "2026-12-02");
        assert_eq!(v, before);
    }

    /// A hand-computed fixture: search 10 visits (8 over: 24 pages in 480 s),
    /// 3 chats after 6 pages in all, 1 order; direct 5 visits (none over), 1
    /// chat after 1 page, no order; ads no visits counted yet but 1 chat with
    /// an order (its visit started the day before the range).
    #[test]
    fn the_funnel_reads_its_rates_from_the_summed_counters() {
        let sums: BTreeMap<String, i64> = [
            ("visits:search", 10),
            ("visits_returning:search", 4),
            ("visits_ended:search", 8),
            ("visit_pages:search", 24),
            ("visit_dwell_ms:search", 480_000),
            ("src_chats:search", 3),
            ("src_pages_before:search", 6),
            ("src_orders:search", 1),
            ("visits:direct", 5),
            ("src_chats:direct", 1),
            ("src_pages_before:direct", 1),
            ("src_chats:ads", 1),
            ("src_orders:ads", 1),
            ("conversations", 99),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let rows = funnel(&sums);
        let sources: Vec<_> = rows.iter().map(|r| r.source).collect();
        assert_eq!(
            sources,
            [
                Some(Source::Search),
                Some(Source::Ads),
                Some(Source::Direct),
                None
            ]
        );
        let search = &rows[0];
        assert_eq!(
            (search.visits, search.returning, search.chats, search.orders),
            (10, 4, 3, 1)
        );
        assert_eq!(search.pages_per_visit, Some(3.0));
        assert_eq!(search.seconds_per_page, Some(20.0));
        assert_eq!(search.pages_before_chat, Some(2.0));
        assert_eq!(search.chat_rate, Some(0.3));
        assert_eq!(search.order_rate, Some(1.0 / 3.0));
        assert_eq!(search.visit_to_order, Some(0.1));
        let ads = &rows[1];
        assert_eq!((ads.visits, ads.chats, ads.orders), (0, 1, 1));
        assert_eq!((ads.chat_rate, ads.visit_to_order), (None, None));
        let direct = &rows[2];
        assert_eq!(
            (direct.pages_per_visit, direct.seconds_per_page),
            (None, None)
        );
        assert_eq!(direct.chat_rate, Some(0.2));
        assert_eq!(direct.order_rate, Some(0.0));
        let total = &rows[3];
        assert_eq!((total.visits, total.chats, total.orders), (15, 5, 2));
        assert_eq!(total.chat_rate, Some(5.0 / 15.0));
        assert_eq!(total.order_rate, Some(0.4));
        assert_eq!(total.pages_before_chat, Some(7.0 / 5.0));
        assert_eq!(total.pages_per_visit, Some(3.0));
    }

    #[test]
    fn only_the_funnel_counters_of_a_known_source_are_read() {
        assert!(is_funnel_counter("visits:search"));
        assert!(is_funnel_counter("src_orders:direct"));
        assert!(!is_funnel_counter("visits:moon"));
        assert!(is_visit_counter("visit_dwell_ms:ads") && is_visit_counter("visits:direct"));
        assert!(!is_visit_counter("src_chats:ads") && !is_visit_counter("visits"));
        assert!(
            is_visit_counter("campaign_visits:双12") && !is_visit_counter("campaign_chats:双12")
        );
        assert!(is_funnel_counter("campaign_orders:a:b") && !is_funnel_counter("campaign_orders:"));
        assert!(!is_funnel_counter("conversations"));
        assert!(!is_funnel_counter("handoff_reason:low_confidence"));
    }

    #[test]
    fn the_funnel_by_day_adds_every_source_of_each_day_and_fills_empty_days() {
        let day = |pairs: &[(&str, i64)]| -> BTreeMap<String, i64> {
            pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
        };
        let sums = BTreeMap::from([
            (
                "2026-12-01".to_owned(),
                day(&[
                    ("visits:search", 3),
                    ("visits:ads", 2),
                    ("src_chats:search", 1),
                    ("src_chats:ads", 1),
                    ("src_orders:ads", 1),
                    ("conversations", 9),
                ]),
            ),
            ("2026-12-03".to_owned(), day(&[("visits:direct", 1)])),
        ]);
        let days = ["2026-12-01", "2026-12-02", "2026-12-03"].map(String::from);
        let got: Vec<(String, i64, i64, i64)> = by_day(days, &sums)
            .into_iter()
            .map(|d| (d.day, d.visits, d.chats, d.orders))
            .collect();
        assert_eq!(
            got,
            [
                ("2026-12-01".to_owned(), 5, 2, 1),
                ("2026-12-02".to_owned(), 0, 0, 0),
                ("2026-12-03".to_owned(), 1, 0, 0),
            ]
        );
    }

    #[test]
    fn an_empty_range_has_only_an_empty_total() {
        let rows = funnel(&BTreeMap::new());
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].visits, rows[0].chat_rate), (0, None));
    }

    #[test]
    fn a_chat_from_a_visit_counts_its_order_only_when_the_buyer_asked() {
        let c = chat_counters(Source::Ads, 3, false, true);
        assert_eq!(
            c,
            vec![
                ("src_chats:ads".to_owned(), 1),
                ("src_pages_before:ads".to_owned(), 3),
                ("src_orders:ads".to_owned(), 0)
            ]
        );
        assert_eq!(chat_counters(Source::Ads, 3, true, true)[2].1, 1);
    }
}
