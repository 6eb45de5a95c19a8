//! The shop settings row (one row, id 1).

use super::{Store, StoreError, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ShopRow {
    pub shop_name: String,
    pub service_hours: Option<String>,
    pub utc_offset_minutes: i32,
    /// A JSON array of "YYYY-MM-DD".
    pub holidays: String,
    pub updated_by: Option<String>,
    pub updated_at: i64,
}

impl Store {
    pub(crate) async fn shop_settings(&self) -> Result<Option<ShopRow>, StoreError> {
        let sql = "SELECT shop_name, service_hours, utc_offset_minutes, holidays, updated_by, updated_at \
                   FROM shop_settings WHERE id = 1";
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ShopRow>(sql).fetch_optional(pool).await?))
    }

    /// Writes the row; with `only_if_missing` an existing row is kept (first-run seeding).
    pub(crate) async fn put_shop_settings(
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

#[async_trait::async_trait]
impl crate::ports::repositories::ShopSettingsRepository for Store {
    async fn get(
        &self,
    ) -> Result<
        Option<crate::ports::repositories::StoredShopSettings>,
        crate::ports::repositories::RepoError,
    > {
        use crate::ports::repositories::{RepoError, StoredShopSettings};
        let Some(row) = self.shop_settings().await? else {
            return Ok(None);
        };
        let holidays = serde_json::from_str(&row.holidays)
            .map_err(|e| RepoError::Corrupt(format!("shop holidays: {e}")))?;
        Ok(Some(StoredShopSettings {
            shop_name: row.shop_name,
            service_hours: row.service_hours,
            utc_offset_minutes: row.utc_offset_minutes,
            holidays,
            updated_by: row.updated_by,
            updated_at: row.updated_at,
        }))
    }

    async fn put(
        &self,
        s: &crate::ports::repositories::StoredShopSettings,
        only_if_missing: bool,
    ) -> Result<(), crate::ports::repositories::RepoError> {
        let row = ShopRow {
            shop_name: s.shop_name.clone(),
            service_hours: s.service_hours.clone(),
            utc_offset_minutes: s.utc_offset_minutes,
            holidays: serde_json::to_string(&s.holidays).expect("strings serialise"),
            updated_by: s.updated_by.clone(),
            updated_at: s.updated_at,
        };
        Ok(self.put_shop_settings(&row, only_if_missing).await?)
    }
}
