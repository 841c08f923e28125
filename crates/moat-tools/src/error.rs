//! The errors of this crate: a bad tool configuration at start-up, bad
//! arguments from the model, and a failed call.

use std::net::IpAddr;
use std::time::Duration;

/// A `[[tools]]` entry that cannot be used; the server does not start.
/// Every message names the tool. No header value is ever part of one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("tool `{tool}`: invalid name (must match ^[a-zA-Z0-9_-]{{1,64}}$)")]
    InvalidName { tool: String },
    #[error("tool `{tool}`: defined more than once")]
    Duplicate { tool: String },
    #[error("tool `{tool}`: parameters: {problem}")]
    Schema { tool: String, problem: String },
    #[error("tool `{tool}`: parameters: invalid JSON Schema at `{pointer}`: {problem}")]
    SchemaInvalid {
        tool: String,
        pointer: String,
        problem: String,
    },
    #[error("tool `{tool}`: parameters: remote $ref `{reference}` at `{pointer}` is not allowed (only local `#/...` references)")]
    RemoteRef {
        tool: String,
        pointer: String,
        reference: String,
    },
    #[error("tool `{tool}`: parameters: $ref `{reference}` at `{pointer}` points to nothing in the schema")]
    UnknownRef {
        tool: String,
        pointer: String,
        reference: String,
    },
    #[error("tool `{tool}`: parameters_file `{path}`: {problem}")]
    SchemaFile {
        tool: String,
        path: String,
        problem: String,
    },
    #[error("tool `{tool}`: http.url: {problem}")]
    BadUrl { tool: String, problem: String },
    #[error("tool `{tool}`: http.url placeholder `{{{placeholder}}}` is not a property of the parameters schema")]
    UnknownPlaceholder { tool: String, placeholder: String },
    #[error("tool `{tool}`: http.headers.{header}: environment variable `{variable}` is not set")]
    MissingEnv {
        tool: String,
        header: String,
        variable: String,
    },
    #[error("tool `{tool}`: http.url host `{host}` is not allowed by http.allow_hosts")]
    HostNotAllowed { tool: String, host: String },
    #[error("tool `{tool}`: {field}: {problem}")]
    InvalidOption {
        tool: String,
        field: &'static str,
        problem: String,
    },
    #[error("tool `{tool}`: http.ca_file `{path}`: {problem}")]
    CaFile {
        tool: String,
        path: String,
        problem: String,
    },
    #[error("tool `{tool}`: cannot build the HTTP client: {problem}")]
    Client { tool: String, problem: String },
}

/// The model's arguments do not fit the tool's schema. The message is short
/// and bounded (at most 5 errors, at most 1 KiB) and is meant to be sent back
/// to the model so it can correct the call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidArguments {
    message: String,
}

/// Most bytes of an [`InvalidArguments`] message.
pub const MAX_INVALID_ARGUMENTS_BYTES: usize = 1024;

impl InvalidArguments {
    pub(crate) fn new(message: String) -> Self {
        Self {
            message: truncate(message, MAX_INVALID_ARGUMENTS_BYTES),
        }
    }

    /// The message for the model.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A tool call that did not produce a result. `Display` is safe to show the
/// model and the caller: it carries no header value and no secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolError {
    #[error("unknown tool")]
    UnknownTool,
    #[error("host `{host}` is not allowed for this tool")]
    HostNotAllowed { host: String },
    #[error("host `{host}` resolved to {address}, which this tool may not reach")]
    AddressNotAllowed { host: String, address: IpAddr },
    #[error("the tool's service redirected to `{location}`, which is not allowed")]
    RedirectNotAllowed { location: String },
    #[error("the tool did not answer within {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    #[error("the tool's answer is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the tool's service answered HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("the tool's service is unreachable: {0}")]
    Connect(String),
    /// The TLS handshake failed, most often a certificate this server does
    /// not trust (see `http.ca_file`).
    #[error("no secure connection to the tool's service: {0}")]
    Tls(String),
    #[error("cannot build the tool's URL: {0}")]
    InvalidUrl(String),
}

impl ToolError {
    /// A short snake_case word for the audit log and metrics.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::UnknownTool => "unknown_tool",
            Self::HostNotAllowed { .. } => "host_not_allowed",
            Self::AddressNotAllowed { .. } => "address_not_allowed",
            Self::RedirectNotAllowed { .. } => "redirect_refused",
            Self::Timeout(_) => "timeout",
            Self::TooLarge { .. } => "too_large",
            Self::Status { .. } => "http_error",
            Self::Connect(_) => "unreachable",
            Self::Tls(_) => "tls_error",
            Self::InvalidUrl(_) => "invalid_url",
        }
    }
}

/// `text` cut to at most `max` bytes on a character boundary, with `…` when cut.
pub(crate) fn truncate(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let ellipsis = "…";
    let mut end = max.saturating_sub(ellipsis.len());
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(ellipsis);
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn truncate_respects_bytes_and_chars() {
        assert_eq!(truncate("short".into(), 10), "short");
        let cut = truncate("ééééééé".into(), 8);
        assert!(cut.len() <= 8, "{cut}");
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn outcomes_are_snake_case_words() {
        let all = [
            ToolError::UnknownTool,
            ToolError::HostNotAllowed { host: "h".into() },
            ToolError::AddressNotAllowed {
                host: "h".into(),
                address: IpAddr::from([169, 254, 169, 254]),
            },
            ToolError::RedirectNotAllowed {
                location: "l".into(),
            },
            ToolError::Timeout(Duration::from_secs(1)),
            ToolError::TooLarge { limit: 1 },
            ToolError::Status {
                status: 500,
                body: String::new(),
            },
            ToolError::Connect(String::new()),
            ToolError::Tls(String::new()),
            ToolError::InvalidUrl(String::new()),
        ];
        for e in all {
            let o = e.outcome();
            assert!(o.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{o}");
        }
        assert_eq!(
            ToolError::Timeout(Duration::from_millis(1500)).to_string(),
            "the tool did not answer within 1s 500ms"
        );
    }
}
