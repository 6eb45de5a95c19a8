//! The model's proposed wordings of entries with few, and the entry versions
//! it was asked about (migration 0044).

use super::{Store, StoreError, on_pool};
use crate::domain::wording::{SuggestionStatus, WordingSuggestion};
use crate::ports::repositories::{RepoError, WordingSuggestions};
use std::collections::HashMap;

type Row = (
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<String>,
);

/// The columns of a `Row`, in its order.
macro_rules! columns {
    () => {
        "id, entry_id, text, status, created_at, decided_at, decided_by"
    };
}

fn suggestion(row: Row) -> Result<WordingSuggestion, RepoError> {
    let (id, entry_id, text, status, created_at, decided_at, decided_by) = row;
    let status = SuggestionStatus::parse(&status)
        .ok_or_else(|| RepoError::Corrupt(format!("wording suggestion status `{status}`")))?;
    Ok(WordingSuggestion {
        id,
        entry_id,
        text,
        status,
        created_at,
        decided_at,
        decided_by,
    })
}

#[async_trait::async_trait]
impl WordingSuggestions for Store {
    async fn propose(
        &self,
        entry_id: &str,
        version: i64,
        proposals: &[WordingSuggestion],
        now: i64,
    ) -> Result<usize, RepoError> {
        let insert = "INSERT INTO kb_wording_suggestions (id, entry_id, text, status, created_at) \
                      VALUES ($1, $2, $3, 'pending', $4) ON CONFLICT (entry_id, text) DO NOTHING";
        let mut new = 0;
        for p in proposals {
            let done = on_pool!(self, pool => sqlx::query(insert)
                .bind(&p.id).bind(entry_id).bind(&p.text).bind(now)
                .execute(pool).await.map(|r| r.rows_affected()))
            .map_err(StoreError::from)?;
            new += done as usize;
        }
        let asked = "INSERT INTO kb_wording_asks (entry_id, version, asked_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (entry_id) DO UPDATE SET version = excluded.version, asked_at = excluded.asked_at";
        on_pool!(self, pool => sqlx::query(asked)
            .bind(entry_id).bind(version).bind(now).execute(pool).await.map(|_| ()))
        .map_err(StoreError::from)?;
        Ok(new)
    }

    async fn asked(&self) -> Result<HashMap<String, i64>, RepoError> {
        let sql = "SELECT entry_id, version FROM kb_wording_asks";
        let rows: Vec<(String, i64)> = on_pool!(self, pool => sqlx::query_as(sql)
            .fetch_all(pool).await)
        .map_err(StoreError::from)?;
        Ok(rows.into_iter().collect())
    }

    async fn suggestions(
        &self,
        status: Option<SuggestionStatus>,
        limit: i64,
    ) -> Result<Vec<WordingSuggestion>, RepoError> {
        let rows: Vec<Row> = match status {
            Some(status) => {
                const SQL: &str = concat!(
                    "SELECT ",
                    columns!(),
                    " FROM kb_wording_suggestions WHERE status = $1 ORDER BY created_at, id LIMIT $2"
                );
                on_pool!(self, pool => sqlx::query_as(SQL)
                    .bind(status.as_str()).bind(limit).fetch_all(pool).await)
            }
            None => {
                const SQL: &str = concat!(
                    "SELECT ",
                    columns!(),
                    " FROM kb_wording_suggestions ORDER BY created_at, id LIMIT $1"
                );
                on_pool!(self, pool => sqlx::query_as(SQL)
                    .bind(limit).fetch_all(pool).await)
            }
        }
        .map_err(StoreError::from)?;
        rows.into_iter().map(suggestion).collect()
    }

    async fn suggestion(&self, id: &str) -> Result<Option<WordingSuggestion>, RepoError> {
        const SQL: &str = concat!(
            "SELECT ",
            columns!(),
            " FROM kb_wording_suggestions WHERE id = $1"
        );
        let row: Option<Row> = on_pool!(self, pool => sqlx::query_as(SQL)
            .bind(id).fetch_optional(pool).await)
        .map_err(StoreError::from)?;
        row.map(suggestion).transpose()
    }

    async fn decide(
        &self,
        id: &str,
        status: SuggestionStatus,
        by: &str,
        now: i64,
    ) -> Result<bool, RepoError> {
        let sql = "UPDATE kb_wording_suggestions SET status = $2, decided_at = $3, decided_by = $4 \
                   WHERE id = $1 AND status = 'pending'";
        let changed = on_pool!(self, pool => sqlx::query(sql)
            .bind(id).bind(status.as_str()).bind(now).bind(by)
            .execute(pool).await.map(|r| r.rows_affected()))
        .map_err(StoreError::from)?;
        Ok(changed == 1)
    }
}
