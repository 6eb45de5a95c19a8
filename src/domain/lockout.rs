//! Lockout after failed sign-ins, per account and per client address: after a
//! few failures each further one locks the key for twice as long as the last,
//! up to a ceiling; a success clears the account's count. Pure rules: the
//! caller passes the time.

use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures allowed before the first lock; 0 turns lockout off.
    pub free_failures: u32,
    /// The first lock; each further failure doubles it.
    pub first_lock_secs: u64,
    /// The longest lock.
    pub max_lock_secs: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Failures {
    count: u32,
    last_ms: i64,
    locked_until_ms: i64,
}

/// Failure counts by key (a lower-cased account name, or a client address).
#[derive(Debug)]
pub struct Lockout {
    policy: LockoutPolicy,
    keys: Mutex<HashMap<String, Failures>>,
}

/// Above this many remembered keys, the forgotten ones are dropped.
const PRUNE_ABOVE: usize = 100_000;

impl Lockout {
    pub fn new(policy: LockoutPolicy) -> Self {
        Lockout {
            policy,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds until `key` may try again, if it is locked now.
    pub fn locked_for(&self, key: &str, now_ms: i64) -> Option<u64> {
        let keys = self.keys.lock().expect("lockout map is never poisoned");
        let until = keys.get(key)?.locked_until_ms;
        (until > now_ms).then(|| ((until - now_ms) as u64).div_ceil(1000))
    }

    /// Counts a failure; locks the key once past the free failures.
    pub fn failed(&self, key: &str, now_ms: i64) {
        let p = self.policy;
        if p.free_failures == 0 {
            return;
        }
        let mut keys = self.keys.lock().expect("lockout map is never poisoned");
        if keys.len() > PRUNE_ABOVE {
            keys.retain(|_, f| !self.forgotten(f, now_ms));
        }
        let entry = keys.entry(key.to_owned()).or_default();
        if self.forgotten(entry, now_ms) {
            *entry = Failures::default();
        }
        entry.count += 1;
        entry.last_ms = now_ms;
        if let Some(over) = entry.count.checked_sub(p.free_failures).filter(|n| *n > 0) {
            let lock = p
                .first_lock_secs
                .saturating_mul(1u64 << (over - 1).min(20))
                .min(p.max_lock_secs);
            entry.locked_until_ms = now_ms + lock as i64 * 1000;
        }
    }

    pub fn succeeded(&self, key: &str) {
        self.keys
            .lock()
            .expect("lockout map is never poisoned")
            .remove(key);
    }

    /// A key quiet for twice the longest lock starts afresh.
    fn forgotten(&self, f: &Failures, now_ms: i64) -> bool {
        now_ms - f.last_ms > 2 * self.policy.max_lock_secs as i64 * 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lockout() -> Lockout {
        Lockout::new(LockoutPolicy {
            free_failures: 3,
            first_lock_secs: 10,
            max_lock_secs: 60,
        })
    }

    #[test]
    fn locks_after_the_free_failures_and_doubles_up_to_the_ceiling() {
        let l = lockout();
        for _ in 0..3 {
            l.failed("alice", 0);
        }
        assert_eq!(l.locked_for("alice", 0), None);
        let mut expected = [10, 20, 40, 60, 60].into_iter();
        for _ in 0..5 {
            l.failed("alice", 0);
            assert_eq!(l.locked_for("alice", 0), expected.next());
        }
        assert_eq!(l.locked_for("alice", 59_500), Some(1));
        assert_eq!(l.locked_for("alice", 60_000), None);
        assert_eq!(l.locked_for("bob", 0), None);
    }

    #[test]
    fn success_clears_and_a_long_quiet_forgets() {
        let l = lockout();
        for _ in 0..4 {
            l.failed("alice", 0);
        }
        l.succeeded("alice");
        assert_eq!(l.locked_for("alice", 0), None);
        for _ in 0..4 {
            l.failed("bob", 0);
        }
        l.failed("bob", 121_000 + 10_000);
        assert_eq!(
            l.locked_for("bob", 131_000),
            None,
            "counts restart after a quiet spell"
        );
    }

    #[test]
    fn a_zero_policy_never_locks() {
        let l = Lockout::new(LockoutPolicy {
            free_failures: 0,
            first_lock_secs: 10,
            max_lock_secs: 60,
        });
        for _ in 0..100 {
            l.failed("alice", 0);
        }
        assert_eq!(l.locked_for("alice", 0), None);
    }
}
