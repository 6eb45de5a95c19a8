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
}

impl VisitTally {
    /// Folds a visit event in; `day` is the shop-local day the visit started.
    /// Other events change nothing.
    pub fn apply(&mut self, data: &EventData, day: &str) {
        match data {
            EventData::VisitStarted {
                source, returning, ..
            } => {
                self.day = day.to_owned();
                self.source = Some(*source);
                self.returning = *returning;
            }
            EventData::VisitEnded {
                source,
                returning,
                pages,
                dwell_ms,
                ..
            } => {
                // A visit from before visits were counted has no start event.
                self.day = day.to_owned();
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

/// Whether a rollup counter is one of the funnel's (`name:source`).
pub fn is_funnel_counter(counter: &str) -> bool {
    counter
        .split_once(':')
        .is_some_and(|(name, source)| COUNTERS.contains(&name) && Source::parse(source).is_some())
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
        }
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
        assert!(!is_funnel_counter("conversations"));
        assert!(!is_funnel_counter("handoff_reason:low_confidence"));
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
