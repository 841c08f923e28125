//! The tool's parameters schema: loaded, bounded and checked at start-up,
//! then used to validate the model's arguments.
//!
//! No reference is ever fetched: remote `$ref`s are refused before the
//! validator is built, and the validator itself is built offline.

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{truncate, InvalidArguments, RegistryError};

/// Largest schema, as compact JSON.
pub const MAX_SCHEMA_BYTES: usize = 64 * 1024;
/// Deepest nesting of objects and arrays in a schema.
pub const MAX_SCHEMA_DEPTH: usize = 16;
/// Largest arguments string accepted from the model.
pub const MAX_ARGUMENTS_BYTES: usize = 1024 * 1024;
/// Schema errors listed in one [`InvalidArguments`] message.
const MAX_ERRORS: usize = 5;
/// Bytes of one listed error.
const MAX_ERROR_BYTES: usize = 180;

/// A checked schema and its compiled validator.
pub(crate) struct ParametersSchema {
    pub(crate) schema: Value,
    validator: jsonschema::Validator,
}

impl ParametersSchema {
    /// Load (inline or from `file`, relative to `base_dir`), bound and check.
    pub(crate) fn load(
        tool: &str,
        inline: Option<&Value>,
        file: Option<&Path>,
        base_dir: &Path,
    ) -> Result<Self, RegistryError> {
        let schema_err = |problem: String| RegistryError::Schema {
            tool: tool.to_owned(),
            problem,
        };
        let schema = match (inline, file) {
            (Some(_), Some(_)) => {
                return Err(schema_err(
                    "give either `parameters` or `parameters_file`, not both".into(),
                ))
            }
            (Some(value), None) => value.clone(),
            (None, Some(file)) => read_schema_file(tool, &base_dir.join(file))?,
            (None, None) => serde_json::json!({"type": "object", "properties": {}}),
        };
        let size = serde_json::to_vec(&schema).map(|v| v.len()).unwrap_or(0);
        if size > MAX_SCHEMA_BYTES {
            return Err(schema_err(format!(
                "schema is {size} bytes, more than {MAX_SCHEMA_BYTES}"
            )));
        }
        if depth(&schema) > MAX_SCHEMA_DEPTH {
            return Err(schema_err(format!(
                "schema is nested deeper than {MAX_SCHEMA_DEPTH} levels"
            )));
        }
        let Some(root) = schema.as_object() else {
            return Err(schema_err("the schema must be a JSON object".into()));
        };
        if root.get("type") != Some(&Value::String("object".into())) {
            return Err(schema_err(
                "the top-level schema must have \"type\": \"object\"".into(),
            ));
        }
        check_references(tool, &schema, root, "")?;
        jsonschema::meta::validate(&schema).map_err(|e| RegistryError::SchemaInvalid {
            tool: tool.to_owned(),
            pointer: pointer_or_root(&e.instance_path().to_string()),
            problem: truncate(e.to_string(), 300),
        })?;
        let validator = jsonschema::options()
            .offline()
            .should_validate_formats(true)
            .build(&schema)
            .map_err(|e| RegistryError::SchemaInvalid {
                tool: tool.to_owned(),
                pointer: pointer_or_root(&e.schema_path().to_string()),
                problem: truncate(e.to_string(), 300),
            })?;
        Ok(Self { schema, validator })
    }

    /// Names of the top-level `properties`.
    pub(crate) fn has_property(&self, name: &str) -> bool {
        self.schema
            .get("properties")
            .and_then(Value::as_object)
            .is_some_and(|p| p.contains_key(name))
    }

    /// Parse the model's arguments string and validate it.
    pub(crate) fn validate(&self, arguments: &str) -> Result<Value, InvalidArguments> {
        if arguments.len() > MAX_ARGUMENTS_BYTES {
            return Err(InvalidArguments::new(format!(
                "arguments are larger than {MAX_ARGUMENTS_BYTES} bytes"
            )));
        }
        // Models often send "" for a call without arguments.
        let value: Value = if arguments.trim().is_empty() {
            Value::Object(Map::new())
        } else {
            serde_json::from_str(arguments)
                .map_err(|e| InvalidArguments::new(format!("arguments are not valid JSON: {e}")))?
        };
        let mut listed = Vec::new();
        let mut more = "";
        for (i, error) in self.validator.iter_errors(&value).enumerate() {
            if i == MAX_ERRORS {
                more = "; and more";
                break;
            }
            let path = pointer_or_root(&error.instance_path().to_string());
            // A long value is replaced by the word "value" so the reason stays.
            let mut reason = error.to_string();
            if reason.len() > MAX_ERROR_BYTES {
                reason = error.masked().to_string();
            }
            listed.push(truncate(format!("{path}: {reason}"), MAX_ERROR_BYTES));
        }
        if listed.is_empty() {
            return Ok(value);
        }
        Err(InvalidArguments::new(format!(
            "arguments do not match the schema: {}{more}",
            listed.join("; ")
        )))
    }
}

fn read_schema_file(tool: &str, path: &Path) -> Result<Value, RegistryError> {
    let file_err = |problem: String| RegistryError::SchemaFile {
        tool: tool.to_owned(),
        path: path.display().to_string(),
        problem,
    };
    let len = std::fs::metadata(path)
        .map_err(|e| file_err(e.to_string()))?
        .len();
    if len > MAX_SCHEMA_BYTES as u64 * 4 {
        return Err(file_err(format!(
            "file is larger than {MAX_SCHEMA_BYTES} bytes"
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| file_err(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| file_err(format!("not valid JSON: {e}")))
}

fn pointer_or_root(pointer: &str) -> String {
    if pointer.is_empty() {
        "/".to_owned()
    } else {
        pointer.to_owned()
    }
}

/// Nesting depth of objects and arrays (a scalar is 0).
fn depth(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Keywords whose value is a map of name → subschema.
const SCHEMA_MAPS: &[&str] = &[
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
];
/// Keywords whose value is a subschema (or, for `items`, possibly an array).
const SCHEMA_VALUES: &[&str] = &[
    "items",
    "additionalItems",
    "additionalProperties",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contains",
    "propertyNames",
    "not",
    "if",
    "then",
    "else",
];
/// Keywords whose value is an array of subschemas.
const SCHEMA_ARRAYS: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems"];

/// Walk the subschemas (not `enum`/`const`/`default` values) and check every
/// reference: only local ones that point at something in this schema.
fn check_references(
    tool: &str,
    root: &Value,
    schema: &Map<String, Value>,
    pointer: &str,
) -> Result<(), RegistryError> {
    for keyword in ["$id", "$dynamicRef", "$recursiveRef"] {
        if let Some(value) = schema.get(keyword) {
            if keyword == "$recursiveRef" && value == "#" {
                continue;
            }
            return Err(RegistryError::RemoteRef {
                tool: tool.to_owned(),
                pointer: pointer_or_root(&format!("{pointer}/{}", escape(keyword))),
                reference: truncate(value.to_string(), 200),
            });
        }
    }
    if let Some(reference) = schema.get("$ref") {
        let at = format!("{pointer}/$ref");
        let Some(reference) = reference.as_str() else {
            return Err(RegistryError::SchemaInvalid {
                tool: tool.to_owned(),
                pointer: at,
                problem: "$ref must be a string".into(),
            });
        };
        let Some(fragment) = reference.strip_prefix('#') else {
            return Err(RegistryError::RemoteRef {
                tool: tool.to_owned(),
                pointer: at,
                reference: truncate(reference.to_owned(), 200),
            });
        };
        let decoded = percent_encoding::percent_decode_str(fragment).decode_utf8_lossy();
        let found = if decoded.is_empty() || decoded.starts_with('/') {
            root.pointer(&decoded).is_some()
        } else {
            has_anchor(root, &decoded)
        };
        if !found {
            return Err(RegistryError::UnknownRef {
                tool: tool.to_owned(),
                pointer: at,
                reference: truncate(reference.to_owned(), 200),
            });
        }
    }
    for (keyword, value) in schema {
        let here = format!("{pointer}/{}", escape(keyword));
        if SCHEMA_MAPS.contains(&keyword.as_str()) {
            if let Some(map) = value.as_object() {
                for (name, sub) in map {
                    if let Some(sub) = sub.as_object() {
                        check_references(tool, root, sub, &format!("{here}/{}", escape(name)))?;
                    }
                }
            }
        } else if SCHEMA_VALUES.contains(&keyword.as_str())
            || SCHEMA_ARRAYS.contains(&keyword.as_str())
        {
            match value {
                Value::Object(sub) => check_references(tool, root, sub, &here)?,
                Value::Array(items) => {
                    for (i, sub) in items.iter().enumerate() {
                        if let Some(sub) = sub.as_object() {
                            check_references(tool, root, sub, &format!("{here}/{i}"))?;
                        }
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn has_anchor(value: &Value, name: &str) -> bool {
    match value {
        Value::Object(map) => {
            map.get("$anchor").and_then(Value::as_str) == Some(name)
                || map.values().any(|v| has_anchor(v, name))
        }
        Value::Array(items) => items.iter().any(|v| has_anchor(v, name)),
        _ => false,
    }
}

/// JSON pointer escaping of one token.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use serde_json::json;

    fn load(schema: Value) -> Result<ParametersSchema, RegistryError> {
        ParametersSchema::load("t", Some(&schema), None, Path::new("."))
    }

    #[test]
    fn local_refs_and_anchors_resolve() {
        let s = load(json!({
            "type": "object",
            "$defs": {"id": {"type": "string", "pattern": "^[0-9]+$"}, "a": {"$anchor": "amount", "type": "number"}},
            "properties": {"order_id": {"$ref": "#/$defs/id"}, "amount": {"$ref": "#amount"}}
        }))
        .unwrap();
        assert!(s.validate(r#"{"order_id": "12", "amount": 3}"#).is_ok());
        assert!(s.validate(r#"{"order_id": "x"}"#).is_err());
    }

    #[test]
    fn properties_named_like_keywords_are_not_references() {
        // A property called "$ref" or "$id" is a name, not a keyword.
        load(json!({
            "type": "object",
            "properties": {"$ref": {"type": "string"}, "$id": {"type": "string"}},
            "default": {"$ref": "https://example.com/x"}
        }))
        .unwrap();
    }

    #[test]
    fn id_and_dynamic_refs_are_refused() {
        let err = load(json!({"type": "object", "$id": "https://example.com/s"}))
            .err()
            .unwrap();
        assert!(matches!(err, RegistryError::RemoteRef { .. }), "{err}");
        let err =
            load(json!({"type": "object", "properties": {"a": {"$dynamicRef": "https://x/y"}}}))
                .err()
                .unwrap();
        assert!(
            err.to_string().contains("/properties/a/$dynamicRef"),
            "{err}"
        );
    }

    #[test]
    fn deep_schema_is_refused() {
        let mut inner = json!({"type": "string"});
        for _ in 0..20 {
            inner = json!({"type": "object", "properties": {"a": inner}});
        }
        let err = load(inner).err().unwrap();
        assert!(err.to_string().contains("deeper than 16"), "{err}");
    }
}
