//! The checked set of tools: everything about a `[[tools]]` entry that can be
//! wrong is found here, at start-up, with a message naming the tool.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use moat_protocol::chat::{FunctionDefinition, Tool};
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Method;
use serde_json::Value;

use crate::allow::{AddressPolicy, HostAllowList, HostPattern};
use crate::config::{BodyMode, ToolConfig};
use crate::error::{InvalidArguments, RegistryError};
use crate::private_ca::PrivateCa;
use crate::schema::ParametersSchema;
use crate::template::UrlTemplate;

/// Default whole-request time limit.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest time limit an operator may set.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(120);
/// Default response size limit.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Largest response size limit an operator may set.
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// The tools of this server. Cheap to clone.
#[derive(Clone, Default)]
pub struct ToolRegistry {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    tools: Vec<RegisteredTool>,
    by_name: HashMap<String, usize>,
}

/// One checked tool.
pub struct RegisteredTool {
    name: String,
    description: String,
    schema: ParametersSchema,
    confirm: bool,
    roles: Vec<String>,
    pub(crate) timeout: Duration,
    pub(crate) max_response_bytes: usize,
    cache_ttl: Option<Duration>,
    pub(crate) http: HttpTarget,
}

/// The request side of a tool, checked.
pub(crate) struct HttpTarget {
    pub(crate) method: Method,
    pub(crate) url: UrlTemplate,
    /// Values are secrets (marked sensitive); never printed.
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) body: BodyMode,
    pub(crate) hosts: HostAllowList,
    pub(crate) addresses: AddressPolicy,
    /// Roots trusted besides the public ones (`http.ca_file`).
    pub(crate) private_ca: Option<PrivateCa>,
}

impl ToolRegistry {
    /// Check every tool; `${VAR}` in header values come from the process
    /// environment. Relative `parameters_file`s and `http.ca_file`s are read
    /// under `base_dir` (the config file's directory).
    pub fn new(configs: Vec<ToolConfig>, base_dir: &Path) -> Result<Self, RegistryError> {
        Self::with_env(configs, base_dir, |name| std::env::var(name).ok())
    }

    /// As [`ToolRegistry::new`], with `${VAR}` looked up by `env`.
    pub fn with_env(
        configs: Vec<ToolConfig>,
        base_dir: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, RegistryError> {
        let mut inner = Inner::default();
        for config in configs {
            let tool = RegisteredTool::from_config(config, base_dir, &env)?;
            if inner.by_name.contains_key(&tool.name) {
                return Err(RegistryError::Duplicate { tool: tool.name });
            }
            inner.by_name.insert(tool.name.clone(), inner.tools.len());
            inner.tools.push(tool);
        }
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// No tools.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The tool called `name`.
    pub fn get(&self, name: &str) -> Option<&RegisteredTool> {
        self.inner
            .by_name
            .get(name)
            .and_then(|&i| self.inner.tools.get(i))
    }

    /// Tool names, in configuration order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.inner.tools.iter().map(|t| t.name.as_str())
    }

    /// The tools, in configuration order.
    pub fn tools(&self) -> impl Iterator<Item = &RegisteredTool> {
        self.inner.tools.iter()
    }

    /// Number of tools.
    pub fn len(&self) -> usize {
        self.inner.tools.len()
    }

    /// Whether there are no tools.
    pub fn is_empty(&self) -> bool {
        self.inner.tools.is_empty()
    }
}

impl RegisteredTool {
    /// Function name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether each call needs a human's approval first.
    pub fn needs_confirmation(&self) -> bool {
        self.confirm
    }

    /// Roles allowed besides those whose `[[roles]] tools=` lists the tool.
    pub fn roles(&self) -> &[String] {
        &self.roles
    }

    /// How long successful results are cached; `None`: not cached.
    pub fn cache_ttl(&self) -> Option<Duration> {
        self.cache_ttl
    }

    /// Whole-request time limit.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The OpenAI tool definition shown to the model.
    pub fn definition(&self) -> Tool {
        Tool {
            kind: "function".to_owned(),
            function: FunctionDefinition {
                name: self.name.clone(),
                description: Some(self.description.clone()),
                parameters: Some(self.schema.schema.clone()),
            },
        }
    }

    /// Parse the model's arguments string and validate it against the schema.
    pub fn validate(&self, arguments: &str) -> Result<Value, InvalidArguments> {
        self.schema.validate(arguments)
    }

    pub(crate) fn from_config(
        config: ToolConfig,
        base_dir: &Path,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<Self, RegistryError> {
        let name = config.name;
        let valid_name = (1..=64).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid_name {
            return Err(RegistryError::InvalidName {
                tool: name.chars().take(80).collect(),
            });
        }
        let option_err = |field: &'static str, problem: String| RegistryError::InvalidOption {
            tool: name.clone(),
            field,
            problem,
        };
        let schema = ParametersSchema::load(
            &name,
            config.parameters.as_ref(),
            config.parameters_file.as_deref(),
            base_dir,
        )?;
        let timeout = match &config.timeout {
            None => DEFAULT_TIMEOUT,
            Some(text) => parse_duration(text).map_err(|p| option_err("timeout", p))?,
        };
        if timeout > MAX_TIMEOUT {
            return Err(option_err("timeout", "at most 120s".into()));
        }
        let max_response_bytes = config
            .max_response_bytes
            .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES);
        if max_response_bytes == 0 || max_response_bytes > MAX_RESPONSE_BYTES {
            return Err(option_err(
                "max_response_bytes",
                format!("must be between 1 and {MAX_RESPONSE_BYTES}"),
            ));
        }
        let cache_ttl = config
            .cache_ttl
            .as_deref()
            .map(parse_duration)
            .transpose()
            .map_err(|p| option_err("cache_ttl", p))?;
        for role in &config.roles {
            if role.trim().is_empty() {
                return Err(option_err("roles", "empty role name".into()));
            }
        }

        let http = config.http;
        let method = match http.method.to_ascii_uppercase().as_str() {
            "GET" => Method::GET,
            "POST" => Method::POST,
            "PUT" => Method::PUT,
            "PATCH" => Method::PATCH,
            "DELETE" => Method::DELETE,
            other => {
                return Err(option_err(
                    "http.method",
                    format!("`{other}` is not one of GET POST PUT PATCH DELETE"),
                ))
            }
        };
        let body = http.body.unwrap_or(match method {
            Method::GET | Method::DELETE => BodyMode::Query,
            _ => BodyMode::Json,
        });
        let url = UrlTemplate::parse(&http.url).map_err(|problem| RegistryError::BadUrl {
            tool: name.clone(),
            problem,
        })?;
        for placeholder in url.placeholders() {
            if !schema.has_property(placeholder) {
                return Err(RegistryError::UnknownPlaceholder {
                    tool: name.clone(),
                    placeholder: placeholder.to_owned(),
                });
            }
        }
        let hosts = if http.allow_hosts.is_empty() {
            HostPattern::of_url(url.example()).into_iter().collect()
        } else {
            http.allow_hosts
                .iter()
                .map(|entry| HostPattern::parse(entry))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|p| option_err("http.allow_hosts", p))?
        };
        let hosts = HostAllowList::new(hosts);
        if !hosts.allows(url.example()) {
            return Err(RegistryError::HostNotAllowed {
                tool: name.clone(),
                host: crate::allow::host_port(url.example()),
            });
        }
        let private_ca = match &http.ca_file {
            None => None,
            Some(file) if url.example().scheme() != "https" => {
                return Err(RegistryError::CaFile {
                    tool: name.clone(),
                    path: base_dir.join(file).display().to_string(),
                    problem: "the URL is http://, so no certificate is ever checked and the \
                              file would never be used; use an https:// URL or remove ca_file"
                        .into(),
                })
            }
            Some(file) => Some(PrivateCa::load(&name, file, base_dir)?),
        };
        let addresses = http
            .allow_addresses
            .iter()
            .map(|cidr| {
                cidr.trim()
                    .parse::<ipnet::IpNet>()
                    .or_else(|_| cidr.trim().parse::<std::net::IpAddr>().map(Into::into))
                    .map_err(|_| format!("`{cidr}` is not a CIDR"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|p| option_err("http.allow_addresses", p))?;
        let mut headers = Vec::with_capacity(http.headers.len());
        for (header, template) in &http.headers {
            let header_name = HeaderName::from_bytes(header.as_bytes()).map_err(|_| {
                option_err("http.headers", format!("`{header}` is not a header name"))
            })?;
            let expanded = expand_env(template, env).map_err(|e| match e {
                Expand::Missing(variable) => RegistryError::MissingEnv {
                    tool: name.clone(),
                    header: header.clone(),
                    variable,
                },
                Expand::Syntax => option_err(
                    "http.headers",
                    format!("`{header}`: unterminated or empty `${{...}}`"),
                ),
            })?;
            let mut value = HeaderValue::from_str(&expanded).map_err(|_| {
                option_err(
                    "http.headers",
                    format!("`{header}`: the value (after expansion) is not a valid header value"),
                )
            })?;
            value.set_sensitive(true);
            headers.push((header_name, value));
        }
        Ok(Self {
            name,
            description: config.description,
            schema,
            confirm: config.confirm,
            roles: config.roles,
            timeout,
            max_response_bytes,
            cache_ttl,
            http: HttpTarget {
                method,
                url,
                headers,
                body,
                hosts,
                addresses: AddressPolicy::new(addresses),
                private_ca,
            },
        })
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text.trim()).map_err(|e| format!("`{text}`: {e}"))?;
    if duration.is_zero() {
        return Err(format!("`{text}`: must be more than zero"));
    }
    Ok(duration)
}

enum Expand {
    Missing(String),
    Syntax,
}

/// Replace every `${NAME}` with the variable's value.
fn expand_env(template: &str, env: &impl Fn(&str) -> Option<String>) -> Result<String, Expand> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or(Expand::Syntax)?;
        let variable = &after[..end];
        if variable.is_empty() {
            return Err(Expand::Syntax);
        }
        let value = env(variable).ok_or_else(|| Expand::Missing(variable.to_owned()))?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

impl fmt::Debug for ToolRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.inner.tools.iter()).finish()
    }
}

impl fmt::Debug for RegisteredTool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.http.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("RegisteredTool")
            .field("name", &self.name)
            .field("confirm", &self.confirm)
            .field("roles", &self.roles)
            .field("timeout", &self.timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("cache_ttl", &self.cache_ttl)
            .field("method", &self.http.method)
            .field("url", &self.http.url.example().as_str())
            .field("header_names", &header_names)
            .field("body", &self.http.body)
            .field(
                "ca_file",
                &self.http.private_ca.as_ref().map(|ca| ca.path.display()),
            )
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "TOKEN").then(|| "abc".to_owned())
    }

    #[test]
    fn env_expansion() {
        assert!(matches!(expand_env("Bearer ${TOKEN}", &env), Ok(v) if v == "Bearer abc"));
        assert!(matches!(expand_env("${TOKEN}${TOKEN}x", &env), Ok(v) if v == "abcabcx"));
        assert!(matches!(expand_env("plain $ {x}", &env), Ok(v) if v == "plain $ {x}"));
        assert!(matches!(expand_env("${NOPE}", &env), Err(Expand::Missing(v)) if v == "NOPE"));
        assert!(matches!(expand_env("${TOKEN", &env), Err(Expand::Syntax)));
        assert!(matches!(expand_env("${}", &env), Err(Expand::Syntax)));
    }
}
