//! `/v1/embeddings`: the request (one text, many texts, token ids), its
//! checks, and the response with vectors as floats or base64.

use base64::Engine as _;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::error::ApiError;

/// The most inputs one request may carry (OpenAI's limit).
pub const MAX_INPUTS: usize = 2048;

/// `input`: what to embed. Token ids are the model's own vocabulary and
/// are embedded exactly as given (no start or end tokens added).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum EmbeddingInput {
    /// One string, or a list of strings.
    Texts(Vec<String>),
    /// One list of token ids, or a list of such lists.
    Tokens(Vec<Vec<u32>>),
}

impl EmbeddingInput {
    /// How many vectors the answer will hold.
    pub fn len(&self) -> usize {
        match self {
            Self::Texts(t) => t.len(),
            Self::Tokens(t) => t.len(),
        }
    }

    /// Whether there is nothing to embed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of text, or token ids counted as 4 bytes each (for estimates
    /// made before tokenizing).
    pub fn size_bytes(&self) -> usize {
        match self {
            Self::Texts(t) => t.iter().map(String::len).sum(),
            Self::Tokens(t) => t.iter().map(|ids| ids.len() * 4).sum(),
        }
    }

    /// Read `input` from JSON, with an error that says what is wrong: a
    /// string, or a non-empty list of strings, of token ids or of lists of
    /// token ids; nothing mixed, no negative, fractional or huge ids.
    fn from_json(value: Value) -> Result<Self, String> {
        let items = match value {
            Value::String(text) => return Ok(Self::Texts(vec![text])),
            Value::Array(items) => items,
            _ => {
                return Err(
                    "expected a string, a list of strings, a list of token ids or a list of lists of token ids".into(),
                )
            }
        };
        if items.len() > MAX_INPUTS {
            return Err(format!(
                "{} inputs given; at most {MAX_INPUTS} are allowed per request",
                items.len()
            ));
        }
        match items.first() {
            None => Err("the list of inputs is empty".into()),
            Some(Value::String(_)) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s),
                    _ => Err(format!("input {i} is not a string, but input 0 is")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Self::Texts),
            Some(Value::Number(_)) => Ok(Self::Tokens(vec![token_ids(&items, None)?])),
            Some(Value::Array(_)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::Array(ids) => token_ids(ids, Some(i)),
                    _ => Err(format!(
                        "input {i} is not a list of token ids, but input 0 is"
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Self::Tokens),
            Some(_) => Err("inputs must be strings or token ids".into()),
        }
    }
}

/// One list of token ids: each a whole number from 0 to 2^32 - 1.
fn token_ids(items: &[Value], index: Option<usize>) -> Result<Vec<u32>, String> {
    let at = |j: usize| match index {
        Some(i) => format!("input {i}, token {j}"),
        None => format!("token {j}"),
    };
    items
        .iter()
        .enumerate()
        .map(|(j, v)| {
            v.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| format!("{} is not a token id (a whole number from 0)", at(j)))
        })
        .collect()
}

impl<'de> Deserialize<'de> for EmbeddingInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::from_json(value).map_err(D::Error::custom)
    }
}

/// `encoding_format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EncodingFormat {
    /// A JSON list of numbers.
    #[default]
    Float,
    /// The little-endian `f32` bytes, base64-encoded.
    Base64,
}

/// `POST /v1/embeddings`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingRequest {
    pub model: String,
    pub input: EmbeddingInput,
    #[serde(default)]
    pub encoding_format: EncodingFormat,
    /// Length of the vectors; only the model's own size unless the model
    /// can be shortened (none served here can).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

impl EmbeddingRequest {
    /// Checks that need no model: a model name, inputs that are not empty
    /// (no empty string, no empty token list), a positive `dimensions`.
    pub fn validate(&self) -> Result<(), ApiError> {
        if self.model.is_empty() {
            return Err(ApiError::invalid_param("model", "model must not be empty."));
        }
        if self.input.is_empty() {
            return Err(ApiError::invalid_param("input", "input must not be empty."));
        }
        let empty = match &self.input {
            EmbeddingInput::Texts(t) => t.iter().position(String::is_empty),
            EmbeddingInput::Tokens(t) => t.iter().position(Vec::is_empty),
        };
        if let Some(i) = empty {
            return Err(ApiError::invalid_param(
                "input",
                format!("Input {i} is empty; every input must hold some text or tokens."),
            ));
        }
        if self.dimensions == Some(0) {
            return Err(ApiError::invalid_param(
                "dimensions",
                "dimensions must be at least 1.",
            ));
        }
        Ok(())
    }

    /// `dimensions` against the model's native size: any other value is
    /// refused (the models served cannot be shortened).
    pub fn check_dimensions(&self, native: u32) -> Result<(), ApiError> {
        match self.dimensions {
            Some(d) if d != native => Err(ApiError::invalid_param(
                "dimensions",
                format!(
                    "This model does not support `dimensions` = {d}: its vectors have {native} dimensions, and it cannot shorten them."
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// What a backend computed: one vector per input, in input order, and the
/// tokens it read.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub vectors: Vec<Vec<f32>>,
    pub prompt_tokens: u32,
}

/// One vector as sent.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum EmbeddingVector {
    Float(Vec<f32>),
    Base64(String),
}

impl EmbeddingVector {
    /// `vector` in `format`.
    pub fn encode(vector: Vec<f32>, format: EncodingFormat) -> Self {
        match format {
            EncodingFormat::Float => Self::Float(vector),
            EncodingFormat::Base64 => {
                let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                Self::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
            }
        }
    }
}

/// One entry of `data`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct EmbeddingData {
    pub object: String,
    pub index: u32,
    pub embedding: EmbeddingVector,
}

/// `usage` of an embeddings answer: every token is a prompt token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct EmbeddingUsage {
    pub prompt_tokens: u32,
    pub total_tokens: u32,
}

/// The answer to `POST /v1/embeddings`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct EmbeddingResponse {
    pub object: String,
    pub data: Vec<EmbeddingData>,
    pub model: String,
    pub usage: EmbeddingUsage,
}

impl EmbeddingResponse {
    /// The answer for `model` holding `embeddings` in `format`.
    pub fn new(model: &str, embeddings: Embeddings, format: EncodingFormat) -> Self {
        let data = embeddings
            .vectors
            .into_iter()
            .enumerate()
            .map(|(i, v)| EmbeddingData {
                object: "embedding".into(),
                index: u32::try_from(i).unwrap_or(u32::MAX),
                embedding: EmbeddingVector::encode(v, format),
            })
            .collect();
        Self {
            object: "list".into(),
            data,
            model: model.to_owned(),
            usage: EmbeddingUsage {
                prompt_tokens: embeddings.prompt_tokens,
                total_tokens: embeddings.prompt_tokens,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::error::parse_json;

    fn parse(body: &str) -> Result<EmbeddingRequest, ApiError> {
        parse_json::<EmbeddingRequest>(body.as_bytes()).and_then(|r| r.validate().map(|()| r))
    }

    fn refused(body: &str) -> (String, String) {
        let e = parse(body).unwrap_err();
        assert_eq!(e.status(), 400, "{body}");
        (e.param.unwrap_or_default(), e.message)
    }

    #[test]
    fn every_input_shape_is_read() {
        let r = parse(r#"{"model":"m","input":"hi"}"#).unwrap();
        assert_eq!(r.input, EmbeddingInput::Texts(vec!["hi".into()]));
        assert_eq!(r.encoding_format, EncodingFormat::Float);
        let r = parse(r#"{"model":"m","input":["a","b"],"encoding_format":"base64"}"#).unwrap();
        assert_eq!(r.input.len(), 2);
        assert_eq!(r.encoding_format, EncodingFormat::Base64);
        let r = parse(r#"{"model":"m","input":[101,7592,102]}"#).unwrap();
        assert_eq!(r.input, EmbeddingInput::Tokens(vec![vec![101, 7592, 102]]));
        let r = parse(r#"{"model":"m","input":[[1,2],[3]]}"#).unwrap();
        assert_eq!(r.input, EmbeddingInput::Tokens(vec![vec![1, 2], vec![3]]));
    }

    #[test]
    fn bad_inputs_are_refused_naming_input() {
        for body in [
            r#"{"model":"m","input":""}"#,
            r#"{"model":"m","input":[]}"#,
            r#"{"model":"m","input":["a",""]}"#,
            r#"{"model":"m","input":[[1],[]]}"#,
            r#"{"model":"m","input":["a",1]}"#,
            r#"{"model":"m","input":[1,"a"]}"#,
            r#"{"model":"m","input":[[1],2]}"#,
            r#"{"model":"m","input":[-1]}"#,
            r#"{"model":"m","input":[1.5]}"#,
            r#"{"model":"m","input":[4294967296]}"#,
            r#"{"model":"m","input":[99999999999999999999999]}"#,
            r#"{"model":"m","input":[[-3]]}"#,
            r#"{"model":"m","input":[null]}"#,
            r#"{"model":"m","input":[{"a":1}]}"#,
            r#"{"model":"m","input":[[["a"]]]}"#,
            r#"{"model":"m","input":null}"#,
            r#"{"model":"m","input":7}"#,
        ] {
            let (param, _) = refused(body);
            assert_eq!(param, "input", "{body}");
        }
    }

    #[test]
    fn too_many_inputs_are_refused() {
        let many = vec!["a"; MAX_INPUTS + 1];
        let body = serde_json::json!({"model": "m", "input": many}).to_string();
        let (param, message) = refused(&body);
        assert_eq!(param, "input");
        assert!(message.contains("2048"), "{message}");
        let most = vec!["a"; MAX_INPUTS];
        let body = serde_json::json!({"model": "m", "input": most}).to_string();
        assert!(parse(&body).is_ok());
    }

    #[test]
    fn unknown_fields_and_formats_are_refused() {
        let (param, _) = refused(r#"{"model":"m","input":"a","encoding_format":"int8"}"#);
        assert_eq!(param, "encoding_format");
        let e = parse(r#"{"model":"m","input":"a","temperature":1}"#).unwrap_err();
        assert!(e.message.contains("temperature"), "{}", e.message);
        let (param, _) = refused(r#"{"model":"m","input":"a","dimensions":0}"#);
        assert_eq!(param, "dimensions");
        let (param, _) = refused(r#"{"model":"m","input":"a","dimensions":-4}"#);
        assert_eq!(param, "dimensions");
        let (param, _) = refused(r#"{"model":"","input":"a"}"#);
        assert_eq!(param, "model");
    }

    #[test]
    fn only_the_native_size_is_accepted() {
        let r = parse(r#"{"model":"m","input":"a","dimensions":384}"#).unwrap();
        assert!(r.check_dimensions(384).is_ok());
        let e = r.check_dimensions(768).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("dimensions"));
        let r = parse(r#"{"model":"m","input":"a"}"#).unwrap();
        assert!(r.check_dimensions(384).is_ok());
    }

    #[test]
    fn base64_is_little_endian_f32() {
        let v = EmbeddingVector::encode(vec![1.0, -0.5], EncodingFormat::Base64);
        let EmbeddingVector::Base64(text) = v else {
            panic!("not base64")
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap();
        assert_eq!(
            bytes,
            [1.0f32.to_le_bytes(), (-0.5f32).to_le_bytes()].concat()
        );
    }

    #[test]
    fn the_answer_has_openai_shape() {
        let answer = EmbeddingResponse::new(
            "m",
            Embeddings {
                vectors: vec![vec![0.5, 0.25], vec![1.0, 0.0]],
                prompt_tokens: 7,
            },
            EncodingFormat::Float,
        );
        insta::assert_snapshot!(serde_json::to_string(&answer).unwrap(), @r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,0.25]},{"object":"embedding","index":1,"embedding":[1.0,0.0]}],"model":"m","usage":{"prompt_tokens":7,"total_tokens":7}}"#);
    }
}
