//! How many model tokens one conversation may spend: a chat widget must not
//! become a free LLM. Counted in hourly buckets kept with the bot's session, so
//! the limit holds across nodes and restarts.

use serde::{Deserialize, Serialize};

const HOUR_MS: i64 = 3_600_000;

/// Tokens (prompt from the buyer plus generated answer) one conversation may
/// spend in the current hour and in the last 24 hours. Past either, the bot
/// answers from curated entries only, or hands off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenBudget {
    pub per_hour: u64,
    pub per_day: u64,
}

impl Default for TokenBudget {
    fn default() -> Self {
        Self {
            per_hour: 8_000,
            per_day: 30_000,
        }
    }
}

/// Tokens spent, by hour (hours since the epoch), the last 24 hours only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    hours: Vec<(i64, u64)>,
}

impl TokenUsage {
    pub fn spend(&mut self, now_ms: i64, tokens: u64) {
        let hour = now_ms.div_euclid(HOUR_MS);
        self.hours.retain(|(h, _)| *h > hour - 24);
        match self.hours.iter_mut().find(|(h, _)| *h == hour) {
            Some((_, spent)) => *spent += tokens,
            None => self.hours.push((hour, tokens)),
        }
    }

    /// Whether another model call fits: something is left this hour and today.
    pub fn allows(&self, budget: TokenBudget, now_ms: i64) -> bool {
        let hour = now_ms.div_euclid(HOUR_MS);
        let this_hour: u64 = self
            .hours
            .iter()
            .filter(|(h, _)| *h == hour)
            .map(|(_, t)| t)
            .sum();
        let today: u64 = self
            .hours
            .iter()
            .filter(|(h, _)| *h > hour - 24)
            .map(|(_, t)| t)
            .sum();
        this_hour < budget.per_hour && today < budget.per_day
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUDGET: TokenBudget = TokenBudget {
        per_hour: 100,
        per_day: 250,
    };

    #[test]
    fn the_hour_budget_resets_with_the_next_hour_and_the_day_budget_after_24() {
        let start = 10 * HOUR_MS;
        let mut usage = TokenUsage::default();
        assert!(usage.allows(BUDGET, start));
        usage.spend(start, 99);
        assert!(usage.allows(BUDGET, start + 1000));
        usage.spend(start + 1000, 5);
        assert!(
            !usage.allows(BUDGET, start + 2000),
            "past the hour's budget"
        );
        assert!(usage.allows(BUDGET, start + HOUR_MS), "a new hour");
        usage.spend(start + HOUR_MS, 100);
        usage.spend(start + 2 * HOUR_MS, 60);
        assert!(
            !usage.allows(BUDGET, start + 3 * HOUR_MS),
            "past the day's budget"
        );
        assert!(usage.allows(BUDGET, start + 26 * HOUR_MS), "a day later");
        usage.spend(start + 30 * HOUR_MS, 1);
        assert_eq!(usage.hours.len(), 1, "old hours are dropped");
    }
}
