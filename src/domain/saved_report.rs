//! A custom report a staff member saved to run again (我的报表): its metrics,
//! one or two dimensions, filters, and a range that is either fixed or
//! relative to the shop-local day it runs ("the last 7 days" stays useful).
//! What the saved report shows is scoped by whoever runs it, like any report.

use super::analytics::{DayRange, Dimension, ReportInputError, parse_metrics};
use chrono::{Datelike, Days, Months, NaiveDate};
use serde::{Deserialize, Serialize};

pub const NAME_MAX_CHARS: usize = 60;
/// Saved reports per person.
pub const MAX_PER_OWNER: usize = 50;

/// When a saved report is e-mailed to its owner (from 08:00 shop time): every
/// day, on Mondays, or on the 1st of the month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    Daily,
    Weekly,
    Monthly,
}

impl Schedule {
    /// Whether a report on this schedule goes out on the shop-local `day`.
    pub fn due_on(self, day: NaiveDate) -> bool {
        match self {
            Schedule::Daily => true,
            Schedule::Weekly => day.weekday() == chrono::Weekday::Mon,
            Schedule::Monthly => day.day() == 1,
        }
    }
}

/// The e-mail of a scheduled report: its name and days in the subject, the
/// report as a text table in the body (the CSV is attached).
pub fn report_mail(
    name: &str,
    from: NaiveDate,
    to: NaiveDate,
    lines: &[String],
) -> (String, String) {
    let days = if from == to {
        from.to_string()
    } else {
        format!("{from} – {to}")
    };
    let subject = format!("[店小二] {name} {days}");
    let mut body = format!("{name}\n{days}\n\n");
    for line in lines {
        body.push_str(line.trim_end());
        body.push('\n');
    }
    if lines.len() <= 1 {
        body.push_str("（没有数据 / no data）\n");
    }
    body.push_str(
        "\n附件为同一报表的 CSV。在控制台「数据报表 → 我的报表」可以停止定时发送。\n\
         The same report is attached as CSV. Stop the mail under Analytics → My reports in the console.\n",
    );
    (subject, body)
}

/// Which days a saved report covers when it runs on `today`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RangeKind {
    Yesterday,
    /// The 7 days up to and including today.
    Last7Days,
    Last30Days,
    /// From the 1st of this month to today.
    ThisMonth,
    LastMonth,
    /// The `from`..=`to` the report was saved with.
    Fixed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSpec {
    pub name: String,
    pub metrics: Vec<String>,
    /// "agent" or "agent,day" (as the report's `by`).
    pub by: String,
    pub range: RangeKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// search, ads, recommendation, referral, direct, or none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// E-mailed to the owner on this schedule; never when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("a saved report needs a name of 1 to {NAME_MAX_CHARS} characters")]
    BadName,
    #[error("a fixed range needs from and to; a relative one takes neither")]
    BadRangeKind,
    #[error("choose at least one metric")]
    NoMetrics,
    #[error(transparent)]
    Report(#[from] ReportInputError),
}

impl ReportSpec {
    /// Checks every part as the report itself would, and tidies it: the name
    /// trimmed, empty filters dropped, metrics in the order given without
    /// repeats.
    pub fn validate(mut self) -> Result<ReportSpec, SpecError> {
        self.name = self.name.trim().to_owned();
        let chars = self.name.chars().count();
        if chars == 0 || chars > NAME_MAX_CHARS || self.name.chars().any(char::is_control) {
            return Err(SpecError::BadName);
        }
        if self.metrics.iter().all(|m| m.trim().is_empty()) {
            return Err(SpecError::NoMetrics);
        }
        self.metrics = parse_metrics(&self.metrics.join(","))?
            .iter()
            .map(|d| d.key.to_owned())
            .collect();
        Dimension::parse_pair(&self.by)?;
        self.by = self.by.trim().to_owned();
        match (self.range, &self.from, &self.to) {
            (RangeKind::Fixed, Some(from), Some(to)) => {
                DayRange::parse(from, to)?;
            }
            (RangeKind::Fixed, ..) | (_, Some(_), _) | (_, _, Some(_)) => {
                return Err(SpecError::BadRangeKind);
            }
            _ => {}
        }
        let keep = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        self.channel = keep(self.channel);
        self.agent_id = keep(self.agent_id);
        self.group_id = keep(self.group_id);
        self.source = keep(self.source);
        if let Some(source) = &self.source {
            super::analytics::parse_source_filter(source)?;
        }
        Ok(self)
    }

    /// The days the report covers when it runs on the shop-local `today`.
    pub fn days(&self, today: NaiveDate) -> DayRange {
        let span = |from: NaiveDate, to: NaiveDate| DayRange { from, to };
        let back = |n: u64| today.checked_sub_days(Days::new(n)).unwrap_or(today);
        let first_of_month = today.with_day(1).unwrap_or(today);
        match self.range {
            RangeKind::Yesterday => span(back(1), back(1)),
            RangeKind::Last7Days => span(back(6), today),
            RangeKind::Last30Days => span(back(29), today),
            RangeKind::ThisMonth => span(first_of_month, today),
            RangeKind::LastMonth => {
                let from = first_of_month
                    .checked_sub_months(Months::new(1))
                    .unwrap_or(first_of_month);
                span(from, first_of_month.pred_opt().unwrap_or(first_of_month))
            }
            RangeKind::Fixed => {
                let fixed = DayRange::parse(
                    self.from.as_deref().unwrap_or_default(),
                    self.to.as_deref().unwrap_or_default(),
                );
                fixed.unwrap_or(span(today, today))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: serde_json::Value) -> Result<ReportSpec, SpecError> {
        serde_json::from_value::<ReportSpec>(v).unwrap().validate()
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_relative_range_moves_with_the_day_it_runs() {
        let base = json!({ "name": "周报", "metrics": ["conversations"], "by": "agent" });
        let run = |range: &str, today: &str| {
            let mut v = base.clone();
            v["range"] = json!(range);
            let r = spec(v).unwrap().days(day(today));
            (r.from.to_string(), r.to.to_string())
        };
        let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(
            run("yesterday", "2026-12-01"),
            pair("2026-11-30", "2026-11-30")
        );
        assert_eq!(
            run("last7_days", "2026-12-02"),
            pair("2026-11-26", "2026-12-02")
        );
        assert_eq!(
            run("last30_days", "2026-12-02"),
            pair("2026-11-03", "2026-12-02")
        );
        assert_eq!(
            run("this_month", "2026-12-02"),
            pair("2026-12-01", "2026-12-02")
        );
        assert_eq!(
            run("last_month", "2026-12-02"),
            pair("2026-11-01", "2026-11-30")
        );
        assert_eq!(
            run("last_month", "2026-03-31"),
            pair("2026-02-01", "2026-02-28")
        );
        assert_eq!(
            run("last_month", "2027-01-15"),
            pair("2026-12-01", "2026-12-31")
        );
        let mut fixed = base.clone();
        fixed["range"] = json!("fixed");
        fixed["from"] = json!("2026-11-01");
        fixed["to"] = json!("2026-11-07");
        let r = spec(fixed).unwrap().days(day("2027-06-01"));
        assert_eq!((r.from, r.to), (day("2026-11-01"), day("2026-11-07")));
    }

    #[test]
    fn a_schedule_is_due_daily_on_mondays_or_on_the_first() {
        // 2026-11-30 is a Monday; 2026-12-01 a Tuesday and the 1st.
        let (monday, first) = (day("2026-11-30"), day("2026-12-01"));
        assert!(Schedule::Daily.due_on(monday) && Schedule::Daily.due_on(first));
        assert!(Schedule::Weekly.due_on(monday) && !Schedule::Weekly.due_on(first));
        assert!(!Schedule::Monthly.due_on(monday) && Schedule::Monthly.due_on(first));
        let (subject, body) =
            report_mail("日报", first, first, &["agent,label,conversations".into()]);
        assert_eq!(subject, "[店小二] 日报 2026-12-01");
        assert!(body.contains("没有数据"), "{body}");
    }

    #[test]
    fn a_spec_is_checked_like_the_report_and_tidied() {
        let ok = spec(json!({
            "name": "  客服周报 ", "metrics": ["csat_avg", "conversations", "csat_avg"],
            "by": "agent,day", "range": "last7_days", "channel": " ", "agent_id": null
        }))
        .unwrap();
        assert_eq!(ok.name, "客服周报");
        assert_eq!(ok.metrics, ["csat_avg", "conversations"]);
        assert_eq!(ok.channel, None);
        let bad = [
            (
                json!({ "name": "", "metrics": ["conversations"], "by": "day", "range": "yesterday" }),
                SpecError::BadName,
            ),
            (
                json!({ "name": "x".repeat(61), "metrics": ["conversations"], "by": "day", "range": "yesterday" }),
                SpecError::BadName,
            ),
            (
                json!({ "name": "x", "metrics": [], "by": "day", "range": "yesterday" }),
                SpecError::NoMetrics,
            ),
            (
                json!({ "name": "x", "metrics": ["nope"], "by": "day", "range": "yesterday" }),
                SpecError::Report(ReportInputError::UnknownMetric("nope".into())),
            ),
            (
                json!({ "name": "x", "metrics": ["conversations"], "by": "day,week", "range": "yesterday" }),
                SpecError::Report(ReportInputError::BadDimension),
            ),
            (
                json!({ "name": "x", "metrics": ["conversations"], "by": "day", "range": "fixed" }),
                SpecError::BadRangeKind,
            ),
            (
                json!({ "name": "x", "metrics": ["conversations"], "by": "day", "range": "yesterday", "from": "2026-11-01" }),
                SpecError::BadRangeKind,
            ),
            (
                json!({ "name": "x", "metrics": ["conversations"], "by": "day", "range": "fixed", "from": "2026-11-08", "to": "2026-11-01" }),
                SpecError::Report(ReportInputError::BadRange),
            ),
        ];
        for (v, want) in bad {
            assert_eq!(spec(v.clone()), Err(want), "{v}");
        }
    }
}
