//! Counters in Redis, shared by every replica: each step is one atomic
//! script or transaction, and every key expires on its own so counts of a
//! replica that died do not stay forever.

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;

use super::{Admit, Counters, LimitError};

/// `connect` gives up after this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// One command gives up after this long: a request waits on it.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// A bucket's arrival time outlives the minute it can matter in.
const BUCKET_TTL_MS: u64 = 61_000;
/// Stream counts vanish this long after the last acquire.
const STREAMS_TTL_SECS: u64 = 3_600;
/// Daily token counts are kept for today and yesterday.
const TOKENS_TTL_SECS: u64 = 2 * 86_400;

/// The GCRA step of [`super::gcra`], in the same integer arithmetic.
/// KEYS[1]: the bucket's theoretical arrival time in microseconds.
/// ARGV: requests per minute, now in milliseconds, key lifetime in ms.
/// Returns {allowed, limit, remaining, retry_after_ms, reset_ms}.
static TAKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local function quot(a, b)
  local q = a / b
  if q >= 0 then return math.floor(q) end
  return math.ceil(q)
end
local function to_ms(us)
  local ms = quot(us + 999, 1000)
  if ms < 0 then return 0 end
  return ms
end
local per_minute = tonumber(ARGV[1])
if per_minute < 1 then per_minute = 1 end
local period_us = 60000000
local interval_us = quot(period_us, per_minute)
local now_us = tonumber(ARGV[2]) * 1000
local stored = tonumber(redis.call('GET', KEYS[1])) or 0
local tat = math.max(stored, now_us)
local tolerance_us = period_us - interval_us
if tat - now_us > tolerance_us then
  return {0, per_minute, 0, to_ms(tat - now_us - tolerance_us), to_ms(tat - now_us)}
end
local new_tat = tat + interval_us
local left = quot(now_us + period_us - new_tat, interval_us)
if left < 0 then left = 0 end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', ARGV[3])
return {1, per_minute, left, 0, to_ms(new_tat - now_us)}
",
    )
});

/// KEYS[1]: running streams. ARGV: limit, lifetime in seconds.
/// Returns 1 when counted, 0 when the limit already runs.
static ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local running = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
if running > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  return 0
end
return 1
",
    )
});

/// KEYS[1]: running streams. One fewer, never below zero.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local running = tonumber(redis.call('GET', KEYS[1])) or 0
if running <= 1 then
  redis.call('DEL', KEYS[1])
  return 0
end
return redis.call('DECR', KEYS[1])
",
    )
});

/// Counters in one Redis server (or a primary with replicas behind one
/// address). Cloning shares the connection.
#[derive(Clone)]
pub struct RedisCounters {
    connection: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCounters")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisCounters {
    /// Connect to `url` (`redis://[user:password@]host:port/db`) within
    /// 5 s and check the server answers; every key starts with `prefix`
    /// (`moat:`...).
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, LimitError> {
        let failed = |what: &str, detail: String| {
            LimitError(scrub(
                &format!("Redis at {}: {what}: {detail}", redact(url)),
                url,
            ))
        };
        let client = redis::Client::open(url).map_err(|e| failed("invalid URL", e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(3)
            .set_max_delay(Duration::from_secs(1));
        let connect = async {
            let mut connection = ConnectionManager::new_with_config(client, config).await?;
            redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await?;
            Ok::<_, redis::RedisError>(connection)
        };
        let connection = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(e)) => return Err(failed("cannot connect", e.to_string())),
            Err(_) => {
                return Err(failed(
                    "cannot connect",
                    format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
                ))
            }
        };
        Ok(Self {
            connection,
            prefix: prefix.to_owned(),
        })
    }

    fn key(&self, kind: &str, bucket: &str) -> String {
        format!("{}{kind}:{bucket}", self.prefix)
    }
}

#[async_trait]
impl Counters for RedisCounters {
    async fn take(&self, bucket: &str, per_minute: u32, now_ms: i64) -> Result<Admit, LimitError> {
        let mut connection = self.connection.clone();
        let reply: Vec<i64> = TAKE
            .key(self.key("rate", bucket))
            .arg(per_minute)
            .arg(now_ms)
            .arg(BUCKET_TTL_MS)
            .invoke_async(&mut connection)
            .await
            .map_err(failure)?;
        let [allowed, limit, remaining, retry_after_ms, reset_ms] = reply[..] else {
            return Err(LimitError(format!(
                "Redis: unexpected rate-limit reply of {} values",
                reply.len()
            )));
        };
        let number = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(Admit {
            allowed: allowed == 1,
            limit: u32::try_from(limit).unwrap_or(u32::MAX),
            remaining: u32::try_from(remaining).unwrap_or(0),
            retry_after_ms: number(retry_after_ms),
            reset_ms: number(reset_ms),
        })
    }

    async fn acquire(&self, bucket: &str, limit: u32) -> Result<bool, LimitError> {
        let mut connection = self.connection.clone();
        let counted: i64 = ACQUIRE
            .key(self.key("streams", bucket))
            .arg(limit)
            .arg(STREAMS_TTL_SECS)
            .invoke_async(&mut connection)
            .await
            .map_err(failure)?;
        Ok(counted == 1)
    }

    async fn release(&self, bucket: &str) -> Result<(), LimitError> {
        let mut connection = self.connection.clone();
        let _: i64 = RELEASE
            .key(self.key("streams", bucket))
            .invoke_async(&mut connection)
            .await
            .map_err(failure)?;
        Ok(())
    }

    async fn add_tokens(&self, bucket: &str, day: &str, tokens: u64) -> Result<u64, LimitError> {
        let mut connection = self.connection.clone();
        let key = self.key("tokens", &format!("{bucket}:{day}"));
        let tokens = i64::try_from(tokens).unwrap_or(i64::MAX);
        let (total,): (i64,) = redis::pipe()
            .atomic()
            .incr(&key, tokens)
            .expire(&key, TOKENS_TTL_SECS as i64)
            .ignore()
            .query_async(&mut connection)
            .await
            .map_err(failure)?;
        Ok(u64::try_from(total).unwrap_or(0))
    }

    async fn tokens(&self, bucket: &str, day: &str) -> Result<u64, LimitError> {
        let mut connection = self.connection.clone();
        let key = self.key("tokens", &format!("{bucket}:{day}"));
        let total: Option<u64> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut connection)
            .await
            .map_err(failure)?;
        Ok(total.unwrap_or(0))
    }
}

/// A command failed; Redis errors name neither the URL nor the password.
fn failure(error: redis::RedisError) -> LimitError {
    LimitError(format!("Redis: {error}"))
}

/// `url` with any password replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(unparsable URL)".to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            if userinfo.contains(':') {
                format!("{scheme}://{user}:***@{host}{path}")
            } else {
                format!("{scheme}://***@{host}{path}")
            }
        }
        None => url.to_owned(),
    }
}

/// `message` with the password of `url` removed wherever it appears.
fn scrub(message: &str, url: &str) -> String {
    let password = url
        .split_once("://")
        .map(|(_, rest)| rest.split('/').next().unwrap_or_default())
        .and_then(|authority| authority.rsplit_once('@'))
        .map(|(userinfo, _)| match userinfo.split_once(':') {
            Some((_, password)) => password,
            None => userinfo,
        })
        .unwrap_or_default();
    if password.len() < 3 {
        return message.to_owned();
    }
    message.replace(password, "***")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let url = "redis://moat:s3cret-pw@cache.internal:6379/2";
        assert_eq!(redact(url), "redis://moat:***@cache.internal:6379/2");
        assert_eq!(redact("redis://:s3cret-pw@h/0"), "redis://:***@h/0");
        assert_eq!(redact("redis://token@h"), "redis://***@h");
        assert_eq!(redact("redis://h:6379"), "redis://h:6379");
        assert_eq!(
            scrub("auth failed for s3cret-pw at h", url),
            "auth failed for *** at h"
        );
    }
}
