//! Saved custom reports (我的报表): a staff member keeps a report's metrics,
//! dimensions, filters and range to run again. Each person sees and deletes
//! only their own; running one is an ordinary report, scoped by the runner's
//! role, over the days its range covers today (shop-local).

use super::shop::ShopService;
use super::staff::StaffUser;
use crate::domain::analytics::{local_day, parse_day};
use crate::domain::saved_report::{MAX_PER_OWNER, ReportSpec, SpecError};
use crate::ports::Clock;
use crate::ports::repositories::{RepoError, SavedReports, StoredReport};
use serde::Serialize;
use std::sync::Arc;

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
}

impl SavedReportService {
    pub fn new(repo: Arc<dyn SavedReports>, shop: Arc<ShopService>, clock: Arc<dyn Clock>) -> Self {
        SavedReportService { repo, shop, clock }
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
