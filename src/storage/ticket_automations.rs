//! Ticket automations (rules as JSON, in position order) and the record of
//! which rule ran for which event.

use super::{Store, StoreError, on_pool};
use crate::domain::ticket_automations::{Automation, AutomationInput, Conditions};
use crate::ports::repositories::RepoError;

type Row = (String, i64, String, i64, i64);

fn to_json(rule: &AutomationInput) -> Result<String, StoreError> {
    serde_json::to_string(rule).map_err(|e| StoreError::Database(sqlx::Error::Decode(e.into())))
}

fn open((id, position, rule, created_at, updated_at): Row) -> Result<Automation, StoreError> {
    let rule = serde_json::from_str(&rule)
        .map_err(|e| StoreError::Database(sqlx::Error::Decode(e.into())))?;
    Ok(Automation {
        id,
        position,
        rule,
        created_at,
        updated_at,
    })
}

impl Store {
    /// Every rule, in the order they run.
    pub async fn ticket_automations(&self) -> Result<Vec<Automation>, StoreError> {
        let sql = "SELECT id, position, rule, created_at, updated_at FROM ticket_automations \
                   ORDER BY position, id";
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?);
        rows.into_iter().map(open).collect()
    }

    /// Adds a rule after the others.
    pub async fn insert_ticket_automation(
        &self,
        id: &str,
        rule: &AutomationInput,
        by: &str,
        now: i64,
    ) -> Result<Automation, StoreError> {
        let sql = "INSERT INTO ticket_automations (id, position, rule, created_by, created_at, updated_at) \
                   VALUES ($1, (SELECT COALESCE(MAX(position), 0) + 1 FROM ticket_automations), $2, $3, $4, $5) \
                   RETURNING id, position, rule, created_at, updated_at";
        let json = to_json(rule)?;
        let row: Row = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(id).bind(&json).bind(by).bind(now).bind(now)
            .fetch_one(pool).await.map_err(StoreError::from_insert)?);
        open(row)
    }

    /// Replaces a rule, keeping its place; `NotFound` when there is none.
    pub async fn update_ticket_automation(
        &self,
        id: &str,
        rule: &AutomationInput,
        now: i64,
    ) -> Result<Automation, StoreError> {
        let sql = "UPDATE ticket_automations SET rule = $2, updated_at = $3 WHERE id = $1 \
                   RETURNING id, position, rule, created_at, updated_at";
        let json = to_json(rule)?;
        let row: Option<Row> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(id).bind(&json).bind(now)
            .fetch_optional(pool).await?);
        open(row.ok_or(StoreError::NotFound)?)
    }

    /// Puts the rules in the order of `ids`, which must name every rule once;
    /// false (nothing changed) when it does not.
    pub async fn reorder_ticket_automations(&self, ids: &[String]) -> Result<bool, StoreError> {
        let mut wanted: Vec<&str> = ids.iter().map(String::as_str).collect();
        wanted.sort_unstable();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            let mut have: Vec<(String,)> = sqlx::query_as("SELECT id FROM ticket_automations")
                .fetch_all(&mut *tx).await?;
            have.sort_unstable();
            if have.iter().map(|(id,)| id.as_str()).ne(wanted.iter().copied()) {
                tx.rollback().await?;
                return Ok(false);
            }
            for (i, id) in ids.iter().enumerate() {
                sqlx::query("UPDATE ticket_automations SET position = $2 WHERE id = $1")
                    .bind(id).bind(i as i64 + 1).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(true)
    }

    pub async fn delete_ticket_automation(&self, id: &str) -> Result<(), StoreError> {
        let sql = "DELETE FROM ticket_automations WHERE id = $1";
        let done = on_pool!(self, pool => sqlx::query(sql).bind(id)
            .execute(pool).await?.rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Whether rule `rule_id` already ran for event `event_id`.
    pub async fn automation_ran(&self, event_id: &str, rule_id: &str) -> Result<bool, StoreError> {
        let sql = "SELECT 1 FROM ticket_automation_runs WHERE event_id = $1 AND rule_id = $2";
        let row: Option<(i32,)> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(event_id).bind(rule_id).fetch_optional(pool).await?);
        Ok(row.is_some())
    }

    /// Tickets not closed and unchanged since `before` (by `when`'s state,
    /// type, priority and department where it names them) whose idle event
    /// for rule `rule_id` at their version is not written yet, longest idle
    /// first. The id matches `domain::ticket_automations::idle_event_id`.
    pub async fn idle_tickets(
        &self,
        rule_id: &str,
        when: &Conditions,
        before: i64,
        limit: i64,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let sql = "SELECT t.id, t.version FROM tickets t WHERE t.state <> 'closed' AND t.updated_at <= $1 \
                   AND ($2 IS NULL OR t.state = $2) AND ($3 IS NULL OR t.type_key = $3) \
                   AND ($4 IS NULL OR t.priority = $4) AND ($5 IS NULL OR t.department_id = $5) \
                   AND NOT EXISTS (SELECT 1 FROM outbox o \
                       WHERE o.event_id = 'evt_idle_' || $6 || '_' || t.id || '_' || CAST(t.version AS TEXT)) \
                   ORDER BY t.updated_at, t.id LIMIT $7";
        let rows: Vec<(String, i64)> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(before)
            .bind(when.state.map(|s| s.as_str()))
            .bind(when.type_key.as_deref())
            .bind(when.priority.map(|p| p.as_str()))
            .bind(when.department_id.as_deref())
            .bind(rule_id)
            .bind(limit)
            .fetch_all(pool).await?);
        Ok(rows)
    }
}

#[async_trait::async_trait]
impl crate::ports::repositories::AutomationRules for Store {
    async fn rules(&self) -> Result<Vec<Automation>, RepoError> {
        Ok(self.ticket_automations().await?)
    }

    async fn insert_rule(
        &self,
        id: &str,
        rule: &AutomationInput,
        by: &str,
        now: i64,
    ) -> Result<Automation, RepoError> {
        Ok(self.insert_ticket_automation(id, rule, by, now).await?)
    }

    async fn update_rule(
        &self,
        id: &str,
        rule: &AutomationInput,
        now: i64,
    ) -> Result<Automation, RepoError> {
        Ok(self.update_ticket_automation(id, rule, now).await?)
    }

    async fn reorder_rules(&self, ids: &[String]) -> Result<bool, RepoError> {
        Ok(self.reorder_ticket_automations(ids).await?)
    }

    async fn delete_rule(&self, id: &str) -> Result<(), RepoError> {
        Ok(self.delete_ticket_automation(id).await?)
    }

    async fn ran(&self, event_id: &str, rule_id: &str) -> Result<bool, RepoError> {
        Ok(self.automation_ran(event_id, rule_id).await?)
    }

    async fn endpoint_exists(&self, id: &str) -> Result<bool, RepoError> {
        match self.endpoint(id).await {
            Ok(_) => Ok(true),
            Err(StoreError::NotFound) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
