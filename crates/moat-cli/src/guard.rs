//! `moat guard scan`: prints the personal data found in a file or standard
//! input, so operators can try their data against the guard.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use moat_guard::Scanner;
use serde::Serialize;

use crate::output::say;

/// `moat guard ...`
#[derive(Debug, Args)]
pub struct GuardArgs {
    #[command(subcommand)]
    command: GuardCommand,
}

#[derive(Debug, Subcommand)]
enum GuardCommand {
    /// Print the personal data found in a file (or standard input), one
    /// finding a line: kind, byte range, masked value.
    Scan(ScanArgs),
}

#[derive(Debug, Args)]
struct ScanArgs {
    /// The UTF-8 file to scan; `-` or nothing reads standard input.
    file: Option<PathBuf>,
    /// Print one JSON array of {kind, start, end, text, masked}, with byte
    /// offsets into the input.
    #[arg(long)]
    json: bool,
}

/// One finding as `--json` prints it.
#[derive(Serialize)]
struct Row<'a> {
    kind: &'a str,
    start: usize,
    end: usize,
    text: &'a str,
    masked: String,
}

/// `moat guard`.
pub fn run(args: GuardArgs) -> anyhow::Result<()> {
    match args.command {
        GuardCommand::Scan(scan_args) => scan(&scan_args),
    }
}

fn scan(args: &ScanArgs) -> anyhow::Result<()> {
    let input = read_input(args.file.as_deref())?;
    let findings = Scanner::new().scan(&input);
    if args.json {
        let rows: Vec<Row<'_>> = findings
            .iter()
            .map(|f| Row {
                kind: f.kind.name(),
                start: f.start,
                end: f.end,
                text: f.text(&input).unwrap_or_default(),
                masked: f.masked(),
            })
            .collect();
        say(&serde_json::to_string(&rows)?);
    } else {
        for f in &findings {
            say(&format!(
                "{}  {}..{}  {}",
                f.kind,
                f.start,
                f.end,
                f.masked()
            ));
        }
    }
    Ok(())
}

fn read_input(file: Option<&Path>) -> anyhow::Result<String> {
    let bytes = match file {
        Some(path) if path != Path::new("-") => {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
        }
        _ => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("cannot read standard input")?;
            bytes
        }
    };
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "the input is not UTF-8 (at byte {})",
            e.utf8_error().valid_up_to()
        )
    })
}
