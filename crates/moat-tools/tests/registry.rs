//! `[[tools]]` as an operator writes them: every start-up error names the
//! tool and the problem; schemas from files; `${VAR}` header expansion; the
//! definition shown to the model; argument validation messages.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use moat_tools::{RegistryError, ToolConfig, ToolRegistry};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct File {
    tools: Vec<ToolConfig>,
}

fn configs(toml_text: &str) -> Vec<ToolConfig> {
    toml::from_str::<File>(toml_text).unwrap().tools
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn registry(toml_text: &str) -> Result<ToolRegistry, RegistryError> {
    ToolRegistry::with_env(configs(toml_text), Path::new("."), no_env)
}

/// The error for a tool named `order_status` with `extra` lines in it.
fn error(body: &str) -> String {
    let text = format!("[[tools]]\nname = \"order_status\"\ndescription = \"d\"\n{body}");
    let err = registry(&text).expect_err("expected a start-up error");
    let message = err.to_string();
    assert!(
        message.contains("order_status"),
        "names the tool: {message}"
    );
    message
}

const ORDER_STATUS: &str = r#"
[[tools]]
name = "get_order_status"
description = "Status of one order."
confirm = false
roles = ["support"]
timeout = "5s"
cache_ttl = "30s"
[tools.parameters]
type = "object"
required = ["order_id"]
additionalProperties = false
[tools.parameters.properties.order_id]
type = "string"
description = "Order number"
[tools.parameters.properties.verbose]
type = "boolean"
[tools.http]
url = "http://orders.internal:8080/orders/{order_id}"
headers = { Authorization = "Bearer ${ORDERS_TOKEN}" }
"#;

fn orders_env(name: &str) -> Option<String> {
    (name == "ORDERS_TOKEN").then(|| "s3cr3t-token-value".to_owned())
}

#[test]
fn a_good_tool_and_its_definition() {
    let registry =
        ToolRegistry::with_env(configs(ORDER_STATUS), Path::new("."), orders_env).unwrap();
    assert_eq!(registry.names().collect::<Vec<_>>(), ["get_order_status"]);
    let tool = registry.get("get_order_status").unwrap();
    assert!(!tool.needs_confirmation());
    assert_eq!(tool.roles(), ["support"]);
    assert_eq!(tool.cache_ttl(), Some(std::time::Duration::from_secs(30)));
    assert!(registry.get("nope").is_none());
    assert_eq!(
        serde_json::to_value(tool.definition()).unwrap(),
        json!({
            "type": "function",
            "function": {
                "name": "get_order_status",
                "description": "Status of one order.",
                "parameters": {
                    "type": "object",
                    "required": ["order_id"],
                    "additionalProperties": false,
                    "properties": {
                        "order_id": {"type": "string", "description": "Order number"},
                        "verbose": {"type": "boolean"}
                    }
                }
            }
        })
    );
    let debug = format!("{registry:?}");
    assert!(debug.contains("authorization"), "{debug}");
    assert!(
        !debug.contains("s3cr3t"),
        "header values are never printed: {debug}"
    );
}

#[test]
fn env_from_the_process() {
    std::env::set_var("MOAT_TOOLS_TEST_TOKEN_A", "from-process");
    let text = r#"
[[tools]]
name = "t"
description = "d"
[tools.http]
url = "http://h/x"
headers = { "X-Api-Key" = "${MOAT_TOOLS_TEST_TOKEN_A}" }
"#;
    ToolRegistry::new(configs(text), Path::new(".")).unwrap();
    let err = ToolRegistry::new(
        configs(&text.replace("TOKEN_A", "TOKEN_UNSET")),
        Path::new("."),
    )
    .err()
    .unwrap();
    assert!(matches!(err, RegistryError::MissingEnv { .. }), "{err}");
}

#[test]
fn missing_env_var_names_tool_and_variable() {
    let message = error(
        "[tools.http]\nurl = \"http://h/x\"\nheaders = { Authorization = \"Bearer ${ORDERS_TOKEN}\" }",
    );
    assert!(message.contains("ORDERS_TOKEN"), "{message}");
    assert!(message.contains("Authorization"), "{message}");
}

#[test]
fn schema_from_a_file_relative_to_the_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("schemas")).unwrap();
    std::fs::write(
        dir.path().join("schemas/order.json"),
        r#"{"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}"#,
    )
    .unwrap();
    let text = r#"
[[tools]]
name = "from_file"
description = "d"
parameters_file = "schemas/order.json"
[tools.http]
url = "http://h/orders/{order_id}"
"#;
    let registry = ToolRegistry::with_env(configs(text), dir.path(), no_env).unwrap();
    let tool = registry.get("from_file").unwrap();
    assert!(tool.validate(r#"{"order_id": "A1"}"#).is_ok());
    assert!(tool.validate(r#"{}"#).is_err());

    let err = ToolRegistry::with_env(configs(text), Path::new("/nonexistent"), no_env)
        .err()
        .unwrap();
    assert!(matches!(err, RegistryError::SchemaFile { .. }), "{err}");
    assert!(err.to_string().contains("from_file"), "{err}");

    std::fs::write(dir.path().join("schemas/order.json"), "{not json").unwrap();
    let err = ToolRegistry::with_env(configs(text), dir.path(), no_env)
        .err()
        .unwrap();
    assert!(err.to_string().contains("not valid JSON"), "{err}");
}

#[test]
fn bad_schema_names_the_pointer() {
    let message = error(
        "parameters = { type = \"object\", properties = { a = { type = \"strin\" } } }\n[tools.http]\nurl = \"http://h/x\"",
    );
    assert!(message.contains("/properties/a/type"), "{message}");
}

#[test]
fn top_level_must_be_an_object_schema() {
    let message = error("parameters = { type = \"string\" }\n[tools.http]\nurl = \"http://h/x\"");
    assert!(message.contains("\"type\": \"object\""), "{message}");
    let message = error("parameters = { properties = {} }\n[tools.http]\nurl = \"http://h/x\"");
    assert!(message.contains("\"type\": \"object\""), "{message}");
}

#[test]
fn remote_refs_are_refused_without_fetching() {
    let message = error(
        "parameters = { type = \"object\", properties = { a = { \"$ref\" = \"https://example.com/s.json\" } } }\n[tools.http]\nurl = \"http://h/x\"",
    );
    assert!(message.contains("remote $ref"), "{message}");
    assert!(message.contains("/properties/a/$ref"), "{message}");
    // A custom meta-schema would have to be fetched: refused, not fetched.
    let message = error(
        "parameters = { \"$schema\" = \"https://example.com/meta\", type = \"object\" }\n[tools.http]\nurl = \"http://h/x\"",
    );
    assert!(message.contains("parameters"), "{message}");
}

#[test]
fn unknown_local_ref_names_the_pointer() {
    let message = error(
        "parameters = { type = \"object\", properties = { a = { \"$ref\" = \"#/$defs/missing\" } } }\n[tools.http]\nurl = \"http://h/x\"",
    );
    assert!(message.contains("#/$defs/missing"), "{message}");
    assert!(message.contains("/properties/a/$ref"), "{message}");
}

#[test]
fn schema_size_and_depth_are_bounded() {
    let big = "x".repeat(70 * 1024);
    let message = error(&format!(
        "parameters = {{ type = \"object\", description = \"{big}\" }}\n[tools.http]\nurl = \"http://h/x\""
    ));
    assert!(message.contains("bytes"), "{message}");
    let mut nested = "{ type = \"string\" }".to_owned();
    for _ in 0..17 {
        nested = format!("{{ type = \"object\", properties = {{ a = {nested} }} }}");
    }
    let message = error(&format!(
        "parameters = {nested}\n[tools.http]\nurl = \"http://h/x\""
    ));
    assert!(message.contains("deeper"), "{message}");
}

#[test]
fn duplicate_names() {
    let text =
        "[[tools]]\nname = \"twice\"\ndescription = \"d\"\n[tools.http]\nurl = \"http://h/x\"\n";
    let err = registry(&format!("{text}{text}")).err().unwrap();
    assert_eq!(
        err,
        RegistryError::Duplicate {
            tool: "twice".into()
        }
    );
    assert!(err.to_string().contains("twice"));
}

#[test]
fn invalid_names() {
    for bad in ["", "has space", "dots.are.not.ok", &"x".repeat(65)] {
        let text = format!("[[tools]]\nname = \"{bad}\"\ndescription = \"d\"\n[tools.http]\nurl = \"http://h/x\"\n");
        let err = registry(&text).err().unwrap();
        assert!(
            matches!(err, RegistryError::InvalidName { .. }),
            "{bad}: {err}"
        );
    }
    registry(&format!(
        "[[tools]]\nname = \"{}\"\ndescription = \"d\"\n[tools.http]\nurl = \"http://h/x\"\n",
        "a-Z_9".repeat(12)
    ))
    .unwrap();
}

#[test]
fn bad_urls() {
    for (url, expected) in [
        ("ftp://h/x", "http or https"),
        ("http:///x", "host"),
        ("http://{host}/x", "in the path"),
        ("http://h/x?id={id}", "in the path"),
        ("http://user:pw@h/x", "credentials"),
        ("http://h/{id", "unmatched"),
    ] {
        let message = error(&format!(
            "parameters = {{ type = \"object\", properties = {{ id = {{ type = \"string\" }}, host = {{ type = \"string\" }} }} }}\n[tools.http]\nurl = \"{url}\""
        ));
        assert!(message.contains("http.url"), "{url}: {message}");
        assert!(message.contains(expected), "{url}: {message}");
    }
}

#[test]
fn placeholder_must_be_a_schema_property() {
    let message = error(
        "parameters = { type = \"object\", properties = { order_id = { type = \"string\" } } }\n[tools.http]\nurl = \"http://h/orders/{orderId}\"",
    );
    assert!(message.contains("{orderId}"), "{message}");
}

#[test]
fn url_host_must_be_allowed() {
    let message = error(
        "[tools.http]\nurl = \"http://orders.internal:8080/x\"\nallow_hosts = [\"orders.internal\"]",
    );
    assert!(message.contains("orders.internal:8080"), "{message}");
    assert!(message.contains("allow_hosts"), "{message}");
    // With the port, or a wildcard with the port, it starts.
    for allowed in ["orders.internal:8080", "*.internal:8080"] {
        registry(&format!(
            "[[tools]]\nname = \"t\"\ndescription = \"d\"\n[tools.http]\nurl = \"http://orders.internal:8080/x\"\nallow_hosts = [\"{allowed}\"]\n"
        ))
        .unwrap();
    }
}

#[test]
fn other_options() {
    for (body, expected) in [
        ("timeout = \"3m\"", "timeout"),
        ("timeout = \"soon\"", "timeout"),
        ("cache_ttl = \"0s\"", "cache_ttl"),
        ("max_response_bytes = 0", "max_response_bytes"),
        ("max_response_bytes = 5000000", "max_response_bytes"),
    ] {
        let message = error(&format!("{body}\n[tools.http]\nurl = \"http://h/x\""));
        assert!(message.contains(expected), "{body}: {message}");
    }
    for (http, expected) in [
        ("method = \"TRACE\"", "http.method"),
        (
            "allow_addresses = [\"10.0.0.0/33\"]",
            "http.allow_addresses",
        ),
        ("allow_hosts = [\"h:http\"]", "http.allow_hosts"),
        ("headers = { \"bad header\" = \"x\" }", "http.headers"),
        ("headers = { x = \"a\\nb\" }", "http.headers"),
    ] {
        let message = error(&format!("[tools.http]\nurl = \"http://h/x\"\n{http}"));
        assert!(message.contains(expected), "{http}: {message}");
    }
}

fn order_tool() -> ToolRegistry {
    ToolRegistry::with_env(configs(ORDER_STATUS), Path::new("."), orders_env).unwrap()
}

#[test]
fn validate_accepts_good_arguments() {
    let registry = order_tool();
    let tool = registry.get("get_order_status").unwrap();
    assert_eq!(
        tool.validate(r#"{"order_id": "A-1", "verbose": true}"#)
            .unwrap(),
        json!({"order_id": "A-1", "verbose": true})
    );
}

#[test]
fn validate_wrong_type() {
    let registry = order_tool();
    let err = registry
        .get("get_order_status")
        .unwrap()
        .validate(r#"{"order_id": 12}"#)
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "arguments do not match the schema: /order_id: 12 is not of type \"string\""
    );
}

#[test]
fn validate_missing_required_and_extra() {
    let registry = order_tool();
    let tool = registry.get("get_order_status").unwrap();
    let message = tool.validate(r#"{}"#).err().unwrap().to_string();
    assert!(
        message.contains("\"order_id\" is a required property"),
        "{message}"
    );
    let message = tool
        .validate(r#"{"order_id": "1", "drop_table": true}"#)
        .err()
        .unwrap()
        .to_string();
    assert!(message.contains("drop_table"), "{message}");
}

#[test]
fn validate_not_json() {
    let registry = order_tool();
    let tool = registry.get("get_order_status").unwrap();
    let message = tool.validate(r#"{"order_id": "#).err().unwrap().to_string();
    assert!(
        message.starts_with("arguments are not valid JSON"),
        "{message}"
    );
    // An empty string is a call without arguments, checked as `{}`.
    let message = tool.validate("").err().unwrap().to_string();
    assert!(message.contains("required"), "{message}");
}

#[test]
fn validate_message_is_bounded() {
    let properties: serde_json::Map<String, serde_json::Value> = (0..20)
        .map(|i| (format!("p{i}"), json!({"type": "integer"})))
        .collect();
    let schema = json!({"type": "object", "properties": properties});
    let mut config = configs(
        "[[tools]]\nname = \"many\"\ndescription = \"d\"\n[tools.http]\nurl = \"http://h/x\"\n",
    );
    config[0].parameters = Some(schema);
    let registry = ToolRegistry::with_env(config, Path::new("."), no_env).unwrap();
    let huge = "y".repeat(5000);
    let arguments: serde_json::Map<String, serde_json::Value> =
        (0..20).map(|i| (format!("p{i}"), json!(huge))).collect();
    let message = registry
        .get("many")
        .unwrap()
        .validate(&serde_json::to_string(&arguments).unwrap())
        .err()
        .unwrap()
        .to_string();
    assert!(message.len() <= 1024, "{} bytes", message.len());
    assert_eq!(message.matches("is not of type").count(), 5, "{message}");
    assert!(message.ends_with("and more"), "{message}");
}
