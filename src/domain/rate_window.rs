//! The sliding window that counts requests across every node of a cluster:
//! the count of this minute plus the count of the last one weighted by how
//! much of it still lies within sixty seconds of now. Pure rules: the store
//! keeps the counts per minute, the caller passes the time.

/// The length of one window.
pub const WINDOW_MS: i64 = 60_000;

/// The start of the window holding `now_ms`.
pub fn window_start(now_ms: i64) -> i64 {
    now_ms - now_ms.rem_euclid(WINDOW_MS)
}

/// Judges a request already counted in `current` (this window's hits) with
/// `previous` hits in the window before: `None` while the weighted count is
/// within `quota`, else the seconds until one more request would be.
pub fn over_quota(previous: u64, current: u64, now_ms: i64, quota: u32) -> Option<u64> {
    let quota = u64::from(quota);
    let elapsed = now_ms.rem_euclid(WINDOW_MS) as f64 / WINDOW_MS as f64;
    let weighted = |prev: u64, fraction: f64| prev as f64 * (1.0 - fraction);
    if weighted(previous, elapsed) + current as f64 <= quota as f64 {
        return None;
    }
    // One more fits in this window once the last one's weight has fallen to
    // the room left; else in the next, once this one's weight has.
    let left_ms = (WINDOW_MS as f64) * (1.0 - elapsed);
    let wait_ms = if current < quota && previous > 0 {
        let room = (quota - current - 1) as f64;
        let fraction = 1.0 - room / previous as f64;
        (fraction - elapsed).max(0.0) * WINDOW_MS as f64
    } else {
        let room = quota.saturating_sub(1) as f64;
        let fraction = if current == 0 {
            0.0
        } else {
            (1.0 - room / current as f64).max(0.0)
        };
        left_ms + fraction * WINDOW_MS as f64
    };
    Some(((wait_ms / 1000.0).ceil() as u64).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_the_quota_nothing_waits() {
        assert_eq!(over_quota(0, 10, 5_000, 10), None);
        assert_eq!(window_start(125_000), 120_000);
    }

    #[test]
    fn this_minute_over_the_quota_waits_into_the_next() {
        // 11 of 10 at the start of a minute: wait the minute out, then until
        // its weight leaves room for one more (2/11 of the next minute).
        assert_eq!(over_quota(0, 11, 0, 10), Some(60 + 11));
        assert_eq!(over_quota(0, 11, 30_000, 10), Some(30 + 11));
    }

    #[test]
    fn the_last_minute_counts_less_as_it_slides_away() {
        // 10 last minute and 1 now: over at the start, under at half way.
        assert_eq!(over_quota(10, 1, 0, 10), Some(12));
        assert_eq!(over_quota(10, 1, 30_000, 10), None);
        assert_eq!(over_quota(10, 6, 30_000, 10), Some(12));
    }
}
