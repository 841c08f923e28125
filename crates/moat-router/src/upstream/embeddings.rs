//! `/v1/embeddings` passed to an upstream server: the request as sent (the
//! upstream's model name, vectors always asked for as floats so moat can
//! answer in either format), the answer read back in input order.

use moat_protocol::embeddings::{EmbeddingRequest, EmbeddingVector, Embeddings, EncodingFormat};
use moat_protocol::ApiError;
use serde::Deserialize;
use tokio::time::Instant;

use super::{status_error, timed_out, transport_error, UpstreamBackend, UpstreamError};

#[derive(Deserialize)]
struct UpstreamAnswer {
    data: Vec<UpstreamVector>,
    #[serde(default)]
    usage: Option<UpstreamUsage>,
}

#[derive(Deserialize)]
struct UpstreamVector {
    index: usize,
    embedding: EmbeddingVector,
}

#[derive(Deserialize)]
struct UpstreamUsage {
    #[serde(default)]
    prompt_tokens: u32,
}

/// Send `request` upstream and read its vectors.
pub(super) async fn embed(
    backend: &UpstreamBackend,
    mut request: EmbeddingRequest,
) -> Result<Embeddings, ApiError> {
    let id = backend.config.id.as_str();
    let expected = request.input.len();
    request.model = backend.upstream_model().to_owned();
    request.encoding_format = EncodingFormat::Float;
    let deadline = Instant::now() + backend.config.timeout;
    let send = backend
        .request(reqwest::Method::POST, "/embeddings")
        .json(&request)
        .send();
    let response = match tokio::time::timeout_at(deadline, send).await {
        Err(_) => return Err(timed_out(id).into()),
        Ok(Err(error)) => return Err(transport_error(id, &error).into()),
        Ok(Ok(response)) => response,
    };
    let status = response.status();
    let body = match tokio::time::timeout_at(deadline, response.bytes()).await {
        Err(_) => return Err(timed_out(id).into()),
        Ok(Err(error)) => return Err(transport_error(id, &error).into()),
        Ok(Ok(body)) => body,
    };
    if !status.is_success() {
        return Err(status_error(id, status, &body).into());
    }
    read_answer(id, &body, expected)
}

/// The vectors of an upstream answer, put in input order; anything
/// missing, doubled or not a list of floats is an upstream failure.
fn read_answer(id: &str, body: &[u8], expected: usize) -> Result<Embeddings, ApiError> {
    let bad = |why: &str| {
        tracing::warn!(model = id, why, "unusable embeddings answer from upstream");
        ApiError::from(UpstreamError::Failed)
    };
    let answer: UpstreamAnswer =
        serde_json::from_slice(body).map_err(|_| bad("not an embeddings answer"))?;
    let mut vectors: Vec<Option<Vec<f32>>> = vec![None; expected];
    for item in answer.data {
        let slot = vectors
            .get_mut(item.index)
            .ok_or_else(|| bad("index out of range"))?;
        let EmbeddingVector::Float(v) = item.embedding else {
            return Err(bad("not floats"));
        };
        if slot.replace(v).is_some() {
            return Err(bad("index given twice"));
        }
    }
    let vectors = vectors
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| bad("a vector is missing"))?;
    Ok(Embeddings {
        vectors,
        prompt_tokens: answer.usage.map_or(0, |u| u.prompt_tokens),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn vectors_come_back_in_input_order() {
        let body = br#"{"object":"list","data":[
            {"object":"embedding","index":1,"embedding":[0.0,1.0]},
            {"object":"embedding","index":0,"embedding":[1.0,0.0]}],
            "model":"m","usage":{"prompt_tokens":5,"total_tokens":5}}"#;
        let e = read_answer("m", body, 2).unwrap();
        assert_eq!(e.vectors, vec![vec![1.0, 0.0], vec![0.0, 1.0]]);
        assert_eq!(e.prompt_tokens, 5);
    }

    #[test]
    fn unusable_answers_fail() {
        for body in [
            &br#"{"data":[{"index":0,"embedding":[1.0]}]}"#[..],
            br#"{"data":[{"index":0,"embedding":[1.0]},{"index":0,"embedding":[1.0]}]}"#,
            br#"{"data":[{"index":5,"embedding":[1.0]},{"index":1,"embedding":[1.0]}]}"#,
            br#"{"data":[{"index":0,"embedding":"AAAA"},{"index":1,"embedding":[1.0]}]}"#,
            b"not json",
        ] {
            assert!(read_answer("m", body, 2).is_err());
        }
    }
}
