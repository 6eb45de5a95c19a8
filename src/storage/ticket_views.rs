//! Saved views of the ticket list: a person's named filters.

use super::{Store, StoreError, on_pool};
use crate::ports::repositories::{RepoError, SavedView, SavedViews};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TicketViewRow {
    pub id: String,
    pub staff_id: String,
    pub name: String,
    /// JSON of the list's filters.
    pub filters: String,
    pub created_at: i64,
}

impl Store {
    /// Saves a view unless the person already has `max` of them (then false);
    /// a name they already use is `AlreadyExists`. One statement, so two saves
    /// racing cannot both pass the count.
    pub async fn insert_ticket_view(
        &self,
        row: &TicketViewRow,
        max: i64,
    ) -> Result<bool, StoreError> {
        let sql = "INSERT INTO ticket_views (id, staff_id, name, filters, created_at) \
                   SELECT $1, $2, $3, $4, $5 \
                   WHERE (SELECT COUNT(*) FROM ticket_views WHERE staff_id = $2) < $6";
        let inserted = on_pool!(self, pool => sqlx::query(sql)
            .bind(&row.id).bind(&row.staff_id).bind(&row.name).bind(&row.filters).bind(row.created_at).bind(max)
            .execute(pool).await.map(|r| r.rows_affected()))
        .map_err(StoreError::from_insert)?;
        Ok(inserted == 1)
    }

    /// A person's views, by name.
    pub async fn ticket_views(&self, staff_id: &str) -> Result<Vec<TicketViewRow>, StoreError> {
        let sql = "SELECT id, staff_id, name, filters, created_at FROM ticket_views \
                   WHERE staff_id = $1 ORDER BY name";
        Ok(
            on_pool!(self, pool => sqlx::query_as::<_, TicketViewRow>(sql)
            .bind(staff_id).fetch_all(pool).await?),
        )
    }

    /// Deletes one of the person's own views; another person's is `NotFound`.
    pub async fn delete_ticket_view(&self, staff_id: &str, id: &str) -> Result<(), StoreError> {
        let sql = "DELETE FROM ticket_views WHERE id = $1 AND staff_id = $2";
        let done = on_pool!(self, pool => sqlx::query(sql)
            .bind(id).bind(staff_id).execute(pool).await?.rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl SavedViews for Store {
    async fn insert_view(&self, view: &SavedView, max: i64) -> Result<bool, RepoError> {
        let row = TicketViewRow {
            id: view.id.clone(),
            staff_id: view.staff_id.clone(),
            name: view.name.clone(),
            filters: view.filters.clone(),
            created_at: view.created_at,
        };
        Ok(self.insert_ticket_view(&row, max).await?)
    }

    async fn views_of(&self, staff_id: &str) -> Result<Vec<SavedView>, RepoError> {
        Ok(self
            .ticket_views(staff_id)
            .await?
            .into_iter()
            .map(|r| SavedView {
                id: r.id,
                staff_id: r.staff_id,
                name: r.name,
                filters: r.filters,
                created_at: r.created_at,
            })
            .collect())
    }

    async fn delete_view(&self, staff_id: &str, id: &str) -> Result<(), RepoError> {
        Ok(self.delete_ticket_view(staff_id, id).await?)
    }
}
