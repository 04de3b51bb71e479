//! Short-lived copies of what hot paths would otherwise read from the database on every
//! request: a verified staff token, the donation page's funds, Circle and appeal, the
//! giving club's income figures.
//!
//! Each copy belongs to a `Topic`. A change made through this process's domain
//! functions calls `Topic::changed`, and every copy of that topic read before it is
//! forgotten at once. A change made by another process sharing the database (the
//! command line, a second server) is not seen here until the copy's lifetime has passed:
//! that lifetime is the bound on staleness, a few seconds, set by `READ_CACHE_SECS`.
//! A lifetime of zero keeps nothing.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What a group of copies depends on; `changed` forgets all of them.
pub struct Topic(AtomicU64);

impl Topic {
    pub(crate) const fn new() -> Topic {
        Topic(AtomicU64::new(0))
    }

    /// Forgets every copy of this topic that this process holds.
    pub fn changed(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }

    fn version(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

/// Staff API tokens: a revocation.
pub static TOKENS: Topic = Topic::new();
/// Funds and giving tiers: anything that changes which funds the page offers or which
/// tier is the Circle.
pub static FUNDS_AND_TIERS: Topic = Topic::new();
/// Campaigns and appeals: their names, codes, goals and dates.
pub static APPEALS: Topic = Topic::new();
/// Pledges: anything that changes which pledges count toward the club or what they
/// commit (a new pledge; a change of status, amount or frequency; a payment that
/// completes one or brings one back from past due).
pub static PLEDGES: Topic = Topic::new();

/// Forgets the copies that depend on `entity` (the audit log's name for what changed).
/// Every staff change ends in `audit::record_and_commit`, which calls this after its
/// commit; a change committed another way calls it itself.
pub fn entity_changed(entity: &str) {
    if let Some(topic) = topic_of(entity) {
        topic.changed();
    }
}

/// The topic whose copies a change to `entity` makes stale, if any.
fn topic_of(entity: &str) -> Option<&'static Topic> {
    match entity {
        "api_token" => Some(&TOKENS),
        "fund" | "giving_tier" => Some(&FUNDS_AND_TIERS),
        "campaign" | "appeal" => Some(&APPEALS),
        // A gift staff record against a pledge can complete it.
        "pledge" | "gift" => Some(&PLEDGES),
        _ => None,
    }
}

/// The most copies one cache holds; past it, it starts again empty, so that a flood of
/// distinct keys cannot grow it.
const MOST_ENTRIES: usize = 1_024;

/// Copies of values by key, each fresh for `lifetime` after it was read and until its
/// topic changes.
pub struct Expiring<K, V> {
    topic: &'static Topic,
    lifetime: Duration,
    entries: Mutex<HashMap<K, Entry<V>>>,
}

struct Entry<V> {
    value: V,
    read_at: Instant,
    version: u64,
}

/// Where a copy stands before its value is read: the topic's version then, so that a
/// change made while the database is being read makes the copy stale at once.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    version: u64,
    read_at: Instant,
}

impl<K: Eq + Hash, V: Clone> Expiring<K, V> {
    pub fn new(topic: &'static Topic, lifetime: Duration) -> Self {
        Expiring {
            topic,
            lifetime,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The copy of `key`, if it is fresh at `now`; otherwise a ticket to `keep` the value
    /// about to be read.
    pub fn fresh(&self, key: &K, now: Instant) -> Result<V, Ticket> {
        let version = self.topic.version();
        if let Ok(entries) = self.entries.lock()
            && let Some(entry) = entries.get(key)
            && entry.version == version
            && now < entry.read_at + self.lifetime
        {
            return Ok(entry.value.clone());
        }
        Err(Ticket {
            version,
            read_at: now,
        })
    }

    /// Keeps `value`, read after `ticket` was given, as the copy of `key`.
    pub fn keep(&self, key: K, value: V, ticket: Ticket) {
        if self.lifetime.is_zero() {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MOST_ENTRIES && !entries.contains_key(&key) {
                entries.clear();
            }
            entries.insert(
                key,
                Entry {
                    value,
                    read_at: ticket.read_at,
                    version: ticket.version,
                },
            );
        }
    }

    /// The copy of `key`, or `read`'s value, kept when it is `Ok`.
    pub async fn get_or_read<E, F, Fut>(&self, key: K, read: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        self.get_or_read_unless(key, |_| false, read).await
    }

    /// As `get_or_read`, but a fresh copy that `lacking` finds wanting is read again
    /// (a kept table that does not hold a row asked for, which another process may have
    /// added since).
    pub async fn get_or_read_unless<E, F, Fut>(
        &self,
        key: K,
        lacking: impl FnOnce(&V) -> bool,
        read: F,
    ) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let now = Instant::now();
        let ticket = match self.fresh(&key, now) {
            Ok(value) if !lacking(&value) => return Ok(value),
            Ok(_) => Ticket {
                version: self.topic.version(),
                read_at: now,
            },
            Err(ticket) => ticket,
        };
        let value = read().await?;
        self.keep(key, value.clone(), ticket);
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(topic: &'static Topic, lifetime: Duration, at: Instant) -> Expiring<&'static str, u32> {
        let cache = Expiring::new(topic, lifetime);
        match cache.fresh(&"a", at) {
            Ok(_) => panic!("nothing was kept yet"),
            Err(ticket) => cache.keep("a", 1, ticket),
        }
        cache
    }

    #[test]
    fn a_copy_is_fresh_until_its_lifetime_has_passed() {
        static TOPIC: Topic = Topic::new();
        let at = Instant::now();
        let cache = kept(&TOPIC, Duration::from_secs(5), at);
        assert_eq!(
            cache.fresh(&"a", at + Duration::from_millis(4_999)).ok(),
            Some(1)
        );
        assert!(cache.fresh(&"a", at + Duration::from_secs(5)).is_err());
    }

    #[test]
    fn each_entity_changes_the_topic_its_copies_belong_to() {
        let topic = |entity| topic_of(entity).map(|t| t as *const Topic);
        assert_eq!(topic("api_token"), Some(&TOKENS as *const Topic));
        for entity in ["fund", "giving_tier"] {
            assert_eq!(topic(entity), Some(&FUNDS_AND_TIERS as *const Topic));
        }
        for entity in ["campaign", "appeal"] {
            assert_eq!(topic(entity), Some(&APPEALS as *const Topic));
        }
        for entity in ["pledge", "gift"] {
            assert_eq!(topic(entity), Some(&PLEDGES as *const Topic));
        }
        for entity in ["donor", "receipt", "outbox"] {
            assert_eq!(topic(entity), None);
        }
    }

    #[test]
    fn a_lifetime_of_zero_keeps_nothing() {
        static TOPIC: Topic = Topic::new();
        let at = Instant::now();
        let cache = kept(&TOPIC, Duration::ZERO, at);
        assert!(cache.fresh(&"a", at).is_err());
    }

    #[test]
    fn a_change_in_this_process_forgets_the_copy_at_once() {
        static TOPIC: Topic = Topic::new();
        let at = Instant::now();
        let cache = kept(&TOPIC, Duration::from_secs(3_600), at);
        TOPIC.changed();
        assert!(cache.fresh(&"a", at).is_err());
    }

    #[test]
    fn a_change_while_reading_leaves_the_copy_stale() {
        static TOPIC: Topic = Topic::new();
        let at = Instant::now();
        let cache: Expiring<&str, u32> = Expiring::new(&TOPIC, Duration::from_secs(3_600));
        let Err(ticket) = cache.fresh(&"b", at) else {
            panic!("nothing was kept yet");
        };
        TOPIC.changed();
        cache.keep("b", 2, ticket);
        assert!(cache.fresh(&"b", at).is_err());
    }

    #[tokio::test]
    async fn a_fresh_copy_found_lacking_is_read_again_and_kept() {
        static TOPIC: Topic = Topic::new();
        let cache: Expiring<&str, Vec<u32>> = Expiring::new(&TOPIC, Duration::from_secs(3_600));
        let reads = std::cell::Cell::new(0);
        let read = |rows: Vec<u32>| {
            reads.set(reads.get() + 1);
            async move { Ok::<_, ()>(rows) }
        };
        let holds = |id: u32| move |rows: &Vec<u32>| !rows.contains(&id);
        assert_eq!(
            cache
                .get_or_read_unless("t", holds(1), || read(vec![1]))
                .await,
            Ok(vec![1])
        );
        assert_eq!(
            cache
                .get_or_read_unless("t", holds(1), || read(vec![9]))
                .await,
            Ok(vec![1]),
            "the copy holds what was asked for"
        );
        assert_eq!(reads.get(), 1);
        assert_eq!(
            cache
                .get_or_read_unless("t", holds(2), || read(vec![1, 2]))
                .await,
            Ok(vec![1, 2])
        );
        assert_eq!(reads.get(), 2);
        assert_eq!(
            cache.get_or_read("t", || read(vec![9])).await,
            Ok(vec![1, 2]),
            "what was read again is kept"
        );
        assert_eq!(reads.get(), 2);
    }

    #[test]
    fn a_flood_of_keys_does_not_grow_the_cache() {
        static TOPIC: Topic = Topic::new();
        let at = Instant::now();
        let cache: Expiring<usize, u32> = Expiring::new(&TOPIC, Duration::from_secs(3_600));
        for key in 0..MOST_ENTRIES * 3 {
            if let Err(ticket) = cache.fresh(&key, at) {
                cache.keep(key, 0, ticket);
            }
        }
        assert!(cache.entries.lock().map(|e| e.len()).unwrap_or(0) <= MOST_ENTRIES);
    }

    #[test]
    fn keys_short_of_the_most_are_all_kept() {
        static TOPIC: Topic = Topic::new();
        let at = Instant::now();
        let cache: Expiring<usize, usize> = Expiring::new(&TOPIC, Duration::from_secs(3_600));
        for key in 0..MOST_ENTRIES {
            if let Err(ticket) = cache.fresh(&key, at) {
                cache.keep(key, key, ticket);
            }
        }
        // Kept again, a key already held does not empty a full cache.
        if let Ok(value) = cache.fresh(&0, at) {
            let ticket = Ticket {
                version: TOPIC.version(),
                read_at: at,
            };
            cache.keep(0, value, ticket);
        }
        for key in 0..MOST_ENTRIES {
            assert_eq!(cache.fresh(&key, at).ok(), Some(key), "{key}");
        }
    }
}
