//! GBNF grammars that constrain tool calls: the tools' JSON Schemas become
//! one grammar whose sentences are `<tool_call>\n{"name": ..., "arguments":
//! ...}\n</tool_call>` blocks with arguments valid against the named tool.
//!
//! Schemas come from clients, and llama.cpp expands repetitions, nesting and
//! regular expressions into grammar rules, so every schema is bounded here
//! before llama.cpp sees it: size, depth, node count, `$ref`s (local, no
//! cycles), repetition counts and `pattern`s. Each refusal names the limit
//! and the tool.

mod bounds;
mod gbnf;
mod pattern;

use std::collections::HashSet;

use serde_json::{json, Map, Value};

pub use bounds::MAX_INTEGER_BOUND;
pub use gbnf::{MAX_GRAMMAR_ELEMENTS, MAX_GRAMMAR_NESTING, MAX_GRAMMAR_RULES};
use pattern::Rewrite;
pub use pattern::OPEN_REPETITION;

/// Most bytes of parameter schemas (compact JSON) over all tools.
pub const MAX_SCHEMA_BYTES: usize = 64 * 1024;
/// Deepest nesting of JSON objects and arrays in one schema; 32 is about
/// 16 levels of subschemas (`properties` and the schema under it are two).
pub const MAX_DEPTH: usize = 32;
/// Most JSON values (objects, arrays, scalars) over all tools' schemas.
pub const MAX_NODES: usize = 4096;
/// Largest `min*` count (`minItems`, `minLength`...): llama.cpp writes out one
/// rule per repetition. Larger `max*` counts are lowered to this: output
/// that fits the lower bound still validates against the schema.
pub const MAX_REPETITION: u64 = 256;
/// Longest `pattern`, in bytes; its quantifiers (`{n,m}`) are bounded by
/// [`MAX_REPETITION`] too.
pub const MAX_PATTERN_BYTES: usize = 256;
/// Longest chain of `$ref`s followed from one place.
pub const MAX_REF_CHAIN: usize = 32;
/// Most bytes of the generated grammar.
pub const MAX_GRAMMAR_BYTES: usize = 256 * 1024;
/// The text that opens a call; a lazy grammar starts where it appears.
pub const CALL_OPEN: &str = "<tool_call>";

/// Keywords whose values are data, not subschemas: `$ref`, repetition and
/// pattern checks do not apply inside them.
const DATA_KEYWORDS: [&str; 4] = ["const", "enum", "default", "examples"];
/// Keywords whose values map names to subschemas: the map itself is not a
/// schema (a property may be called `minLength`).
const NAME_MAP_KEYWORDS: [&str; 6] = [
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
    "dependentRequired",
];
/// Names of the rules this module adds around llama.cpp's output.
const OWN_RULES: [&str; 4] = ["tool-calls", "tool-call", "tool-call-json", "tool-think"];

/// One tool offered to the model: the OpenAI `function.name` and
/// `function.parameters`.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSchema {
    pub name: String,
    /// A JSON Schema object; `None`: any object.
    pub parameters: Option<Value>,
}

/// When the grammar applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolCallMode {
    /// Free text until the model writes `<tool_call>`; from there on, calls.
    Auto,
    /// Calls from the first token.
    Required,
    /// Calls of this tool only, from the first token.
    Named(String),
}

/// What a generation's tool calls are constrained to.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCallGrammar {
    pub tools: Vec<ToolSchema>,
    pub mode: ToolCallMode,
    /// One or more calls, separated by newlines; `false`: exactly one call,
    /// then the end of generation.
    pub parallel: bool,
}

/// A grammar ready for llama.cpp's grammar sampler (root rule `root`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledGrammar {
    pub gbnf: String,
    /// Starts at the first [`CALL_OPEN`] instead of the first token.
    pub lazy: bool,
}

/// Why tools cannot be turned into a grammar. Every variant is the
/// client's doing (a 400 naming `tools`, or `tool_choice`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolGrammarError {
    #[error("tool_choice requires a tool call, but no tools were given.")]
    NoTools,
    #[error("tool_choice names the function `{0}`, which is not in tools.")]
    UnknownTool(String),
    #[error("The parameters of tool `{tool}` must be a JSON Schema object.")]
    NotAnObject { tool: String },
    #[error(
        "The tools' parameter schemas are larger than {limit} bytes (reached at tool `{tool}`)."
    )]
    TooLarge { tool: String, limit: usize },
    #[error("The parameter schema of tool `{tool}` is nested deeper than {limit} levels.")]
    TooDeep { tool: String, limit: usize },
    #[error(
        "The tools' parameter schemas have more than {limit} nodes (reached at tool `{tool}`)."
    )]
    TooManyNodes { tool: String, limit: usize },
    #[error("The parameter schema of tool `{tool}` has `$ref: {reference}`; only references into the same schema (`#/...`) are supported.")]
    RefNotLocal { tool: String, reference: String },
    #[error("The parameter schema of tool `{tool}` has `$ref: {reference}`, which points nowhere in the schema.")]
    RefUnresolved { tool: String, reference: String },
    #[error("The parameter schema of tool `{tool}` is recursive (`$ref: {reference}` refers back to itself); recursive schemas are not supported.")]
    RefCycle { tool: String, reference: String },
    #[error("The parameter schema of tool `{tool}` follows more than {limit} `$ref`s in a row.")]
    RefChainTooLong { tool: String, limit: usize },
    #[error("The parameter schema of tool `{tool}` has `{keyword}: {value}`; at most {limit} is supported.")]
    RepetitionTooLarge {
        tool: String,
        keyword: &'static str,
        value: String,
        limit: u64,
    },
    #[error("The parameter schema of tool `{tool}` has a `pattern` longer than {limit} bytes.")]
    PatternTooLong { tool: String, limit: usize },
    #[error(
        "The parameter schema of tool `{tool}` has a `pattern` repeating more than {limit} times."
    )]
    PatternRepetition { tool: String, limit: u64 },
    #[error("The parameter schema of tool `{tool}` has a `pattern` that is not a valid regular expression: {reason}.")]
    PatternInvalid { tool: String, reason: &'static str },
    #[error("The grammar for these tools would be larger than {limit} bytes; simplify the parameter schemas.")]
    GrammarTooLarge { limit: usize },
    /// A count or range keyword no value can satisfy, or of the wrong
    /// type; `path` names it (`tools[0].function.parameters.minLength`).
    #[error("{message}")]
    InvalidBound { path: String, message: String },
    /// The generated grammar is beyond what llama.cpp's parser is given:
    /// too many rules, elements or nested groups.
    #[error(
        "The grammar for these tools is too complex ({reason}); simplify the parameter schemas."
    )]
    GrammarTooComplex { reason: String },
    #[error("The parameter schema of tool `{tool}` cannot be turned into a grammar: {reason}.")]
    Unsupported { tool: String, reason: String },
    #[error("The tools' parameter schemas cannot be turned into a grammar: {reason}.")]
    Rejected { reason: String },
}

impl ToolGrammarError {
    /// The request parameter at fault.
    pub fn param(&self) -> &str {
        match self {
            Self::NoTools | Self::UnknownTool(_) => "tool_choice",
            Self::InvalidBound { path, .. } => path,
            _ => "tools",
        }
    }
}

/// Check the tools, then build the grammar for `spec`. `in_reasoning`:
/// the prompt opened a `<think>` block, which a grammar applying from the
/// first token lets the model close before its calls.
pub fn compile(
    spec: &ToolCallGrammar,
    in_reasoning: bool,
) -> Result<CompiledGrammar, ToolGrammarError> {
    // Each tool with its index in the request, for error paths.
    let (tools, lazy): (Vec<(usize, &ToolSchema)>, bool) = match &spec.mode {
        ToolCallMode::Auto => (spec.tools.iter().enumerate().collect(), true),
        ToolCallMode::Required => (spec.tools.iter().enumerate().collect(), false),
        ToolCallMode::Named(name) => {
            let tool = spec
                .tools
                .iter()
                .enumerate()
                .find(|(_, t)| &t.name == name)
                .ok_or_else(|| ToolGrammarError::UnknownTool(name.clone()))?;
            (vec![tool], false)
        }
    };
    if tools.is_empty() {
        return Err(ToolGrammarError::NoTools);
    }

    let mut budget = Budget::default();
    let mut alternatives = Vec::with_capacity(tools.len());
    for (i, &(index, tool)) in tools.iter().enumerate() {
        let mut schema = bounded(tool, index, &mut budget)?;
        // References are relative to the tool's schema, which becomes a
        // subschema of the combined one.
        rebase_refs(
            &mut schema,
            &format!("#/anyOf/{i}/properties/arguments"),
            false,
        );
        alternatives.push(call_schema(&tool.name, schema));
    }
    let combined = json!({ "anyOf": alternatives });
    let calls_json = match llama_cpp_2::json_schema_to_grammar(&combined.to_string()) {
        Ok(gbnf) => gbnf,
        Err(e) => return Err(blame(&tools, e.to_string())),
    };

    let defines = |rule: &str| {
        calls_json.starts_with(&format!("{rule} ::="))
            || calls_json.contains(&format!("\n{rule} ::="))
    };
    if let Some(rule) = OWN_RULES.into_iter().find(|r| defines(r)) {
        return Err(ToolGrammarError::Rejected {
            reason: format!("a generated rule is named `{rule}`"),
        });
    }
    if !defines("root") {
        return Err(ToolGrammarError::Rejected {
            reason: "llama.cpp produced no root rule".into(),
        });
    }
    // llama.cpp's root becomes the JSON object inside a call block.
    let body = calls_json.replace("\nroot ::=", "\ntool-call-json ::=");
    let body = match body.strip_prefix("root ::=") {
        Some(rest) => format!("tool-call-json ::={rest}"),
        None => body,
    };
    let calls = if spec.parallel {
        r#"tool-call ("\n" tool-call)*"#
    } else {
        "tool-call"
    };
    let mut gbnf = String::with_capacity(body.len() + 256);
    if in_reasoning && !lazy {
        gbnf.push_str("root ::= tool-think tool-calls\n");
        gbnf.push_str(r#"tool-think ::= ([^<] | "<" [^/])* "</think>" [ \n]*"#);
        gbnf.push('\n');
    } else {
        gbnf.push_str("root ::= tool-calls\n");
    }
    gbnf.push_str(&format!("tool-calls ::= {calls}\n"));
    gbnf.push_str(r#"tool-call ::= "<tool_call>\n" tool-call-json "\n</tool_call>""#);
    gbnf.push('\n');
    gbnf.push_str(&body);
    if gbnf.len() > MAX_GRAMMAR_BYTES {
        return Err(ToolGrammarError::GrammarTooLarge {
            limit: MAX_GRAMMAR_BYTES,
        });
    }
    // What llama.cpp's parser would build from it, counted before it does:
    // a grammar it refuses is printed whole to stderr, and one it accepts
    // may still expand far beyond its text.
    gbnf::check(&gbnf).map_err(|reason| ToolGrammarError::GrammarTooComplex { reason })?;
    Ok(CompiledGrammar { gbnf, lazy })
}

/// The schema of one call: `{"name": <const>, "arguments": <schema>}`.
fn call_schema(name: &str, arguments: Value) -> Value {
    json!({
        "type": "object",
        "properties": {
            "name": { "const": name },
            "arguments": arguments,
        },
        "required": ["name", "arguments"],
        "additionalProperties": false,
    })
}

/// llama.cpp refused the combined schema; its message says little, so
/// convert each tool alone to find the one at fault.
fn blame(tools: &[(usize, &ToolSchema)], reason: String) -> ToolGrammarError {
    for &(index, tool) in tools {
        let mut budget = Budget::default();
        let Ok(schema) = bounded(tool, index, &mut budget) else {
            continue;
        };
        if let Err(e) = llama_cpp_2::json_schema_to_grammar(&schema.to_string()) {
            return ToolGrammarError::Unsupported {
                tool: tool.name.clone(),
                reason: e.to_string(),
            };
        }
    }
    ToolGrammarError::Rejected { reason }
}

/// What the schemas of all tools have used so far.
#[derive(Default)]
struct Budget {
    bytes: usize,
    nodes: usize,
}

/// The tool's parameter schema (`tools[index]` of the request), checked
/// against every limit, with `max*` counts lowered to [`MAX_REPETITION`].
fn bounded(
    tool: &ToolSchema,
    index: usize,
    budget: &mut Budget,
) -> Result<Value, ToolGrammarError> {
    let name = &tool.name;
    let mut schema = match &tool.parameters {
        None | Some(Value::Null) => json!({ "type": "object" }),
        Some(Value::Object(map)) if map.is_empty() => json!({ "type": "object" }),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => return Err(ToolGrammarError::NotAnObject { tool: name.clone() }),
    };
    budget.bytes += schema.to_string().len();
    if budget.bytes > MAX_SCHEMA_BYTES {
        return Err(ToolGrammarError::TooLarge {
            tool: name.clone(),
            limit: MAX_SCHEMA_BYTES,
        });
    }
    let mut path = vec![format!("tools[{index}].function.parameters")];
    walk(&mut schema, name, &mut path, 1, Role::Schema, budget)?;
    let mut stack = Vec::new();
    let mut done = HashSet::new();
    check_refs(&schema, &schema, name, &mut stack, &mut done, false)?;
    Ok(schema)
}

/// What a JSON value inside a parameter schema is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A schema (or a list of them).
    Schema,
    /// A map from names to schemas (`properties`, `$defs`...).
    Names,
    /// Data (`enum`, `const`...): no keyword applies inside.
    Data,
}

/// Depth, node, bound, repetition and pattern checks over one schema, in
/// place; `path` holds the segments of where `value` is in the request.
fn walk(
    value: &mut Value,
    tool: &str,
    path: &mut Vec<String>,
    depth: usize,
    role: Role,
    budget: &mut Budget,
) -> Result<(), ToolGrammarError> {
    budget.nodes += 1;
    if budget.nodes > MAX_NODES {
        return Err(ToolGrammarError::TooManyNodes {
            tool: tool.to_owned(),
            limit: MAX_NODES,
        });
    }
    let children_are_deeper = matches!(value, Value::Object(_) | Value::Array(_));
    if children_are_deeper && depth > MAX_DEPTH {
        return Err(ToolGrammarError::TooDeep {
            tool: tool.to_owned(),
            limit: MAX_DEPTH,
        });
    }
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.push(format!("[{i}]"));
                walk(item, tool, path, depth + 1, role, budget)?;
                path.pop();
            }
        }
        Value::Object(map) => {
            if role == Role::Schema {
                check_keywords(map, tool, &path.concat())?;
            }
            for (key, child) in map.iter_mut() {
                let child_role = match role {
                    Role::Data => Role::Data,
                    Role::Names => Role::Schema,
                    Role::Schema if DATA_KEYWORDS.contains(&key.as_str()) => Role::Data,
                    Role::Schema if NAME_MAP_KEYWORDS.contains(&key.as_str()) => Role::Names,
                    Role::Schema => Role::Schema,
                };
                path.push(crate::control::path_segment(key));
                walk(child, tool, path, depth + 1, child_role, budget)?;
                path.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

/// Bounds, repetition counts and patterns of one schema object at `path`.
fn check_keywords(
    map: &mut Map<String, Value>,
    tool: &str,
    path: &str,
) -> Result<(), ToolGrammarError> {
    bounds::check(map, path).map_err(|e| ToolGrammarError::InvalidBound {
        path: e.path,
        message: e.message,
    })?;
    for (min_keyword, max_keyword) in bounds::COUNT_PAIRS {
        if let Some(n) = map.get(min_keyword).and_then(Value::as_u64) {
            if n > MAX_REPETITION {
                return Err(ToolGrammarError::RepetitionTooLarge {
                    tool: tool.to_owned(),
                    keyword: min_keyword,
                    value: n.to_string(),
                    limit: MAX_REPETITION,
                });
            }
        }
        if let Some(n) = map.get_mut(max_keyword) {
            if n.as_u64().is_some_and(|n| n > MAX_REPETITION) {
                *n = MAX_REPETITION.into();
            }
        }
    }
    if let Some(Value::String(pattern)) = map.get("pattern").cloned() {
        if pattern.len() > MAX_PATTERN_BYTES {
            return Err(ToolGrammarError::PatternTooLong {
                tool: tool.to_owned(),
                limit: MAX_PATTERN_BYTES,
            });
        }
        if pattern_repetitions(&pattern).any(|n| n > MAX_REPETITION) {
            return Err(ToolGrammarError::PatternRepetition {
                tool: tool.to_owned(),
                limit: MAX_REPETITION,
            });
        }
        let max_length = map.get("maxLength").and_then(Value::as_u64);
        match pattern::rewrite(&pattern, max_length) {
            Rewrite::Pattern(rewritten) => {
                map.insert("pattern".to_owned(), Value::String(rewritten));
            }
            Rewrite::Unsupported(why) => {
                tracing::debug!(tool, why, "a pattern is beyond the grammar: not enforced");
                map.remove("pattern");
            }
            Rewrite::Invalid(reason) => {
                return Err(ToolGrammarError::PatternInvalid {
                    tool: tool.to_owned(),
                    reason,
                });
            }
        }
    }
    Ok(())
}

/// The counts of `{n}`, `{n,}` and `{n,m}` quantifiers in a regular
/// expression (escaped braces included: an over-count only refuses more).
fn pattern_repetitions(pattern: &str) -> impl Iterator<Item = u64> + '_ {
    pattern.split('{').skip(1).flat_map(|rest| {
        let inner = rest.split('}').next().unwrap_or("");
        inner
            .split(',')
            .map(|n| n.trim().parse::<u64>().unwrap_or(0))
            .collect::<Vec<_>>()
    })
}

/// Every `$ref` must be local and resolve, and following them must never
/// come back to one already being followed.
fn check_refs<'a>(
    root: &'a Value,
    value: &'a Value,
    tool: &str,
    stack: &mut Vec<&'a str>,
    done: &mut HashSet<&'a str>,
    data: bool,
) -> Result<(), ToolGrammarError> {
    match value {
        Value::Array(items) => {
            for item in items {
                check_refs(root, item, tool, stack, done, data)?;
            }
        }
        Value::Object(map) => {
            if let (false, Some(Value::String(reference))) = (data, map.get("$ref")) {
                let reference = reference.as_str();
                if stack.contains(&reference) {
                    return Err(ToolGrammarError::RefCycle {
                        tool: tool.to_owned(),
                        reference: reference.to_owned(),
                    });
                }
                if !done.contains(reference) {
                    let pointer = match reference.strip_prefix('#') {
                        Some(p) if p.is_empty() || p.starts_with('/') => p,
                        _ => {
                            return Err(ToolGrammarError::RefNotLocal {
                                tool: tool.to_owned(),
                                reference: reference.to_owned(),
                            })
                        }
                    };
                    let target =
                        root.pointer(pointer)
                            .ok_or_else(|| ToolGrammarError::RefUnresolved {
                                tool: tool.to_owned(),
                                reference: reference.to_owned(),
                            })?;
                    if stack.len() >= MAX_REF_CHAIN {
                        return Err(ToolGrammarError::RefChainTooLong {
                            tool: tool.to_owned(),
                            limit: MAX_REF_CHAIN,
                        });
                    }
                    stack.push(reference);
                    check_refs(root, target, tool, stack, done, false)?;
                    stack.pop();
                    done.insert(reference);
                }
            }
            for (key, child) in map {
                let data = data || DATA_KEYWORDS.contains(&key.as_str());
                check_refs(root, child, tool, stack, done, data)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Make the schema's local `$ref`s relative to `base`, where the schema
/// sits in the combined one.
fn rebase_refs(value: &mut Value, base: &str, data: bool) {
    match value {
        Value::Array(items) => {
            for item in items {
                rebase_refs(item, base, data);
            }
        }
        Value::Object(map) => {
            if !data {
                if let Some(Value::String(reference)) = map.get_mut("$ref") {
                    if let Some(pointer) = reference.strip_prefix('#') {
                        *reference = format!("{base}{pointer}");
                    }
                }
            }
            for (key, child) in map.iter_mut() {
                let data = data || DATA_KEYWORDS.contains(&key.as_str());
                rebase_refs(child, base, data);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn tool(name: &str, parameters: Value) -> ToolSchema {
        ToolSchema {
            name: name.into(),
            parameters: Some(parameters),
        }
    }

    fn weather() -> ToolSchema {
        tool(
            "get_weather",
            json!({
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}
                },
                "required": ["city"]
            }),
        )
    }

    fn spec(tools: Vec<ToolSchema>, mode: ToolCallMode, parallel: bool) -> ToolCallGrammar {
        ToolCallGrammar {
            tools,
            mode,
            parallel,
        }
    }

    fn refusal(parameters: Value) -> ToolGrammarError {
        compile(
            &spec(vec![tool("t", parameters)], ToolCallMode::Required, true),
            false,
        )
        .unwrap_err()
    }

    /// A schema nested `levels` objects deep.
    fn nested(levels: usize) -> Value {
        let mut schema = json!({"type": "string"});
        for _ in 0..levels {
            schema = json!({"type": "object", "properties": {"x": schema}});
        }
        schema
    }

    #[test]
    fn a_small_schema_gives_this_grammar() {
        let grammar =
            compile(&spec(vec![weather()], ToolCallMode::Required, false), false).unwrap();
        assert!(!grammar.lazy);
        insta::assert_snapshot!(grammar.gbnf);
    }

    #[test]
    fn auto_is_lazy_and_parallel_repeats_calls() {
        let grammar = compile(&spec(vec![weather()], ToolCallMode::Auto, true), false).unwrap();
        assert!(grammar.lazy);
        assert!(grammar
            .gbnf
            .contains(r#"tool-calls ::= tool-call ("\n" tool-call)*"#));
        assert!(grammar.gbnf.starts_with("root ::= tool-calls\n"));
    }

    #[test]
    fn a_named_tool_is_the_only_alternative() {
        let other = tool("send_email", json!({"type": "object"}));
        let grammar = compile(
            &spec(
                vec![other, weather()],
                ToolCallMode::Named("get_weather".into()),
                true,
            ),
            false,
        )
        .unwrap();
        assert!(grammar.gbnf.contains("get_weather"));
        assert!(!grammar.gbnf.contains("send_email"));
        let unknown = compile(
            &spec(vec![weather()], ToolCallMode::Named("nope".into()), true),
            false,
        )
        .unwrap_err();
        assert_eq!(unknown, ToolGrammarError::UnknownTool("nope".into()));
        assert_eq!(unknown.param(), "tool_choice");
    }

    #[test]
    fn open_reasoning_may_close_before_the_calls() {
        let grammar = compile(&spec(vec![weather()], ToolCallMode::Required, true), true).unwrap();
        assert!(grammar.gbnf.starts_with("root ::= tool-think tool-calls\n"));
    }

    #[test]
    fn realistic_schemas_with_local_refs_are_accepted() {
        let tools = vec![
            weather(),
            tool("no_params", Value::Null),
            ToolSchema {
                name: "absent".into(),
                parameters: None,
            },
            tool(
                "get_sales_data",
                json!({
                    "type": "object",
                    "$defs": {"day": {"type": "string", "format": "date"}},
                    "properties": {
                        "from": {"$ref": "#/$defs/day"},
                        "to": {"$ref": "#/$defs/day"},
                        "regions": {"type": "array", "items": {"type": "string"}, "maxItems": 10000},
                        "note": {"type": "string", "maxLength": 5000, "pattern": "^[a-z]{1,20}$"}
                    },
                    "required": ["from", "to"]
                }),
            ),
            tool("deep_enough", nested(15)),
        ];
        let grammar = compile(&spec(tools, ToolCallMode::Required, true), false).unwrap();
        // The second alternative's refs were rebased into the combined schema.
        assert!(grammar.gbnf.contains("get_sales_data"));
        assert!(grammar.gbnf.len() < MAX_GRAMMAR_BYTES);
    }

    #[test]
    fn large_max_counts_are_lowered_not_refused() {
        let mut budget = Budget::default();
        let schema = bounded(
            &tool(
                "t",
                json!({"type": "string", "maxLength": 100000, "minLength": 3}),
            ),
            0,
            &mut budget,
        )
        .unwrap();
        assert_eq!(schema["maxLength"], json!(MAX_REPETITION));
        assert_eq!(schema["minLength"], json!(3));
    }

    #[test]
    fn each_limit_is_refused_with_its_own_error() {
        assert!(matches!(
            refusal(json!({"type": "string", "minLength": 100000})),
            ToolGrammarError::RepetitionTooLarge {
                keyword: "minLength",
                ..
            }
        ));
        assert!(matches!(
            refusal(json!({"type": "array", "minItems": 257})),
            ToolGrammarError::RepetitionTooLarge {
                keyword: "minItems",
                ..
            }
        ));
        assert!(matches!(
            refusal(nested(40)),
            ToolGrammarError::TooDeep {
                limit: MAX_DEPTH,
                ..
            }
        ));
        let wide: Map<String, Value> = (0..MAX_NODES)
            .map(|i| (format!("p{i}"), json!(true)))
            .collect();
        assert!(matches!(
            refusal(json!({"type": "object", "properties": wide})),
            ToolGrammarError::TooManyNodes {
                limit: MAX_NODES,
                ..
            }
        ));
        let big_enum: Vec<String> = (0..3000).map(|i| format!("value-number-{i:06}")).collect();
        assert!(matches!(
            refusal(json!({"type": "string", "enum": big_enum})),
            ToolGrammarError::TooLarge {
                limit: MAX_SCHEMA_BYTES,
                ..
            }
        ));
        assert!(matches!(
            refusal(json!({"type": "string", "pattern": "a".repeat(300)})),
            ToolGrammarError::PatternTooLong { .. }
        ));
        assert!(matches!(
            refusal(json!({"type": "string", "pattern": "^(ab){1000}$"})),
            ToolGrammarError::PatternRepetition { .. }
        ));
        assert!(matches!(
            refusal(json!("not a schema")),
            ToolGrammarError::NotAnObject { .. }
        ));
        let err = refusal(json!({"$ref": "https://example.com/schema.json"}));
        assert!(matches!(err, ToolGrammarError::RefNotLocal { .. }));
        assert_eq!(err.param(), "tools");
        assert!(err.to_string().contains("tool `t`"));
        assert!(matches!(
            refusal(json!({"$ref": "#/$defs/missing"})),
            ToolGrammarError::RefUnresolved { .. }
        ));
    }

    #[test]
    fn contradictory_bounds_are_refused_naming_the_keyword_by_path() {
        let second = tool(
            "second",
            json!({"type": "object", "properties": {"city": {"type": "string", "minLength": 10, "maxLength": 2}}}),
        );
        for mode in [
            ToolCallMode::Auto,
            ToolCallMode::Required,
            ToolCallMode::Named("second".into()),
        ] {
            let err =
                compile(&spec(vec![weather(), second.clone()], mode, false), false).unwrap_err();
            assert_eq!(
                err.param(),
                "tools[1].function.parameters.properties.city.minLength"
            );
            assert!(matches!(err, ToolGrammarError::InvalidBound { .. }));
        }
        let nested = refusal(json!({
            "type": "object",
            "properties": {"list": {"type": "array", "items": [{"type": "integer", "minimum": 3, "maximum": 1}]}}
        }));
        assert_eq!(
            nested.param(),
            "tools[0].function.parameters.properties.list.items[0].minimum"
        );
        let odd_key = refusal(json!({"properties": {"a.b c": {"minItems": -3}}}));
        assert_eq!(
            odd_key.param(),
            r#"tools[0].function.parameters.properties["a.b c"].minItems"#
        );
    }

    #[test]
    fn keyword_names_as_property_names_are_not_keywords() {
        let schema = json!({
            "type": "object",
            "properties": {"minLength": {"type": "string"}, "maximum": {"type": "integer"}},
            "dependentRequired": {"minItems": ["maximum"]},
            "required": ["minLength"]
        });
        assert!(compile(
            &spec(vec![tool("t", schema)], ToolCallMode::Required, true),
            false
        )
        .is_ok());
    }

    #[test]
    fn node_counts_add_up_over_tools() {
        // Each tool alone is fine; together they are over the budget.
        let props: Map<String, Value> = (0..MAX_NODES / 2)
            .map(|i| (format!("p{i}"), json!(true)))
            .collect();
        let schema = json!({"type": "object", "properties": props});
        let tools: Vec<ToolSchema> = (0..2)
            .map(|i| tool(&format!("t{i}"), schema.clone()))
            .collect();
        let err = compile(&spec(tools, ToolCallMode::Required, true), false).unwrap_err();
        assert!(
            matches!(&err, ToolGrammarError::TooManyNodes { tool, .. } if tool == "t1"),
            "{err}"
        );
    }

    #[test]
    fn recursive_refs_are_refused() {
        let self_ref = json!({
            "type": "object",
            "$defs": {"node": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}},
            "properties": {"tree": {"$ref": "#/$defs/node"}}
        });
        assert!(matches!(
            refusal(self_ref),
            ToolGrammarError::RefCycle { .. }
        ));
        let to_root = json!({"type": "object", "properties": {"again": {"$ref": "#"}}});
        assert!(matches!(
            refusal(to_root),
            ToolGrammarError::RefCycle { .. }
        ));
        let mutual = json!({
            "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}},
            "type": "object",
            "properties": {"x": {"$ref": "#/$defs/a"}}
        });
        assert!(matches!(refusal(mutual), ToolGrammarError::RefCycle { .. }));
    }

    #[test]
    fn refs_inside_data_are_not_followed() {
        let schema = json!({
            "type": "object",
            "properties": {"x": {"const": {"$ref": "#/nowhere", "minLength": 100000}}}
        });
        let mut budget = Budget::default();
        assert!(bounded(&tool("t", schema), 0, &mut budget).is_ok());
    }

    #[test]
    fn a_ref_chain_longer_than_the_limit_is_refused() {
        let mut defs = Map::new();
        for i in 0..40 {
            defs.insert(
                format!("d{i}"),
                json!({"$ref": format!("#/$defs/d{}", i + 1)}),
            );
        }
        defs.insert("d40".into(), json!({"type": "string"}));
        let schema =
            json!({"type": "object", "$defs": defs, "properties": {"x": {"$ref": "#/$defs/d0"}}});
        assert!(matches!(
            refusal(schema),
            ToolGrammarError::RefChainTooLong { .. }
        ));
    }
}
