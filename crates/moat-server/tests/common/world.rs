//! Callers of every kind on one test access: two users, a reader with
//! `read_all_conversations`, a clerk whose role keeps conversations seven
//! days; requests sent as one of them.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use moat_server::ServerOptions;
use serde_json::Value;

use super::access::Setup;
use super::{send_as, Answer, FakeModels, TestAccess};

const ROLES: &str = r#"
[[roles]]
name = "clerk"
models = ["*"]
conversation_retention_days = 7

[[roles]]
name = "reader"
models = ["*"]
read_all_conversations = true
"#;

pub struct World {
    pub access: TestAccess,
    pub alice: String,
    pub bob: String,
    pub reader: String,
    pub clerk: String,
}

pub async fn world() -> World {
    let access = TestAccess::build(Setup {
        roles_toml: ROLES.to_owned(),
        ..Setup::default()
    })
    .await;
    let alice = access.key("alice", &["user"], None).await;
    let bob = access.key("bob", &["user"], None).await;
    let reader = access.key("reader", &["reader"], None).await;
    let clerk = access.key("clerk", &["clerk"], None).await;
    World {
        access,
        alice,
        bob,
        reader,
        clerk,
    }
}

impl World {
    pub async fn call(&self, key: &str, method: &str, uri: &str, body: Option<Value>) -> Answer {
        let builder = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {key}"));
        let request = match body {
            Some(body) => builder
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
            None => builder.body(Body::empty()),
        }
        .unwrap();
        send_as(
            FakeModels::new().registry(),
            &self.access,
            ServerOptions::default(),
            request,
        )
        .await
    }

    pub async fn ok(&self, key: &str, method: &str, uri: &str, body: Option<Value>) -> Value {
        let answer = self.call(key, method, uri, body).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{method} {uri}: {}",
            answer.body
        );
        answer.json()
    }
}
