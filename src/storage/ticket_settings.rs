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
