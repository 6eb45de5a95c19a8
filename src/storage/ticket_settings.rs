//! The shop's ticket settings row (one row, id 1).

use super::{Store, StoreError, on_pool};

impl Store {
    /// Days after resolution in which a buyer's reply reopens a ticket; None
    /// when the shop never chose.
    pub async fn ticket_reopen_days(&self) -> Result<Option<i64>, StoreError> {
        let sql = "SELECT reopen_days FROM ticket_settings WHERE id = 1";
        let row: Option<(i64,)> =
            on_pool!(self, pool => sqlx::query_as(sql).fetch_optional(pool).await?);
        Ok(row.map(|(d,)| d))
    }

    pub async fn put_ticket_reopen_days(
        &self,
        days: i64,
        by: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO ticket_settings (id, reopen_days, updated_by, updated_at) VALUES (1, $1, $2, $3) \
                   ON CONFLICT (id) DO UPDATE SET reopen_days = excluded.reopen_days, \
                   updated_by = excluded.updated_by, updated_at = excluded.updated_at";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(days).bind(by).bind(now)
            .execute(pool).await.map(|_| ()))?;
        Ok(())
    }
}

impl Store {
    /// The ticket routing rules; None when the shop never set any.
    pub async fn ticket_routing_rules(
        &self,
    ) -> Result<Option<crate::domain::tickets::RoutingRules>, StoreError> {
        let sql = "SELECT rules FROM ticket_routing_rules WHERE id = 1";
        let row: Option<(String,)> =
            on_pool!(self, pool => sqlx::query_as(sql).fetch_optional(pool).await?);
        row.map(|(json,)| {
            serde_json::from_str(&json)
                .map_err(|e| StoreError::Database(sqlx::Error::Decode(e.into())))
        })
        .transpose()
    }

    pub async fn put_ticket_routing_rules(
        &self,
        rules: &crate::domain::tickets::RoutingRules,
        by: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(rules)
            .map_err(|e| StoreError::Database(sqlx::Error::Decode(e.into())))?;
        let sql = "INSERT INTO ticket_routing_rules (id, rules, updated_by, updated_at) VALUES (1, $1, $2, $3) \
                   ON CONFLICT (id) DO UPDATE SET rules = excluded.rules, \
                   updated_by = excluded.updated_by, updated_at = excluded.updated_at";
        on_pool!(self, pool => sqlx::query(sql)
            .bind(json).bind(by).bind(now)
            .execute(pool).await.map(|_| ()))?;
        Ok(())
    }
}
