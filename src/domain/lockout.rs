//! Lockout after failed sign-ins, per account and per client address: after a
//! few failures each further one locks the key for twice as long as the last,
//! up to a ceiling; a success clears the account's count. Pure rules: the
//! caller passes the time, and the store keeps the [`Failures`] of each key
//! (in the database, so every node of a cluster sees the same count).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures allowed before the first lock; 0 turns lockout off.
    pub free_failures: u32,
    /// The first lock; each further failure doubles it.
    pub first_lock_secs: u64,
    /// The longest lock.
    pub max_lock_secs: u64,
}

/// The failures counted against one key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Failures {
    pub count: u32,
    pub last_ms: i64,
    pub locked_until_ms: i64,
}

impl LockoutPolicy {
    pub fn is_off(&self) -> bool {
        self.free_failures == 0
    }

    /// Seconds until a key with these failures may try again, if it is locked now.
    pub fn locked_for(&self, f: &Failures, now_ms: i64) -> Option<u64> {
        let until = f.locked_until_ms;
        (until > now_ms).then(|| ((until - now_ms) as u64).div_ceil(1000))
    }

    /// The failures after one more at `now_ms`: locked once past the free
    /// failures; a key quiet long enough to be forgotten starts afresh.
    pub fn failed(&self, f: Failures, now_ms: i64) -> Failures {
        if self.is_off() {
            return f;
        }
        let mut next = if self.forgotten(&f, now_ms) {
            Failures::default()
        } else {
            f
        };
        next.count = next.count.saturating_add(1);
        next.last_ms = now_ms;
        if let Some(over) = next
            .count
            .checked_sub(self.free_failures)
            .filter(|n| *n > 0)
        {
            let lock = self
                .first_lock_secs
                .saturating_mul(1u64 << (over - 1).min(20))
                .min(self.max_lock_secs);
            next.locked_until_ms = now_ms + lock as i64 * 1000;
        }
        next
    }

    /// When these failures are forgotten: a key quiet for twice the longest
    /// lock starts afresh (and its stored count may be dropped).
    pub fn forget_at(&self, f: &Failures) -> i64 {
        f.last_ms
            .saturating_add((2 * self.max_lock_secs as i64).saturating_mul(1000))
            .max(f.locked_until_ms)
    }

    fn forgotten(&self, f: &Failures, now_ms: i64) -> bool {
        now_ms > self.forget_at(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: LockoutPolicy = LockoutPolicy {
        free_failures: 3,
        first_lock_secs: 10,
        max_lock_secs: 60,
    };

    fn fail_times(policy: &LockoutPolicy, n: usize, now_ms: i64) -> Failures {
        (0..n).fold(Failures::default(), |f, _| policy.failed(f, now_ms))
    }

    #[test]
    fn locks_after_the_free_failures_and_doubles_up_to_the_ceiling() {
        let mut f = fail_times(&POLICY, 3, 0);
        assert_eq!(POLICY.locked_for(&f, 0), None);
        let mut expected = [10, 20, 40, 60, 60].into_iter();
        for _ in 0..5 {
            f = POLICY.failed(f, 0);
            assert_eq!(POLICY.locked_for(&f, 0), expected.next());
        }
        assert_eq!(POLICY.locked_for(&f, 59_500), Some(1));
        assert_eq!(POLICY.locked_for(&f, 60_000), None);
        assert_eq!(POLICY.locked_for(&Failures::default(), 0), None);
    }

    #[test]
    fn a_long_quiet_forgets() {
        let f = fail_times(&POLICY, 4, 0);
        assert_eq!(POLICY.forget_at(&f), 120_000);
        let later = POLICY.failed(f, 121_000 + 10_000);
        assert_eq!(later.count, 1, "counts restart after a quiet spell");
        assert_eq!(POLICY.locked_for(&later, 131_000), None);
    }

    #[test]
    fn a_zero_policy_never_locks() {
        let off = LockoutPolicy {
            free_failures: 0,
            ..POLICY
        };
        let f = fail_times(&off, 100, 0);
        assert_eq!(f, Failures::default());
        assert_eq!(off.locked_for(&f, 0), None);
    }
}
