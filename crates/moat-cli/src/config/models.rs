//! `[[models]]`: models added or renamed, embedded (a GGUF file) or
//! upstream (an OpenAI-compatible server).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Where a model runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    #[default]
    Embedded,
    Upstream,
}

/// One `[[models]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The id clients use; default: the file stem (embedded) — required for upstream.
    pub id: Option<String>,
    #[serde(default)]
    pub backend: BackendKind,
    /// Embedded: the GGUF file, inside one of the model directories.
    pub path: Option<PathBuf>,
    /// Upstream: base URL of an OpenAI-compatible API, e.g. http://10.0.0.5:8000/v1
    pub base_url: Option<String>,
    /// Upstream: name of the environment variable holding its API key.
    pub api_key_env: Option<String>,
    /// Upstream: the model name the upstream knows; default: `id`.
    pub upstream_model: Option<String>,
    /// Upstream: seconds to wait for the first byte. Default: 60
    #[serde(default = "default_upstream_timeout_secs")]
    pub timeout_secs: u64,
    /// Upstream: context length to advertise in /v1/models.
    pub context_length: Option<u32>,
    /// Embedded chat model: answer `/v1/embeddings` too (mean pooling over
    /// its last hidden states). Embedding models (a pooling type in the
    /// GGUF) need no setting. Default: false
    #[serde(default)]
    pub embeddings: bool,
}

const fn default_upstream_timeout_secs() -> u64 {
    60
}

/// A `[[models]]` entry after checks.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelConfigResolved {
    Embedded {
        id: Option<String>,
        path: PathBuf,
        /// Answer `/v1/embeddings` too.
        embeddings: bool,
    },
    Upstream {
        id: String,
        base_url: String,
        api_key_env: Option<String>,
        upstream_model: Option<String>,
        timeout: Duration,
        context_length: Option<u32>,
    },
}

/// Entry `index` (from 0) of `[[models]]`, checked.
pub(super) fn resolve(index: usize, m: ModelConfig) -> anyhow::Result<ModelConfigResolved> {
    let at = || format!("[[models]] entry {}", index + 1);
    match m.backend {
        BackendKind::Embedded => {
            anyhow::ensure!(
                m.base_url.is_none() && m.api_key_env.is_none() && m.upstream_model.is_none(),
                "{}: base_url, api_key_env and upstream_model are for backend = \"upstream\"",
                at()
            );
            let path = m.path.ok_or_else(|| {
                anyhow::anyhow!("{}: an embedded model needs `path` to a .gguf file", at())
            })?;
            Ok(ModelConfigResolved::Embedded {
                id: m.id,
                path,
                embeddings: m.embeddings,
            })
        }
        BackendKind::Upstream => {
            anyhow::ensure!(m.path.is_none(), "{}: `path` is for embedded models", at());
            anyhow::ensure!(
                !m.embeddings,
                "{}: `embeddings` is for embedded models (an upstream's own server decides)",
                at()
            );
            let id =
                m.id.ok_or_else(|| anyhow::anyhow!("{}: an upstream model needs an `id`", at()))?;
            let base_url = m
                .base_url
                .ok_or_else(|| anyhow::anyhow!("{}: an upstream model needs `base_url`", at()))?;
            anyhow::ensure!(
                base_url.starts_with("http://") || base_url.starts_with("https://"),
                "{}: base_url must start with http:// or https://",
                at()
            );
            Ok(ModelConfigResolved::Upstream {
                id,
                base_url,
                api_key_env: m.api_key_env,
                upstream_model: m.upstream_model,
                timeout: Duration::from_secs(m.timeout_secs),
                context_length: m.context_length,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn entry(toml_text: &str) -> ModelConfig {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn a_chat_model_can_be_configured_for_embeddings() {
        let on = resolve(0, entry("path = \"models/chat.gguf\"\nembeddings = true\n")).unwrap();
        assert!(matches!(
            on,
            ModelConfigResolved::Embedded {
                embeddings: true,
                ..
            }
        ));
        let off = resolve(0, entry("path = \"models/chat.gguf\"\n")).unwrap();
        assert!(matches!(
            off,
            ModelConfigResolved::Embedded {
                embeddings: false,
                ..
            }
        ));
        let upstream = entry(
            "id = \"u\"\nbackend = \"upstream\"\nbase_url = \"http://h/v1\"\nembeddings = true\n",
        );
        let err = resolve(0, upstream).unwrap_err().to_string();
        assert!(err.contains("`embeddings` is for embedded models"), "{err}");
    }
}
