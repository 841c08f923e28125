//! The tool's URL template: `http(s)://host[:port]/path/{param}`.
//!
//! Placeholders may only stand in the path. Each value is percent-encoded as
//! one path segment (everything but `A-Z a-z 0-9 - . _ ~`), so `/`, `?`, `#`
//! or `%` in a value cannot change the path, and a value that would make a
//! `.`/`..` segment is refused.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::Url;
use serde_json::Value;

use crate::error::ToolError;

/// Characters encoded in a placeholder value: all but RFC 3986 unreserved.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Placeholder(String),
}

/// A parsed URL template.
#[derive(Debug, Clone)]
pub(crate) struct UrlTemplate {
    parts: Vec<Part>,
    /// The template with every placeholder replaced by `x`, parsed: its
    /// scheme, host and port are those of every URL built from it.
    example: Url,
}

impl UrlTemplate {
    /// Parse and check; the error is a message for [`crate::RegistryError::BadUrl`].
    pub(crate) fn parse(template: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find(['{', '}']) {
            if rest[open..].starts_with('}') {
                return Err("unmatched `}`".into());
            }
            let close = rest[open..]
                .find('}')
                .map(|c| open + c)
                .ok_or("unmatched `{`")?;
            let name = &rest[open + 1..close];
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(format!("invalid placeholder `{{{name}}}`"));
            }
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_owned()));
            }
            parts.push(Part::Placeholder(name.to_owned()));
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        let authority = ["http://", "https://"]
            .iter()
            .find_map(|scheme| {
                template
                    .get(..scheme.len())
                    .filter(|s| s.eq_ignore_ascii_case(scheme))
                    .map(|_| &template[scheme.len()..])
            })
            .ok_or("scheme must be http or https")?;
        let authority = &authority[..authority.find(['/', '?', '#']).unwrap_or(authority.len())];
        if authority.is_empty() || authority.contains('\\') {
            return Err("a host is required after `://`".into());
        }
        let example_text = render(&parts, |_| Ok("x".to_owned()))?;
        let example = Url::parse(&example_text).map_err(|e| e.to_string())?;
        if !matches!(example.scheme(), "http" | "https") {
            return Err("scheme must be http or https".into());
        }
        if example.host_str().is_none_or(str::is_empty) {
            return Err("a host is required".into());
        }
        if !example.username().is_empty() || example.password().is_some() {
            return Err("credentials in the URL are not allowed; use http.headers".into());
        }
        if example.fragment().is_some() {
            return Err("a #fragment is not allowed".into());
        }
        // Placeholders only after the authority and before any `?`.
        let path_start = template
            .find("://")
            .map(|i| i + 3)
            .and_then(|a| template[a..].find('/').map(|p| a + p))
            .unwrap_or(template.len());
        let query_start = template.find('?').unwrap_or(template.len());
        let mut offset = 0;
        for part in &parts {
            match part {
                Part::Literal(text) => offset += text.len(),
                Part::Placeholder(name) => {
                    if offset < path_start || offset > query_start {
                        return Err(format!(
                            "placeholder `{{{name}}}` must be in the path, not the host or query"
                        ));
                    }
                    offset += name.len() + 2;
                }
            }
        }
        Ok(Self { parts, example })
    }

    /// The placeholder names, in order.
    pub(crate) fn placeholders(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Placeholder(name) => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// The URL with placeholders replaced by `x`: host and port are fixed.
    pub(crate) fn example(&self) -> &Url {
        &self.example
    }

    /// Fill the placeholders from `arguments`.
    pub(crate) fn fill(&self, arguments: &Value) -> Result<Url, ToolError> {
        let text = render(&self.parts, |name| {
            let value = arguments
                .get(name)
                .ok_or_else(|| format!("argument `{name}` is missing"))?;
            let raw = scalar(value)
                .ok_or_else(|| format!("argument `{name}` must be a string, number or boolean"))?;
            if raw.is_empty() {
                return Err(format!("argument `{name}` is empty"));
            }
            Ok(utf8_percent_encode(&raw, SEGMENT).to_string())
        })
        .map_err(ToolError::InvalidUrl)?;
        let path_end = text.find('?').unwrap_or(text.len());
        let dot_segment = text[..path_end].split('/').any(|segment| {
            matches!(
                segment.to_ascii_lowercase().as_str(),
                "." | ".." | "%2e" | "%2e%2e" | ".%2e" | "%2e."
            )
        });
        if dot_segment {
            return Err(ToolError::InvalidUrl(
                "a path argument may not be `.` or `..`".into(),
            ));
        }
        Url::parse(&text).map_err(|e| ToolError::InvalidUrl(e.to_string()))
    }
}

/// A string as is; a number or boolean formatted; anything else `None`.
pub(crate) fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn render(
    parts: &[Part],
    mut value: impl FnMut(&str) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Literal(text) => out.push_str(text),
            Part::Placeholder(name) => out.push_str(&value(name)?),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_one_segment() {
        let t = UrlTemplate::parse("http://orders.internal:8080/orders/{id}/lines").unwrap();
        let url = t.fill(&json!({"id": "a/../b?x#y%z"})).unwrap();
        assert_eq!(
            url.as_str(),
            "http://orders.internal:8080/orders/a%2F..%2Fb%3Fx%23y%25z/lines"
        );
        assert_eq!(
            t.fill(&json!({"id": 12})).unwrap().path(),
            "/orders/12/lines"
        );
        assert_eq!(
            t.fill(&json!({"id": true})).unwrap().path(),
            "/orders/true/lines"
        );
    }

    #[test]
    fn dot_segments_and_bad_values_are_refused() {
        let t = UrlTemplate::parse("http://h/orders/{id}").unwrap();
        for bad in [
            json!({"id": ".."}),
            json!({"id": "."}),
            json!({"id": ""}),
            json!({"id": [1]}),
            json!({"id": null}),
            json!({}),
        ] {
            assert!(
                matches!(t.fill(&bad), Err(ToolError::InvalidUrl(_))),
                "{bad}"
            );
        }
        assert!(t.fill(&json!({"id": "..."})).is_ok());
    }

    #[test]
    fn placeholders_only_in_the_path() {
        for bad in [
            "http://{host}/x",
            "http://h:{port}/x",
            "http://h/x?a={a}",
            "ftp://h/x",
            "http://user:pw@h/x",
            "http://h/x#frag",
            "http://h/{a",
            "http://h/a}",
            "http://h/{a b}",
            "not a url",
        ] {
            assert!(UrlTemplate::parse(bad).is_err(), "{bad}");
        }
        let t = UrlTemplate::parse("https://h/a/{x}-{y}?v=2").unwrap();
        assert_eq!(t.placeholders().collect::<Vec<_>>(), ["x", "y"]);
        assert_eq!(t.example().port_or_known_default(), Some(443));
    }
}
