//! `moat kb create|list|ingest|search|rm`: knowledge bases on a running
//! server, through its own API (the server holds the indexes and the
//! embedding model, and checks the key's roles as for any client).
//!
//! `ingest` uploads what changed only: each file is attached with its path
//! and content hash as attributes; a file whose path is in the store with
//! the same hash is skipped, one with another hash is replaced (the old
//! version is removed once the new one is indexed), and a file whose
//! content is in the store already under another path is skipped as a
//! duplicate. It ends with a summary of what it did.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use moat_protocol::page::ListPage;
use moat_protocol::vector_stores::{
    SearchResultsPage, VectorStore, VectorStoreFile, VectorStoreFileStatus,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::output::{human_size, say};

#[derive(Debug, Args)]
pub struct KbArgs {
    /// The server's address.
    #[arg(
        long,
        env = "MOAT_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// An API key whose roles may create and read knowledge bases.
    #[arg(long, env = "MOAT_API_KEY", hide_env_values = true, global = true)]
    pub api_key: Option<String>,
    #[command(subcommand)]
    pub command: KbCommand,
}

#[derive(Debug, Subcommand)]
pub enum KbCommand {
    /// Create a knowledge base and print its id.
    Create { name: String },
    /// List the knowledge bases the key may read.
    List,
    /// Add files and folders; unchanged files are skipped, changed ones
    /// replaced.
    Ingest {
        /// The knowledge base (name or id).
        name: String,
        /// Files, or folders with `--recursive`.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Walk folders (hidden entries and symbolic links are left out).
        #[arg(short, long)]
        recursive: bool,
    },
    /// Search a knowledge base and print the best passages.
    Search {
        name: String,
        query: String,
        /// How many passages.
        #[arg(long, default_value_t = 5)]
        limit: u32,
        /// hybrid, keyword or vector.
        #[arg(long, default_value = "hybrid")]
        mode: String,
    },
    /// Delete a knowledge base and the files ingested into it.
    Rm { name: String },
}

/// The attribute holding a file's path.
const PATH: &str = "path";
/// The longest path kept, in characters (attribute values hold 512).
const MAX_PATH_CHARS: usize = 500;
/// How often ingest asks after the files being indexed.
const POLL: Duration = Duration::from_millis(250);

pub fn run(args: KbArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let api = Api::new(&args.url, args.api_key.as_deref())?;
        match args.command {
            KbCommand::Create { name } => {
                let store: VectorStore = api
                    .post("/v1/vector_stores", &json!({ "name": name }))
                    .await?;
                say(&store.id);
            }
            KbCommand::List => list(&api).await?,
            KbCommand::Ingest {
                name,
                paths,
                recursive,
            } => ingest(&api, &name, &paths, recursive).await?,
            KbCommand::Search {
                name,
                query,
                limit,
                mode,
            } => search(&api, &name, &query, limit, &mode).await?,
            KbCommand::Rm { name } => remove(&api, &name).await?,
        }
        Ok(())
    })
}

/// The server's API, with the key.
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn new(url: &str, key: Option<&str>) -> anyhow::Result<Self> {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(key) = key {
            let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {key}"))
                .context("the API key is not a valid header value")?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(Duration::from_secs(300))
            .build()?;
        Ok(Self {
            base: url.trim_end_matches('/').to_owned(),
            http,
        })
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<T> {
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach the server at {}", self.base))?;
        let status = response.status();
        let body = response.bytes().await?;
        if !status.is_success() {
            let message = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            bail!("the server answered {}: {message}", status.as_u16());
        }
        serde_json::from_slice(&body).context("the server's answer is not what moat sends")
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &Value,
    ) -> anyhow::Result<T> {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body))
            .await
    }

    async fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.delete(format!("{}{path}", self.base)))
            .await
    }

    /// Every item of a listing, page by page.
    async fn all<T>(&self, path: &str, id: impl Fn(&T) -> String) -> anyhow::Result<Vec<T>>
    where
        T: serde::de::DeserializeOwned,
    {
        let mut items = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let cursor = after
                .as_ref()
                .map_or(String::new(), |a| format!("&after={a}"));
            let page: ListPage<T> = self
                .get(&format!("{path}?limit=100&order=asc{cursor}"))
                .await?;
            let more = page.has_more;
            after = page.data.last().map(&id);
            items.extend(page.data);
            if !more || after.is_none() {
                return Ok(items);
            }
        }
    }

    async fn upload(&self, name: &str, bytes: Vec<u8>) -> anyhow::Result<String> {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned());
        let form = reqwest::multipart::Form::new()
            .text("purpose", "assistants")
            .part("file", part);
        let file: Value = self
            .send(
                self.http
                    .post(format!("{}/v1/files", self.base))
                    .multipart(form),
            )
            .await?;
        file["id"]
            .as_str()
            .map(str::to_owned)
            .context("the server's file has no id")
    }
}

/// The knowledge base `name` names (its id or its name).
async fn resolve(api: &Api, name: &str) -> anyhow::Result<VectorStore> {
    let stores: Vec<VectorStore> = api
        .all("/v1/vector_stores", |s: &VectorStore| s.id.clone())
        .await?;
    let mut named = stores
        .into_iter()
        .filter(|s| s.id == name || s.name == name);
    match (named.next(), named.next()) {
        (Some(one), None) => Ok(one),
        (Some(_), Some(_)) => bail!("several knowledge bases are named `{name}`; use its id"),
        (None, _) => bail!("no knowledge base `{name}`; create it with `moat kb create {name}`"),
    }
}

async fn list(api: &Api) -> anyhow::Result<()> {
    let stores: Vec<VectorStore> = api
        .all("/v1/vector_stores", |s: &VectorStore| s.id.clone())
        .await?;
    if stores.is_empty() {
        say("no knowledge bases");
        return Ok(());
    }
    say(&format!(
        "{:<30} {:<24} {:>9} {:>10}",
        "ID", "NAME", "FILES", "SIZE"
    ));
    for s in stores {
        let counts = &s.file_counts;
        say(&format!(
            "{:<30} {:<24} {:>9} {:>10}",
            s.id,
            s.name,
            format!("{}/{}", counts.completed, counts.total),
            human_size(s.usage_bytes)
        ));
    }
    Ok(())
}

async fn search(api: &Api, name: &str, query: &str, limit: u32, mode: &str) -> anyhow::Result<()> {
    let store = resolve(api, name).await?;
    let body = json!({"query": query, "max_num_results": limit, "moat": {"mode": mode}});
    let page: SearchResultsPage = api
        .post(&format!("/v1/vector_stores/{}/search", store.id), &body)
        .await?;
    if page.data.is_empty() {
        say("nothing found");
    }
    for (i, result) in page.data.iter().enumerate() {
        let line: String = result
            .text()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let cut: String = line.chars().take(200).collect();
        say(&format!(
            "{}. {:.4}  {}  {}",
            i + 1,
            result.score,
            result.filename,
            cut
        ));
    }
    Ok(())
}

async fn remove(api: &Api, name: &str) -> anyhow::Result<()> {
    let store = resolve(api, name).await?;
    let files = store_files(api, &store.id).await?;
    api.delete(&format!("/v1/vector_stores/{}", store.id))
        .await?;
    for file in &files {
        api.delete(&format!("/v1/files/{}", file.id)).await?;
    }
    say(&format!(
        "deleted {} ({}) and its {} files",
        store.name,
        store.id,
        files.len()
    ));
    Ok(())
}

async fn store_files(api: &Api, id: &str) -> anyhow::Result<Vec<VectorStoreFile>> {
    api.all(
        &format!("/v1/vector_stores/{id}/files"),
        |f: &VectorStoreFile| f.id.clone(),
    )
    .await
}

/// A file to ingest.
#[derive(Debug)]
struct Local {
    path: PathBuf,
    /// The path as the store keeps it.
    key: String,
    size: u64,
}

/// What one ingest did, file by file.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    added: usize,
    replaced: usize,
    unchanged: usize,
    duplicates: usize,
    failed: usize,
    unsupported: usize,
    chunks: u64,
    bytes: u64,
}

/// A file uploaded and being indexed.
struct Pending {
    file_id: String,
    key: String,
    size: u64,
    /// The version it replaces, removed once it is indexed.
    replaces: Option<String>,
}

async fn ingest(api: &Api, name: &str, paths: &[PathBuf], recursive: bool) -> anyhow::Result<()> {
    let store = resolve(api, name).await?;
    let mut tally = Tally::default();
    let locals = collect(paths, recursive, &mut tally)?;

    // What the store holds: path → (file id, hash), and hash → path.
    let mut by_path: HashMap<String, (String, Option<String>)> = HashMap::new();
    let mut by_hash: HashMap<String, String> = HashMap::new();
    for file in store_files(api, &store.id).await? {
        let path = file
            .attributes
            .get(PATH)
            .and_then(Value::as_str)
            .map(str::to_owned);
        let hash = file.moat.as_ref().map(|m| m.content_sha256.clone());
        if let (Some(path), Some(hash)) = (&path, &hash) {
            by_hash.entry(hash.clone()).or_insert_with(|| path.clone());
        }
        if let Some(path) = path {
            by_path.insert(path, (file.id, hash));
        }
    }

    let started = Instant::now();
    let total: u64 = locals.iter().map(|l| l.size).sum();
    let bar = progress(total);
    let mut pending = Vec::new();
    for local in &locals {
        let bytes = tokio::fs::read(&local.path)
            .await
            .with_context(|| format!("cannot read {}", local.path.display()))?;
        let hash = hex(&Sha256::digest(&bytes));
        let known = by_path.get(&local.key);
        if known.is_some_and(|(_, h)| h.as_deref() == Some(hash.as_str())) {
            tally.unchanged += 1;
            bar.inc(local.size);
            continue;
        }
        if let Some(other) = by_hash.get(&hash).filter(|p| **p != local.key) {
            tally.duplicates += 1;
            bar.println(format!(
                "duplicate: {} (same content as {other})",
                local.key
            ));
            bar.inc(local.size);
            continue;
        }
        by_hash.insert(hash.clone(), local.key.clone());
        let file_name = local
            .path
            .file_name()
            .map_or_else(|| local.key.clone(), |n| n.to_string_lossy().into_owned());
        let file_id = api.upload(&file_name, bytes).await?;
        let attach = json!({"file_id": file_id, "attributes": {PATH: local.key}});
        let _: VectorStoreFile = api
            .post(&format!("/v1/vector_stores/{}/files", store.id), &attach)
            .await?;
        pending.push(Pending {
            file_id,
            key: local.key.clone(),
            size: local.size,
            replaces: known.map(|(id, _)| id.clone()),
        });
    }

    let uploads = pending.len();
    let mut done = 0;
    while !pending.is_empty() {
        let mut still = Vec::with_capacity(pending.len());
        for p in pending {
            let file: VectorStoreFile = api
                .get(&format!(
                    "/v1/vector_stores/{}/files/{}",
                    store.id, p.file_id
                ))
                .await?;
            match file.status {
                VectorStoreFileStatus::InProgress => {
                    still.push(p);
                    continue;
                }
                VectorStoreFileStatus::Completed => {
                    tally.chunks += file.moat.map_or(0, |m| m.chunks);
                    tally.bytes += p.size;
                    if let Some(old) = &p.replaces {
                        api.delete(&format!("/v1/vector_stores/{}/files/{old}", store.id))
                            .await?;
                        api.delete(&format!("/v1/files/{old}")).await?;
                        tally.replaced += 1;
                    } else {
                        tally.added += 1;
                    }
                }
                _ => {
                    tally.failed += 1;
                    let why = file
                        .last_error
                        .map_or_else(|| "failed".to_owned(), |e| e.message);
                    bar.println(format!("failed: {}: {why}", p.key));
                    // A replacement that failed leaves the old version.
                    api.delete(&format!(
                        "/v1/vector_stores/{}/files/{}",
                        store.id, p.file_id
                    ))
                    .await?;
                    api.delete(&format!("/v1/files/{}", p.file_id)).await?;
                }
            }
            bar.inc(p.size);
            done += 1;
            let secs = started.elapsed().as_secs_f64().max(0.001);
            bar.set_message(format!(
                "{done}/{uploads} files · {} chunks ({:.0}/s)",
                tally.chunks,
                tally.chunks as f64 / secs
            ));
        }
        pending = still;
        if !pending.is_empty() {
            tokio::time::sleep(POLL).await;
        }
    }
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    say(&format!(
        "{} ({}): {} added, {} replaced, {} unchanged, {} duplicate, {} failed, {} unsupported; \
         {} and {} chunks indexed in {secs:.1} s ({:.0} chunks/s)",
        store.name,
        store.id,
        tally.added,
        tally.replaced,
        tally.unchanged,
        tally.duplicates,
        tally.failed,
        tally.unsupported,
        human_size(tally.bytes),
        tally.chunks,
        tally.chunks as f64 / secs.max(0.001),
    ));
    if tally.failed > 0 {
        bail!("{} files could not be ingested", tally.failed);
    }
    Ok(())
}

/// The progress bar on stderr (hidden when it is not a terminal): bytes
/// done of `total`, files and chunks so far, and the time left.
fn progress(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} · {msg} · ETA {eta}")
    {
        bar.set_style(style);
    }
    bar
}

/// The files under `paths` that moat can read, each once, in path order;
/// others are counted as unsupported.
fn collect(paths: &[PathBuf], recursive: bool, tally: &mut Tally) -> anyhow::Result<Vec<Local>> {
    let mut found = Vec::new();
    for path in paths {
        let meta =
            std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        if meta.is_dir() {
            if !recursive {
                bail!(
                    "{} is a folder; add --recursive to ingest what is in it",
                    path.display()
                );
            }
            walk(path, &mut found)?;
        } else {
            found.push(path.clone());
        }
    }
    let mut locals: Vec<Local> = Vec::new();
    for path in found {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !moat_kb::has_reader(&name) {
            tally.unsupported += 1;
            continue;
        }
        let canonical = std::fs::canonicalize(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let key = path_key(&canonical);
        if locals.iter().any(|l| l.key == key) {
            continue;
        }
        let size = std::fs::metadata(&canonical)?.len();
        locals.push(Local {
            path: canonical,
            key,
            size,
        });
    }
    locals.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(locals)
}

/// Every regular file under `dir`, hidden entries and links left out.
fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .collect::<Result<_, _>>()?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&entry.path(), found)?;
        } else if kind.is_file() {
            found.push(entry.path());
        }
    }
    Ok(())
}

/// The path as the store keeps it: the canonical path, its end when it is
/// longer than an attribute holds.
fn path_key(path: &Path) -> String {
    let text = path.to_string_lossy();
    let count = text.chars().count();
    text.chars()
        .skip(count.saturating_sub(MAX_PATH_CHARS))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_need_recursive_and_only_readable_files_are_taken() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("sub/.hidden")).unwrap();
        for name in [
            "a.md",
            "b.PDF",
            "sub/c.txt",
            "sub/d.exe",
            "sub/.hidden/e.md",
            ".f.md",
        ] {
            std::fs::write(root.join(name), name).unwrap();
        }
        let mut tally = Tally::default();
        let err = collect(&[root.to_path_buf()], false, &mut tally).unwrap_err();
        assert!(err.to_string().contains("--recursive"), "{err}");
        let locals = collect(&[root.to_path_buf(), root.join("a.md")], true, &mut tally).unwrap();
        let names: Vec<&str> = locals
            .iter()
            .map(|l| l.key.rsplit('/').next().unwrap())
            .collect();
        assert_eq!(names, ["a.md", "b.PDF", "c.txt"]);
        assert_eq!(tally.unsupported, 1);
        assert!(locals.iter().all(|l| l.path.is_absolute()));
    }

    #[test]
    fn long_paths_keep_their_end() {
        let long = PathBuf::from(format!("/{}/file.md", "x".repeat(600)));
        let key = path_key(&long);
        assert_eq!(key.chars().count(), MAX_PATH_CHARS);
        assert!(key.ends_with("/file.md"));
    }
}
