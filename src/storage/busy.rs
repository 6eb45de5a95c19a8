//! How a SQLite connection waits for the write lock.
//!
//! SQLite has one writer at a time. Its own busy handler (what `busy_timeout`
//! installs) sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50 and then 100 ms
//! between tries, so a chat commit that finds a subscriber's short write in
//! progress can sleep 100 ms after the lock came free: under load those sleeps
//! were most of the acknowledgement's tail. This handler tries again within a
//! fraction of a millisecond instead, for as long as the same budget allows.

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::time::{Duration, Instant};

/// How long a statement waits for the lock before it fails with "database is
/// locked".
pub const BUDGET: Duration = Duration::from_secs(10);

thread_local! {
    /// When the current wait began. sqlx runs each connection on its own
    /// thread, one statement at a time, so a thread waits for one lock at once.
    static WAITING_SINCE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// The pause before try `count` (0 for the first retry): short at first, since
/// most writes hold the lock for well under a millisecond, then longer so a
/// long write is not polled hard.
fn pause(count: c_int) -> Duration {
    match count {
        0..10 => Duration::from_micros(100),
        10..50 => Duration::from_micros(250),
        _ => Duration::from_millis(1),
    }
}

/// SQLite's busy callback: `data` carries the budget in milliseconds (no
/// allocation to free); returns 1 to try again, 0 to give up.
unsafe extern "C" fn on_busy(data: *mut c_void, count: c_int) -> c_int {
    let budget = Duration::from_millis(data as usize as u64);
    let now = Instant::now();
    let since = WAITING_SINCE.with(|since| {
        if count == 0 || since.get().is_none() {
            since.set(Some(now));
        }
        since.get().unwrap_or(now)
    });
    if now.duration_since(since) >= budget {
        return 0;
    }
    std::thread::sleep(pause(count));
    1
}

/// Gives the connection this module's busy handler with `budget`.
pub async fn install_with(
    conn: &mut sqlx::SqliteConnection,
    budget: Duration,
) -> Result<(), sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    let millis = usize::try_from(budget.as_millis()).unwrap_or(usize::MAX);
    // SAFETY: `db` is this connection's open handle, held locked for the call;
    // the callback keeps no pointer and reads its budget from the pointer's
    // value, never through it.
    let rc =
        unsafe { libsqlite3_sys::sqlite3_busy_handler(db, Some(on_busy), millis as *mut c_void) };
    if rc != libsqlite3_sys::SQLITE_OK {
        return Err(sqlx::Error::Protocol(format!(
            "cannot set the SQLite busy handler (code {rc})"
        )));
    }
    Ok(())
}

/// Gives the connection this module's busy handler with the server's budget.
pub async fn install(conn: &mut sqlx::SqliteConnection) -> Result<(), sqlx::Error> {
    install_with(conn, BUDGET).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};

    async fn open(path: &std::path::Path, budget: Duration) -> sqlx::SqliteConnection {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        install_with(&mut conn, budget).await.unwrap();
        conn
    }

    #[tokio::test]
    async fn a_writer_waits_out_its_budget_then_fails_and_gets_the_lock_once_free() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("busy.db");
        let mut first = open(&path, Duration::from_millis(150)).await;
        let mut second = open(&path, Duration::from_millis(150)).await;
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(&mut first)
            .await
            .unwrap();

        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut first)
            .await
            .unwrap();
        let started = Instant::now();
        let blocked = sqlx::query("BEGIN IMMEDIATE").execute(&mut second).await;
        let waited = started.elapsed();
        let error = blocked.expect_err("the lock is held");
        assert!(error.to_string().contains("locked"), "{error}");
        assert!(
            waited >= Duration::from_millis(150),
            "gave up after {waited:?}"
        );

        // Freed while the second waits: it gets the lock and writes.
        let release = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            sqlx::query("INSERT INTO t VALUES (1)")
                .execute(&mut first)
                .await
                .unwrap();
            sqlx::query("COMMIT").execute(&mut first).await.unwrap();
        });
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut second)
            .await
            .unwrap();
        sqlx::query("INSERT INTO t VALUES (2)")
            .execute(&mut second)
            .await
            .unwrap();
        sqlx::query("COMMIT").execute(&mut second).await.unwrap();
        release.await.unwrap();
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM t")
            .fetch_one(&mut second)
            .await
            .unwrap();
        assert_eq!(n, 2);
    }

    #[test]
    fn retries_start_short_and_lengthen() {
        assert!(pause(0) < pause(20));
        assert!(pause(20) < pause(100));
        assert_eq!(pause(1_000), Duration::from_millis(1));
    }
}
