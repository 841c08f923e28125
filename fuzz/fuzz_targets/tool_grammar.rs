//! Fuzz target for the schema → grammar path: any JSON as a tool's
//! parameter schema either compiles to a grammar that passed every bound
//! (and that the dry run of llama.cpp's parser accepted) or is refused with
//! an error; nothing panics, hangs or allocates without bound.
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run tool_grammar` (from the repository root).

#![no_main]

use libfuzzer_sys::fuzz_target;
use moat_engine::grammar::{self, ToolCallGrammar, ToolCallMode, ToolSchema, MAX_GRAMMAR_BYTES};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the mode and parallel calls; the rest is JSON.
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Ok(parameters) = serde_json::from_slice::<serde_json::Value>(rest) else {
        return;
    };
    let mode = match flags % 3 {
        0 => ToolCallMode::Auto,
        1 => ToolCallMode::Required,
        _ => ToolCallMode::Named("t".into()),
    };
    let spec = ToolCallGrammar {
        tools: vec![ToolSchema {
            name: "t".into(),
            parameters: Some(parameters),
        }],
        mode,
        parallel: flags & 4 != 0,
    };
    if let Ok(compiled) = grammar::compile(&spec, flags & 8 != 0) {
        assert!(compiled.gbnf.len() <= MAX_GRAMMAR_BYTES);
        assert!(compiled.gbnf.starts_with("root ::= "));
    }
});
