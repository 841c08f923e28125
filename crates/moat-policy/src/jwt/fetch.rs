//! Where the issuer's keys come from: a file, a URL, or the URL named by
//! the issuer's OpenID discovery document.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::error::JwtSetupError;

/// Every request to the issuer gives up after this long.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Larger documents are refused: a JWKS is a few kilobytes.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// An HTTP client for the issuer.
pub(crate) fn http_client() -> Result<reqwest::Client, JwtSetupError> {
    reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .connect_timeout(HTTP_TIMEOUT)
        .build()
        .map_err(|e| JwtSetupError::Config(format!("cannot build an HTTP client: {e}")))
}

/// The JWKS document in `path`.
pub(crate) async fn read_file(path: &Path) -> Result<String, JwtSetupError> {
    tokio::fs::read_to_string(path)
        .await
        .map_err(|source| JwtSetupError::JwksFile {
            path: path.to_owned(),
            source,
        })
}

/// What moat reads of an issuer's OpenID provider configuration.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Discovery {
    pub issuer: String,
    pub jwks_uri: Option<String>,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
}

/// The `jwks_uri` of `issuer`, from `{issuer}/.well-known/openid-configuration`.
pub(crate) async fn discover_jwks_uri(
    client: &reqwest::Client,
    issuer: &str,
) -> Result<String, JwtSetupError> {
    let (url, discovery) = discover(client, issuer).await?;
    discovery.jwks_uri.ok_or_else(|| JwtSetupError::Discovery {
        url,
        reason: "no `jwks_uri`: set `jwks_url` or `jwks_file`".to_owned(),
    })
}

/// `issuer`'s provider configuration, and the URL it was read from.
pub(crate) async fn discover(
    client: &reqwest::Client,
    issuer: &str,
) -> Result<(String, Discovery), JwtSetupError> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let body = get(client, &url).await?;
    let discovery: Discovery =
        serde_json::from_str(&body).map_err(|e| JwtSetupError::Discovery {
            url: url.clone(),
            reason: format!("not an OpenID provider configuration: {e}"),
        })?;
    // OpenID Connect Discovery 1.0, section 4.3: a document for another
    // issuer must not be used.
    if discovery.issuer != issuer {
        return Err(JwtSetupError::Discovery {
            url,
            reason: format!(
                "the document is for issuer `{}`, not `{issuer}`: set `issuer` to the exact value the provider uses",
                discovery.issuer
            ),
        });
    }
    Ok((url, discovery))
}

/// The body of a successful GET of `url`.
pub(crate) async fn get(client: &reqwest::Client, url: &str) -> Result<String, JwtSetupError> {
    body_of(client.get(url), url).await
}

/// The body of a successful POST of `form` to `url` (a token endpoint).
pub(crate) async fn post_form(
    client: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
) -> Result<String, JwtSetupError> {
    body_of(client.post(url).form(form), url).await
}

async fn body_of(request: reqwest::RequestBuilder, url: &str) -> Result<String, JwtSetupError> {
    let unreachable = |reason: String| JwtSetupError::Unreachable {
        url: url.to_owned(),
        reason,
    };
    warn_if_plain_http(url);
    let mut response = request
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| unreachable(describe(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(unreachable(format!("HTTP status {status}")));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| unreachable(describe(&e)))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_DOCUMENT_BYTES {
            return Err(unreachable(format!(
                "document larger than {MAX_DOCUMENT_BYTES} bytes"
            )));
        }
    }
    String::from_utf8(body).map_err(|_| unreachable("document is not UTF-8".to_owned()))
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return format!("no answer within {} s", HTTP_TIMEOUT.as_secs());
    }
    // reqwest's own text repeats the URL; the causes say what happened.
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    let what = if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    if causes.is_empty() {
        what.to_owned()
    } else {
        format!("{what}: {}", causes.join(": "))
    }
}

fn warn_if_plain_http(url: &str) {
    let Some(rest) = url.strip_prefix("http://") else {
        return;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        tracing::warn!(
            url,
            "the issuer's keys are fetched over plain HTTP; use https outside a trusted network"
        );
    }
}
