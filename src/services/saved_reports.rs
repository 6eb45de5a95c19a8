//! Saved custom reports (我的报表): a staff member keeps a report's metrics,
//! dimensions, filters and range to run again. Each person sees and deletes
//! only their own; running one is an ordinary report, scoped by the runner's
//! role, over the days its range covers today (shop-local). A report with a
//! schedule is e-mailed to its owner (the address of their notification
//! settings) with its CSV attached, once per due day, from 08:00 shop time,
//! as the owner would see it that morning.

use super::analytics::{AnalyticsService, Filters, csv_lines};
use super::shop::ShopService;
use super::staff::{StaffService, StaffUser};
use super::ticket_mail::TicketMail;
use crate::domain::analytics::{
    Dimension, local_day, parse_day, parse_metrics, parse_source_filter,
};
use crate::domain::saved_report::{MAX_PER_OWNER, ReportSpec, SpecError, report_mail};
use crate::domain::ticket_mail::ReminderMail;
use crate::ports::Clock;
use crate::ports::repositories::{RepoError, SavedReports, StoredReport};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// Scheduled reports go out from this shop-local hour on.
const MAIL_HOUR: i64 = 8;
/// How often the mail loop looks at the clock.
const MAIL_LOOK: Duration = Duration::from_secs(600);
/// Lines of the report in the mail's body (the attachment has them all).
const BODY_LINES: usize = 60;

#[derive(Debug, thiserror::Error)]
pub enum SavedReportError {
    #[error(transparent)]
    Invalid(#[from] SpecError),
    #[error("at most {MAX_PER_OWNER} saved reports per person: delete one first")]
    TooMany,
    #[error("no such saved report")]
    NotFound,
    #[error(transparent)]
    Repo(RepoError),
}

impl From<RepoError> for SavedReportError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::NotFound => SavedReportError::NotFound,
            RepoError::Conflict => SavedReportError::TooMany,
            other => SavedReportError::Repo(other),
        }
    }
}

/// A saved report with the days it covers if run now.
#[derive(Debug, Clone, Serialize)]
pub struct SavedReportView {
    pub id: String,
    pub created_at: i64,
    #[serde(flatten)]
    pub spec: ReportSpec,
    /// The range resolved for today (shop-local "YYYY-MM-DD").
    pub run_from: String,
    pub run_to: String,
}

pub struct SavedReportService {
    repo: Arc<dyn SavedReports>,
    shop: Arc<ShopService>,
    clock: Arc<dyn Clock>,
    analytics: Arc<AnalyticsService>,
    staff: Arc<StaffService>,
    mail: Arc<TicketMail>,
}

impl SavedReportService {
    pub fn new(
        repo: Arc<dyn SavedReports>,
        shop: Arc<ShopService>,
        clock: Arc<dyn Clock>,
        analytics: Arc<AnalyticsService>,
        staff: Arc<StaffService>,
        mail: Arc<TicketMail>,
    ) -> Self {
        SavedReportService {
            repo,
            shop,
            clock,
            analytics,
            staff,
            mail,
        }
    }

    /// E-mails every scheduled report due on the shop-local `day` that has
    /// not gone out yet. Returns the mails sent. An owner who left (disabled)
    /// gets none; a report that fails is logged and the others still go.
    pub async fn send_due(&self, day: chrono::NaiveDate) -> Result<usize, SavedReportError> {
        let due: Vec<(String, StoredReport)> = self
            .repo
            .scheduled()
            .await?
            .into_iter()
            .filter(|(_, r)| r.spec.schedule.is_some_and(|s| s.due_on(day)))
            .collect();
        if due.is_empty() {
            return Ok(0);
        }
        let people = self
            .staff
            .list_users()
            .await
            .map_err(|e| SavedReportError::Repo(RepoError::Failed(e.to_string())))?;
        let mut sent = 0;
        for (owner, report) in due {
            let Some(staff) = people.iter().find(|p| p.id == owner && p.active) else {
                continue;
            };
            match self.mail_one(staff, &report, day).await {
                Ok(true) => sent += 1,
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(report = %report.id, %error, "a scheduled report was not sent");
                }
            }
        }
        Ok(sent)
    }

    async fn mail_one(
        &self,
        staff: &StaffUser,
        report: &StoredReport,
        day: chrono::NaiveDate,
    ) -> Result<bool, String> {
        let spec = &report.spec;
        let range = spec.days(day);
        let metrics = parse_metrics(&spec.metrics.join(",")).map_err(|e| e.to_string())?;
        let dimensions = Dimension::parse_pair(&spec.by).map_err(|e| e.to_string())?;
        let filters = Filters {
            channel: spec.channel.clone(),
            agent_id: spec.agent_id.clone(),
            group_id: spec.group_id.clone(),
            source: match spec.source.as_deref() {
                Some(raw) => Some(parse_source_filter(raw).map_err(|e| e.to_string())?),
                None => None,
            },
        };
        let result = self
            .analytics
            .report(staff, range, metrics, dimensions, filters)
            .await
            .map_err(|e| e.to_string())?;
        let lines: Vec<String> = csv_lines(result).collect();
        let shown: Vec<String> = lines.iter().take(BODY_LINES).cloned().collect();
        let (subject, body) = report_mail(&spec.name, range.from, range.to, &shown);
        let filename = format!("xiaoer-{}-{}.csv", range.from, range.to);
        self.mail
            .send_with_csv(
                &format!("report:{}:{day}", report.id),
                &staff.id,
                ReminderMail { subject, body },
                &filename,
                lines.concat(),
            )
            .await
            .map_err(|e| e.to_string())
    }

    /// Sends the due reports each shop day once the shop's clock passes
    /// [`MAIL_HOUR`], until `stop` turns true.
    pub async fn run_mail(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(MAIL_LOOK) => {}
                _ = stop.changed() => return,
            }
            let now = self.clock.now_ms();
            let offset = self.shop.current().await.utc_offset_minutes;
            let local = now + i64::from(offset) * 60_000;
            if local.rem_euclid(86_400_000) / 3_600_000 < MAIL_HOUR {
                continue;
            }
            if let Err(error) = self.send_due(self.today().await).await {
                tracing::warn!(%error, "scheduled reports");
            }
        }
    }

    pub async fn list(&self, staff: &StaffUser) -> Result<Vec<SavedReportView>, SavedReportError> {
        let stored = self.repo.list(&staff.id).await?;
        let today = self.today().await;
        Ok(stored.into_iter().map(|r| view(r, today)).collect())
    }

    pub async fn save(
        &self,
        staff: &StaffUser,
        spec: ReportSpec,
    ) -> Result<SavedReportView, SavedReportError> {
        let report = StoredReport {
            id: format!("rpt_{}", uuid::Uuid::now_v7().simple()),
            spec: spec.validate()?,
            created_at: self.clock.now_ms(),
        };
        self.repo.insert(&staff.id, &report, MAX_PER_OWNER).await?;
        Ok(view(report, self.today().await))
    }

    pub async fn delete(&self, staff: &StaffUser, id: &str) -> Result<(), SavedReportError> {
        Ok(self.repo.delete(&staff.id, id).await?)
    }

    async fn today(&self) -> chrono::NaiveDate {
        let offset = self.shop.current().await.utc_offset_minutes;
        parse_day(&local_day(self.clock.now_ms(), offset)).expect("local_day is a day")
    }
}

fn view(report: StoredReport, today: chrono::NaiveDate) -> SavedReportView {
    let days = report.spec.days(today);
    SavedReportView {
        id: report.id,
        created_at: report.created_at,
        spec: report.spec,
        run_from: days.from.to_string(),
        run_to: days.to.to_string(),
    }
}
