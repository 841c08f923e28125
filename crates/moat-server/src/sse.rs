//! Server-sent events of one streamed generation, with an explicit
//! done-state: `data: [DONE]` is sent exactly once, after the last chunk or
//! after an error event, and nothing after it.
//!
//! The backend's [`EventStream`] lives inside the body stream, so when the
//! client goes away and the server drops the body, generation is cancelled
//! with it. When the server's grace period ends, the stream is stopped with
//! an error event.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use moat_protocol::chat::Annotation;
use moat_protocol::{ApiError, ErrorKind, GenerationEvent};
use moat_router::EventStream;
use tokio_util::sync::CancellationToken;

use crate::chunks::ChunkFormat;

const DONE: &[u8] = b"data: [DONE]\n\n";

/// The SSE response streaming `events` in `format`, stopped with an error
/// event when `stop` is cancelled.
pub(crate) fn response<F: ChunkFormat>(
    events: EventStream,
    format: F,
    stop: CancellationToken,
) -> Response {
    event_stream(Body::from_stream(SseStream::new(events, format, stop)))
}

/// `body` as a server-sent event stream: its content type, no caching,
/// and no buffering by reverse proxies (nginx).
pub(crate) fn event_stream(body: Body) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// The error a stream ends with when the server stops it.
pub(crate) fn shutting_down() -> ApiError {
    ApiError::new(
        ErrorKind::Unavailable,
        "The server is shutting down; the generation was stopped.",
    )
}

type StopFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

struct SseStream<F> {
    /// `None` once the generation is over: dropped as soon as it ends.
    events: Option<EventStream>,
    format: F,
    stop: StopFuture,
    /// Frames ready to send, in order.
    frames: VecDeque<Bytes>,
    /// `[DONE]` has been queued; nothing may follow it.
    done: bool,
    /// The answer's sources, sent with its finish.
    annotations: Vec<Annotation>,
    /// The request's span, so logs from the body carry its request id.
    span: tracing::Span,
}

impl<F: ChunkFormat> SseStream<F> {
    fn new(events: EventStream, format: F, stop: CancellationToken) -> Self {
        let mut stream = Self {
            events: Some(events),
            format,
            stop: Box::pin(stop.cancelled_owned()),
            frames: VecDeque::new(),
            done: false,
            annotations: Vec::new(),
            span: tracing::Span::current(),
        };
        match stream.format.opening() {
            Ok(Some(chunk)) => stream.push_data(&chunk),
            Ok(None) => {}
            Err(error) => stream.fail(&error),
        }
        stream
    }

    fn push_data(&mut self, json: &str) {
        let mut frame = Vec::with_capacity(json.len() + 8);
        frame.extend_from_slice(b"data: ");
        frame.extend_from_slice(json.as_bytes());
        frame.extend_from_slice(b"\n\n");
        self.frames.push_back(Bytes::from(frame));
    }

    /// End the stream: drop the generation and queue `[DONE]`, once.
    fn finish(&mut self) {
        if self.done {
            return;
        }
        self.events = None;
        self.frames.push_back(Bytes::from_static(DONE));
        self.done = true;
    }

    /// End the stream with an error event, then `[DONE]`.
    fn fail(&mut self, error: &ApiError) {
        if self.done {
            return;
        }
        if error.status().is_server_error() {
            tracing::error!(code = error.kind.spec().code, error = %error.message, "stream ended with an error");
        } else {
            tracing::info!(code = error.kind.spec().code, "stream ended with an error");
        }
        self.push_data(&error.to_json());
        self.finish();
    }

    fn on_event(&mut self, event: GenerationEvent) {
        match event {
            GenerationEvent::Delta {
                content,
                reasoning,
                tool_calls,
            } => match self.format.delta(content, reasoning, tool_calls) {
                Ok(Some(chunk)) => self.push_data(&chunk),
                Ok(None) => {}
                Err(error) => self.fail(&error),
            },
            GenerationEvent::Annotations(annotations) => self.annotations.extend(annotations),
            GenerationEvent::Tool(activity) => match self.format.tool(activity) {
                Ok(Some(chunk)) => self.push_data(&chunk),
                Ok(None) => {}
                Err(error) => self.fail(&error),
            },
            GenerationEvent::Finish { reason, usage } => {
                match self
                    .format
                    .finish(reason, usage, std::mem::take(&mut self.annotations))
                {
                    Ok(chunks) => {
                        for chunk in &chunks {
                            self.push_data(chunk);
                        }
                        tracing::debug!(
                            finish_reason = ?reason,
                            prompt_tokens = usage.prompt_tokens,
                            completion_tokens = usage.completion_tokens,
                            "stream finished"
                        );
                        self.finish();
                    }
                    Err(error) => self.fail(&error),
                }
            }
        }
    }
}

impl<F: ChunkFormat> Stream for SseStream<F> {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let _entered = this.span.clone().entered();
        loop {
            if let Some(frame) = this.frames.pop_front() {
                return Poll::Ready(Some(Ok(frame)));
            }
            if this.done {
                return Poll::Ready(None);
            }
            if this.stop.as_mut().poll(cx).is_ready() {
                this.fail(&shutting_down());
                continue;
            }
            let Some(events) = this.events.as_mut() else {
                this.finish();
                continue;
            };
            match events.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(event))) => this.on_event(event),
                Poll::Ready(Some(Err(error))) => this.fail(&error),
                Poll::Ready(None) => {
                    tracing::error!("the backend's stream ended without a finish event");
                    this.fail(&ApiError::internal());
                }
            }
        }
    }
}

impl<F> Drop for SseStream<F> {
    fn drop(&mut self) {
        if !self.done {
            let _entered = self.span.enter();
            tracing::info!("client went away; generation cancelled");
        }
    }
}
