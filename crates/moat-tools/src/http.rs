//! Runs a validated tool call against the tool's internal HTTP service.
//!
//! One reqwest client per tool carries that tool's policies: no proxy from
//! the environment, no cookies, no `Referer`, its time limit, a resolver that
//! refuses forbidden addresses, and a redirect policy that re-checks the host
//! allow-list on every hop (at most [`MAX_REDIRECTS`]). Its trusted roots are
//! the public web ones plus the certificates of its `http.ca_file`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::redirect::{Attempt, Policy};
use reqwest::{Client, Url};
use serde_json::{Map, Value};
use tokio_rustls::rustls;

use crate::allow::{host_port, AddressPolicy, HostAllowList};
use crate::cache::{CacheStats, ResultCache, MAX_BYTES, MAX_ENTRIES};
use crate::config::BodyMode;
use crate::error::{truncate, RegistryError, ToolError};
use crate::registry::{RegisteredTool, ToolRegistry};
use crate::resolve::{AddressRefused, GuardedResolver};
use crate::template::scalar;

/// Redirects followed at most.
pub const MAX_REDIRECTS: usize = 3;
/// Bytes of an error response kept in [`ToolError::Status`].
pub const MAX_ERROR_BODY_BYTES: usize = 512;
/// Connection set-up limit (the whole request is limited by the tool's timeout).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The result of a successful call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutput {
    /// The response body (lossy UTF-8), at most the tool's `max_response_bytes`.
    pub content: String,
    /// HTTP status (2xx).
    pub status: u16,
    /// Served from the result cache.
    pub cached: bool,
    /// Time spent in [`ToolExecutor::execute`].
    pub latency: Duration,
}

/// Runs tool calls. Cheap to clone; clones share clients and cache.
#[derive(Clone)]
pub struct ToolExecutor {
    inner: Arc<Inner>,
}

struct Inner {
    registry: ToolRegistry,
    clients: HashMap<String, Client>,
    cache: ResultCache,
}

/// A redirect refused by the policy; becomes [`ToolError::RedirectNotAllowed`].
#[derive(Debug)]
struct RedirectRefused {
    location: String,
}

impl fmt::Display for RedirectRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "redirect to {} refused", self.location)
    }
}

impl std::error::Error for RedirectRefused {}

impl ToolExecutor {
    /// One HTTP client per tool of `registry`.
    pub fn new(registry: ToolRegistry) -> Result<Self, RegistryError> {
        let mut clients = HashMap::new();
        for tool in registry.tools() {
            clients.insert(tool.name().to_owned(), build_client(tool)?);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                registry,
                clients,
                cache: ResultCache::new(MAX_ENTRIES, MAX_BYTES),
            }),
        })
    }

    /// The tools this executor runs.
    pub fn registry(&self) -> &ToolRegistry {
        &self.inner.registry
    }

    /// Result cache counters.
    pub fn cache_stats(&self) -> CacheStats {
        self.inner.cache.stats()
    }

    /// Run a validated call. `scope` keys the cache (the caller's principal
    /// id), so one caller never sees another's cached result.
    pub async fn execute(
        &self,
        tool: &str,
        arguments: &Value,
        scope: &str,
    ) -> Result<ToolOutput, ToolError> {
        let start = Instant::now();
        let (Some(spec), Some(client)) =
            (self.inner.registry.get(tool), self.inner.clients.get(tool))
        else {
            return Err(ToolError::UnknownTool);
        };
        let cache = &self.inner.cache;
        if spec.cache_ttl().is_some() {
            if let Some((content, status)) = cache.get(scope, tool, arguments) {
                tracing::debug!(tool, status, "tool result served from cache");
                return Ok(ToolOutput {
                    content,
                    status,
                    cached: true,
                    latency: start.elapsed(),
                });
            }
        }
        let result = tokio::time::timeout(spec.timeout, call(spec, client, arguments)).await;
        let latency = start.elapsed();
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(_elapsed) => Err(ToolError::Timeout(spec.timeout)),
        };
        match &outcome {
            Ok((content, status)) => {
                tracing::debug!(
                    tool,
                    status,
                    bytes = content.len(),
                    ?latency,
                    "tool call done"
                );
                if let Some(ttl) = spec.cache_ttl() {
                    cache.insert(scope, tool, arguments, content, *status, ttl);
                }
            }
            Err(e) => tracing::debug!(tool, outcome = e.outcome(), ?latency, "tool call failed"),
        }
        let (content, status) = outcome?;
        Ok(ToolOutput {
            content,
            status,
            cached: false,
            latency,
        })
    }
}

impl fmt::Debug for ToolExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolExecutor")
            .field("tools", &self.inner.registry.names().collect::<Vec<_>>())
            .field("cache", &self.cache_stats())
            .finish()
    }
}

fn build_client(tool: &RegisteredTool) -> Result<Client, RegistryError> {
    let hosts = tool.http.hosts.clone();
    let addresses = tool.http.addresses.clone();
    let policy = Policy::custom(move |attempt| redirect(attempt, &hosts, &addresses));
    let mut builder = Client::builder();
    for certificate in tool.http.private_ca.iter().flat_map(|ca| &ca.certificates) {
        builder = builder.add_root_certificate(certificate.clone());
    }
    builder
        .no_proxy()
        .redirect(policy)
        .referer(false)
        .timeout(tool.timeout)
        .connect_timeout(CONNECT_TIMEOUT.min(tool.timeout))
        .dns_resolver(Arc::new(GuardedResolver::new(tool.http.addresses.clone())))
        .user_agent(concat!("moat/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| RegistryError::Client {
            tool: tool.name().to_owned(),
            problem: e.to_string(),
        })
}

fn redirect(
    attempt: Attempt<'_>,
    hosts: &HostAllowList,
    addresses: &AddressPolicy,
) -> reqwest::redirect::Action {
    let url = attempt.url();
    let refused = attempt.previous().len() > MAX_REDIRECTS
        || !hosts.allows(url)
        || literal_ip(url).is_some_and(|ip| !addresses.allows(ip));
    if refused {
        let location = location(url);
        tracing::debug!(location = %location, "tool redirect refused");
        attempt.error(RedirectRefused { location })
    } else {
        attempt.follow()
    }
}

/// `scheme://host:port/path` of a redirect target, bounded: no query, which
/// may carry tokens.
fn location(url: &Url) -> String {
    truncate(
        format!("{}://{}{}", url.scheme(), host_port(url), url.path()),
        200,
    )
}

fn literal_ip(url: &Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
        .parse()
        .ok()
}

/// Build and send the request, read the bounded body.
async fn call(
    tool: &RegisteredTool,
    client: &Client,
    arguments: &Value,
) -> Result<(String, u16), ToolError> {
    let http = &tool.http;
    let mut url = http.url.fill(arguments)?;
    if !http.hosts.allows(&url) {
        return Err(ToolError::HostNotAllowed {
            host: host_port(&url),
        });
    }
    if let Some(ip) = literal_ip(&url) {
        if !http.addresses.allows(ip) {
            return Err(ToolError::AddressNotAllowed {
                host: host_port(&url),
                address: ip,
            });
        }
    }
    let used: HashSet<&str> = http.url.placeholders().collect();
    let rest: Map<String, Value> = arguments
        .as_object()
        .map(|args| {
            args.iter()
                .filter(|(k, _)| !used.contains(k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    if http.body == BodyMode::Query {
        append_query(&mut url, &rest);
    }
    let mut request = client.request(http.method.clone(), url);
    for (name, value) in &http.headers {
        request = request.header(name, value);
    }
    if http.body == BodyMode::Json {
        request = request.json(&Value::Object(rest));
    }
    let response = request
        .send()
        .await
        .map_err(|e| map_error(e, tool.timeout))?;
    let status = response.status();
    if !status.is_success() {
        let body = read_prefix(response, MAX_ERROR_BODY_BYTES).await;
        let body = truncate(
            String::from_utf8_lossy(&body).into_owned(),
            MAX_ERROR_BODY_BYTES,
        );
        return Err(ToolError::Status {
            status: status.as_u16(),
            body,
        });
    }
    let body = read_bounded(response, tool.max_response_bytes, tool.timeout).await?;
    Ok((String::from_utf8_lossy(&body).into_owned(), status.as_u16()))
}

/// Arguments as query pairs: scalars formatted, `null` left out, arrays as
/// repeated keys, objects (and nested arrays) as JSON text.
fn append_query(url: &mut Url, arguments: &Map<String, Value>) {
    if arguments.is_empty() {
        return;
    }
    let mut pairs = url.query_pairs_mut();
    for (key, value) in arguments {
        let items: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for item in items {
            match item {
                Value::Null => {}
                other => {
                    let text = scalar(other).unwrap_or_else(|| other.to_string());
                    pairs.append_pair(key, &text);
                }
            }
        }
    }
}

/// The whole body, refusing more than `limit` bytes without reading them.
async fn read_bounded(
    mut response: reqwest::Response,
    limit: usize,
    timeout: Duration,
) -> Result<Vec<u8>, ToolError> {
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(ToolError::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| map_error(e, timeout))? {
        if body.len() + chunk.len() > limit {
            return Err(ToolError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// At most about `limit` bytes of an error body; read errors end it quietly.
async fn read_prefix(mut response: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(limit);
    body
}

/// Our own policy errors travel inside reqwest's error chain: find them.
fn map_error(error: reqwest::Error, timeout: Duration) -> ToolError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(e) = source {
        if let Some(r) = e.downcast_ref::<RedirectRefused>() {
            return ToolError::RedirectNotAllowed {
                location: r.location.clone(),
            };
        }
        if let Some(a) = e.downcast_ref::<AddressRefused>() {
            return ToolError::AddressNotAllowed {
                host: a.host.clone(),
                address: a.address,
            };
        }
        if let Some(tls) = handshake_error(e) {
            return ToolError::Tls(truncate(tls.to_string(), 300));
        }
        source = e.source();
    }
    if error.is_timeout() {
        return ToolError::Timeout(timeout);
    }
    if error.is_redirect() {
        return ToolError::RedirectNotAllowed {
            location: error.url().map(location).unwrap_or_default(),
        };
    }
    // The URL may carry argument values: leave it out of the message.
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(e) = source {
        message.push_str(": ");
        message.push_str(&e.to_string());
        source = e.source();
    }
    ToolError::Connect(truncate(message, 300))
}

/// The rustls error of a failed handshake. It arrives wrapped in io::Errors
/// (two, from hyper-rustls), whose `source` skips what they wrap.
fn handshake_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = error.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    handshake_error(error.downcast_ref::<std::io::Error>()?.get_ref()?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::allow::HostPattern;
    use crate::config::ToolConfig;
    use serde_json::json;
    use std::path::Path;

    /// The URL's host is fixed at start-up and checked there; this is the
    /// second check, made before any connection, should the two ever differ.
    #[tokio::test]
    async fn host_not_allowed_is_refused_before_connecting() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let config: ToolConfig = toml::from_str(&format!(
            "name = \"t\"\ndescription = \"d\"\n[http]\nurl = \"http://127.0.0.1:{port}/x\"\n"
        ))
        .unwrap();
        let mut tool =
            RegisteredTool::from_config(config, Path::new("."), &|_: &str| None).unwrap();
        tool.http.hosts = HostAllowList::new(vec![HostPattern::parse("orders.internal").unwrap()]);
        let client = build_client(&tool).unwrap();
        let err = call(&tool, &client, &json!({})).await.err().unwrap();
        assert_eq!(
            err,
            ToolError::HostNotAllowed {
                host: format!("127.0.0.1:{port}")
            }
        );
        assert_eq!(err.outcome(), "host_not_allowed");
        let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
        assert!(accepted.is_err(), "no connection was made");
    }
}
