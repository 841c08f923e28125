//! Prometheus metrics, served by `GET /metrics` in the OpenMetrics text
//! format. Where a concept matches one of vLLM's, the metric has vLLM's name
//! (`vllm:` prefix), label (`model_name`) and buckets, so dashboards made for
//! vLLM work unchanged; moat's own metrics are named `moat_*`.
//!
//! What is counted where: HTTP requests and refusals in the request
//! middleware ([`Metrics::observe_response`]), tokens and latencies of an
//! answer as its events pass ([`AnswerMetrics`]), audit writes by the audit
//! log, and the load of each backend when the metrics are scraped.

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::Method;
use moat_protocol::{ApiError, FinishReason, GenerationEvent};
use moat_router::ModelRegistry;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The media type of the exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// vLLM's `vllm:time_to_first_token_seconds` buckets.
const TTFT_BUCKETS: [f64; 22] = [
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
];

/// vLLM's `vllm:inter_token_latency_seconds` buckets (also those of the older
/// `vllm:time_per_output_token_seconds`).
const INTER_TOKEN_BUCKETS: [f64; 19] = [
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
    40.0, 80.0,
];

/// vLLM's request latency buckets (`vllm:e2e_request_latency_seconds`).
const REQUEST_LATENCY_BUCKETS: [f64; 21] = [
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0,
    480.0, 960.0, 1920.0, 7680.0,
];

/// Time until an HTTP response starts: milliseconds for refusals and
/// listings, up to minutes for answers that are not streamed.
const HTTP_DURATION_BUCKETS: [f64; 16] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// One audit record written: usually a few milliseconds, seconds when the
/// disk stalls.
const AUDIT_WRITE_BUCKETS: [f64; 14] = [
    0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    model_name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FinishLabels {
    model_name: String,
    finished_reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolLabels {
    tool: String,
    decision: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolNameLabels {
    tool: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SearchLabels {
    mode: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IngestLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PassageLabels {
    /// `retrieved` (quoted to the model) or `cited` (in the answer's
    /// annotations).
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    reason: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn ttft_histogram() -> Histogram {
    Histogram::new(TTFT_BUCKETS)
}

fn inter_token_histogram() -> Histogram {
    Histogram::new(INTER_TOKEN_BUCKETS)
}

fn request_latency_histogram() -> Histogram {
    Histogram::new(REQUEST_LATENCY_BUCKETS)
}

fn http_duration_histogram() -> Histogram {
    Histogram::new(HTTP_DURATION_BUCKETS)
}

/// The metrics of one server; cheap to clone, every clone counts into the
/// same series.
#[derive(Clone, Debug)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    prompt_tokens: Family<ModelLabels, Counter>,
    generation_tokens: Family<ModelLabels, Counter>,
    request_success: Family<FinishLabels, Counter>,
    time_to_first_token: HistogramFamily<ModelLabels>,
    inter_token_latency: HistogramFamily<ModelLabels>,
    time_per_output_token: HistogramFamily<ModelLabels>,
    e2e_request_latency: HistogramFamily<ModelLabels>,
    http_requests: Family<HttpLabels, Counter>,
    http_request_duration: HistogramFamily<RouteLabels>,
    refusals: Family<RefusalLabels, Counter>,
    audit_write: Histogram,
    audit_backlog: Gauge,
    tool_calls: Family<ToolLabels, Counter>,
    tool_cache_hits: Family<ToolNameLabels, Counter>,
    tool_call_duration: HistogramFamily<ToolNameLabels>,
    knowledge_retrieval: Histogram,
    knowledge_passages: Family<PassageLabels, Counter>,
    knowledge_search: HistogramFamily<SearchLabels>,
    knowledge_search_results: Family<SearchLabels, Counter>,
    knowledge_ingest: HistogramFamily<IngestLabels>,
    knowledge_ingest_chunks: Counter,
    knowledge_ingest_bytes: Counter,
    knowledge_reembedded_chunks: Counter,
    knowledge_rerank: Histogram,
    knowledge_reranked_chunks: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let prompt_tokens = Family::default();
        let generation_tokens = Family::default();
        let request_success = Family::default();
        let time_to_first_token =
            HistogramFamily::new_with_constructor(ttft_histogram as fn() -> _);
        let inter_token_latency =
            HistogramFamily::new_with_constructor(inter_token_histogram as fn() -> _);
        let time_per_output_token =
            HistogramFamily::new_with_constructor(inter_token_histogram as fn() -> _);
        let e2e_request_latency =
            HistogramFamily::new_with_constructor(request_latency_histogram as fn() -> _);
        let http_requests = Family::default();
        let http_request_duration =
            HistogramFamily::new_with_constructor(http_duration_histogram as fn() -> _);
        let refusals = Family::default();
        let audit_write = Histogram::new(AUDIT_WRITE_BUCKETS);
        let audit_backlog = Gauge::default();
        let tool_calls = Family::default();
        let tool_cache_hits = Family::default();
        let tool_call_duration =
            HistogramFamily::new_with_constructor(http_duration_histogram as fn() -> _);
        let knowledge_retrieval = http_duration_histogram();
        let knowledge_passages = Family::default();
        let knowledge_search =
            HistogramFamily::new_with_constructor(http_duration_histogram as fn() -> _);
        let knowledge_search_results = Family::default();
        let knowledge_ingest =
            HistogramFamily::new_with_constructor(http_duration_histogram as fn() -> _);
        let knowledge_ingest_chunks = Counter::default();
        let knowledge_ingest_bytes = Counter::default();
        let knowledge_reembedded_chunks = Counter::default();
        let knowledge_rerank = http_duration_histogram();
        let knowledge_reranked_chunks = Counter::default();

        // Counters get their `_total` suffix from the encoder.
        let mut registry = Registry::default();
        registry.register(
            "vllm:prompt_tokens",
            "Number of prefill tokens processed",
            prompt_tokens.clone(),
        );
        registry.register(
            "vllm:generation_tokens",
            "Number of generation tokens processed",
            generation_tokens.clone(),
        );
        registry.register(
            "vllm:request_success",
            "Count of successfully processed requests",
            request_success.clone(),
        );
        registry.register(
            "vllm:time_to_first_token_seconds",
            "Histogram of time to first token in seconds",
            time_to_first_token.clone(),
        );
        registry.register(
            "vllm:inter_token_latency_seconds",
            "Histogram of inter-token latency in seconds",
            inter_token_latency.clone(),
        );
        registry.register(
            "vllm:time_per_output_token_seconds",
            "Histogram of time per output token in seconds. \
             DEPRECATED: Use vllm:inter_token_latency_seconds instead",
            time_per_output_token.clone(),
        );
        registry.register(
            "vllm:e2e_request_latency_seconds",
            "Histogram of e2e request latency in seconds",
            e2e_request_latency.clone(),
        );
        registry.register(
            "moat_http_requests",
            "HTTP requests by matched route, method and status",
            http_requests.clone(),
        );
        registry.register(
            "moat_http_request_duration_seconds",
            "Time until the HTTP response starts, by matched route and method",
            http_request_duration.clone(),
        );
        registry.register(
            "moat_refusals",
            "Requests answered with an error, by its code",
            refusals.clone(),
        );
        registry.register(
            "moat_audit_write_seconds",
            "Time to write one audit record",
            audit_write.clone(),
        );
        registry.register(
            "moat_audit_backlog",
            "Audit records waiting to be written",
            audit_backlog.clone(),
        );
        registry.register(
            "moat_tool_calls",
            "Server-side tool calls by tool, policy decision and outcome",
            tool_calls.clone(),
        );
        registry.register(
            "moat_tool_cache_hits",
            "Server-side tool calls answered from the cache",
            tool_cache_hits.clone(),
        );
        registry.register(
            "moat_tool_call_duration_seconds",
            "Time to run one server-side tool call (cache hits included)",
            tool_call_duration.clone(),
        );
        registry.register(
            "moat_knowledge_retrieval_seconds",
            "Time to retrieve a grounded chat's passages from its knowledge bases",
            knowledge_retrieval.clone(),
        );
        registry.register(
            "moat_knowledge_passages",
            "Knowledge-base passages quoted to the model (retrieved) and cited by answers",
            knowledge_passages.clone(),
        );
        registry.register(
            "moat_knowledge_search_seconds",
            "Time of one knowledge-base search, by mode",
            knowledge_search.clone(),
        );
        registry.register(
            "moat_knowledge_search_results",
            "Results knowledge-base searches returned, by mode",
            knowledge_search_results.clone(),
        );
        registry.register(
            "moat_knowledge_ingest_seconds",
            "Time to ingest one file (extract, chunk, scan, embed, index), by outcome",
            knowledge_ingest.clone(),
        );
        registry.register(
            "moat_knowledge_ingest_chunks",
            "Chunks indexed by ingests",
            knowledge_ingest_chunks.clone(),
        );
        registry.register(
            "moat_knowledge_ingest_bytes",
            "Bytes of chunk text indexed by ingests",
            knowledge_ingest_bytes.clone(),
        );
        registry.register(
            "moat_knowledge_reembedded_chunks",
            "Chunks embedded again after a store's embedding model changed",
            knowledge_reembedded_chunks.clone(),
        );
        registry.register(
            "moat_knowledge_rerank_seconds",
            "Time the reranker took to rescore one search's candidates",
            knowledge_rerank.clone(),
        );
        registry.register(
            "moat_knowledge_reranked_chunks",
            "Candidate chunks the reranker rescored",
            knowledge_reranked_chunks.clone(),
        );

        Self {
            inner: Arc::new(Inner {
                registry,
                prompt_tokens,
                generation_tokens,
                request_success,
                time_to_first_token,
                inter_token_latency,
                time_per_output_token,
                e2e_request_latency,
                http_requests,
                http_request_duration,
                refusals,
                audit_write,
                audit_backlog,
                tool_calls,
                tool_cache_hits,
                tool_call_duration,
                knowledge_retrieval,
                knowledge_passages,
                knowledge_search,
                knowledge_search_results,
                knowledge_ingest,
                knowledge_ingest_chunks,
                knowledge_ingest_bytes,
                knowledge_reembedded_chunks,
                knowledge_rerank,
                knowledge_reranked_chunks,
            }),
        }
    }

    /// Count one HTTP response as it starts, `elapsed` after the request
    /// came in: by matched route template (`None`: no route matched), and
    /// by error code when it carries an error.
    pub fn observe_response(
        &self,
        route: Option<&str>,
        method: &Method,
        status: u16,
        error: Option<&ApiError>,
        elapsed: Duration,
    ) {
        let route = route.unwrap_or("unmatched").to_owned();
        let method = method_label(method);
        self.inner
            .http_requests
            .get_or_create(&HttpLabels {
                route: route.clone(),
                method,
                status,
            })
            .inc();
        self.inner
            .http_request_duration
            .get_or_create(&RouteLabels { route, method })
            .observe(elapsed.as_secs_f64());
        if let Some(error) = error {
            let spec = error.kind.spec();
            let reason = spec.code.unwrap_or(spec.error_type);
            self.inner
                .refusals
                .get_or_create(&RefusalLabels { reason })
                .inc();
        }
    }

    /// One grounded chat's retrieval: how long it took, how many passages
    /// it quoted.
    pub(crate) fn observe_retrieval(&self, elapsed: Duration, passages: usize) {
        self.inner
            .knowledge_retrieval
            .observe(elapsed.as_secs_f64());
        self.count_passages("retrieved", passages);
    }

    /// `cited` passages of a grounded answer were cited.
    pub(crate) fn observe_citations(&self, cited: usize) {
        self.count_passages("cited", cited);
    }

    /// One knowledge-base search in `mode`: its time and results.
    pub(crate) fn observe_search(&self, mode: &'static str, elapsed: Duration, results: usize) {
        let labels = SearchLabels { mode };
        self.inner
            .knowledge_search
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        self.inner
            .knowledge_search_results
            .get_or_create(&labels)
            .inc_by(results as u64);
    }

    /// One reranking of a search's candidates: its time and how many.
    pub(crate) fn observe_rerank(&self, elapsed: Duration, chunks: usize) {
        self.inner.knowledge_rerank.observe(elapsed.as_secs_f64());
        self.inner.knowledge_reranked_chunks.inc_by(chunks as u64);
    }

    /// One file's ingest: its time, and `(chunks, bytes)` when it completed.
    pub(crate) fn observe_ingest(&self, elapsed: Duration, indexed: Option<(u64, u64)>) {
        let outcome = if indexed.is_some() {
            "completed"
        } else {
            "failed"
        };
        self.inner
            .knowledge_ingest
            .get_or_create(&IngestLabels { outcome })
            .observe(elapsed.as_secs_f64());
        if let Some((chunks, bytes)) = indexed {
            self.inner.knowledge_ingest_chunks.inc_by(chunks);
            self.inner.knowledge_ingest_bytes.inc_by(bytes);
        }
    }

    /// Chunks a re-embed gave vectors of the store's new model.
    pub(crate) fn count_reembedded(&self, chunks: usize) {
        self.inner.knowledge_reembedded_chunks.inc_by(chunks as u64);
    }

    fn count_passages(&self, state: &'static str, n: usize) {
        self.inner
            .knowledge_passages
            .get_or_create(&PassageLabels { state })
            .inc_by(n as u64);
    }

    /// One embeddings answer of `model`: its tokens count as prompt tokens.
    pub(crate) fn observe_embeddings(&self, model: &str, prompt_tokens: u32) {
        self.inner
            .prompt_tokens
            .get_or_create(&ModelLabels {
                model_name: model.to_owned(),
            })
            .inc_by(u64::from(prompt_tokens));
    }

    /// The measurements of one answer of `model`, its clock started now.
    pub(crate) fn answer(&self, model: &str) -> AnswerMetrics {
        AnswerMetrics {
            metrics: self.clone(),
            labels: ModelLabels {
                model_name: model.to_owned(),
            },
            started: Instant::now(),
            last_token: None,
        }
    }

    /// One server-side tool call decided (`allowed`, `denied`...) and, when
    /// it ran, how long it took and whether the cache answered it.
    pub(crate) fn observe_tool_call(
        &self,
        tool: &str,
        decision: &'static str,
        outcome: &'static str,
        ran: Option<(Duration, bool)>,
    ) {
        let name = ToolNameLabels {
            tool: tool.to_owned(),
        };
        self.inner
            .tool_calls
            .get_or_create(&ToolLabels {
                tool: name.tool.clone(),
                decision,
                outcome,
            })
            .inc();
        if let Some((elapsed, cached)) = ran {
            self.inner
                .tool_call_duration
                .get_or_create(&name)
                .observe(elapsed.as_secs_f64());
            if cached {
                self.inner.tool_cache_hits.get_or_create(&name).inc();
            }
        }
    }

    /// One audit record was written in `secs` seconds.
    pub fn observe_audit_write(&self, secs: f64) {
        self.inner.audit_write.observe(secs);
    }

    /// `n` audit records are waiting to be written.
    pub fn set_audit_backlog(&self, n: u64) {
        self.inner
            .audit_backlog
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// The exposition: the load of each backend of `models`, read now, then
    /// every counter and histogram.
    pub fn render(&self, models: &ModelRegistry) -> Result<String, fmt::Error> {
        let mut text = String::new();
        encode_registry(&mut text, &backend_loads(models))?;
        encode_registry(&mut text, &self.inner.registry)?;
        encode_eof(&mut text)?;
        Ok(text)
    }
}

/// A bounded label for the method: the standard ones by name, any other as
/// `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

fn finish_reason_label(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter => "content_filter",
    }
}

/// The gauges of the backends that report their load, as they are now.
fn backend_loads(models: &ModelRegistry) -> Registry {
    let running = Family::<ModelLabels, Gauge>::default();
    let waiting = Family::<ModelLabels, Gauge>::default();
    let kv_cache = Family::<ModelLabels, Gauge<f64, AtomicU64>>::default();
    for backend in models.backends() {
        let Some(load) = backend.load() else {
            continue;
        };
        let labels = ModelLabels {
            model_name: backend.info().id,
        };
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        running.get_or_create(&labels).set(count(load.running));
        waiting.get_or_create(&labels).set(count(load.waiting));
        if let Some(usage) = load.kv_cache_usage {
            kv_cache.get_or_create(&labels).set(usage);
        }
    }
    let mut registry = Registry::default();
    registry.register(
        "vllm:num_requests_running",
        "Number of requests in model execution batches",
        running,
    );
    registry.register(
        "vllm:num_requests_waiting",
        "Number of requests waiting to be processed",
        waiting,
    );
    registry.register(
        "vllm:kv_cache_usage_perc",
        "KV-cache usage. 1 means 100 percent usage",
        kv_cache.clone(),
    );
    registry.register(
        "vllm:gpu_cache_usage_perc",
        "KV-cache usage. 1 means 100 percent usage. \
         DEPRECATED: Use vllm:kv_cache_usage_perc instead",
        kv_cache,
    );
    registry
}

/// The measurements of one answer, fed every event of its stream: time to
/// the first token, the gaps between deltas, and at the finish the tokens,
/// the reason and the end-to-end latency. An answer that never finishes
/// (client gone, error) leaves only what it reached.
pub(crate) struct AnswerMetrics {
    metrics: Metrics,
    labels: ModelLabels,
    started: Instant,
    last_token: Option<Instant>,
}

impl AnswerMetrics {
    /// Measure one event of the answer.
    pub fn observe<E>(&mut self, event: &Result<GenerationEvent, E>) {
        let now = Instant::now();
        let inner = &self.metrics.inner;
        match event {
            Ok(GenerationEvent::Delta { .. }) => {
                match self.last_token {
                    None => self.first_token(now),
                    Some(last) => {
                        let gap = now.duration_since(last).as_secs_f64();
                        let labels = &self.labels;
                        inner.inter_token_latency.get_or_create(labels).observe(gap);
                        inner
                            .time_per_output_token
                            .get_or_create(labels)
                            .observe(gap);
                    }
                }
                self.last_token = Some(now);
            }
            Ok(GenerationEvent::Annotations(_) | GenerationEvent::Tool(_)) => {}
            Ok(GenerationEvent::Finish { reason, usage }) => {
                if self.last_token.is_none() {
                    // Nothing but the end (an empty answer): that was the first token.
                    self.first_token(now);
                }
                inner
                    .prompt_tokens
                    .get_or_create(&self.labels)
                    .inc_by(u64::from(usage.prompt_tokens));
                inner
                    .generation_tokens
                    .get_or_create(&self.labels)
                    .inc_by(u64::from(usage.completion_tokens));
                inner
                    .request_success
                    .get_or_create(&FinishLabels {
                        model_name: self.labels.model_name.clone(),
                        finished_reason: finish_reason_label(*reason),
                    })
                    .inc();
                inner
                    .e2e_request_latency
                    .get_or_create(&self.labels)
                    .observe(now.duration_since(self.started).as_secs_f64());
            }
            Err(_) => {}
        }
    }

    fn first_token(&self, now: Instant) {
        let inner = &self.metrics.inner;
        let ttft = now.duration_since(self.started).as_secs_f64();
        inner
            .time_to_first_token
            .get_or_create(&self.labels)
            .observe(ttft);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use moat_protocol::Usage;

    #[test]
    fn an_answer_is_measured_from_its_events() {
        let metrics = Metrics::new();
        let mut answer = metrics.answer("m");
        let ok = |e| Ok::<_, ()>(e);
        answer.observe(&ok(GenerationEvent::content("a")));
        answer.observe(&ok(GenerationEvent::content("b")));
        answer.observe(&ok(GenerationEvent::content("c")));
        answer.observe(&ok(GenerationEvent::Finish {
            reason: FinishReason::Length,
            usage: Usage::new(7, 3, None),
        }));
        let text = metrics.render(&ModelRegistry::new()).unwrap();
        for line in [
            "vllm:prompt_tokens_total{model_name=\"m\"} 7",
            "vllm:generation_tokens_total{model_name=\"m\"} 3",
            "vllm:request_success_total{model_name=\"m\",finished_reason=\"length\"} 1",
            "vllm:time_to_first_token_seconds_count{model_name=\"m\"} 1",
            "vllm:inter_token_latency_seconds_count{model_name=\"m\"} 2",
            "vllm:time_per_output_token_seconds_count{model_name=\"m\"} 2",
            "vllm:e2e_request_latency_seconds_count{model_name=\"m\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn methods_outside_the_standard_ones_share_a_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }
}
