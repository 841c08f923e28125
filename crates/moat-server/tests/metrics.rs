//! `GET /metrics`: who may read it, what the exposition counts after a few
//! requests, that it is well formed, and that the Grafana dashboard only
//! queries metrics it has.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use common::{get, post_json, Answer, FakeModels, TestAccess};
use http_body_util::BodyExt;
use moat_protocol::chat::ChatCompletionRequest;
use moat_protocol::completion::CompletionRequest;
use moat_protocol::ApiError;
use moat_router::{Backend, BackendInfo, BackendLoad, EventStream, ModelRegistry};
use moat_server::ServerOptions;
use serde_json::Value;
use tower::ServiceExt;

const CHAT: &str = "/v1/chat/completions";

/// A fake model that reports a load, as the embedded engine does.
struct Loaded {
    inner: Arc<dyn Backend>,
    load: BackendLoad,
}

#[async_trait]
impl Backend for Loaded {
    fn info(&self) -> BackendInfo {
        self.inner.info()
    }

    async fn chat(&self, request: ChatCompletionRequest) -> Result<EventStream, ApiError> {
        self.inner.chat(request).await
    }

    async fn complete(&self, request: CompletionRequest) -> Result<EventStream, ApiError> {
        self.inner.complete(request).await
    }

    fn load(&self) -> Option<BackendLoad> {
        Some(self.load)
    }
}

/// `echo` reporting 2 running, 1 waiting and a quarter of its KV cache;
/// `tools` and `error-before` reporting no load.
fn models() -> ModelRegistry {
    let fake = FakeModels::new();
    let mut registry = fake.registry_of(&["tools", "error-before"]);
    let echo = fake.registry_of(&["echo"]).get("echo").unwrap();
    registry
        .insert(Arc::new(Loaded {
            inner: echo,
            load: BackendLoad {
                running: 2,
                waiting: 1,
                kv_cache_usage: Some(0.25),
            },
        }))
        .unwrap();
    registry
}

/// One app answering every request of a test, so its metrics add up.
struct Server {
    app: Router,
    access: TestAccess,
}

impl Server {
    async fn new(metrics_open: bool) -> Self {
        let access = TestAccess::new().await;
        let options = ServerOptions {
            metrics_open,
            ..ServerOptions::default()
        };
        Self {
            app: common::router(models(), access.access.clone(), options),
            access,
        }
    }

    /// Send `request` with `key` as bearer credential (`None`: none).
    async fn send(&self, mut request: Request<Body>, key: Option<&str>) -> Answer {
        if let Some(key) = key {
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {key}").parse().unwrap());
        }
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    async fn admin(&self, request: Request<Body>) -> Answer {
        let key = self.access.admin_key.clone();
        self.send(request, Some(&key)).await
    }

    /// Scrape as the admin, checking the answer and the format.
    async fn scrape(&self) -> Exposition {
        let answer = self.admin(get("/metrics")).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(
            answer.headers["content-type"],
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        );
        Exposition::parse(&answer.body)
    }
}

fn chat(model: &str, text: &str, stream: bool) -> Request<Body> {
    let body = serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": text}],
        "stream": stream,
    });
    post_json(CHAT, &body.to_string())
}

/// A parsed exposition: families declared by `# HELP`/`# TYPE`, and samples
/// by name and labels.
#[derive(Debug)]
struct Exposition {
    /// Family name → (help, type).
    families: BTreeMap<String, (String, String)>,
    /// (sample name, labels sorted) → value.
    samples: BTreeMap<(String, Vec<(String, String)>), f64>,
}

impl Exposition {
    /// Parse `text`, asserting it is well formed: one HELP and one TYPE per
    /// family, neither empty, every sample in a declared family, one
    /// `# EOF` at the end.
    fn parse(text: &str) -> Self {
        let mut help = BTreeMap::new();
        let mut types = BTreeMap::new();
        let mut samples = BTreeMap::new();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.last(), Some(&"# EOF"), "ends with # EOF");
        assert_eq!(text.matches("# EOF").count(), 1);
        for line in &lines[..lines.len() - 1] {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
                assert!(!text.trim().is_empty(), "empty help: {line}");
                let old = help.insert(name.to_owned(), text.to_owned());
                assert!(old.is_none(), "second HELP for {name}");
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
                assert!(
                    ["counter", "gauge", "histogram"].contains(&kind),
                    "type: {line}"
                );
                let old = types.insert(name.to_owned(), kind.to_owned());
                assert!(old.is_none(), "second TYPE for {name}");
            } else {
                assert!(!line.starts_with('#'), "unexpected comment: {line}");
                let (name, labels, value) = parse_sample(line);
                let key = (name, labels);
                assert!(!samples.contains_key(&key), "duplicate sample: {line}");
                samples.insert(key, value);
            }
        }
        assert_eq!(
            help.keys().collect::<Vec<_>>(),
            types.keys().collect::<Vec<_>>(),
            "every family has HELP and TYPE"
        );
        let families: BTreeMap<String, (String, String)> = help
            .into_iter()
            .map(|(name, help)| {
                let kind = types[&name].clone();
                (name, (help, kind))
            })
            .collect();
        let this = Self { families, samples };
        for (name, _) in this.samples.keys() {
            assert!(this.family_of(name).is_some(), "{name} has no family");
        }
        this
    }

    /// The family a sample name belongs to.
    fn family_of(&self, sample: &str) -> Option<&str> {
        self.families.iter().find_map(|(name, (_, kind))| {
            let suffixes: &[&str] = match kind.as_str() {
                "counter" => &["_total"],
                "histogram" => &["_bucket", "_count", "_sum"],
                _ => &[""],
            };
            suffixes
                .iter()
                .any(|s| sample.strip_suffix(s) == Some(name.as_str()))
                .then_some(name.as_str())
        })
    }

    fn kind(&self, family: &str) -> &str {
        &self
            .families
            .get(family)
            .unwrap_or_else(|| panic!("no family {family}"))
            .1
    }

    /// The value of the sample `name` with exactly `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        labels.sort();
        self.samples.get(&(name.to_owned(), labels)).copied()
    }

    #[track_caller]
    fn assert(&self, name: &str, labels: &[(&str, &str)], expected: f64) {
        assert_eq!(
            self.value(name, labels),
            Some(expected),
            "{name}{labels:?} in {:#?}",
            self.samples
        );
    }

    /// Every sample named `name`, with its labels.
    fn series(&self, name: &str) -> Vec<(&Vec<(String, String)>, f64)> {
        self.samples
            .iter()
            .filter(|((n, _), _)| n == name)
            .map(|((_, labels), v)| (labels, *v))
            .collect()
    }

    fn sample_names(&self) -> BTreeSet<&str> {
        self.samples.keys().map(|(n, _)| n.as_str()).collect()
    }
}

/// `name{k="v",...} value`, label values with `\"`, `\\` and `\n` escapes.
fn parse_sample(line: &str) -> (String, Vec<(String, String)>, f64) {
    let name_end = line.find(['{', ' ']).unwrap_or_else(|| panic!("{line}"));
    let name = line[..name_end].to_owned();
    assert!(!name.is_empty(), "{line}");
    let mut labels = Vec::new();
    let mut rest = &line[name_end..];
    if let Some(after) = rest.strip_prefix('{') {
        let mut chars = after.char_indices();
        loop {
            let mut key = String::new();
            let mut value = String::new();
            let (_, c) = chars.next().unwrap();
            if c == '}' {
                rest = &after[1..];
                break;
            }
            key.push(c);
            for (_, c) in chars.by_ref() {
                if c == '=' {
                    break;
                }
                key.push(c);
            }
            assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line}");
            while let Some((_, c)) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => match chars.next().unwrap().1 {
                        'n' => value.push('\n'),
                        other => value.push(other),
                    },
                    c => value.push(c),
                }
            }
            labels.push((key, value));
            let (at, c) = chars.next().unwrap();
            match c {
                ',' => {}
                '}' => {
                    rest = &after[at + 1..];
                    break;
                }
                _ => panic!("bad label set: {line}"),
            }
        }
    }
    let value = rest
        .strip_prefix(' ')
        .unwrap_or_else(|| panic!("{line}"))
        .parse()
        .unwrap_or_else(|_| panic!("bad value: {line}"));
    labels.sort();
    (name, labels, value)
}

#[tokio::test]
async fn requests_answers_and_refusals_are_counted() {
    let server = Server::new(false).await;
    // Two answers of `echo` (3 and 2 words: one delta per word), one of
    // `tools` (5 deltas, 20 completion tokens).
    let answer = server.admin(chat("echo", "hello big world", false)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let answer = server.admin(chat("echo", "one two", true)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.sse_events();
    let answer = server.admin(chat("tools", "weather and time", false)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    // Refused: an unknown model, a wrong key, no key, an overloaded model,
    // an unknown route.
    assert_eq!(
        server.admin(chat("gpt-17", "hi", false)).await.status,
        StatusCode::NOT_FOUND
    );
    let wrong = server
        .send(chat("echo", "hi", false), Some("sk-moat-wrong"))
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let none = server.send(chat("echo", "hi", false), None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        server.admin(chat("error-before", "hi", false)).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        server.admin(get("/v1/nope")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server.admin(get("/v1/models/echo")).await.status,
        StatusCode::OK
    );

    let m = server.scrape().await;
    let echo = [("model_name", "echo")];
    let tools = [("model_name", "tools")];

    // vLLM's names, types and labels.
    for (family, kind) in [
        ("vllm:num_requests_running", "gauge"),
        ("vllm:num_requests_waiting", "gauge"),
        ("vllm:kv_cache_usage_perc", "gauge"),
        ("vllm:gpu_cache_usage_perc", "gauge"),
        ("vllm:prompt_tokens", "counter"),
        ("vllm:generation_tokens", "counter"),
        ("vllm:request_success", "counter"),
        ("vllm:time_to_first_token_seconds", "histogram"),
        ("vllm:inter_token_latency_seconds", "histogram"),
        ("vllm:time_per_output_token_seconds", "histogram"),
        ("vllm:e2e_request_latency_seconds", "histogram"),
        ("moat_http_requests", "counter"),
        ("moat_http_request_duration_seconds", "histogram"),
        ("moat_refusals", "counter"),
        ("moat_audit_write_seconds", "histogram"),
        ("moat_audit_backlog", "gauge"),
    ] {
        assert_eq!(m.kind(family), kind, "{family}");
    }

    // Backend load, read at scrape time; only `echo` reports one.
    m.assert("vllm:num_requests_running", &echo, 2.0);
    m.assert("vllm:num_requests_waiting", &echo, 1.0);
    m.assert("vllm:kv_cache_usage_perc", &echo, 0.25);
    m.assert("vllm:gpu_cache_usage_perc", &echo, 0.25);
    assert_eq!(m.series("vllm:num_requests_running").len(), 1);

    // Tokens from the usage of finished answers: the fake counts words.
    m.assert("vllm:prompt_tokens_total", &echo, 5.0);
    m.assert("vllm:generation_tokens_total", &echo, 5.0);
    m.assert("vllm:prompt_tokens_total", &tools, 3.0);
    m.assert("vllm:generation_tokens_total", &tools, 20.0);
    let success = "vllm:request_success_total";
    m.assert(
        success,
        &[("model_name", "echo"), ("finished_reason", "stop")],
        2.0,
    );
    m.assert(
        success,
        &[("model_name", "tools"), ("finished_reason", "tool_calls")],
        1.0,
    );
    assert_eq!(m.series(success).len(), 2, "refused requests never finish");

    // Latencies: a first token and an end per answer, a gap between
    // consecutive deltas.
    for (labels, answers, gaps) in [(&echo, 2.0, 3.0), (&tools, 1.0, 4.0)] {
        m.assert("vllm:time_to_first_token_seconds_count", labels, answers);
        m.assert("vllm:e2e_request_latency_seconds_count", labels, answers);
        m.assert("vllm:inter_token_latency_seconds_count", labels, gaps);
        m.assert("vllm:time_per_output_token_seconds_count", labels, gaps);
    }
    let ttft_count = "vllm:time_to_first_token_seconds_count";
    assert_eq!(m.series(ttft_count).len(), 2, "none for error-before");
    // vLLM's buckets, cumulative up to +Inf.
    let ttft_buckets: Vec<String> = m
        .series("vllm:time_to_first_token_seconds_bucket")
        .into_iter()
        .filter(|(labels, _)| labels.contains(&("model_name".into(), "echo".into())))
        .map(|(labels, _)| labels.iter().find(|(k, _)| k == "le").unwrap().1.clone())
        .collect();
    assert_eq!(ttft_buckets.len(), 23, "{ttft_buckets:?}");
    for le in ["0.001", "2560.0", "+Inf"] {
        assert!(
            ttft_buckets.iter().any(|b| b == le),
            "{le}: {ttft_buckets:?}"
        );
    }
    m.assert(
        "vllm:time_to_first_token_seconds_bucket",
        &[("model_name", "echo"), ("le", "+Inf")],
        2.0,
    );

    // HTTP requests by route template, method and status.
    let http = "moat_http_requests_total";
    let route = |route, method, status| [("route", route), ("method", method), ("status", status)];
    m.assert(http, &route(CHAT, "POST", "200"), 3.0);
    m.assert(http, &route(CHAT, "POST", "404"), 1.0);
    m.assert(http, &route(CHAT, "POST", "401"), 2.0);
    m.assert(http, &route(CHAT, "POST", "503"), 1.0);
    m.assert(http, &route("unmatched", "GET", "404"), 1.0);
    m.assert(http, &route("/v1/models/{*model}", "GET", "200"), 1.0);
    assert_eq!(m.series(http).len(), 6, "the scrape counts once answered");
    m.assert(
        "moat_http_request_duration_seconds_count",
        &[("route", CHAT), ("method", "POST")],
        7.0,
    );

    // Refusals by error code.
    let refusals = "moat_refusals_total";
    m.assert(refusals, &[("reason", "model_not_found")], 1.0);
    m.assert(refusals, &[("reason", "invalid_api_key")], 2.0);
    m.assert(refusals, &[("reason", "overloaded")], 1.0);
    m.assert(refusals, &[("reason", "not_found")], 1.0);
    assert_eq!(m.series(refusals).len(), 4);

    // One audit write per request; scrapes and health checks are not
    // recorded. Every write was awaited: nothing is left behind.
    let recorded: f64 = m
        .series(http)
        .iter()
        .filter(|(labels, _)| {
            !labels.iter().any(|(k, v)| {
                k == "route" && matches!(v.as_str(), "/metrics" | "/health" | "/ready")
            })
        })
        .map(|(_, v)| v)
        .sum();
    assert!(recorded >= 7.0, "{recorded}");
    m.assert("moat_audit_write_seconds_count", &[], recorded);
    m.assert("moat_audit_backlog", &[], 0.0);

    // The scrape itself is counted by the next one.
    let again = server.scrape().await;
    again.assert(http, &route("/metrics", "GET", "200"), 1.0);
}

#[tokio::test]
async fn closed_metrics_need_an_admin_key() {
    let server = Server::new(false).await;
    let user = server.access.key("reader", &["user"], None).await;
    let none = server.send(get("/metrics"), None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.json()["error"]["code"], "invalid_api_key");
    let not_admin = server.send(get("/metrics"), Some(&user)).await;
    assert_eq!(not_admin.status, StatusCode::FORBIDDEN);
    assert_eq!(not_admin.json()["error"]["code"], "permission_denied");
    let m = server.scrape().await;
    m.assert("moat_refusals_total", &[("reason", "invalid_api_key")], 1.0);
    m.assert(
        "moat_refusals_total",
        &[("reason", "permission_denied")],
        1.0,
    );
}

#[tokio::test]
async fn open_metrics_need_no_credentials() {
    let server = Server::new(true).await;
    let answer = server.send(get("/metrics"), None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let m = Exposition::parse(&answer.body);
    m.assert("vllm:num_requests_running", &[("model_name", "echo")], 2.0);
    // Still open with a key, any key: authentication is not asked for.
    let answer = server.send(get("/metrics"), Some("sk-moat-wrong")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}

/// Every `vllm:*` and `moat_*` name in an expression.
fn metric_names(expr: &str) -> Vec<String> {
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut names = Vec::new();
    let mut word = String::new();
    let mut in_quotes = false;
    for c in expr.chars().chain([' ']) {
        if c == '"' {
            in_quotes = !in_quotes;
        }
        if !in_quotes && is_name_char(c) {
            word.push(c);
            continue;
        }
        if word.starts_with("vllm:") || word.starts_with("moat_") {
            names.push(word.clone());
        }
        word.clear();
    }
    names
}

/// Every string under a key named `key`, anywhere in `value`.
fn strings_under<'v>(value: &'v Value, key: &str, out: &mut Vec<&'v str>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::String(s) if k == key => out.push(s),
                    _ => strings_under(v, key, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| strings_under(v, key, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_dashboard_queries_only_exported_metrics() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/grafana/moat-dashboard.json"
    );
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();

    // A Prometheus data source variable that every panel uses.
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    assert!(variables
        .iter()
        .any(|v| v["type"] == "datasource" && v["query"] == "prometheus"));
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(panels.len() >= 10);
    for panel in panels {
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{panel}");
    }

    // Every metric queried is in the exposition once there was traffic.
    let server = Server::new(false).await;
    for (model, stream) in [("echo", false), ("echo", true), ("tools", false)] {
        let answer = server.admin(chat(model, "a b c", stream)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    }
    server.send(chat("echo", "hi", false), None).await;
    let exported = server.scrape().await;
    let exported = exported.sample_names();

    let mut exprs = Vec::new();
    strings_under(&dashboard, "expr", &mut exprs);
    strings_under(&dashboard, "definition", &mut exprs);
    assert!(exprs.len() >= 15, "{exprs:?}");
    let mut queried = BTreeSet::new();
    for expr in exprs {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "no metric in {expr}");
        queried.extend(names);
    }
    let missing: Vec<_> = queried
        .iter()
        .filter(|n| !exported.contains(n.as_str()))
        .collect();
    assert!(missing.is_empty(), "not exported: {missing:?}");
    // Each required view is there.
    for name in [
        "moat_http_requests_total",
        "moat_refusals_total",
        "vllm:time_to_first_token_seconds_bucket",
        "vllm:inter_token_latency_seconds_bucket",
        "vllm:e2e_request_latency_seconds_bucket",
        "vllm:prompt_tokens_total",
        "vllm:generation_tokens_total",
        "vllm:num_requests_running",
        "vllm:num_requests_waiting",
        "vllm:kv_cache_usage_perc",
        "moat_audit_write_seconds_bucket",
        "moat_audit_backlog",
    ] {
        assert!(queried.contains(name), "the dashboard has no {name}");
    }
}
