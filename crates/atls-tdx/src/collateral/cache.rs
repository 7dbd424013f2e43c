//! An in-memory collateral cache that follows the collateral's own validity.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use atls_evidence::BoxFuture;
use dcap_qvl::QuoteCollateralV3;

use super::{CollateralBundle, CollateralDates, CollateralKey, collateral_dates};
use crate::collateral_source::{CollateralError, CollateralSource};
use crate::quote::Quote;

/// How [`CachedCollateral`] behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheConfig {
    /// Refresh this long before the collateral's `nextUpdate`: a request inside the margin
    /// fetches anew, and keeps serving the cached collateral (still valid) if that fails.
    pub refresh_margin_secs: u64,
    /// After a failed fetch, answer requests for that platform from the failure for this
    /// long instead of asking the source again.
    pub negative_ttl_secs: u64,
    /// At most this many platforms are kept.
    pub max_entries: usize,
}

impl Default for CacheConfig {
    /// Refresh a day ahead, remember failures for five minutes, keep 1024 platforms.
    fn default() -> Self {
        Self {
            refresh_margin_secs: 86_400,
            negative_ttl_secs: 300,
            max_entries: 1024,
        }
    }
}

impl CacheConfig {
    /// The same with refresh margin `secs`.
    pub fn with_refresh_margin(mut self, secs: u64) -> Self {
        self.refresh_margin_secs = secs;
        self
    }

    /// The same with negative-cache time `secs`.
    pub fn with_negative_ttl(mut self, secs: u64) -> Self {
        self.negative_ttl_secs = secs;
        self
    }

    /// The same keeping at most `n` platforms.
    pub fn with_max_entries(mut self, n: usize) -> Self {
        self.max_entries = n;
        self
    }
}

/// Counters of a [`CachedCollateral`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Requests answered from the cache.
    pub hits: u64,
    /// Requests answered from a remembered failure.
    pub negative_hits: u64,
    /// Requests passed to the source.
    pub fetches: u64,
    /// Fetches that failed (or returned collateral not valid at the time).
    pub fetch_failures: u64,
}

#[derive(Clone, Debug)]
enum Entry {
    Good {
        collateral: Arc<QuoteCollateralV3>,
        dates: CollateralDates,
        /// A refresh failed; do not retry before this time.
        retry_refresh_at: Option<u64>,
    },
    Failed {
        at: u64,
        retry_at: u64,
        reason: String,
    },
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<CollateralKey, Entry>,
    stats: CacheStats,
}

enum Plan {
    Hit(Arc<QuoteCollateralV3>),
    Remembered(CollateralError),
    Fetch {
        fallback: Option<(Arc<QuoteCollateralV3>, CollateralDates)>,
    },
}

/// Caches collateral from another source per platform ([`CollateralKey`]: FMSPC and PCK
/// CA), for as long as the collateral itself says it is valid (its earliest `nextUpdate`,
/// see [`collateral_dates`]).
///
/// * A request within [`CacheConfig::refresh_margin_secs`] of expiry fetches anew; if that
///   fails the cached collateral (still valid) is served and the refresh is retried only
///   after [`CacheConfig::negative_ttl_secs`].
/// * A failed fetch with nothing valid cached is remembered for
///   [`CacheConfig::negative_ttl_secs`]: requests meanwhile fail at once with the reason.
/// * Collateral not valid at the request time is never served from the cache.
///
/// Time comes from the request (`now_unix`), never from a clock. The source is called
/// without holding the cache's lock.
pub struct CachedCollateral {
    inner: Arc<dyn CollateralSource>,
    config: CacheConfig,
    state: Mutex<State>,
}

impl core::fmt::Debug for CachedCollateral {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CachedCollateral")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl CachedCollateral {
    /// Caches collateral from `inner`.
    pub fn new(inner: Arc<dyn CollateralSource>, config: CacheConfig) -> Self {
        Self {
            inner,
            config,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The counters so far.
    pub fn stats(&self) -> CacheStats {
        self.state().stats
    }

    /// The cached collateral for `key` and its dates, if any (valid or not).
    pub fn cached(&self, key: &CollateralKey) -> Option<(Arc<QuoteCollateralV3>, CollateralDates)> {
        match self.state().entries.get(key) {
            Some(Entry::Good {
                collateral, dates, ..
            }) => Some((Arc::clone(collateral), *dates)),
            _ => None,
        }
    }

    /// Puts `collateral` in the cache (e.g. from a bundle or an out-of-band fetch). Returns
    /// its dates.
    pub fn insert(
        &self,
        key: CollateralKey,
        collateral: Arc<QuoteCollateralV3>,
    ) -> Result<CollateralDates, CollateralError> {
        let dates = collateral_dates(&collateral)?;
        let mut state = self.state();
        self.make_room(&mut state, &key, dates.issued);
        state.entries.insert(
            key,
            Entry::Good {
                collateral,
                dates,
                retry_refresh_at: None,
            },
        );
        Ok(dates)
    }

    /// Every cached collateral, as a bundle pinned to `pinned_time`.
    pub fn export_bundle(&self, pinned_time: u64) -> CollateralBundle {
        let mut bundle = CollateralBundle::new(pinned_time);
        for (key, entry) in &self.state().entries {
            if let Entry::Good { collateral, .. } = entry {
                bundle.insert(*key, Arc::clone(collateral));
            }
        }
        bundle
    }

    /// Loads every entry of `bundle`; returns how many were loaded (entries whose dates do
    /// not parse are skipped).
    pub fn import_bundle(&self, bundle: &CollateralBundle) -> usize {
        bundle
            .iter()
            .filter(|(key, c)| self.insert(**key, Arc::clone(c)).is_ok())
            .count()
    }

    fn plan(&self, key: &CollateralKey, now: u64) -> Plan {
        let mut state = self.state();
        let plan = match state.entries.get(key) {
            Some(Entry::Good {
                collateral,
                dates,
                retry_refresh_at,
            }) if dates.covers(now) => {
                let refresh_from = dates.next_update.saturating_sub(self.config.refresh_margin_secs);
                let refresh_blocked = retry_refresh_at.is_some_and(|t| now < t);
                if now < refresh_from || refresh_blocked {
                    Plan::Hit(Arc::clone(collateral))
                } else {
                    Plan::Fetch {
                        fallback: Some((Arc::clone(collateral), *dates)),
                    }
                }
            }
            Some(Entry::Failed {
                at,
                retry_at,
                reason,
            }) if *at <= now && now < *retry_at => Plan::Remembered(CollateralError::Source(
                format!(
                    "collateral for {key}: the fetch at {at} failed ({reason}); not retrying before {retry_at}"
                )
                .into(),
            )),
            _ => Plan::Fetch { fallback: None },
        };
        match &plan {
            Plan::Hit(_) => state.stats.hits += 1,
            Plan::Remembered(_) => state.stats.negative_hits += 1,
            Plan::Fetch { .. } => state.stats.fetches += 1,
        }
        plan
    }

    /// Evicts to keep at most `max_entries`: first what is useless at `now`, then the entry
    /// with the smallest key.
    fn make_room(&self, state: &mut State, incoming: &CollateralKey, now: u64) {
        let max = self.config.max_entries.max(1);
        if state.entries.len() < max || state.entries.contains_key(incoming) {
            return;
        }
        state.entries.retain(|_, e| match e {
            Entry::Good { dates, .. } => dates.next_update > now,
            Entry::Failed { retry_at, .. } => *retry_at > now,
        });
        while state.entries.len() >= max {
            let Some(victim) = state.entries.keys().min().copied() else {
                break;
            };
            state.entries.remove(&victim);
        }
    }

    fn record_failure(
        &self,
        key: CollateralKey,
        now: u64,
        fallback: Option<(Arc<QuoteCollateralV3>, CollateralDates)>,
        error: CollateralError,
    ) -> Result<Arc<QuoteCollateralV3>, CollateralError> {
        let retry_at = now.saturating_add(self.config.negative_ttl_secs);
        let mut state = self.state();
        state.stats.fetch_failures += 1;
        match fallback {
            Some((collateral, dates)) => {
                state.entries.insert(
                    key,
                    Entry::Good {
                        collateral: Arc::clone(&collateral),
                        dates,
                        retry_refresh_at: Some(retry_at),
                    },
                );
                Ok(collateral)
            }
            None => {
                self.make_room(&mut state, &key, now);
                state.entries.insert(
                    key,
                    Entry::Failed {
                        at: now,
                        retry_at,
                        reason: error.to_string(),
                    },
                );
                Err(error)
            }
        }
    }

    async fn get(
        &self,
        quote: &Quote,
        now: u64,
    ) -> Result<Arc<QuoteCollateralV3>, CollateralError> {
        let key = CollateralKey::for_quote(quote)?;
        let fallback = match self.plan(&key, now) {
            Plan::Hit(c) => return Ok(c),
            Plan::Remembered(e) => return Err(e),
            Plan::Fetch { fallback } => fallback,
        };
        let fetched = self.inner.collateral(quote, now).await.and_then(|c| {
            let dates = collateral_dates(&c)?;
            if dates.covers(now) {
                Ok((c, dates))
            } else {
                Err(CollateralError::Source(
                    format!(
                        "collateral for {key} is valid from {} until {}, not at {now}",
                        dates.issued, dates.next_update
                    )
                    .into(),
                ))
            }
        });
        match fetched {
            Ok((collateral, dates)) => {
                let mut state = self.state();
                self.make_room(&mut state, &key, now);
                state.entries.insert(
                    key,
                    Entry::Good {
                        collateral: Arc::clone(&collateral),
                        dates,
                        retry_refresh_at: None,
                    },
                );
                Ok(collateral)
            }
            Err(e) => self.record_failure(key, now, fallback, e),
        }
    }
}

impl CollateralSource for CachedCollateral {
    fn collateral<'a>(
        &'a self,
        quote: &'a Quote,
        now_unix: u64,
    ) -> BoxFuture<'a, Result<Arc<QuoteCollateralV3>, CollateralError>> {
        Box::pin(self.get(quote, now_unix))
    }
}
