//! SLA on business calendars: targets count working time only (the shop's
//! working hours in its own time zone, minus weekends and holidays, plus
//! make-up working days), the clock pauses while a ticket waits on someone
//! else, and only a person's reply satisfies the first-response target.
//! Pure: every function takes the time it works on, so tests control it.

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

const DAY_MS: i64 = 86_400_000;
const MINUTE_MS: i64 = 60_000;
/// A due time further than this is treated as never (a calendar without any
/// working day).
const HORIZON_DAYS: i64 = 3_700;
/// The warning comes when this share of a target is used (per mille).
const WARN_AT_PER_MILLE: i64 = 800;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessCalendar {
    /// The shop's offset from UTC (China: +480).
    pub utc_offset_minutes: i32,
    /// Working hours, minutes after local midnight.
    pub open_minute: u32,
    pub close_minute: u32,
    /// Days off that would otherwise be working days (public holidays).
    pub holidays: BTreeSet<NaiveDate>,
    /// Weekend days that are working days (调休 make-up days).
    pub makeup_days: BTreeSet<NaiveDate>,
}

impl BusinessCalendar {
    fn offset_ms(&self) -> i64 {
        i64::from(self.utc_offset_minutes) * MINUTE_MS
    }

    /// The local day `ms` falls on, as days since 1970-01-01.
    fn local_day(&self, ms: i64) -> i64 {
        (ms + self.offset_ms()).div_euclid(DAY_MS)
    }

    fn date(day: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch") + chrono::Duration::days(day)
    }

    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        if self.makeup_days.contains(&date) {
            return true;
        }
        if self.holidays.contains(&date) {
            return false;
        }
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
    }

    /// The working window of local day `day` in UTC milliseconds.
    fn window(&self, day: i64) -> Option<(i64, i64)> {
        if !self.is_working_day(Self::date(day)) {
            return None;
        }
        let midnight = day * DAY_MS - self.offset_ms();
        let (open, close) = if self.close_minute > self.open_minute {
            (self.open_minute, self.close_minute)
        } else {
            (0, 24 * 60)
        };
        Some((
            midnight + i64::from(open) * MINUTE_MS,
            midnight + i64::from(close) * MINUTE_MS,
        ))
    }

    /// The moment `business_ms` of working time after `start` have passed.
    pub fn add_business_ms(&self, start: i64, business_ms: i64) -> i64 {
        let mut remaining = business_ms.max(0);
        let first = self.local_day(start);
        for day in first..first + HORIZON_DAYS {
            let Some((open, close)) = self.window(day) else {
                continue;
            };
            let from = open.max(start);
            if from >= close {
                continue;
            }
            if remaining <= close - from {
                return from + remaining;
            }
            remaining -= close - from;
        }
        i64::MAX
    }

    /// Working time between `from` and `to` (0 when `to` is not later).
    pub fn business_ms_between(&self, from: i64, to: i64) -> i64 {
        if to <= from {
            return 0;
        }
        (self.local_day(from)..=self.local_day(to))
            .filter_map(|day| self.window(day))
            .map(|(open, close)| (close.min(to) - open.max(from)).max(0))
            .sum()
    }
}

/// A ticket's targets in working milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SlaTargets {
    pub first_response_ms: i64,
    pub resolution_ms: i64,
}

impl SlaTargets {
    pub fn from_minutes(first_response: i64, resolution: i64) -> SlaTargets {
        SlaTargets {
            first_response_ms: first_response * MINUTE_MS,
            resolution_ms: resolution * MINUTE_MS,
        }
    }
}

/// Who wrote a reply: only people satisfy an SLA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Responder {
    Human,
    Bot,
}

/// How far a ticket has been escalated, in order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Escalation {
    #[default]
    None,
    /// A target is close: the assignee is reminded.
    Warning,
    /// A target has passed: the department lead is told.
    Breached,
    /// Half a target more has passed: a supervisor is told.
    Supervisor,
}

impl Escalation {
    pub fn as_str(self) -> &'static str {
        match self {
            Escalation::None => "none",
            Escalation::Warning => "warning",
            Escalation::Breached => "breached",
            Escalation::Supervisor => "supervisor",
        }
    }

    pub fn parse(raw: &str) -> Option<Escalation> {
        [
            Escalation::None,
            Escalation::Warning,
            Escalation::Breached,
            Escalation::Supervisor,
        ]
        .into_iter()
        .find(|e| e.as_str() == raw)
    }

    fn of(used_ms: i64, target_ms: i64) -> Escalation {
        if target_ms <= 0 {
            return Escalation::None;
        }
        if used_ms >= target_ms + target_ms / 2 {
            Escalation::Supervisor
        } else if used_ms >= target_ms {
            Escalation::Breached
        } else if used_ms * 1000 >= target_ms * WARN_AT_PER_MILLE {
            Escalation::Warning
        } else {
            Escalation::None
        }
    }
}

/// The SLA state of one ticket, as stored with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TicketSla {
    pub targets: SlaTargets,
    /// Working time counted while the clock ran, up to `running_since`.
    pub elapsed_ms: i64,
    /// When the clock last started; None while paused or stopped.
    pub running_since: Option<i64>,
    /// The first reply by a person.
    pub first_responded_at: Option<i64>,
    /// The highest escalation already announced.
    pub escalation: Escalation,
}

/// What a sweep found: the ticket reached a new escalation level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Escalated {
    pub level: Escalation,
}

impl TicketSla {
    pub fn start(targets: SlaTargets, now: i64) -> TicketSla {
        TicketSla {
            targets,
            elapsed_ms: 0,
            running_since: Some(now),
            first_responded_at: None,
            escalation: Escalation::None,
        }
    }

    pub fn elapsed(&self, calendar: &BusinessCalendar, now: i64) -> i64 {
        self.elapsed_ms
            + self
                .running_since
                .map_or(0, |since| calendar.business_ms_between(since, now))
    }

    /// Stops the clock (pending, on hold, resolved); counted time is kept.
    pub fn pause(&mut self, calendar: &BusinessCalendar, now: i64) {
        self.elapsed_ms = self.elapsed(calendar, now);
        self.running_since = None;
    }

    pub fn resume(&mut self, now: i64) {
        if self.running_since.is_none() {
            self.running_since = Some(now);
        }
    }

    /// A reply on the ticket: a person's first one satisfies the first-response
    /// target, and the escalation falls back to what the resolution target
    /// alone warrants (the reply cancels the first-response escalation). A bot
    /// message changes nothing.
    pub fn on_reply(&mut self, calendar: &BusinessCalendar, who: Responder, now: i64) {
        if who == Responder::Bot || self.first_responded_at.is_some() {
            return;
        }
        self.first_responded_at = Some(now);
        self.escalation = self.level(calendar, now);
    }

    /// The escalation the ticket warrants at `now`.
    pub fn level(&self, calendar: &BusinessCalendar, now: i64) -> Escalation {
        let used = self.elapsed(calendar, now);
        let resolution = Escalation::of(used, self.targets.resolution_ms);
        if self.first_responded_at.is_some() {
            return resolution;
        }
        resolution.max(Escalation::of(used, self.targets.first_response_ms))
    }

    /// Called by the sweeper: a level higher than the one announced is new.
    pub fn sweep(&mut self, calendar: &BusinessCalendar, now: i64) -> Option<Escalated> {
        self.running_since?;
        let level = self.level(calendar, now);
        (level > self.escalation).then(|| {
            self.escalation = level;
            Escalated { level }
        })
    }

    /// When the first response is due (None once answered or while paused).
    pub fn first_response_due(&self, calendar: &BusinessCalendar) -> Option<i64> {
        if self.first_responded_at.is_some() {
            return None;
        }
        self.due(calendar, self.targets.first_response_ms)
    }

    /// When the resolution is due (None while paused).
    pub fn resolution_due(&self, calendar: &BusinessCalendar) -> Option<i64> {
        self.due(calendar, self.targets.resolution_ms)
    }

    fn due(&self, calendar: &BusinessCalendar, target_ms: i64) -> Option<i64> {
        let since = self.running_since?;
        Some(calendar.add_business_ms(since, target_ms - self.elapsed_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// Beijing time, 09:00-18:00, Mon-Fri; National Day 1-7 October 2026 off,
    /// Saturday 10 October a make-up working day.
    fn calendar() -> BusinessCalendar {
        BusinessCalendar {
            utc_offset_minutes: 480,
            open_minute: 9 * 60,
            close_minute: 18 * 60,
            holidays: (1..=7).map(|d| day(2026, 10, d)).collect(),
            makeup_days: [day(2026, 10, 10)].into_iter().collect(),
        }
    }

    /// Unix ms of a Beijing local time.
    fn at(y: i32, m: u32, d: u32, hour: u32, minute: u32) -> i64 {
        day(y, m, d)
            .and_hms_opt(hour, minute, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis()
            - 8 * HOUR
    }

    #[test]
    fn due_times_skip_the_weekend() {
        let cal = calendar();
        // Friday 27 November 17:00 + 2 working hours: Monday 30 November 10:00.
        let due = cal.add_business_ms(at(2026, 11, 27, 17, 0), 2 * HOUR);
        assert_eq!(due, at(2026, 11, 30, 10, 0));
        // Saturday 20:00 counts from Monday's opening.
        let due = cal.add_business_ms(at(2026, 11, 28, 20, 0), HOUR);
        assert_eq!(due, at(2026, 11, 30, 10, 0));
        assert_eq!(
            cal.business_ms_between(at(2026, 11, 27, 17, 0), at(2026, 11, 30, 10, 0)),
            2 * HOUR
        );
    }

    #[test]
    fn due_times_skip_a_public_holiday() {
        let cal = calendar();
        // Wednesday 30 September 17:00 + 2h: the holiday week and the weekend
        // pass, and Thursday 8 October is the next working day.
        let due = cal.add_business_ms(at(2026, 9, 30, 17, 0), 2 * HOUR);
        assert_eq!(due, at(2026, 10, 8, 10, 0));
    }

    #[test]
    fn a_make_up_saturday_is_a_working_day() {
        let cal = calendar();
        // Friday 9 October 17:00 + 2h: Saturday 10 October is worked.
        let due = cal.add_business_ms(at(2026, 10, 9, 17, 0), 2 * HOUR);
        assert_eq!(due, at(2026, 10, 10, 10, 0));
        // Without the make-up day it would be Monday 12 October.
        let mut plain = cal.clone();
        plain.makeup_days.clear();
        assert_eq!(
            plain.add_business_ms(at(2026, 10, 9, 17, 0), 2 * HOUR),
            at(2026, 10, 12, 10, 0)
        );
    }

    #[test]
    fn the_clock_pauses_and_resumes() {
        let cal = calendar();
        let start = at(2026, 11, 30, 9, 0);
        let mut sla = TicketSla::start(SlaTargets::from_minutes(60, 8 * 60), start);
        assert_eq!(sla.resolution_due(&cal), Some(at(2026, 11, 30, 17, 0)));
        // Two hours of work, then pending for a whole day.
        sla.pause(&cal, at(2026, 11, 30, 11, 0));
        assert_eq!(sla.elapsed(&cal, at(2026, 12, 1, 11, 0)), 2 * HOUR);
        assert_eq!(sla.resolution_due(&cal), None);
        assert_eq!(sla.sweep(&cal, at(2026, 12, 3, 11, 0)), None);
        // Resumed Tuesday 11:00 with six hours left: due Tuesday 17:00.
        sla.resume(at(2026, 12, 1, 11, 0));
        assert_eq!(sla.resolution_due(&cal), Some(at(2026, 12, 1, 17, 0)));
    }

    #[test]
    fn warning_breach_and_escalation_come_in_order_once_each() {
        let cal = calendar();
        let start = at(2026, 11, 30, 9, 0);
        let mut sla = TicketSla::start(SlaTargets::from_minutes(60, 8 * 60), start);
        assert_eq!(sla.sweep(&cal, at(2026, 11, 30, 9, 30)), None);
        let level = |e: Option<Escalated>| e.map(|e| e.level);
        assert_eq!(
            level(sla.sweep(&cal, at(2026, 11, 30, 9, 50))),
            Some(Escalation::Warning)
        );
        assert_eq!(sla.sweep(&cal, at(2026, 11, 30, 9, 55)), None, "once");
        assert_eq!(
            level(sla.sweep(&cal, at(2026, 11, 30, 10, 1))),
            Some(Escalation::Breached)
        );
        assert_eq!(
            level(sla.sweep(&cal, at(2026, 11, 30, 10, 31))),
            Some(Escalation::Supervisor)
        );
    }

    #[test]
    fn a_human_reply_cancels_the_escalation_and_a_bot_message_does_not() {
        let cal = calendar();
        let start = at(2026, 11, 30, 9, 0);
        let mut sla = TicketSla::start(SlaTargets::from_minutes(60, 8 * 60), start);
        sla.sweep(&cal, at(2026, 11, 30, 10, 5));
        assert_eq!(sla.escalation, Escalation::Breached);
        sla.on_reply(&cal, Responder::Bot, at(2026, 11, 30, 10, 6));
        assert_eq!(sla.escalation, Escalation::Breached);
        assert_eq!(sla.first_responded_at, None);
        assert_eq!(
            sla.sweep(&cal, at(2026, 11, 30, 10, 40)).map(|e| e.level),
            Some(Escalation::Supervisor),
            "the bot's message did not stop the escalation"
        );
        sla.on_reply(&cal, Responder::Human, at(2026, 11, 30, 10, 41));
        assert_eq!(sla.escalation, Escalation::None);
        assert_eq!(sla.first_response_due(&cal), None);
        // Only the resolution target is left: nothing until 80% of eight hours.
        assert_eq!(sla.sweep(&cal, at(2026, 11, 30, 15, 0)), None);
        assert_eq!(
            sla.sweep(&cal, at(2026, 11, 30, 15, 30)).map(|e| e.level),
            Some(Escalation::Warning)
        );
    }
}
