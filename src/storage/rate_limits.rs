//! Rate limits and sign-in lockouts that hold across nodes: request counts per
//! minute and failed sign-ins, each row found by a keyed hash (the data key's
//! blind index) of the limit and its key, never by the clear address, visitor
//! or account name. The rules live in `domain::rate_window` and
//! `domain::lockout`; this only keeps the counts.

use super::{Backend, Store, StoreError, on_pool};
use crate::domain::lockout::{Failures, LockoutPolicy};
use crate::domain::rate_window::WINDOW_MS;

impl Store {
    /// Counts one request of `key` against the limit `purpose` in the window
    /// starting at `window`: (hits in the window before, hits in this one with
    /// this request).
    pub async fn count_in_window(
        &self,
        purpose: &str,
        key: &str,
        window: i64,
    ) -> Result<(u64, u64), StoreError> {
        let index = self.sealer().blind_index(purpose, key);
        let count = "INSERT INTO rate_windows (key_index, window_start, hits) VALUES ($1, $2, 1) \
                     ON CONFLICT (key_index, window_start) DO UPDATE SET hits = rate_windows.hits + 1 \
                     RETURNING hits";
        let before = "SELECT hits FROM rate_windows WHERE key_index = $1 AND window_start = $2";
        let (current, previous) = on_pool!(self, pool => {
            let (current,): (i64,) = sqlx::query_as(count)
                .bind(&index).bind(window).fetch_one(pool).await?;
            let previous: Option<(i64,)> = sqlx::query_as(before)
                .bind(&index).bind(window - WINDOW_MS).fetch_optional(pool).await?;
            (current, previous.map_or(0, |p| p.0))
        });
        Ok((previous.max(0) as u64, current.max(0) as u64))
    }

    /// The failed sign-ins counted against `key` (none if never, or forgiven).
    pub async fn sign_in_failures(&self, purpose: &str, key: &str) -> Result<Failures, StoreError> {
        let index = self.sealer().blind_index(purpose, key);
        let sql = "SELECT failures, last_failed_at, locked_until FROM sign_in_failures WHERE key_index = $1";
        let row: Option<(i64, i64, i64)> = on_pool!(self, pool => sqlx::query_as(sql)
            .bind(&index).fetch_optional(pool).await?);
        Ok(row.map(failures).unwrap_or_default())
    }

    /// Counts one more failed sign-in against `key` under `policy`, read and
    /// written in one transaction (two nodes counting at once both count).
    pub async fn count_sign_in_failure(
        &self,
        purpose: &str,
        key: &str,
        policy: &LockoutPolicy,
        now: i64,
    ) -> Result<Failures, StoreError> {
        let index = self.sealer().blind_index(purpose, key);
        let ensure = "INSERT INTO sign_in_failures (key_index, failures, last_failed_at, locked_until, forget_at) \
                      VALUES ($1, 0, $2, 0, $2) ON CONFLICT (key_index) DO NOTHING";
        let read = match self.backend() {
            Backend::Sqlite => {
                "SELECT failures, last_failed_at, locked_until FROM sign_in_failures WHERE key_index = $1"
            }
            Backend::Postgres => {
                "SELECT failures, last_failed_at, locked_until FROM sign_in_failures WHERE key_index = $1 FOR UPDATE"
            }
        };
        let write = "UPDATE sign_in_failures SET failures = $2, last_failed_at = $3, locked_until = $4, forget_at = $5 \
                     WHERE key_index = $1";
        let next = on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            sqlx::query(ensure).bind(&index).bind(now).execute(&mut *tx).await?;
            let row: (i64, i64, i64) = sqlx::query_as(read).bind(&index).fetch_one(&mut *tx).await?;
            let next = policy.failed(failures(row), now);
            sqlx::query(write)
                .bind(&index).bind(i64::from(next.count)).bind(next.last_ms)
                .bind(next.locked_until_ms).bind(policy.forget_at(&next))
                .execute(&mut *tx).await?;
            tx.commit().await?;
            next
        });
        Ok(next)
    }

    /// Forgives the failed sign-ins of `key` (a successful sign-in).
    pub async fn forgive_sign_in_failures(
        &self,
        purpose: &str,
        key: &str,
    ) -> Result<(), StoreError> {
        let index = self.sealer().blind_index(purpose, key);
        on_pool!(self, pool => sqlx::query("DELETE FROM sign_in_failures WHERE key_index = $1")
            .bind(&index).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Drops windows that no longer count (older than the one before now's)
    /// and failures past their forgetting. Returns the rows dropped.
    pub async fn purge_rate_state(&self, now: i64) -> Result<u64, StoreError> {
        let before = crate::domain::rate_window::window_start(now) - WINDOW_MS;
        let dropped = on_pool!(self, pool => {
            let windows = sqlx::query("DELETE FROM rate_windows WHERE window_start < $1")
                .bind(before).execute(pool).await?.rows_affected();
            let failures = sqlx::query("DELETE FROM sign_in_failures WHERE forget_at < $1")
                .bind(now).execute(pool).await?.rows_affected();
            windows + failures
        });
        Ok(dropped)
    }
}

fn failures((count, last_ms, locked_until_ms): (i64, i64, i64)) -> Failures {
    Failures {
        count: u32::try_from(count.max(0)).unwrap_or(u32::MAX),
        last_ms,
        locked_until_ms,
    }
}
