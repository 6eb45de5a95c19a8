//! The ticket board (监控): counts by state, department and priority, the
//! overdue and due-soon lists, active tickets by age, each agent's open
//! tickets and SLA attainment, all within what the caller may see; and the
//! filtered list as CSV, read a page at a time so a large export never sits
//! in memory.

use crate::domain::tickets::{Ticket, TicketFilter};
use crate::services::staff::StaffUser;
use crate::services::tickets::{ListQuery, TicketError, TicketService};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// "Due soon": the resolution target falls within this.
const DUE_SOON_MS: i64 = 4 * 3_600_000;
const LIST_LIMIT: i64 = 50;
/// Tickets read per page of a CSV export.
const EXPORT_PAGE: i64 = 500;
const DAY_MS: i64 = 86_400_000;
/// The board's ageing bands: active tickets opened under a day ago, one to
/// three days, three to seven, and longer.
const AGE_BANDS: [(&str, Option<i64>); 4] = [
    ("under_1d", Some(DAY_MS)),
    ("1d_3d", Some(3 * DAY_MS)),
    ("3d_7d", Some(7 * DAY_MS)),
    ("over_7d", None),
];

/// How many active tickets are of one age band.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AgeBand {
    pub band: &'static str,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Count {
    /// The department or agent id; None: none set.
    pub id: Option<String>,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Board {
    pub by_state: BTreeMap<String, i64>,
    /// Active (not resolved or closed) tickets per department.
    pub by_department: Vec<Count>,
    pub by_priority: BTreeMap<String, i64>,
    /// Active tickets per assignee.
    pub workload: Vec<Count>,
    pub resolved: i64,
    pub resolved_in_time: i64,
    /// Share of resolved tickets within their resolution target; None before any.
    pub sla_attainment_pct: Option<f64>,
    pub overdue: Vec<Ticket>,
    pub due_soon: Vec<Ticket>,
    /// Active tickets by how long ago they were opened, every band listed.
    pub ageing: Vec<AgeBand>,
    pub generated_at: i64,
}

impl TicketService {
    pub async fn board(&self, staff: &StaffUser, query: ListQuery) -> Result<Board, TicketError> {
        let filter = self.filter_for(staff, query).await?;
        let now = self.clock.now_ms();
        let counts = self.tickets.board(&filter).await?;
        let overdue = self.tickets.due(&filter, None, now, LIST_LIMIT).await?;
        let due_soon = self
            .tickets
            .due(&filter, Some(now), now + DUE_SOON_MS, LIST_LIMIT)
            .await?;
        let bounds: Vec<i64> = AGE_BANDS.iter().filter_map(|(_, age)| *age).collect();
        let counted = self.tickets.ageing(&filter, now, &bounds).await?;
        let ageing = AGE_BANDS
            .iter()
            .enumerate()
            .map(|(i, (band, _))| AgeBand {
                band,
                count: counted
                    .iter()
                    .find(|(b, _)| *b == i as i64)
                    .map_or(0, |(_, n)| *n),
            })
            .collect();
        let to_counts = |rows: Vec<(Option<String>, i64)>| {
            rows.into_iter()
                .map(|(id, count)| Count { id, count })
                .collect()
        };
        Ok(Board {
            by_state: counts.by_state.into_iter().collect(),
            by_department: to_counts(counts.by_department),
            by_priority: counts.by_priority.into_iter().collect(),
            workload: to_counts(counts.by_assignee),
            resolved: counts.done,
            resolved_in_time: counts.done_in_time,
            sla_attainment_pct: (counts.done > 0)
                .then(|| (counts.done_in_time as f64 * 1000.0 / counts.done as f64).round() / 10.0),
            overdue,
            due_soon,
            ageing,
            generated_at: now,
        })
    }

    /// The filtered list, a page at a time, newest change first. The stream
    /// ends after the last page; an error ends it early (the CSV is cut).
    pub async fn export_pages(
        self: Arc<Self>,
        staff: &StaffUser,
        query: ListQuery,
    ) -> Result<BoxStream<'static, Vec<Ticket>>, TicketError> {
        let mut filter = self.filter_for(staff, query).await?;
        filter.limit = EXPORT_PAGE;
        let start: Option<TicketFilter> = Some(filter);
        let pages = futures::stream::unfold(start, move |next| {
            let service = self.clone();
            async move {
                let mut filter = next?;
                let page = match service.tickets.list(&filter).await {
                    Ok(page) => page,
                    Err(error) => {
                        tracing::warn!(%error, "ticket export cut short");
                        return None;
                    }
                };
                if page.is_empty() {
                    return None;
                }
                let last = page.last().expect("not empty");
                let more = page.len() as i64 == EXPORT_PAGE;
                filter.before = Some((last.updated_at, last.id.clone()));
                Some((page, more.then_some(filter)))
            }
        });
        Ok(pages.boxed())
    }
}
