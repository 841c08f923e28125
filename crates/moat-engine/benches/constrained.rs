//! The cost of grammar-constrained tool calls on the default model
//! (SmolLM2-135M, 2 threads): generation speed with no grammar, with a lazy
//! grammar that never triggers (`tool_choice: "auto"`, the model answers in
//! text) and with a grammar from the first token (`"required"`), same
//! prompt, greedy. One iteration is one generated token, timed from the
//! first token to the last (the prompt is cached after the first run), so
//! criterion's throughput is tokens/s of decoding. Also: compiling the
//! grammar of four tools.
//!
//! `cargo bench -p moat-engine --bench constrained` (the model must be in
//! `models/`: `scripts/fetch-model.sh`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures::StreamExt;
use moat_engine::catalog::ModelFile;
use moat_engine::grammar::{self, ToolCallGrammar, ToolCallMode, ToolSchema};
use moat_engine::sampling::SamplingParams;
use moat_engine::{Engine, EngineConfig, GenerateRequest, PromptInput};
use moat_protocol::GenerationEvent;
use serde_json::{json, Value};

const MAX_TOKENS: u32 = 64;

fn tools() -> Vec<ToolSchema> {
    let object = |properties: Value, required: Value| {
        Some(json!({"type": "object", "properties": properties, "required": required}))
    };
    vec![
        ToolSchema {
            name: "get_order_status".into(),
            parameters: object(
                json!({"order_id": {"type": "string", "pattern": "^[A-Z0-9-]{4,20}$"}}),
                json!(["order_id"]),
            ),
        },
        ToolSchema {
            name: "get_weather".into(),
            parameters: object(json!({"city": {"type": "string"}}), json!(["city"])),
        },
        ToolSchema {
            name: "get_sales_data".into(),
            parameters: object(
                json!({"date": {"type": "string", "format": "date"}}),
                json!(["date"]),
            ),
        },
        ToolSchema {
            name: "send_email".into(),
            parameters: object(
                json!({
                    "to": {"type": "string", "format": "email"},
                    "subject": {"type": "string", "maxLength": 120},
                    "body": {"type": "string"}
                }),
                json!(["to", "subject", "body"]),
            ),
        },
    ]
}

fn request(mode: Option<ToolCallMode>) -> GenerateRequest {
    let tools = tools();
    let rendered: Vec<Value> = tools
        .iter()
        .map(|t| json!({"type": "function", "function": {"name": t.name, "parameters": t.parameters}}))
        .collect();
    GenerateRequest {
        prompt: PromptInput::Chat {
            messages: vec![
                json!({"role": "user", "content": "Write two sentences about the sea, then check the weather in Oslo."}),
            ],
            tools: Some(rendered),
            template_kwargs: None,
        },
        sampling: SamplingParams {
            temperature: 0.0,
            ..SamplingParams::default()
        },
        max_tokens: Some(MAX_TOKENS),
        budget: None,
        stop: vec![],
        tool_grammar: mode.map(|mode| ToolCallGrammar {
            tools,
            mode,
            parallel: true,
        }),
    }
}

/// One generation: tokens after the first, and the time they took.
fn run(engine: &Engine, mode: Option<ToolCallMode>) -> (u64, Duration) {
    futures::executor::block_on(async {
        let mut rx = engine.generate(request(mode)).unwrap();
        let mut first = None;
        while let Some(event) = rx.next().await {
            match event.unwrap() {
                GenerationEvent::Delta { .. } => {
                    first.get_or_insert_with(Instant::now);
                }
                GenerationEvent::Finish { usage, .. } => {
                    let elapsed = first.map_or(Duration::ZERO, |t| t.elapsed());
                    return (
                        u64::from(usage.completion_tokens.saturating_sub(1)),
                        elapsed,
                    );
                }
                GenerationEvent::Annotations(_) | GenerationEvent::Tool(_) => {}
            }
        }
        (0, Duration::ZERO)
    })
}

fn constrained(c: &mut Criterion) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf");
    if !path.exists() {
        eprintln!("{} is missing: run scripts/fetch-model.sh", path.display());
        return;
    }
    let file = ModelFile::open(path.canonicalize().unwrap(), None).unwrap();
    let engine = Engine::load(
        &file,
        &EngineConfig {
            parallel: 1,
            threads: Some(2),
            ctx_size: Some(2048),
            ..EngineConfig::default()
        },
    )
    .unwrap();

    let mut group = c.benchmark_group("constrained tool calls");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(3))
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(1));
    for (label, mode) in [
        ("decode, no grammar", None),
        (
            "decode, lazy grammar never triggered",
            Some(ToolCallMode::Auto),
        ),
        ("decode, required grammar", Some(ToolCallMode::Required)),
    ] {
        group.bench_function(label, |b| {
            b.iter_custom(|iters| {
                let (mut tokens, mut elapsed) = (0, Duration::ZERO);
                while tokens < iters {
                    let (n, t) = run(&engine, mode.clone());
                    assert!(n > 0, "{label}: nothing generated");
                    tokens += n;
                    elapsed += t;
                }
                elapsed.mul_f64(iters as f64 / tokens as f64)
            })
        });
    }
    group.finish();

    let spec = ToolCallGrammar {
        tools: tools(),
        mode: ToolCallMode::Required,
        parallel: true,
    };
    c.bench_function("compile the grammar of four tools", |b| {
        b.iter(|| grammar::compile(std::hint::black_box(&spec), false).unwrap())
    });
}

criterion_group!(benches, constrained);
criterion_main!(benches);
