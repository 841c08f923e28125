//! Grammar-constrained tool calls through the engine with the real default
//! model (SmolLM2-135M, which never calls tools by itself): forced calls
//! validate against their schemas, a named tool is the only one called,
//! one call without parallel calls, an untriggered lazy grammar changes
//! nothing, and hostile schemas are refused before queueing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::OnceLock;

use futures::StreamExt;
use moat_engine::catalog::ModelFile;
use moat_engine::grammar::{ToolCallGrammar, ToolCallMode, ToolGrammarError, ToolSchema};
use moat_engine::sampling::SamplingParams;
use moat_engine::{Engine, EngineConfig, EngineError, GenerateRequest, PromptInput};
use moat_protocol::toolcall::{ToolCallParser, ToolCallPiece};
use moat_protocol::{FinishReason, GenerationEvent};
use serde_json::{json, Value};

/// The engine the tests share (they run at the same time, in one batch).
fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| load(4))
}

/// A model of its own: logits depend on what else is in the batch, so
/// comparing texts needs an engine nothing else uses.
fn load(parallel: u32) -> Engine {
    {
        let path = std::env::var_os("MOAT_TEST_MODEL").map_or_else(
            || {
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf")
            },
            PathBuf::from,
        );
        assert!(
            path.exists(),
            "test model {} is missing: run scripts/fetch-model.sh",
            path.display()
        );
        let file = ModelFile::open(path.canonicalize().unwrap(), None).unwrap();
        Engine::load(
            &file,
            &EngineConfig {
                parallel,
                queue_size: 16,
                ctx_size: Some(4096),
                threads: Some(2),
                batch_size: 256,
            },
        )
        .unwrap()
    }
}

fn weather() -> ToolSchema {
    ToolSchema {
        name: "get_weather".into(),
        parameters: Some(json!({
            "type": "object",
            "properties": {
                "city": {"type": "string", "maxLength": 40},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}
            },
            "required": ["city"],
            "additionalProperties": false
        })),
    }
}

fn email() -> ToolSchema {
    ToolSchema {
        name: "send_email".into(),
        parameters: Some(json!({
            "type": "object",
            "properties": {
                "to": {"type": "string", "maxLength": 60},
                "subject": {"type": "string", "maxLength": 60},
                "body": {"type": "string", "maxLength": 200}
            },
            "required": ["to", "subject", "body"],
            "additionalProperties": false
        })),
    }
}

fn openai_tools(tools: &[ToolSchema]) -> Vec<Value> {
    tools
        .iter()
        .map(|t| json!({"type": "function", "function": {"name": t.name, "parameters": t.parameters}}))
        .collect()
}

fn request(
    user: &str,
    tools: &[ToolSchema],
    grammar: Option<ToolCallGrammar>,
    sampling: SamplingParams,
) -> GenerateRequest {
    GenerateRequest {
        prompt: PromptInput::Chat {
            messages: vec![
                json!({"role": "system", "content": "You are a helpful assistant."}),
                json!({"role": "user", "content": user}),
            ],
            tools: (!tools.is_empty()).then(|| openai_tools(tools)),
            template_kwargs: None,
        },
        sampling,
        max_tokens: Some(300),
        budget: None,
        stop: vec![],
        tool_grammar: grammar,
    }
}

fn greedy() -> SamplingParams {
    SamplingParams {
        temperature: 0.0,
        ..SamplingParams::default()
    }
}

fn seeded(seed: u32) -> SamplingParams {
    SamplingParams {
        temperature: 0.7,
        seed,
        ..SamplingParams::default()
    }
}

fn grammar(tools: &[ToolSchema], mode: ToolCallMode, parallel: bool) -> ToolCallGrammar {
    ToolCallGrammar {
        tools: tools.to_vec(),
        mode,
        parallel,
    }
}

async fn generate(request: GenerateRequest) -> (String, FinishReason) {
    generate_with(engine(), request).await
}

async fn generate_with(engine: &Engine, request: GenerateRequest) -> (String, FinishReason) {
    let mut rx = engine.generate(request).unwrap();
    let mut text = String::new();
    while let Some(event) = rx.next().await {
        match event.unwrap() {
            GenerationEvent::Delta { content, .. } => text.push_str(&content),
            GenerationEvent::Finish { reason, .. } => return (text, reason),
            GenerationEvent::Annotations(_) => panic!("the engine cites nothing"),
            GenerationEvent::Tool(_) => panic!("the engine runs no tools"),
        }
    }
    panic!("no finish event")
}

/// The calls in `text` as (name, arguments), and the text outside them.
fn calls(text: &str) -> (Vec<(String, Value)>, String) {
    let mut parser = ToolCallParser::new();
    let mut pieces = parser.push(text);
    pieces.extend(parser.finish());
    let mut calls = Vec::new();
    let mut rest = String::new();
    for piece in pieces {
        match piece {
            ToolCallPiece::Call {
                name, arguments, ..
            } => calls.push((name, serde_json::from_str(&arguments).unwrap())),
            ToolCallPiece::Content(c) => rest.push_str(&c),
        }
    }
    (calls, rest)
}

fn assert_valid(tools: &[ToolSchema], name: &str, arguments: &Value) {
    let tool = tools
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("call of an unknown tool {name}"));
    let validator = jsonschema::validator_for(tool.parameters.as_ref().unwrap()).unwrap();
    assert!(
        validator.is_valid(arguments),
        "{name}({arguments}) is not valid against its schema"
    );
}

/// Generate `user`'s answer under a `required` grammar allowing one call,
/// and check it is exactly that call, valid against its schema, ending the
/// generation, with no text around it.
async fn assert_one_valid_call(user: &str, tools: &[ToolSchema], seed: u32) {
    let (text, reason) = generate(request(
        user,
        tools,
        Some(grammar(tools, ToolCallMode::Required, false)),
        seeded(seed),
    ))
    .await;
    assert_eq!(reason, FinishReason::Stop, "seed {seed}: {text}");
    let (calls, rest) = calls(&text);
    assert_eq!(calls.len(), 1, "seed {seed}: {text:?}");
    assert_eq!(rest.trim(), "", "text outside the calls: {text:?}");
    assert_valid(tools, &calls[0].0, &calls[0].1);
}

#[tokio::test(flavor = "multi_thread")]
async fn required_calls_validate_against_their_schemas() {
    let tools = [weather(), email()];
    for (seed, user) in [
        (1, "What's the weather like in Lisbon?"),
        (2, "Email bob@example.com that the meeting moved to 3pm."),
        (3, "Tell me a joke."),
    ] {
        // Strings are bounded (`maxLength`), so the call ends in time.
        assert_one_valid_call(user, &tools, seed).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_named_tool_is_the_one_called() {
    let tools = [weather(), email()];
    let (text, _) = generate(request(
        "What's the weather like in Lisbon?",
        &tools,
        Some(grammar(
            &tools,
            ToolCallMode::Named("send_email".into()),
            true,
        )),
        greedy(),
    ))
    .await;
    let (calls, _) = calls(&text);
    assert!(!calls.is_empty(), "no call in {text:?}");
    for (name, arguments) in &calls {
        assert_eq!(name, "send_email");
        assert_valid(&tools, name, arguments);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_parallel_calls_there_is_exactly_one() {
    let tools = [weather(), email()];
    for seed in 10..13 {
        assert_one_valid_call("Weather in Oslo, Paris and Rome, please.", &tools, seed).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn parallel_calls_each_validate() {
    let tools = [weather(), email()];
    let (text, reason) = generate(request(
        "Weather in Oslo, Paris and Rome, please.",
        &tools,
        Some(grammar(&tools, ToolCallMode::Required, true)),
        seeded(1),
    ))
    .await;
    let (calls, rest) = calls(&text);
    assert!(!calls.is_empty(), "{text:?}");
    for (name, arguments) in &calls {
        assert_valid(&tools, name, arguments);
    }
    // Nothing but calls: at most a last one cut short by max_tokens.
    let rest = rest.trim();
    assert!(
        rest.is_empty() || (reason == FinishReason::Length && rest.starts_with("<tool_call>")),
        "{text:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untriggered_lazy_grammar_changes_nothing() {
    let engine = load(1);
    let tools = [weather(), email()];
    let user = "Write two sentences about the sea.";
    // A first run caches the prompt: the last prompt token's logits then
    // come from a one-token batch, which can change a greedy pick, so
    // both compared runs start from the cache.
    generate_with(&engine, request(user, &tools, None, greedy())).await;
    let (free, _) = generate_with(&engine, request(user, &tools, None, greedy())).await;
    let (lazy, _) = generate_with(
        &engine,
        request(
            user,
            &tools,
            Some(grammar(&tools, ToolCallMode::Auto, true)),
            greedy(),
        ),
    )
    .await;
    assert!(!free.contains("<tool_call>"), "{free}");
    assert_eq!(lazy, free);
    // The same with a seeded draw: the grammar consumes no randomness.
    let (free, _) = generate_with(&engine, request(user, &tools, None, seeded(7))).await;
    let (lazy, _) = generate_with(
        &engine,
        request(
            user,
            &tools,
            Some(grammar(&tools, ToolCallMode::Auto, true)),
            seeded(7),
        ),
    )
    .await;
    assert_eq!(lazy, free);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lazy_grammar_constrains_what_follows_its_trigger() {
    // A raw prompt that makes the model continue a list of call blocks;
    // the grammar starts at the `<tool_call>` it writes.
    let tools = [weather()];
    let block = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>\n";
    let prompt = format!("Calls:\n{block}{block}{block}");
    let (text, _) = generate(GenerateRequest {
        prompt: PromptInput::Text(prompt),
        sampling: seeded(3),
        max_tokens: Some(80),
        budget: None,
        stop: vec![],
        tool_grammar: Some(grammar(&tools, ToolCallMode::Auto, false)),
    })
    .await;
    let (calls, _) = calls(&text);
    assert_eq!(calls.len(), 1, "{text:?}");
    assert_valid(&tools, &calls[0].0, &calls[0].1);
    // One call, then only the end of generation is allowed.
    assert!(text.trim_end().ends_with("</tool_call>"), "{text:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_schemas_are_refused_before_queueing() {
    let hostile = ToolSchema {
        name: "evil".into(),
        parameters: Some(json!({
            "type": "object",
            "properties": {"x": {"type": "array", "minItems": 100000, "items": {"type": "string"}}}
        })),
    };
    let recursive = ToolSchema {
        name: "tree".into(),
        parameters: Some(json!({
            "type": "object",
            "$defs": {"node": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}},
            "properties": {"root": {"$ref": "#/$defs/node"}}
        })),
    };
    for (tool, expected) in [(hostile, "RepetitionTooLarge"), (recursive, "RefCycle")] {
        let tools = [tool];
        let err = engine()
            .generate(request(
                "hi",
                &tools,
                Some(grammar(&tools, ToolCallMode::Required, true)),
                greedy(),
            ))
            .err()
            .expect("refused");
        match err {
            EngineError::ToolGrammar(e) => {
                assert!(format!("{e:?}").starts_with(expected), "{e:?}");
                assert_eq!(e.param(), "tools");
            }
            other => panic!("{other:?}"),
        }
    }
    let unknown = engine()
        .generate(request(
            "hi",
            &[weather()],
            Some(grammar(
                &[weather()],
                ToolCallMode::Named("nope".into()),
                true,
            )),
            greedy(),
        ))
        .err()
        .expect("refused");
    assert!(matches!(
        unknown,
        EngineError::ToolGrammar(ToolGrammarError::UnknownTool(_))
    ));
    assert_eq!(
        engine()
            .stats()
            .waiting
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}

/// Patterns with open repetitions, negated classes, `\d` and no anchors:
/// the grammar bounds them and keeps `"` and `\` out, so every call ends
/// and validates (without the rewrite the address never ended).
#[tokio::test(flavor = "multi_thread")]
async fn patterned_strings_end_and_match_their_patterns() {
    let tools = [ToolSchema {
        name: "send_email".into(),
        parameters: Some(json!({
            "type": "object",
            "properties": {
                "to": {
                    "type": "string",
                    "pattern": "^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}$",
                    "maxLength": 100
                },
                "order": {"type": "string", "pattern": "^ORD-[0-9]{6}$"},
                "note": {"type": "string", "pattern": "^[^<>]*$", "maxLength": 80},
                "ref": {"type": "string", "pattern": "\\d{3}", "maxLength": 40}
            },
            "required": ["to", "order", "note", "ref"],
            "additionalProperties": false
        })),
    }];
    for seed in 1..=4 {
        assert_one_valid_call(
            "Email bob@example.com about order ORD-123456.",
            &tools,
            seed,
        )
        .await;
    }
}

/// A random parameter schema built to be hostile: contradictory and
/// out-of-range counts and bounds, nested repetitions in patterns, wide
/// enums and alternatives, local refs.
fn hostile_schema(rng: &mut impl rand::Rng, depth: u32) -> Value {
    let count = |rng: &mut dyn rand::RngCore| -> Value {
        match rand::Rng::random_range(rng, 0..10) {
            0 => json!(-1),
            1 => json!(2.5),
            2 => json!(1e300),
            3 => json!(u64::MAX),
            4 => json!("7"),
            5 => json!(300),
            _ => json!(rand::Rng::random_range(rng, 0..40)),
        }
    };
    let bound = |rng: &mut dyn rand::RngCore| -> Value {
        match rand::Rng::random_range(rng, 0..8) {
            0 => json!(i64::MIN),
            1 => json!(u64::MAX),
            2 => json!(-1e300),
            3 => json!(0.5),
            _ => json!(rand::Rng::random_range(rng, -50..50)),
        }
    };
    let kind = if depth == 0 {
        rng.random_range(0..3)
    } else {
        rng.random_range(0..6)
    };
    let mut schema = match kind {
        0 => {
            let mut s = json!({"type": "string"});
            if rng.random_bool(0.5) {
                s["minLength"] = count(rng);
            }
            if rng.random_bool(0.5) {
                s["maxLength"] = count(rng);
            }
            if rng.random_bool(0.3) {
                let atoms = ["a", "[a-z]", "\\d", ".", "(ab|c)", "[^\"]"];
                let mut p = String::from("^");
                for _ in 0..rng.random_range(1..4) {
                    p.push('(');
                }
                p.push_str(atoms[rng.random_range(0..atoms.len())]);
                for _ in 0..rng.random_range(1..4) {
                    let (lo, hi) = (rng.random_range(0..60), rng.random_range(0..60));
                    p.push_str(&format!("){{{lo},{hi}}}"));
                }
                p.push('$');
                s["pattern"] = json!(p);
            }
            s
        }
        1 => {
            let mut s = json!({"type": if rng.random_bool(0.5) { "integer" } else { "number" }});
            for key in ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"] {
                if rng.random_bool(0.4) {
                    s[key] = bound(rng);
                }
            }
            s
        }
        2 => {
            let values: Vec<String> = (0..rng.random_range(1..50))
                .map(|i| format!("v{i}-\"\\{}", "x".repeat(i)))
                .collect();
            json!({"enum": values})
        }
        3 => {
            let mut s = json!({"type": "array", "items": hostile_schema(rng, depth - 1)});
            if rng.random_bool(0.5) {
                s["minItems"] = count(rng);
            }
            if rng.random_bool(0.5) {
                s["maxItems"] = count(rng);
            }
            s
        }
        4 => {
            let alternatives: Vec<Value> = (0..rng.random_range(1..5))
                .map(|_| hostile_schema(rng, depth - 1))
                .collect();
            json!({"anyOf": alternatives})
        }
        _ => {
            let properties: serde_json::Map<String, Value> = (0..rng.random_range(0..6))
                .map(|i| (format!("p{i}"), hostile_schema(rng, depth - 1)))
                .collect();
            let mut s = json!({"type": "object", "properties": properties});
            if rng.random_bool(0.3) {
                s["minProperties"] = count(rng);
                s["maxProperties"] = count(rng);
            }
            if rng.random_bool(0.2) {
                s["$defs"] = json!({"d": hostile_schema(rng, 0)});
                s["properties"]["r"] = json!({"$ref": "#/$defs/d"});
            }
            s
        }
    };
    if rng.random_bool(0.05) {
        schema["type"] = json!(["integer", "string", "null"]);
    }
    schema
}

/// Many random hostile schemas through the whole path (bounds, the
/// schema converter, the dry run and llama.cpp's own grammar parser):
/// each is accepted or refused cleanly, quickly, and without runaway
/// memory. A watchdog aborts the test run if one case hangs (a runaway
/// allocation would otherwise eat the machine).
#[test]
fn random_hostile_schemas_compile_or_are_refused_within_bounds() {
    use rand::SeedableRng;
    let engine = engine();
    let (done, watch) = std::sync::mpsc::channel::<usize>();
    std::thread::spawn(move || loop {
        match watch.recv_timeout(std::time::Duration::from_secs(10)) {
            Ok(_) => continue,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                eprintln!("a schema took over 10 s: aborting");
                std::process::abort();
            }
        }
    });
    let rss = || {
        std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
            .map_or(0, |pages| pages * 4096)
    };
    let before = rss();
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    let (mut accepted, mut refused) = (0, 0);
    let mut slowest = std::time::Duration::ZERO;
    for i in 0..400 {
        let schema = json!({"type": "object", "properties": {"a": hostile_schema(&mut rng, 3)}});
        let tools = [ToolSchema {
            name: "t".into(),
            parameters: Some(schema.clone()),
        }];
        let mode = if i % 2 == 0 {
            ToolCallMode::Required
        } else {
            ToolCallMode::Auto
        };
        let started = std::time::Instant::now();
        match engine.check_tool_grammar(&grammar(&tools, mode, i % 3 == 0)) {
            Ok(()) => accepted += 1,
            Err(EngineError::ToolGrammar(e)) => {
                refused += 1;
                assert!(!e.to_string().is_empty());
                // llama.cpp never refuses what the checks let through.
                assert!(
                    !matches!(e, ToolGrammarError::Rejected { .. }),
                    "{e}: {schema}"
                );
            }
            Err(other) => panic!("{other:?} for {schema}"),
        }
        slowest = slowest.max(started.elapsed());
        done.send(i).unwrap();
    }
    let grown = rss().saturating_sub(before);
    eprintln!("{accepted} accepted, {refused} refused, slowest {slowest:?}, RSS +{grown} bytes");
    assert!(accepted > 40 && refused > 40, "{accepted} / {refused}");
    assert!(slowest < std::time::Duration::from_secs(2), "{slowest:?}");
    assert!(grown < 512 << 20, "RSS grew by {grown} bytes");
}
