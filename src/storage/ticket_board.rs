//! The ticket board's numbers: counts by state, department, priority and
//! assignee, SLA attainment, and the overdue and due-soon lists, each within
//! the caller's view of the tickets (the list filter).

use super::tickets::{COLUMNS, TicketRow, filter_sql};
use super::{Store, StoreError, TicketFilter, on_pool};
use crate::domain::tickets::Ticket;

/// Not resolved and not closed: the tickets somebody still works on.
const ACTIVE: &str = "state NOT IN ('resolved', 'closed')";

#[derive(Debug, Clone, Default)]
pub struct BoardCounts {
    pub by_state: Vec<(String, i64)>,
    pub by_department: Vec<(Option<String>, i64)>,
    pub by_priority: Vec<(String, i64)>,
    pub by_assignee: Vec<(Option<String>, i64)>,
    /// Resolved or closed tickets, and those of them within the resolution target.
    pub done: i64,
    pub done_in_time: i64,
}

impl Store {
    async fn grouped(
        &self,
        filter: &TicketFilter,
        column: &str,
        extra: &[&str],
    ) -> Result<Vec<(Option<String>, i64)>, StoreError> {
        let (where_sql, binds) = filter_sql(filter, extra);
        let sql = format!(
            "SELECT {column}, COUNT(*) FROM tickets {where_sql} GROUP BY {column} ORDER BY {column}"
        );
        Ok(on_pool!(self, pool => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for b in &binds {
                q = q.bind(b);
            }
            q.fetch_all(pool).await?
        }))
    }

    pub async fn ticket_board(&self, filter: &TicketFilter) -> Result<BoardCounts, StoreError> {
        let named = |rows: Vec<(Option<String>, i64)>| {
            rows.into_iter()
                .map(|(k, n)| (k.unwrap_or_default(), n))
                .collect::<Vec<_>>()
        };
        let by_state = named(self.grouped(filter, "state", &[]).await?);
        let by_department = self.grouped(filter, "department_id", &[ACTIVE]).await?;
        let by_priority = named(self.grouped(filter, "priority", &[ACTIVE]).await?);
        let by_assignee = self.grouped(filter, "assignee_id", &[ACTIVE]).await?;
        let (where_sql, binds) = filter_sql(filter, &["state IN ('resolved', 'closed')"]);
        let sql = format!(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN sla_elapsed_ms <= sla_resolution_ms THEN 1 ELSE 0 END), 0) \
             FROM tickets {where_sql}"
        );
        let (done, done_in_time): (i64, i64) = on_pool!(self, pool => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for b in &binds {
                q = q.bind(b);
            }
            q.fetch_one(pool).await?
        });
        Ok(BoardCounts {
            by_state,
            by_department,
            by_priority,
            by_assignee,
            done,
            done_in_time,
        })
    }

    /// Active tickets due (resolution) before `until`, from `from` on when
    /// given, soonest first.
    pub async fn tickets_due(
        &self,
        filter: &TicketFilter,
        from: Option<i64>,
        until: i64,
        limit: i64,
    ) -> Result<Vec<Ticket>, StoreError> {
        let until_clause = format!("resolution_due_at < {until}");
        let from_clause = from.map(|f| format!("resolution_due_at >= {f}"));
        let mut extra = vec![ACTIVE, until_clause.as_str()];
        extra.extend(from_clause.as_deref());
        let (where_sql, binds) = filter_sql(filter, &extra);
        let sql = format!(
            "SELECT {COLUMNS} FROM tickets {where_sql} ORDER BY resolution_due_at, id LIMIT {}",
            limit.clamp(1, 500)
        );
        let rows: Vec<TicketRow> = on_pool!(self, pool => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for b in &binds {
                q = q.bind(b);
            }
            q.fetch_all(pool).await?
        });
        rows.into_iter().map(Ticket::try_from).collect()
    }
}
