//! The console bell: each person's in-app ticket reminders, written once per
//! (event, person) and marked read by their owner only.

use super::{Store, StoreError, on_pool};
use crate::ports::repositories::{BellItem, NewBell, RepoError};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct BellRow {
    pub id: String,
    pub kind: String,
    pub ticket_id: String,
    pub ticket_number: String,
    pub created_at: i64,
    pub read_at: Option<i64>,
}

impl Store {
    /// Writes a reminder unless this (event, person) has one already; true
    /// when written.
    pub async fn insert_bell(&self, bell: &NewBell<'_>) -> Result<bool, StoreError> {
        let sql = "INSERT INTO staff_notifications \
                   (id, staff_id, event_id, kind, ticket_id, ticket_number, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id, staff_id) DO NOTHING";
        let id = format!("ntf_{}", uuid::Uuid::now_v7().simple());
        let written = on_pool!(self, pool => sqlx::query(sql)
            .bind(&id).bind(bell.staff_id).bind(bell.event_id).bind(bell.kind)
            .bind(bell.ticket_id).bind(bell.ticket_number).bind(bell.created_at)
            .execute(pool).await?.rows_affected());
        Ok(written == 1)
    }

    /// A person's newest reminders, and how many of all theirs are unread.
    pub async fn bell(
        &self,
        staff_id: &str,
        limit: i64,
    ) -> Result<(Vec<BellRow>, i64), StoreError> {
        let sql = "SELECT id, kind, ticket_id, ticket_number, created_at, read_at \
                   FROM staff_notifications WHERE staff_id = $1 \
                   ORDER BY created_at DESC, id DESC LIMIT $2";
        let rows: Vec<BellRow> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(staff_id).bind(limit).fetch_all(pool).await?);
        let count =
            "SELECT COUNT(*) FROM staff_notifications WHERE staff_id = $1 AND read_at IS NULL";
        let (unread,): (i64,) =
            on_pool!(self, pool => sqlx::query_as(count).bind(staff_id).fetch_one(pool).await?);
        Ok((rows, unread))
    }

    /// Marks one of `staff_id`'s reminders read; false when they have no such
    /// reminder (someone else's is not found either).
    pub async fn mark_bell_read(
        &self,
        staff_id: &str,
        id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE staff_notifications SET read_at = COALESCE(read_at, $3) \
                   WHERE id = $1 AND staff_id = $2";
        let changed = on_pool!(self, pool => sqlx::query(sql)
            .bind(id).bind(staff_id).bind(now).execute(pool).await?.rows_affected());
        Ok(changed == 1)
    }

    /// Marks every unread reminder of `staff_id` read; returns how many.
    pub async fn mark_all_bell_read(&self, staff_id: &str, now: i64) -> Result<u64, StoreError> {
        let sql =
            "UPDATE staff_notifications SET read_at = $2 WHERE staff_id = $1 AND read_at IS NULL";
        Ok(on_pool!(self, pool => sqlx::query(sql)
            .bind(staff_id).bind(now).execute(pool).await?.rows_affected()))
    }
}

#[async_trait::async_trait]
impl crate::ports::repositories::BellRecords for Store {
    async fn ring(&self, bell: &NewBell<'_>) -> Result<bool, RepoError> {
        Ok(self.insert_bell(bell).await?)
    }

    async fn bell(&self, staff_id: &str, limit: i64) -> Result<(Vec<BellItem>, i64), RepoError> {
        let (rows, unread) = Store::bell(self, staff_id, limit).await?;
        let items = rows
            .into_iter()
            .map(|r| BellItem {
                id: r.id,
                kind: r.kind,
                ticket_id: r.ticket_id,
                ticket_number: r.ticket_number,
                created_at: r.created_at,
                read_at: r.read_at,
            })
            .collect();
        Ok((items, unread))
    }

    async fn mark_read(&self, staff_id: &str, id: &str, now: i64) -> Result<bool, RepoError> {
        Ok(self.mark_bell_read(staff_id, id, now).await?)
    }

    async fn mark_all_read(&self, staff_id: &str, now: i64) -> Result<u64, RepoError> {
        Ok(self.mark_all_bell_read(staff_id, now).await?)
    }
}
