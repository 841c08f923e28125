//! Golden values of the chain's byte format: a record with every field set,
//! its canonical body and chain hash, and a stored body with sealed content
//! as search returns it. A change here means logs already written no longer
//! verify or no longer read back.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use crate::body::{Body, Prepared};
use crate::canonical::{canonical_json, chain_hash, hex};
use crate::crypto::SubjectKey;
use crate::record::{AuditRecord, Content, ContentPolicy, Outcome, ToolAudit};
use crate::AuditKeys;

fn keys() -> AuditKeys {
    AuditKeys::from_bytes([1; 32], [2; 32])
}

/// Every field set, content digested (policy `hash`: no random nonce).
fn record() -> AuditRecord {
    AuditRecord {
        time_ms: 1_795_491_000_123,
        request_id: "req_golden".into(),
        principal: Some("key_alice".into()),
        client: Some("10.0.0.7".into()),
        method: "POST".into(),
        route: "/v1/chat/completions".into(),
        model: Some("smollm2".into()),
        backend: Some("embedded".into()),
        status: 429,
        error_code: Some("rate_limit_exceeded".into()),
        outcome: Outcome::Refused,
        prompt_tokens: Some(12),
        completion_tokens: Some(34),
        ttft_ms: Some(56),
        latency_ms: 789,
        pii: BTreeMap::from([("email".to_owned(), 2), ("phone".to_owned(), 1)]),
        tools: vec![
            ToolAudit {
                name: "get_order_status".into(),
                decision: "allowed".into(),
                outcome: "ok".into(),
                latency_ms: Some(17),
                cached: true,
            },
            ToolAudit {
                name: "send_email".into(),
                decision: "awaiting_confirmation".into(),
                outcome: "not_run".into(),
                latency_ms: None,
                cached: false,
            },
        ],
        knowledge_bases: vec!["handbook".into(), "policies".into()],
        cited_files: Vec::new(),
        conversation_of: None,
        content: Some(Content {
            policy: ContentPolicy::Hash,
            prompt: "my IBAN is DE89".into(),
            completion: "noted".into(),
        }),
    }
}

const BODY: &str = r#"{"backend":"embedded","client":"10.0.0.7","completion_tokens":34,"content":{"completion_sha256":"41954b2a68ec0170b074b54f609a87de5bf08220a1ba5436a992679b4714b626","policy":"hash","prompt_sha256":"88d0a6206c6de261172578761d31a26d08ab9a6d770ed9c6df2755771a24cce2"},"error_code":"rate_limit_exceeded","knowledge_bases":["handbook","policies"],"latency_ms":789,"method":"POST","model":"smollm2","outcome":"refused","pii":{"email":2,"phone":1},"principal":"c9e39ef6a4f4d28c73b2ec688ee110efe4df07c260b20668ef103b84855b67f5","prompt_tokens":12,"request_id":"req_golden","route":"/v1/chat/completions","seq":42,"status":429,"time_ms":1795491000123,"tools":[{"cached":true,"decision":"allowed","latency_ms":17,"name":"get_order_status","outcome":"ok"},{"decision":"awaiting_confirmation","name":"send_email","outcome":"not_run"}],"ttft_ms":56,"v":1}"#;
const HASH: &str = "e916f4484ddc218822cf9181f4e4e70f19cb4e3af54956bfe7cf88ca8457b26e";

#[test]
fn a_record_with_every_field_has_the_same_body_and_hash() {
    let mut prepared = Prepared::new(&keys(), record()).unwrap();
    prepared
        .seal(&SubjectKey::new(&[9; 32], b"wrapped"))
        .unwrap();
    let body = prepared.canonical(42).unwrap();
    let hash = hex(&chain_hash(&[0xab; 32], &body));
    assert_eq!(body, BODY);
    assert_eq!(hash, HASH);
}

/// A record with cited files: the body gains `cited_files` in its sorted
/// place and nothing else changes (records without citations keep the
/// body above, so old chains verify).
#[test]
fn cited_files_are_one_more_field_of_the_body() {
    let mut cited = record();
    cited.cited_files = vec!["file-a".into(), "file-b".into()];
    let mut prepared = Prepared::new(&keys(), cited).unwrap();
    prepared
        .seal(&SubjectKey::new(&[9; 32], b"wrapped"))
        .unwrap();
    let body = prepared.canonical(42).unwrap();
    let expected = BODY.replace(
        r#""client":"10.0.0.7","#,
        r#""cited_files":["file-a","file-b"],"client":"10.0.0.7","#,
    );
    assert_eq!(body, expected);
}

/// A stored body with `full` content sealed by subject key `[9; 32]`.
const SEALED_BODY: &str = r#"{"backend":"embedded","client":"10.0.0.7","completion_tokens":34,"content":{"key":"adbf45b08ad6468a","policy":"full","sealed":"ujcHkXzbSqTrGb6Eu5Qd4jBrk33+X8K2pD6G1uzTCGZFkv6Txi/J81uKn5lpuqW3c5uR8T8HmTA1hu3etndbHfh/9GF3udkpiWJwR+A=","subject":"c9e39ef6a4f4d28c73b2ec688ee110efe4df07c260b20668ef103b84855b67f5"},"error_code":"rate_limit_exceeded","knowledge_bases":["handbook","policies"],"latency_ms":789,"method":"POST","model":"smollm2","outcome":"refused","pii":{"email":2,"phone":1},"principal":"c9e39ef6a4f4d28c73b2ec688ee110efe4df07c260b20668ef103b84855b67f5","prompt_tokens":12,"request_id":"req_golden","route":"/v1/chat/completions","seq":43,"status":429,"time_ms":1795491000123,"tools":[{"cached":true,"decision":"allowed","latency_ms":17,"name":"get_order_status","outcome":"ok"},{"decision":"awaiting_confirmation","name":"send_email","outcome":"not_run"}],"ttft_ms":56,"v":1}"#;
const STORED: &str = r#"{"seq":43,"hash":"1111111111111111111111111111111111111111111111111111111111111111","prev_hash":"2222222222222222222222222222222222222222222222222222222222222222","time_ms":1795491000123,"request_id":"req_golden","principal":"c9e39ef6a4f4d28c73b2ec688ee110efe4df07c260b20668ef103b84855b67f5","client":"10.0.0.7","method":"POST","route":"/v1/chat/completions","model":"smollm2","backend":"embedded","status":429,"error_code":"rate_limit_exceeded","outcome":"refused","prompt_tokens":12,"completion_tokens":34,"ttft_ms":56,"latency_ms":789,"pii":{"email":2,"phone":1},"tools":[{"name":"get_order_status","decision":"allowed","outcome":"ok","latency_ms":17,"cached":true},{"name":"send_email","decision":"awaiting_confirmation","outcome":"not_run"}],"knowledge_bases":["handbook","policies"],"content":{"state":"readable","policy":"full","prompt":"my IBAN is DE89","completion":"noted"}}"#;

#[test]
fn a_stored_body_with_sealed_content_reads_back_the_same() {
    let key = SubjectKey::new(&[9; 32], b"wrapped");
    let body = Body::parse(SEALED_BODY).unwrap();
    // The parsed body writes back byte for byte: its hash still verifies.
    let again = canonical_json(&serde_json::to_value(&body).unwrap());
    assert_eq!(again, SEALED_BODY);
    let stored = body.into_stored("11".repeat(32), "22".repeat(32), Some(&key));
    let text = serde_json::to_string(&stored).unwrap();
    assert_eq!(text, STORED);
}
