//! The `[[tools]]` configuration as the operator writes it in TOML.
//!
//! These structs are only the shape of the file: [`crate::ToolRegistry::new`]
//! checks every field and turns it into a [`crate::RegisteredTool`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

/// One server-side tool the model may call.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolConfig {
    /// Function name shown to the model: `^[a-zA-Z0-9_-]{1,64}$`.
    pub name: String,
    /// What the tool does, shown to the model.
    pub description: String,
    /// JSON Schema of the arguments, inline (a TOML table becomes JSON).
    #[serde(default)]
    pub parameters: Option<serde_json::Value>,
    /// Or a `.json` file holding the schema, relative to the config's directory.
    #[serde(default)]
    pub parameters_file: Option<PathBuf>,
    /// Side effects: a human must approve each call before it runs.
    #[serde(default)]
    pub confirm: bool,
    /// Roles allowed to call the tool besides those whose `[[roles]] tools=` lists it.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Whole-request time limit, humantime (`"5s"`); default 10 s, at most 120 s.
    #[serde(default)]
    pub timeout: Option<String>,
    /// Largest response body read; default 64 KiB, at most 4 MiB.
    #[serde(default)]
    pub max_response_bytes: Option<usize>,
    /// Keep successful results this long (humantime); absent: no caching.
    #[serde(default)]
    pub cache_ttl: Option<String>,
    /// The internal HTTP endpoint that implements the tool.
    pub http: HttpConfig,
}

/// How a tool call becomes an HTTP request.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    #[serde(default = "default_method")]
    pub method: String,
    /// `http(s)://host[:port]/path`; `{param}` placeholders in the path are
    /// filled from the arguments, each encoded as one path segment.
    pub url: String,
    /// Request headers; values may contain `${ENV_VAR}`, expanded at start-up.
    /// Values are secrets: never logged, never Debug-printed.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Where the arguments not used in the URL go; default `json` for
    /// POST/PUT/PATCH and `query` for GET/DELETE.
    #[serde(default)]
    pub body: Option<BodyMode>,
    /// Hosts the tool may reach (exact or `*.suffix`, optional `:port`; without
    /// a port, the scheme's default port). Default: the URL's host and port only.
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    /// CIDRs the resolved addresses must fall in; empty: any address except
    /// link-local, unspecified, broadcast and multicast, which are always refused.
    #[serde(default)]
    pub allow_addresses: Vec<String>,
    /// A PEM file of one or more CA certificates (a private certificate
    /// authority) that this tool's HTTPS client trusts, relative to the
    /// config file's directory. They are added to the public web roots,
    /// which stay trusted: the connection is still confined by
    /// `allow_hosts` and `allow_addresses`. Only for `https://` URLs.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// Where the arguments that are not URL placeholders go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyMode {
    /// A JSON object in the request body.
    Json,
    /// The query string.
    Query,
    /// Nowhere: only the placeholders are used.
    None,
}

fn default_method() -> String {
    "GET".to_owned()
}

/// Header names only: values are credentials.
struct RedactedHeaders<'a>(&'a BTreeMap<String, String>);

impl fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "<redacted>")))
            .finish()
    }
}

impl fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConfig")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("body", &self.body)
            .field("allow_hosts", &self.allow_hosts)
            .field("allow_addresses", &self.allow_addresses)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

impl fmt::Debug for ToolConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolConfig")
            .field("name", &self.name)
            .field("description", &self.description)
            .field("parameters", &self.parameters.as_ref().map(|_| ".."))
            .field("parameters_file", &self.parameters_file)
            .field("confirm", &self.confirm)
            .field("roles", &self.roles)
            .field("timeout", &self.timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("cache_ttl", &self.cache_ttl)
            .field("http", &self.http)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn debug_hides_header_values() {
        let config: ToolConfig = toml::from_str(
            r#"
            name = "t"
            description = "d"
            [http]
            url = "http://orders.internal/x"
            headers = { Authorization = "Bearer very-secret-token" }
            "#,
        )
        .unwrap();
        let debug = format!("{config:?}");
        assert!(debug.contains("Authorization"), "{debug}");
        assert!(!debug.contains("very-secret-token"), "{debug}");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = toml::from_str::<ToolConfig>(
            r#"
            name = "t"
            description = "d"
            confirmm = true
            [http]
            url = "http://orders.internal/x"
            "#,
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("confirmm"), "{err}");
        let err = toml::from_str::<ToolConfig>(
            r#"
            name = "t"
            description = "d"
            [http]
            url = "http://orders.internal/x"
            proxy = "x"
            "#,
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("proxy"), "{err}");
    }
}
