//! The web UI's files, served at `/` from assets compiled into the binary
//! (`ui/dist`, built from the sources in `ui/`; nothing is fetched at run
//! time). A binary built without them compiles all the same and serves a
//! page that says so. Every answer here carries the UI's security headers:
//! a strict Content-Security-Policy (no inline script, no other origin),
//! `nosniff`, no framing, no referrer.
//!
//! These routes are outside authentication (the page is what signs people
//! in) and are not audited: they hand out the same static files to
//! everyone and read nothing of the caller's.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::RustEmbed)]
#[folder = "../../ui/dist/"]
#[allow_missing = true]
struct Assets;

/// The policy of every UI answer: this origin only, no inline script or
/// style, no plugins, no framing, forms and `<base>` pinned.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The page served at `/` when the binary holds no UI.
const NOT_BUILT: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>moat</title></head><body><main><h1>moat</h1>\
<p>This moat binary was built without its web UI, so there is no page to show here.</p>\
<p>The OpenAI-compatible API is served at <code>/v1</code>.</p></main></body></html>\n";

/// The longest asset path accepted, in bytes.
const MAX_PATH_BYTES: usize = 256;

fn security_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
}

fn answer(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    security_headers(headers);
    response
}

/// What a file is served as, by its extension; `None`: not served.
fn content_type(path: &str) -> Option<&'static str> {
    let extension = path.rsplit_once('.')?.1;
    Some(match extension {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => return None,
    })
}

/// `path` names a file below the assets folder: relative, no `.` or `..`
/// segments, no backslashes or control characters, of sane length.
fn is_plain_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= MAX_PATH_BYTES
        && !path.starts_with('/')
        && !path.chars().any(|c| c == '\\' || c.is_control())
        && path
            .split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
}

fn not_found() -> Response {
    answer(
        StatusCode::NOT_FOUND,
        "text/plain; charset=utf-8",
        b"Not found.\n".to_vec(),
    )
}

/// `GET /`: the UI's page, or the notice that it was not built in.
pub(crate) async fn index() -> Response {
    match Assets::get("index.html") {
        Some(file) => answer(
            StatusCode::OK,
            "text/html; charset=utf-8",
            file.data.into_owned(),
        ),
        None => answer(
            StatusCode::OK,
            "text/html; charset=utf-8",
            NOT_BUILT.as_bytes().to_vec(),
        ),
    }
}

/// `GET /assets/{*path}`: one of the UI's files.
pub(crate) async fn asset(Path(path): Path<String>) -> Response {
    if !is_plain_path(&path) {
        return not_found();
    }
    let Some(kind) = content_type(&path) else {
        return not_found();
    };
    match Assets::get(&format!("assets/{path}")) {
        Some(file) => answer(StatusCode::OK, kind, file.data.into_owned()),
        None => not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_name_assets() {
        for good in ["app.js", "fonts/a.woff2", "x.y.css"] {
            assert!(is_plain_path(good), "{good}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../Cargo.toml",
            "a/../../b.js",
            "./a.js",
            "a//b.js",
            "a\\..\\b.js",
            "a\u{0}.js",
            &"a".repeat(300),
        ] {
            assert!(!is_plain_path(bad), "{bad:?}");
        }
    }

    #[test]
    fn only_known_kinds_are_served() {
        assert_eq!(
            content_type("app.js"),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(content_type("index.html"), Some("text/html; charset=utf-8"));
        assert_eq!(content_type("secret.key"), None);
        assert_eq!(content_type("noextension"), None);
    }
}
