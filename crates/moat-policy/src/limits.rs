//! Rate limits and quotas (step 4): requests per minute, concurrent streams
//! and tokens per UTC day, for each key (`per_key` limits of its roles) and
//! for each role as a whole. Checked before a request reaches a model;
//! tokens are counted from actual usage when it ends.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use moat_protocol::{ErrorCode, ErrorKind};
use moat_store::{Store, UsageDelta};

use crate::clock::{ms_to_next_utc_day, utc_day, Clock};
use crate::limit::{Admit, Counters, LimitError};
use crate::principal::Principal;
use crate::role::Limits;
use crate::usage::UsageRecorder;

/// What the `x-ratelimit-*` headers say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateStatus {
    /// The tightest requests-per-minute bucket.
    pub requests: Option<Admit>,
    /// The tightest daily token quota: limit, remaining, ms to reset.
    pub tokens: Option<(u64, u64, u64)>,
}

/// A request refused by a limit.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub error: Limited,
    /// For `Retry-After`.
    pub retry_after_ms: u64,
    pub status: RateStatus,
}

/// A request let through: holds its stream slots until dropped, and
/// counts the tokens it used.
#[derive(Debug)]
pub struct Admission {
    limiter: Limiter,
    principal: Arc<Principal>,
    /// Stream slots held; released when the answer ends, or on drop.
    streams: Mutex<Vec<String>>,
    /// Daily token counters and their limits.
    token_buckets: Vec<(String, u64)>,
    day: String,
    pub status: RateStatus,
}

/// The limit checks over a counter store.
#[derive(Clone)]
pub struct Limiter {
    inner: Arc<Inner>,
}

struct Inner {
    counters: Arc<dyn Counters>,
    clock: Arc<dyn Clock>,
    usage: Option<UsageRecorder>,
    /// In-memory counters start empty: the day's tokens so far are read
    /// from the store once per key and day.
    seed_from: Option<Store>,
    seeded: Mutex<HashSet<(String, String)>>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Limiter")
    }
}

fn key_bucket(p: &Principal) -> String {
    format!("key:{}", p.id)
}

fn role_bucket(name: &str) -> String {
    format!("role:{name}")
}

/// Why a limit refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Limited {
    /// A daily token quota cannot cover the request's estimate.
    Quota {
        remaining: u64,
        limit: u64,
        estimated: u64,
    },
    /// A daily token quota cannot cover a tool loop's next turn.
    NextTurn {
        remaining: u64,
        limit: u64,
        tokens: u64,
    },
    /// The most concurrent requests are running.
    Streams { limit: u32 },
    /// The requests-per-minute bucket is empty.
    PerMinute {
        per_minute: u32,
        retry_after_ms: u64,
    },
    /// The counters cannot be read (Redis down): refused, not let through.
    Unavailable,
}

impl std::fmt::Display for Limited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Quota {
                remaining,
                limit,
                estimated,
            } => write!(
                f,
                "You exceeded your token quota: {remaining} of {limit} tokens left today (UTC), \
                 and this request may need about {estimated}. Lower max_tokens, or ask your \
                 administrator for a larger quota."
            ),
            Self::NextTurn {
                remaining,
                limit,
                tokens,
            } => write!(
                f,
                "You exceeded your token quota: {remaining} of {limit} tokens left today (UTC), \
                 and this tool loop needs about {tokens} to go on. Ask your administrator for \
                 a larger quota."
            ),
            Self::Streams { limit } => write!(
                f,
                "Rate limit reached: {limit} concurrent requests at most. Wait for one to \
                 finish and retry."
            ),
            Self::PerMinute {
                per_minute,
                retry_after_ms,
            } => write!(
                f,
                "Rate limit reached: {per_minute} requests per minute. Retry in {:.1} s.",
                *retry_after_ms as f64 / 1000.0
            ),
            Self::Unavailable => f.write_str(moat_protocol::error::UNAVAILABLE_MESSAGE),
        }
    }
}

impl ErrorCode for Limited {
    fn error_kind(&self) -> ErrorKind {
        match self {
            Self::Quota { .. } | Self::NextTurn { .. } => ErrorKind::QuotaExceeded,
            Self::Streams { .. } | Self::PerMinute { .. } => ErrorKind::RateLimited,
            Self::Unavailable => ErrorKind::Unavailable,
        }
    }
}

fn unavailable(error: &LimitError) -> Refusal {
    tracing::error!(%error, "rate-limit counters unavailable; refusing");
    Refusal {
        error: Limited::Unavailable,
        retry_after_ms: 1000,
        status: RateStatus::default(),
    }
}

impl Limiter {
    /// `seed_from`: the store to read the day's tokens from when counters
    /// are in memory (None with Redis, which keeps them across restarts).
    pub fn new(
        counters: Arc<dyn Counters>,
        clock: Arc<dyn Clock>,
        usage: Option<UsageRecorder>,
        seed_from: Option<Store>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                counters,
                clock,
                usage,
                seed_from,
                seeded: Mutex::default(),
            }),
        }
    }

    /// The limits that apply to `p`, each with its counter name.
    fn applicable(p: &Principal) -> Vec<(String, Limits)> {
        let mut out = Vec::with_capacity(1 + p.roles.len());
        let own = p.own_limits();
        if !own.is_unlimited() {
            out.push((key_bucket(p), own));
        }
        for r in &p.roles {
            if !r.limits.is_unlimited() {
                out.push((role_bucket(&r.name), r.limits));
            }
        }
        out
    }

    /// Check every limit for a request expected to use `estimated_tokens`
    /// (prompt estimate + max_tokens).
    pub async fn admit(
        &self,
        principal: &Arc<Principal>,
        estimated_tokens: u64,
    ) -> Result<Admission, Refusal> {
        let now = self.inner.clock.now_ms();
        let day = utc_day(now);
        let applicable = Self::applicable(principal);
        let mut admission = Admission {
            limiter: self.clone(),
            principal: principal.clone(),
            streams: Mutex::default(),
            token_buckets: Vec::new(),
            day: day.clone(),
            status: RateStatus::default(),
        };
        let counters = &self.inner.counters;

        // Daily tokens: nothing is consumed by looking.
        for (bucket, limits) in &applicable {
            let Some(limit) = limits.tokens_per_day else {
                continue;
            };
            self.seed(bucket, principal, &day).await;
            let used = counters
                .tokens(bucket, &day)
                .await
                .map_err(|e| unavailable(&e))?;
            let remaining = limit.saturating_sub(used);
            let reset = u64::try_from(ms_to_next_utc_day(now)).unwrap_or(0);
            if admission
                .status
                .tokens
                .is_none_or(|(_, r, _)| remaining < r)
            {
                admission.status.tokens = Some((limit, remaining, reset));
            }
            if used.saturating_add(estimated_tokens) > limit {
                return Err(Refusal {
                    error: Limited::Quota {
                        remaining,
                        limit,
                        estimated: estimated_tokens,
                    },
                    retry_after_ms: reset,
                    status: admission.status,
                });
            }
            admission.token_buckets.push((bucket.clone(), limit));
        }

        // Concurrent streams: released when the admission is dropped.
        for (bucket, limits) in &applicable {
            let Some(limit) = limits.concurrent_streams else {
                continue;
            };
            let stream_bucket = format!("streams:{bucket}");
            match counters.acquire(&stream_bucket, limit).await {
                Ok(true) => admission.held_streams().push(stream_bucket),
                Ok(false) => {
                    return Err(Refusal {
                        error: Limited::Streams { limit },
                        retry_after_ms: 1000,
                        status: admission.status,
                    })
                }
                Err(e) => return Err(unavailable(&e)),
            }
        }

        // Requests per minute.
        for (bucket, limits) in &applicable {
            let Some(per_minute) = limits.requests_per_minute else {
                continue;
            };
            let admit = counters
                .take(&format!("rpm:{bucket}"), per_minute, now)
                .await
                .map_err(|e| unavailable(&e))?;
            if admission
                .status
                .requests
                .is_none_or(|r| !admit.allowed || admit.remaining < r.remaining)
            {
                admission.status.requests = Some(admit);
            }
            if !admit.allowed {
                return Err(Refusal {
                    error: Limited::PerMinute {
                        per_minute,
                        retry_after_ms: admit.retry_after_ms,
                    },
                    retry_after_ms: admit.retry_after_ms,
                    status: admission.status,
                });
            }
        }
        Ok(admission)
    }

    /// With in-memory counters, restore the day's tokens of `bucket` from
    /// the usage rows once per bucket and day (after a restart). A role's
    /// count is what was recorded under it as callers' first role.
    async fn seed(&self, bucket: &str, principal: &Principal, day: &str) {
        let Some(store) = &self.inner.seed_from else {
            return;
        };
        let first = self
            .inner
            .seeded
            .lock()
            .map(|mut s| s.insert((bucket.to_owned(), day.to_owned())))
            .unwrap_or(false);
        if !first {
            return;
        }
        let recorded = match bucket.strip_prefix("role:") {
            Some(role) => store.role_tokens_on(role, day).await,
            None => store.tokens_on(&principal.id, day).await,
        };
        match recorded {
            Ok(tokens) if tokens > 0 => {
                let tokens = u64::try_from(tokens).unwrap_or(0);
                if let Err(error) = self.inner.counters.add_tokens(bucket, day, tokens).await {
                    tracing::warn!(%error, "cannot restore today's token count");
                }
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "cannot read today's token count"),
        }
    }
}

impl Admission {
    fn held_streams(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.streams
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Free the stream slots now (the answer ended); dropping the admission
    /// does it too, in a spawned task.
    pub async fn release(&self) {
        let streams = std::mem::take(&mut *self.held_streams());
        for bucket in streams {
            if let Err(error) = self.limiter.inner.counters.release(&bucket).await {
                tracing::warn!(%error, "cannot release a stream slot");
            }
        }
    }

    /// May the request go on to use `tokens` more than the counters show
    /// (a later turn of a tool loop: the turns so far and the next one's
    /// estimate, none of it counted yet)? The daily token limits are
    /// checked again, as at admission.
    pub async fn check_more(&self, tokens: u64) -> Result<(), Limited> {
        for (bucket, limit) in &self.token_buckets {
            let used = self
                .limiter
                .inner
                .counters
                .tokens(bucket, &self.day)
                .await
                .map_err(|e| unavailable(&e).error)?;
            if used.saturating_add(tokens) > *limit {
                let remaining = limit.saturating_sub(used);
                return Err(Limited::NextTurn {
                    remaining,
                    limit: *limit,
                    tokens,
                });
            }
        }
        Ok(())
    }

    /// Count what the request used, once it is known (end of generation).
    pub async fn record(&self, model: &str, prompt_tokens: u64, completion_tokens: u64) {
        let total = prompt_tokens.saturating_add(completion_tokens);
        for (bucket, _) in &self.token_buckets {
            if let Err(error) = self
                .limiter
                .inner
                .counters
                .add_tokens(bucket, &self.day, total)
                .await
            {
                tracing::warn!(%error, "cannot count tokens against the quota");
            }
        }
        if let Some(usage) = &self.limiter.inner.usage {
            usage.add(UsageDelta {
                day: self.day.clone(),
                principal: self.principal.id.clone(),
                role: self
                    .principal
                    .roles
                    .first()
                    .map_or_else(String::new, |r| r.name.clone()),
                model: model.to_owned(),
                requests: 1,
                prompt_tokens: i64::try_from(prompt_tokens).unwrap_or(i64::MAX),
                completion_tokens: i64::try_from(completion_tokens).unwrap_or(i64::MAX),
            });
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let streams = std::mem::take(&mut *self.held_streams());
        if streams.is_empty() {
            return;
        }
        let counters = self.limiter.inner.counters.clone();
        let release = async move {
            for bucket in streams {
                if let Err(error) = counters.release(&bucket).await {
                    tracing::warn!(%error, "cannot release a stream slot");
                }
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(release);
            }
            Err(_) => tracing::warn!("no runtime to release stream slots"),
        }
    }
}
