//! `chunking_strategy`: `auto` or `static` as requested, `static` or
//! `other` as answered.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Token sizes of a static strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticChunking {
    /// 100 to 4096.
    pub max_chunk_size_tokens: u32,
    /// At most half of `max_chunk_size_tokens`.
    pub chunk_overlap_tokens: u32,
}

/// The smallest `max_chunk_size_tokens`.
pub const MIN_CHUNK_TOKENS: u32 = 100;
/// The largest `max_chunk_size_tokens`.
pub const MAX_CHUNK_TOKENS: u32 = 4096;

impl StaticChunking {
    /// What `auto` means (OpenAI's defaults): 800 tokens, 400 overlapping.
    pub const AUTO: StaticChunking = StaticChunking {
        max_chunk_size_tokens: 800,
        chunk_overlap_tokens: 400,
    };

    /// Sizes within bounds and an overlap of at most half a chunk;
    /// `param` names the strategy in the error.
    pub fn validate(&self, param: &str) -> Result<(), ApiError> {
        let max = self.max_chunk_size_tokens;
        if !(MIN_CHUNK_TOKENS..=MAX_CHUNK_TOKENS).contains(&max) {
            return Err(ApiError::invalid_param(
                &format!("{param}.static.max_chunk_size_tokens"),
                format!(
                    "max_chunk_size_tokens must be between {MIN_CHUNK_TOKENS} and {MAX_CHUNK_TOKENS}; {max} was given."
                ),
            ));
        }
        if self.chunk_overlap_tokens > max / 2 {
            return Err(ApiError::invalid_param(
                &format!("{param}.static.chunk_overlap_tokens"),
                format!(
                    "chunk_overlap_tokens must not exceed half of max_chunk_size_tokens ({}); {} was given.",
                    max / 2,
                    self.chunk_overlap_tokens
                ),
            ));
        }
        Ok(())
    }
}

/// `chunking_strategy` in a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ChunkingStrategyParam {
    /// The server's choice: [`StaticChunking::AUTO`].
    #[default]
    Auto,
    /// These sizes.
    Static {
        #[serde(rename = "static")]
        sizes: StaticChunking,
    },
}

impl ChunkingStrategyParam {
    /// See [`StaticChunking::validate`]; `auto` is always fine.
    pub fn validate(&self, param: &str) -> Result<(), ApiError> {
        match self {
            Self::Auto => Ok(()),
            Self::Static { sizes } => sizes.validate(param),
        }
    }

    /// The sizes this strategy chunks with.
    pub fn sizes(&self) -> StaticChunking {
        match self {
            Self::Auto => StaticChunking::AUTO,
            Self::Static { sizes } => *sizes,
        }
    }
}

/// `chunking_strategy` in an answer: the sizes a file was chunked with,
/// or `other` for a file chunked before strategies were recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ChunkingStrategy {
    Static {
        #[serde(rename = "static")]
        sizes: StaticChunking,
    },
    Other,
}

impl From<ChunkingStrategyParam> for ChunkingStrategy {
    fn from(param: ChunkingStrategyParam) -> Self {
        Self::Static {
            sizes: param.sizes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::parse_json;

    #[test]
    fn both_request_forms_are_read() {
        let auto: ChunkingStrategyParam = parse_json(br#"{"type":"auto"}"#).unwrap();
        assert_eq!(auto, ChunkingStrategyParam::Auto);
        assert_eq!(auto.sizes(), StaticChunking::AUTO);
        let body = br#"{"type":"static","static":{"max_chunk_size_tokens":1200,"chunk_overlap_tokens":600}}"#;
        let fixed: ChunkingStrategyParam = parse_json(body).unwrap();
        fixed.validate("chunking_strategy").unwrap();
        assert_eq!(fixed.sizes().max_chunk_size_tokens, 1200);
        assert_eq!(fixed.sizes().chunk_overlap_tokens, 600);
    }

    #[test]
    fn contradictory_or_unknown_forms_are_refused() {
        for (sizes, param) in [
            ((99, 0), "chunking_strategy.static.max_chunk_size_tokens"),
            ((4097, 0), "chunking_strategy.static.max_chunk_size_tokens"),
            ((800, 401), "chunking_strategy.static.chunk_overlap_tokens"),
            ((101, 51), "chunking_strategy.static.chunk_overlap_tokens"),
        ] {
            let s = ChunkingStrategyParam::Static {
                sizes: StaticChunking {
                    max_chunk_size_tokens: sizes.0,
                    chunk_overlap_tokens: sizes.1,
                },
            };
            let e = s.validate("chunking_strategy").unwrap_err();
            assert_eq!(e.param.as_deref(), Some(param), "{sizes:?}");
        }
        for body in [
            &br#"{"type":"semantic"}"#[..],
            br#"{"type":"static"}"#,
            br#"{"type":"static","static":{"max_chunk_size_tokens":800}}"#,
            br#"{"type":"static","static":{"max_chunk_size_tokens":800,"chunk_overlap_tokens":0,"x":1}}"#,
            br#"{"type":"static","static":{"max_chunk_size_tokens":-800,"chunk_overlap_tokens":0}}"#,
        ] {
            assert!(parse_json::<ChunkingStrategyParam>(body).is_err());
        }
    }

    #[test]
    fn answers_have_openai_shape() {
        let s = ChunkingStrategy::from(ChunkingStrategyParam::Auto);
        insta::assert_snapshot!(serde_json::to_string(&s).unwrap(), @r#"{"type":"static","static":{"max_chunk_size_tokens":800,"chunk_overlap_tokens":400}}"#);
        insta::assert_snapshot!(serde_json::to_string(&ChunkingStrategy::Other).unwrap(), @r#"{"type":"other"}"#);
    }
}
