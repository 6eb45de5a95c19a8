//! The ticket board's numbers: counts by state, department, priority and
//! assignee, SLA attainment, and the overdue and due-soon lists, each within
//! the caller's view of the tickets (the list filter).
//!
//! The counts come from `ticket_board_counts`, running totals per (state,
//! department, priority, assignee) that triggers keep in the transaction of
//! every ticket write (migration 0020), so a board read sums a few hundred
//! rows instead of grouping every ticket. A filter on anything else (type,
//! buyer, chat) falls back to the grouped scan.

use super::tickets::{COLUMNS, TicketRow, filter_sql};
use super::{BoardCounts, Store, StoreError, TicketFilter, on_pool};
use crate::domain::tickets::Ticket;
use std::collections::BTreeMap;

/// Not resolved and not closed: the tickets somebody still works on.
const ACTIVE: &str = "state NOT IN ('resolved', 'closed')";

/// One group of the board's single pass: a state, department, priority and
/// assignee, how many tickets, and how many of them met their resolution target.
type BoardGroup = (String, Option<String>, String, Option<String>, i64, i64);

impl Store {
    /// Every count of the board within `filter`: from the running counts when
    /// the filter uses only their dimensions, else in one pass over the
    /// caller's tickets.
    pub async fn ticket_board(&self, filter: &TicketFilter) -> Result<BoardCounts, StoreError> {
        // ('' would match the counts' "none" where it matches no ticket.)
        let blank = |v: &Option<String>| v.as_deref() == Some("");
        let by_counts = filter.type_key.is_none()
            && !blank(&filter.department_id)
            && !blank(&filter.assignee_id)
            && filter.visitor_id.is_none()
            && filter.conversation_id.is_none()
            && filter.before.is_none();
        if by_counts {
            self.ticket_board_counted(filter).await
        } else {
            self.ticket_board_scanned(filter).await
        }
    }

    /// The board from `ticket_board_counts` ('' there is no department or
    /// no assignee; the filter's columns carry the same names), summed per
    /// dimension in the database: some sixty rows come back, not every group.
    pub async fn ticket_board_counted(
        &self,
        filter: &TicketFilter,
    ) -> Result<BoardCounts, StoreError> {
        let (all, binds) = filter_sql(filter, &["tickets > 0"]);
        let (active, _) = filter_sql(filter, &["tickets > 0", ACTIVE]);
        let sum = "CAST(SUM(tickets) AS BIGINT)";
        let sql = format!(
            "SELECT 'state', state, {sum}, CAST(SUM(in_time) AS BIGINT) FROM ticket_board_counts {all} GROUP BY state \
             UNION ALL SELECT 'department', NULLIF(department_id, ''), {sum}, CAST(0 AS BIGINT) \
             FROM ticket_board_counts {active} GROUP BY department_id \
             UNION ALL SELECT 'priority', priority, {sum}, CAST(0 AS BIGINT) \
             FROM ticket_board_counts {active} GROUP BY priority \
             UNION ALL SELECT 'assignee', NULLIF(assignee_id, ''), {sum}, CAST(0 AS BIGINT) \
             FROM ticket_board_counts {active} GROUP BY assignee_id"
        );
        let sums: Vec<(String, Option<String>, i64, i64)> = on_pool!(self, pool => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for b in &binds {
                q = q.bind(b);
            }
            q.fetch_all(pool).await?
        });
        let mut board = BoardCounts::default();
        for (dimension, key, count, in_time) in sums {
            match (dimension.as_str(), key) {
                ("state", Some(state)) => {
                    if matches!(state.as_str(), "resolved" | "closed") {
                        board.done += count;
                        board.done_in_time += in_time;
                    }
                    board.by_state.push((state, count));
                }
                ("department", key) => board.by_department.push((key, count)),
                ("priority", Some(priority)) => board.by_priority.push((priority, count)),
                ("assignee", key) => board.by_assignee.push((key, count)),
                _ => {
                    return Err(StoreError::Database(sqlx::Error::Decode(
                        "unreadable ticket board count".into(),
                    )));
                }
            }
        }
        board.by_state.sort();
        board.by_department.sort();
        board.by_priority.sort();
        board.by_assignee.sort();
        Ok(board)
    }

    /// The board by grouping the tickets themselves (a covering index).
    pub async fn ticket_board_scanned(
        &self,
        filter: &TicketFilter,
    ) -> Result<BoardCounts, StoreError> {
        let (where_sql, binds) = filter_sql(filter, &[]);
        let sql = format!(
            "SELECT state, department_id, priority, assignee_id, COUNT(*), \
             COALESCE(SUM(CASE WHEN sla_elapsed_ms <= sla_resolution_ms THEN 1 ELSE 0 END), 0) \
             FROM tickets {where_sql} GROUP BY state, department_id, priority, assignee_id"
        );
        self.board_groups(sql, binds).await
    }

    /// Runs a query of `BoardGroup` rows and sums them up.
    async fn board_groups(
        &self,
        sql: String,
        binds: Vec<String>,
    ) -> Result<BoardCounts, StoreError> {
        let groups: Vec<BoardGroup> = on_pool!(self, pool => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for b in &binds {
                q = q.bind(b);
            }
            q.fetch_all(pool).await?
        });
        let mut by_state: BTreeMap<String, i64> = BTreeMap::new();
        let mut by_department: BTreeMap<Option<String>, i64> = BTreeMap::new();
        let mut by_priority: BTreeMap<String, i64> = BTreeMap::new();
        let mut by_assignee: BTreeMap<Option<String>, i64> = BTreeMap::new();
        let (mut done, mut done_in_time) = (0, 0);
        for (state, department, priority, assignee, count, in_time) in groups {
            *by_state.entry(state.clone()).or_default() += count;
            if matches!(state.as_str(), "resolved" | "closed") {
                done += count;
                done_in_time += in_time;
                continue;
            }
            *by_department.entry(department).or_default() += count;
            *by_priority.entry(priority).or_default() += count;
            *by_assignee.entry(assignee).or_default() += count;
        }
        Ok(BoardCounts {
            by_state: by_state.into_iter().collect(),
            by_department: by_department.into_iter().collect(),
            by_priority: by_priority.into_iter().collect(),
            by_assignee: by_assignee.into_iter().collect(),
            done,
            done_in_time,
        })
    }

    /// How many active tickets within `filter` were opened in each age band:
    /// (band index, count), band `i` holding the tickets younger than
    /// `bounds[i]` and not younger than `bounds[i - 1]` (exactly a day old is
    /// not under a day), the last band all older ones. Active tickets only, through a partial index on their
    /// creation time (migration 0031).
    pub async fn ticket_ageing(
        &self,
        filter: &TicketFilter,
        now: i64,
        bounds: &[i64],
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        let (where_sql, binds) = filter_sql(filter, &[ACTIVE]);
        // Only numbers go into the text (computed here, not taken from input).
        let arms: String = bounds
            .iter()
            .enumerate()
            .map(|(i, age)| format!(" WHEN created_at > {} THEN {i}", now - age))
            .collect();
        let sql = format!(
            "SELECT CAST(CASE{arms} ELSE {} END AS BIGINT) AS band, COUNT(*) FROM tickets {where_sql} \
             GROUP BY band ORDER BY band",
            bounds.len()
        );
        Ok(on_pool!(self, pool => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for b in &binds {
                q = q.bind(b);
            }
            q.fetch_all(pool).await?
        }))
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
        self.open_tickets(rows)
    }
}
