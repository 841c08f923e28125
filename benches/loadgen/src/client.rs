//! One streaming chat completion against an OpenAI-compatible server, timed
//! chunk by chunk.

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use eventsource_stream::Eventsource as _;
use futures::StreamExt as _;
use serde_json::{json, Value};

/// Where to send requests and how.
#[derive(Clone)]
pub struct Target {
    pub http: reqwest::Client,
    /// Base URL ending in `/v1`.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<String>,
}

/// What was measured for one request.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Send → first chunk whose `delta.content` is not empty.
    pub ttft: Option<Duration>,
    /// Gaps between successive content chunks.
    pub gaps: Vec<Duration>,
    /// Content chunks received.
    pub content_chunks: u64,
    /// From the usage chunk, when the server sent one.
    pub completion_tokens: Option<u64>,
    pub prompt_tokens: Option<u64>,
    pub cached_tokens: Option<u64>,
    /// Send → end of stream.
    pub total: Duration,
    /// When the request was sent.
    pub sent_at: Option<Instant>,
    pub finish_reason: Option<String>,
}

impl Outcome {
    /// Generated tokens: the server's count, else one per content chunk.
    pub fn tokens(&self) -> u64 {
        self.completion_tokens.unwrap_or(self.content_chunks)
    }
}

impl Target {
    /// Builds a client that never goes through a proxy (benchmarks talk to
    /// loopback) and opens a fresh connection for every request: reusing idle
    /// keep-alive connections races with servers that close them (llama-server
    /// does, after a few requests or seconds), which shows up as spurious
    /// "connection closed before message completed" failures. A loopback
    /// connect costs well under a millisecond.
    pub fn new(base_url: &str, model: String, api_key: Option<String>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .tcp_nodelay(true)
            .build()
            .context("building HTTP client")?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            model,
            api_key,
        })
    }

    fn authorize(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.api_key {
            Some(key) => req.bearer_auth(key),
            None => req,
        }
    }

    /// The first model id the server lists under `/models`.
    pub async fn first_model(&self) -> anyhow::Result<String> {
        let url = format!("{}/models", self.base_url);
        let resp = self
            .authorize(self.http.get(&url))
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = resp.status();
        let body: Value = resp
            .json()
            .await
            .with_context(|| format!("GET {url}: reading JSON"))?;
        if !status.is_success() {
            bail!("GET {url}: HTTP {status}: {body}");
        }
        body.pointer("/data/0/id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .with_context(|| format!("GET {url}: no model listed: {body}"))
    }

    /// Sends one streaming chat request (`temperature: 0`, fixed `max_tokens`,
    /// usage requested in the stream) and times it.
    pub async fn stream_chat(
        &self,
        system: Option<&str>,
        user: &str,
        max_tokens: u32,
    ) -> anyhow::Result<Outcome> {
        let mut messages = Vec::new();
        if let Some(system) = system {
            messages.push(json!({"role": "system", "content": system}));
        }
        messages.push(json!({"role": "user", "content": user}));
        let body = json!({
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": 0,
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        let url = format!("{}/chat/completions", self.base_url);

        let start = Instant::now();
        let resp = self
            .authorize(self.http.post(&url))
            .json(&body)
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let status = resp.status();
        if !status.is_success() {
            let text = resp.text().await.unwrap_or_default();
            bail!(
                "HTTP {status}: {}",
                text.chars().take(300).collect::<String>()
            );
        }

        let mut out = Outcome {
            sent_at: Some(start),
            ..Outcome::default()
        };
        let mut last_content: Option<Instant> = None;
        let mut done = false;
        let mut events = resp.bytes_stream().eventsource();
        while let Some(event) = events.next().await {
            let event = event.context("reading the event stream")?;
            let now = Instant::now();
            if event.data.trim() == "[DONE]" {
                done = true;
                break;
            }
            let chunk: Value = serde_json::from_str(&event.data).with_context(|| {
                format!(
                    "chunk is not JSON: {}",
                    event.data.chars().take(200).collect::<String>()
                )
            })?;
            if let Some(err) = chunk.get("error") {
                bail!("error event: {err}");
            }
            if let Some(choice) = chunk.pointer("/choices/0") {
                let content = choice
                    .pointer("/delta/content")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if !content.is_empty() {
                    out.content_chunks += 1;
                    match last_content {
                        None => out.ttft = Some(now - start),
                        Some(prev) => out.gaps.push(now - prev),
                    }
                    last_content = Some(now);
                }
                if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                    out.finish_reason = Some(reason.to_owned());
                }
            }
            if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
                out.completion_tokens = usage.get("completion_tokens").and_then(Value::as_u64);
                out.prompt_tokens = usage.get("prompt_tokens").and_then(Value::as_u64);
                out.cached_tokens = usage
                    .pointer("/prompt_tokens_details/cached_tokens")
                    .and_then(Value::as_u64);
            }
            // llama-server reports reused prompt tokens in `timings.cache_n`.
            if out.cached_tokens.is_none() {
                out.cached_tokens = chunk.pointer("/timings/cache_n").and_then(Value::as_u64);
            }
        }
        out.total = start.elapsed();
        if !done {
            bail!("stream ended without [DONE]");
        }
        if out.ttft.is_none() {
            bail!(
                "no content generated (finish_reason {:?})",
                out.finish_reason
            );
        }
        Ok(out)
    }
}
