//! Which models a configuration serves: discovered and configured GGUF
//! files, and upstream servers. Shared by `moat models` and `moat serve`.

use std::path::PathBuf;

use moat_engine::catalog::{self, ModelFile};

use crate::config::{Config, ModelConfigResolved, Options};
use crate::output::{human_size, say};

/// A model to serve.
pub enum Planned {
    /// A GGUF file; `embeddings`: a chat model configured to answer
    /// `/v1/embeddings` too.
    Embedded {
        file: ModelFile,
        embeddings: bool,
    },
    Upstream(ModelConfigResolved),
}

/// Embedded model files: every `*.gguf` under the model directories, with
/// `[[models]]` entries overriding ids (and adding nothing outside them).
pub fn plan(config: &Config) -> anyhow::Result<Vec<Planned>> {
    let dirs = catalog::canonical_dirs(&config.models_dirs)?;
    let mut files: Vec<(PathBuf, Option<String>, bool)> = catalog::discover(&dirs)?
        .into_iter()
        .map(|p| (p, None, false))
        .collect();
    let mut upstream = Vec::new();
    for m in &config.models {
        match m {
            ModelConfigResolved::Embedded {
                id,
                path,
                embeddings,
            } => {
                let path = catalog::resolve_inside(path, &dirs)?;
                match files.iter_mut().find(|(p, _, _)| *p == path) {
                    Some(entry) => {
                        entry.1.clone_from(id);
                        entry.2 = *embeddings;
                    }
                    None => files.push((path, id.clone(), *embeddings)),
                }
            }
            ModelConfigResolved::Upstream { .. } => upstream.push(Planned::Upstream(m.clone())),
        }
    }
    let mut planned = files
        .into_iter()
        .map(|(path, id, embeddings)| {
            ModelFile::open(path, id).map(|file| Planned::Embedded { file, embeddings })
        })
        .collect::<Result<Vec<_>, _>>()?;
    planned.extend(upstream);
    Ok(planned)
}

/// One line describing a model.
pub fn describe(p: &Planned) -> String {
    match p {
        Planned::Embedded { file: f, .. } => format!(
            "{}  {}{}  {}  ctx {}  {}  {}",
            f.id,
            f.metadata.architecture(),
            match moat_engine::embedding::embedding_pooling(&f.metadata) {
                Some(pooling) if pooling.ranks() => " (reranker)".to_owned(),
                Some(pooling) => format!(" (embedding, {} pooling)", pooling.name()),
                None => String::new(),
            },
            f.metadata.quantization(),
            f.metadata
                .context_length()
                .map_or_else(|| "?".to_owned(), |c| c.to_string()),
            human_size(f.size),
            f.path.display()
        ),
        Planned::Upstream(ModelConfigResolved::Upstream { id, base_url, .. }) => {
            format!("{id}  upstream  {base_url}")
        }
        Planned::Upstream(_) => String::new(),
    }
}

/// `moat models`, with the options `moat serve` would have.
pub fn run(options: Options) -> anyhow::Result<()> {
    let config = Config::resolve(options)?;
    let planned = plan(&config)?;
    if planned.is_empty() {
        anyhow::bail!("{}", no_models_hint(&config));
    }
    for p in &planned {
        say(&describe(p));
    }
    Ok(())
}

pub fn no_models_hint(config: &Config) -> String {
    let dirs: Vec<String> = config
        .models_dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    format!(
        "no models found: put a .gguf file in {} (scripts/fetch-model.sh fetches the default one), or configure [[models]]",
        dirs.join(", ")
    )
}
