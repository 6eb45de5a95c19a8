//! The daily QA sampler: every plan marked daily samples the shop's day
//! before by itself, once the shop's clock is an hour into today. Each node
//! looks every few seconds (one small read); sampling is idempotent (the seed picks the same chats
//! and nothing is queued twice for a scheme), so two nodes running it at
//! once queue each review once, and the plan records the day it sampled.

use crate::domain::analytics::DayRange;
use crate::ports::Clock;
use crate::services::quality::{QualityError, QualityService};
use crate::services::shop::ShopService;
use std::sync::Arc;
use std::time::Duration;

/// How often each node looks for a plan to run.
const LOOK_EVERY: Duration = Duration::from_secs(5);

pub struct QaSampler {
    quality: Arc<QualityService>,
    shop: Arc<ShopService>,
    clock: Arc<dyn Clock>,
}

impl QaSampler {
    pub fn new(
        quality: Arc<QualityService>,
        shop: Arc<ShopService>,
        clock: Arc<dyn Clock>,
    ) -> QaSampler {
        QaSampler {
            quality,
            shop,
            clock,
        }
    }

    pub async fn run(self: Arc<Self>, shutdown: tokio::sync::watch::Receiver<bool>) {
        super::every(LOOK_EVERY, shutdown, "daily QA sampling", || self.sweep()).await;
    }

    /// Runs every daily plan that has not sampled the day due; returns how
    /// many reviews were queued.
    pub async fn sweep(&self) -> Result<usize, QualityError> {
        let now = self.clock.now_ms();
        let offset = self.shop.current().await.utc_offset_minutes;
        let day = crate::domain::quality::daily_sample_day(now, offset);
        let mut queued = 0;
        for plan in self.quality.plans().await? {
            if !plan.daily || plan.daily_ran_day.as_deref() >= Some(day.as_str()) {
                continue;
            }
            let range =
                DayRange::parse(&day, &day).map_err(|e| QualityError::Corrupt(e.to_string()))?;
            let ran = self.quality.run_plan(&plan.id, &range).await?;
            self.quality.mark_daily_ran(&plan.id, &day).await?;
            tracing::info!(
                plan = plan.id,
                day,
                picked = ran.picked,
                queued = ran.queued,
                "daily QA sample"
            );
            queued += ran.queued;
        }
        Ok(queued)
    }
}
