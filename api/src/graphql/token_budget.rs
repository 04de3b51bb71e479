//! Each API token's budget of requests: a token bucket that refills at
//! `GRAPHQL_RATE_PER_MINUTE` and holds at most `GRAPHQL_BURST`. A request with an empty
//! bucket is answered 429 with `Retry-After`. Buckets are kept per token id, and only
//! valid tokens reach this, so their number is bounded by the tokens staff created.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct TokenBudgets {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<i64, Bucket>>,
}

struct Bucket {
    available: f64,
    updated: Instant,
}

impl TokenBudgets {
    pub fn new(per_minute: u32, burst: u32) -> Self {
        TokenBudgets {
            per_second: f64::from(per_minute.max(1)) / 60.0,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Spends one request of `token_id`'s budget, or says how long until one is earned.
    pub fn spend(&self, token_id: i64) -> Result<(), Duration> {
        self.spend_at(token_id, Instant::now())
    }

    fn spend_at(&self, token_id: i64, now: Instant) -> Result<(), Duration> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let bucket = buckets.entry(token_id).or_insert(Bucket {
            available: self.burst,
            updated: now,
        });
        let earned = now.saturating_duration_since(bucket.updated).as_secs_f64() * self.per_second;
        bucket.available = (bucket.available + earned).min(self.burst);
        bucket.updated = now;
        if bucket.available >= 1.0 {
            bucket.available -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.available) / self.per_second,
            ))
        }
    }
}

/// Whole seconds for a `Retry-After` header: never 0, so a client does wait.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_spends_its_burst_then_waits_for_the_rate() {
        let budgets = TokenBudgets::new(60, 3);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(budgets.spend_at(7, start).is_ok());
        }
        let waited = budgets.spend_at(7, start).map_err(retry_after_secs);
        assert_eq!(waited, Err(1));
        // Another token has its own bucket.
        assert!(budgets.spend_at(8, start).is_ok());
        // One request a second at 60 a minute.
        assert!(
            budgets
                .spend_at(7, start + Duration::from_millis(999))
                .is_err()
        );
        assert!(
            budgets
                .spend_at(7, start + Duration::from_millis(2_000))
                .is_ok()
        );
    }

    #[test]
    fn a_resting_token_never_holds_more_than_the_burst() {
        let budgets = TokenBudgets::new(600, 2);
        let start = Instant::now();
        assert!(budgets.spend_at(1, start).is_ok());
        let later = start + Duration::from_secs(3_600);
        assert!(budgets.spend_at(1, later).is_ok());
        assert!(budgets.spend_at(1, later).is_ok());
        assert!(budgets.spend_at(1, later).is_err());
    }

    #[test]
    fn retry_after_is_rounded_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(10)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1_500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(4)), 4);
    }
}
