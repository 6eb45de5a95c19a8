//! The shop settings row (one row, id 1).

use super::{Store, StoreError, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ShopRow {
    pub shop_name: String,
    pub service_hours: Option<String>,
    pub utc_offset_minutes: i32,
    /// A JSON array of "YYYY-MM-DD".
    pub holidays: String,
    pub updated_by: Option<String>,
    pub updated_at: i64,
}

impl Store {
    pub async fn shop_settings(&self) -> Result<Option<ShopRow>, StoreError> {
        let sql = "SELECT shop_name, service_hours, utc_offset_minutes, holidays, updated_by, updated_at \
                   FROM shop_settings WHERE id = 1";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ShopRow>(sql).fetch_optional(pool).await?))
    }

    /// Writes the row; with `only_if_missing` an existing row is kept (first-run seeding).
    pub async fn put_shop_settings(
        &self,
        row: &ShopRow,
        only_if_missing: bool,
    ) -> Result<(), StoreError> {
        let sql = if only_if_missing {
            "INSERT INTO shop_settings (id, shop_name, service_hours, utc_offset_minutes, holidays, updated_by, updated_at) \
             VALUES (1, $1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING"
        } else {
            "INSERT INTO shop_settings (id, shop_name, service_hours, utc_offset_minutes, holidays, updated_by, updated_at) \
             VALUES (1, $1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET shop_name = excluded.shop_name, \
             service_hours = excluded.service_hours, utc_offset_minutes = excluded.utc_offset_minutes, \
             holidays = excluded.holidays, updated_by = excluded.updated_by, updated_at = excluded.updated_at"
        };
        on_pool!(self, pool => sqlx::query(sql)
            .bind(&row.shop_name).bind(&row.service_hours).bind(row.utc_offset_minutes)
            .bind(&row.holidays).bind(&row.updated_by).bind(row.updated_at)
            .execute(pool).await.map(|_| ()))?;
        Ok(())
    }
}
