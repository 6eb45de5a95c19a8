//! Agent online time, concurrency and load (issue 17), defined here once
//! (docs/metrics.md says the same in words).
//!
//! Two step functions per agent, both folded from the event stream: their
//! presence (online, busy, away, offline) and how many chats they hold (a chat
//! counts from the moment it is assigned or transferred to them until it is
//! resolved, closed, handed back or transferred away). A report lays them over
//! the shop-local days it covers:
//!
//! - online time: time online or busy (at work, taking chats or not);
//! - away time: time away (on a break);
//! - held-while-online: chats held × time, over the online time (two chats for
//!   an hour is two hours);
//! - average concurrency: held-while-online / online time;
//! - peak concurrency: the most chats held at once at any moment of the day;
//! - load: held-while-online / (online time × the agent's chat limit).

use super::analytics::DAY_MS;
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// The rollup counters agent time adds (reports compute them from the two
/// step functions rather than from conversation facts).
pub const COUNTERS: &[&str] = &[
    "online_ms",
    "away_ms",
    "held_online_ms",
    "capacity_online_ms",
    "peak_chats",
];

/// Counters that combine by maximum, not by sum (a peak over several days or
/// agents is the highest one).
pub fn is_peak(counter: &str) -> bool {
    counter.starts_with("peak_")
}

/// A change in how many chats an agent holds, made by the event at `position`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadChange {
    pub position: i64,
    pub agent_id: String,
    /// +1: a chat became theirs; -1: it stopped being theirs.
    pub delta: i64,
    pub at: i64,
    /// The shop-local day of `at`.
    pub day: String,
}

/// What a report needs to lay agent time over `[from, to)`: the two step
/// functions as kept, from which each agent's [`Timeline`] is built.
#[derive(Debug, Clone, Default)]
pub struct AgentTimeRows {
    /// Each agent's last presence before `from`: (agent, status).
    pub statuses_before: Vec<(String, String)>,
    /// Presence changes in the range: (agent, at, status).
    pub statuses: Vec<(String, i64, String)>,
    /// Each agent's chats held when the range begins: (agent, chats).
    pub chats_before: Vec<(String, i64)>,
    /// Changes in chats held in the range: (agent, at, delta).
    pub loads: Vec<(String, i64, i64)>,
}

/// One agent's time on one shop-local day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentDay {
    pub online_ms: i64,
    pub away_ms: i64,
    pub held_online_ms: i64,
    pub peak_chats: i64,
}

impl AgentDay {
    /// The counters of this day, with the agent's chat limit for the load.
    pub fn counters(&self, max_chats: i64) -> [(&'static str, i64); 5] {
        [
            ("online_ms", self.online_ms),
            ("away_ms", self.away_ms),
            ("held_online_ms", self.held_online_ms),
            ("capacity_online_ms", self.online_ms * max_chats.max(0)),
            ("peak_chats", self.peak_chats),
        ]
    }
}

/// One agent's two step functions over `[from, to)`: where they stood at
/// `from`, then every change inside the range (any order; changes at the same
/// instant all apply before the next stretch of time is measured).
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// The presence at `from` ("offline" when never set).
    pub status_at_start: String,
    pub chats_at_start: i64,
    /// (at, status)
    pub statuses: Vec<(i64, String)>,
    /// (at, +1 or -1)
    pub loads: Vec<(i64, i64)>,
}

fn is_online(status: &str) -> bool {
    matches!(status, "online" | "busy")
}

/// The start of the shop-local day `day` (UTC ms).
pub fn day_start_ms(day: NaiveDate, utc_offset_minutes: i32) -> i64 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    (day - epoch).num_days() * DAY_MS - i64::from(utc_offset_minutes) * 60_000
}

/// The agent's time per shop-local day within `[from, to)` (days with nothing
/// to count are left out). A chat count below zero (a chat assigned before
/// the events that would have counted it) counts as zero.
pub fn agent_days(
    timeline: &Timeline,
    from: i64,
    to: i64,
    utc_offset_minutes: i32,
) -> BTreeMap<String, AgentDay> {
    let offset = i64::from(utc_offset_minutes) * 60_000;
    let day_of = |at: i64| super::analytics::local_day(at, utc_offset_minutes);
    let mut statuses: Vec<&(i64, String)> = timeline
        .statuses
        .iter()
        .filter(|(at, _)| (from..to).contains(at))
        .collect();
    statuses.sort_by_key(|(at, _)| *at);
    let mut loads: Vec<&(i64, i64)> = timeline
        .loads
        .iter()
        .filter(|(at, _)| (from..to).contains(at))
        .collect();
    loads.sort_by_key(|(at, _)| *at);

    let mut days: BTreeMap<String, AgentDay> = BTreeMap::new();
    let mut status = timeline.status_at_start.as_str();
    let mut chats = timeline.chats_at_start;
    let (mut s, mut l) = (0, 0);
    let mut now = from;
    let peak = |days: &mut BTreeMap<String, AgentDay>, at: i64, chats: i64| {
        if chats > 0 {
            let day = days.entry(day_of(at)).or_default();
            day.peak_chats = day.peak_chats.max(chats);
        }
    };
    peak(&mut days, now, chats);
    while now < to {
        let midnight = ((now + offset).div_euclid(DAY_MS) + 1) * DAY_MS - offset;
        let next = [
            statuses.get(s).map(|c| c.0),
            loads.get(l).map(|c| c.0),
            Some(midnight),
            Some(to),
        ]
        .into_iter()
        .flatten()
        .min()
        .expect("to is always there");
        let span = next - now;
        if span > 0 {
            let entry = days.entry(day_of(now)).or_default();
            let held = chats.max(0);
            if is_online(status) {
                entry.online_ms += span;
                entry.held_online_ms += held * span;
            } else if status == "away" {
                entry.away_ms += span;
            }
        }
        now = next;
        while let Some((at, to_status)) = statuses.get(s).copied()
            && *at == now
        {
            status = to_status.as_str();
            s += 1;
        }
        while let Some((at, delta)) = loads.get(l).copied()
            && *at == now
        {
            chats += *delta;
            l += 1;
        }
        if now < to {
            peak(&mut days, now, chats);
        }
    }
    days.retain(|_, d| *d != AgentDay::default());
    days
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const H: i64 = 60 * MIN;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// 2026-11-30 00:00 in UTC+8.
    fn midnight() -> i64 {
        day_start_ms(day("2026-11-30"), 480)
    }

    #[test]
    fn a_day_starts_at_local_midnight() {
        // 2026-11-29 16:00 UTC; the API tests' 09:00 (1_796_000_400_000) is 9 h later.
        assert_eq!(midnight(), 1_795_968_000_000);
        assert_eq!(midnight() + 9 * H, 1_796_000_400_000);
        assert_eq!(
            super::super::analytics::local_day(midnight(), 480),
            "2026-11-30"
        );
        assert_eq!(
            super::super::analytics::local_day(midnight() - 1, 480),
            "2026-11-29"
        );
        assert_eq!(day_start_ms(day("1970-01-02"), 0), DAY_MS);
    }

    /// Worked by hand. From 08:00 on the 30th (UTC+8), the agent was busy
    /// since the night before and already held one chat:
    ///
    /// - 08:00–09:00 busy, 1 chat: online 60 min, held 60.
    /// - 09:00 a second chat (2 at once, the peak); 09:00–09:30: online 30,
    ///   held 60.
    /// - 09:30 away, one chat ends: 09:30–10:00 away 30 min (the chat held
    ///   while away is not held-while-online).
    /// - 10:00 online; the other chat ends and a new one starts at the same
    ///   instant (still 1); 10:00–11:00 online 60, held 60.
    /// - 11:00 offline, the chat still held; 23:00 online again with it:
    ///   23:00–24:00 online 60, held 60; on the 1st, 00:00–00:30 online 30,
    ///   held 30 (the range ends at 00:30, "now").
    ///
    /// The 30th: online 210 min, away 30, held 240, peak 2. The 1st: online
    /// 30, held 30, peak 1.
    #[test]
    fn online_time_and_chats_held_follow_the_hand_computed_day() {
        let t0 = midnight();
        let at = |h: i64, m: i64| t0 + h * H + m * MIN;
        let timeline = Timeline {
            status_at_start: "busy".into(),
            chats_at_start: 1,
            statuses: vec![
                (at(23, 0), "online".into()),
                (at(9, 30), "away".into()),
                (at(10, 0), "online".into()),
                (at(11, 0), "offline".into()),
            ],
            loads: vec![
                (at(9, 0), 1),
                (at(9, 30), -1),
                (at(10, 0), -1),
                (at(10, 0), 1),
            ],
        };
        let days = agent_days(&timeline, at(8, 0), at(24, 30), 480);
        assert_eq!(
            days,
            BTreeMap::from([
                (
                    "2026-11-30".to_owned(),
                    AgentDay {
                        online_ms: 210 * MIN,
                        away_ms: 30 * MIN,
                        held_online_ms: 240 * MIN,
                        peak_chats: 2,
                    }
                ),
                (
                    "2026-12-01".to_owned(),
                    AgentDay {
                        online_ms: 30 * MIN,
                        away_ms: 0,
                        held_online_ms: 30 * MIN,
                        peak_chats: 1,
                    }
                ),
            ])
        );
        let counters = days["2026-11-30"].counters(3);
        assert_eq!(counters[3], ("capacity_online_ms", 630 * MIN));
    }

    #[test]
    fn nothing_to_count_gives_no_days_and_changes_outside_the_range_are_ignored() {
        let t0 = midnight();
        let timeline = Timeline {
            status_at_start: "offline".into(),
            chats_at_start: 0,
            statuses: vec![(t0 - H, "online".into()), (t0 + 30 * H, "online".into())],
            loads: vec![(t0 + 30 * H, 1)],
        };
        assert!(agent_days(&timeline, t0, t0 + DAY_MS, 480).is_empty());
        // A count below zero holds nothing.
        let negative = Timeline {
            status_at_start: "online".into(),
            chats_at_start: -1,
            ..Default::default()
        };
        let days = agent_days(&negative, t0, t0 + H, 480);
        assert_eq!(days["2026-11-30"].held_online_ms, 0);
        assert_eq!(days["2026-11-30"].online_ms, H);
        assert_eq!(days["2026-11-30"].peak_chats, 0);
    }
}
