//! Keyword-index quality on the labelled set of `benches/kb`, with no
//! server: every document extracted and chunked as ingest does (default
//! chunking, the estimated token count), indexed in memory, every question
//! searched, and recall@5 / MRR@10 over distinct files printed per language
//! and question type, as `benches/kb/quality.py --mode keyword` counts them.
//!
//! ```text
//! cargo run --release -p moat-kb --example keyword_quality -- /tmp/kb-corpus \
//!     [--misses] [--dump FILE]
//! ```
//!
//! - `--misses` prints each question whose file is not in the first five,
//!   with the files ranked above it.
//! - `--dump FILE` writes, per question, every ranked chunk (file, chunk
//!   number, score as the index ranks it, with its file's whole-document
//!   evidence), one JSON line each, and next to it `FILE.chunks.json`:
//!   each chunk's file and the text ingest would embed (title › headings,
//!   then text), for fusion experiments outside the server
//!   (`benches/kb/fusion_offline.py`).

#![allow(clippy::print_stdout)] // A report printed for a person.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use moat_kb::{
    chunk, embedding_text, estimate_tokens, extract, AllowedFiles, ChunkKey, ChunkSettings,
    ExtractLimits, FileNo, KeywordEntry, KeywordIndex,
};
use serde_json::{json, Value};

const RECALL_AT: usize = 5;
const MRR_AT: usize = 10;
/// Chunks asked for per question: enough for ten distinct files.
const CHUNKS: usize = 200;
const USAGE: &str = "usage: keyword_quality CORPUS [--misses] [--dump FILE]";

type Error = Box<dyn std::error::Error>;

#[derive(Default)]
struct Tally {
    n: usize,
    found: usize,
    reciprocal: f64,
}

impl Tally {
    fn add(&mut self, rank: Option<usize>) {
        self.n += 1;
        if let Some(rank) = rank {
            if rank <= RECALL_AT {
                self.found += 1;
            }
            self.reciprocal += 1.0 / rank as f64;
        }
    }

    fn line(&self, group: &str) -> String {
        let n = self.n.max(1) as f64;
        format!(
            "| {group} | {} | {:.3} | {:.3} |",
            self.n,
            self.found as f64 / n,
            self.reciprocal / n
        )
    }
}

struct Options {
    corpus: PathBuf,
    misses: bool,
    dump: Option<PathBuf>,
}

fn options() -> Result<Options, Error> {
    let mut args = std::env::args().skip(1);
    let mut options = Options {
        corpus: PathBuf::from(args.next().ok_or(USAGE)?),
        misses: false,
        dump: None,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--misses" => options.misses = true,
            "--dump" => options.dump = Some(args.next().ok_or(USAGE)?.into()),
            _ => return Err(USAGE.into()),
        }
    }
    Ok(options)
}

/// The corpus indexed, and what names what.
struct Indexed {
    chunks: KeywordIndex,
    names: Vec<String>,
    /// Each chunk key's file number.
    chunk_files: Vec<u32>,
    /// Each chunk key's embedding text.
    embedding_texts: Vec<String>,
}

impl Indexed {
    fn name(&self, key: ChunkKey) -> &str {
        let file = self.chunk_files.get(key.0 as usize).copied().unwrap_or(0);
        self.names
            .get(file as usize)
            .map(String::as_str)
            .unwrap_or_default()
    }
}

fn main() -> Result<(), Error> {
    let options = options()?;
    let indexed = build(&options.corpus)?;
    let mut dump = match &options.dump {
        Some(path) => {
            let rows: Vec<Value> = indexed
                .embedding_texts
                .iter()
                .enumerate()
                .map(|(i, text)| json!({"file": indexed.name(ChunkKey(i as u64)), "embed": text}))
                .collect();
            std::fs::write(
                path.with_extension("chunks.json"),
                serde_json::to_string(&rows)?,
            )?;
            Some(std::fs::File::create(path)?)
        }
        None => None,
    };
    let questions = std::fs::read_to_string(options.corpus.join("questions.jsonl"))?;
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for line in questions.lines().filter(|l| !l.trim().is_empty()) {
        let q: Value = serde_json::from_str(line)?;
        let text = q["question"].as_str().unwrap_or_default();
        let relevant: Vec<&str> = q["relevant"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let hits = indexed.chunks.search(text, CHUNKS, &AllowedFiles::all())?;
        if let Some(out) = dump.as_mut() {
            let row = json!({
                "id": q["id"],
                "chunks": hits.iter().map(|(k, s)| json!([indexed.name(*k), k.0, s])).collect::<Vec<_>>(),
            });
            writeln!(out, "{row}")?;
        }
        let mut ranked: Vec<&str> = Vec::new();
        for (key, _) in &hits {
            let name = indexed.name(*key);
            if !ranked.contains(&name) {
                ranked.push(name);
            }
        }
        let rank = ranked
            .iter()
            .take(MRR_AT)
            .position(|name| relevant.contains(name))
            .map(|i| i + 1);
        let lang = q["lang"].as_str().unwrap_or_default();
        let kind = q["type"].as_str().unwrap_or_default();
        for group in ["all".to_owned(), lang.to_owned(), format!("{lang}/{kind}")] {
            tallies.entry(group).or_default().add(rank);
        }
        if options.misses && rank.is_none_or(|r| r > RECALL_AT) {
            println!(
                "{} {lang}/{kind} rank {rank:?}: {text}\n  want {relevant:?}\n  got  {:?}",
                q["id"].as_str().unwrap_or_default(),
                &ranked[..ranked.len().min(RECALL_AT)]
            );
        }
    }
    println!("| group | n | recall@5 | MRR@10 |\n|---|---|---|---|");
    for (group, tally) in &tallies {
        println!("{}", tally.line(group));
    }
    Ok(())
}

/// Every document of `corpus/docs` indexed.
fn build(corpus: &Path) -> Result<Indexed, Error> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(corpus.join("docs"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    paths.sort();
    let mut indexed = Indexed {
        chunks: KeywordIndex::in_memory()?,
        names: Vec::new(),
        chunk_files: Vec::new(),
        embedding_texts: Vec::new(),
    };
    let limits = ExtractLimits::default();
    let settings = ChunkSettings::default();
    for path in paths {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or("odd file name")?
            .to_owned();
        let document = extract(&name, &std::fs::read(&path)?, &limits)?;
        let chunks = chunk(&document, &settings, &estimate_tokens);
        let file = FileNo(u32::try_from(indexed.names.len())?);
        let mut entries = Vec::with_capacity(chunks.len());
        for c in &chunks {
            let key = ChunkKey(indexed.chunk_files.len() as u64);
            indexed.chunk_files.push(file.0);
            indexed
                .embedding_texts
                .push(embedding_text(&c.title, &c.headings, &c.text));
            entries.push(KeywordEntry::from_chunk(key, file, c));
        }
        indexed.chunks.add(&entries)?;
        indexed.names.push(name);
    }
    indexed.chunks.commit()?;
    Ok(indexed)
}
