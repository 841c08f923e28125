//! The web UI's routes: served without credentials, every answer with the
//! UI's security headers, asset paths that cannot leave the assets folder,
//! and not one audit record for static files.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{send_as, Answer, FakeModels, TestAccess};
use moat_server::ServerOptions;

async fn get(access: &TestAccess, uri: &str) -> Answer {
    send_as(
        FakeModels::new().registry(),
        access,
        ServerOptions::default(),
        Request::get(uri).body(Body::empty()).unwrap(),
    )
    .await
}

fn assert_security_headers(answer: &Answer, uri: &str) {
    let header = |name: &str| {
        answer
            .headers
            .get(name)
            .unwrap_or_else(|| panic!("{uri}: no {name}"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    let csp = header("content-security-policy");
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{uri}: {csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("http"),
        "{uri}: {csp}"
    );
    assert_eq!(header("x-content-type-options"), "nosniff", "{uri}");
    assert_eq!(header("x-frame-options"), "DENY", "{uri}");
    assert_eq!(header("referrer-policy"), "no-referrer", "{uri}");
}

#[tokio::test]
async fn the_page_is_served_without_credentials_with_strict_headers() {
    let access = TestAccess::new().await;
    let page = get(&access, "/").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(
        page.headers["content-type"].to_str().unwrap(),
        "text/html; charset=utf-8"
    );
    assert_security_headers(&page, "/");
    assert!(page.body.contains("moat"), "{}", page.body);
    // A page without the UI built in has no script at all.
    if !page.body.contains("<script") {
        assert!(
            page.body.contains("built without its web UI"),
            "{}",
            page.body
        );
    }
}

#[tokio::test]
async fn asset_paths_cannot_leave_the_assets_folder() {
    let access = TestAccess::new().await;
    for uri in [
        "/assets/../Cargo.toml",
        "/assets/%2e%2e/%2e%2e/Cargo.toml",
        "/assets/..%2f..%2fCargo.toml",
        "/assets/a%5c..%5cCargo.toml",
        "/assets/missing.js",
        "/assets/secret.key",
        "/assets/a%00.js",
    ] {
        let answer = get(&access, uri).await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{uri}: {}",
            answer.body
        );
        assert!(!answer.body.contains("[package]"), "{uri}");
        assert_security_headers(&answer, uri);
    }
}

#[tokio::test]
async fn static_files_leave_no_audit_record_while_the_api_still_does() {
    let access = TestAccess::new().await;
    let log = access.access.audit_log.clone().unwrap();
    let count = || async {
        moat_audit::search(&log, &moat_audit::SearchFilter::default())
            .await
            .unwrap()
            .len()
    };
    let before = count().await;
    get(&access, "/").await;
    get(&access, "/assets/app.js").await;
    assert_eq!(count().await, before);
    let refused = get(&access, "/v1/models").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(count().await, before + 1);
}
