//! Finds the GGUF files a server may load: every `*.gguf` under the model
//! directories, and files named in the configuration, which must lie inside
//! those directories once symlinks and `..` are resolved.

use std::path::{Path, PathBuf};

use crate::gguf::{GgufError, GgufMetadata};

/// How deep discovery descends below a model directory.
const MAX_DEPTH: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("model directory {path} cannot be read (create it and put .gguf files in it, or pass --models-dir)")]
    Dir {
        path: String,
        source: std::io::Error,
    },
    #[error("model file {path} cannot be opened")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("model file {path} resolves to {resolved}, which is outside the model directories ({dirs}); move it into one of them or add its directory to models_dir")]
    OutsideModelDirs {
        path: String,
        resolved: String,
        dirs: String,
    },
    #[error(transparent)]
    Gguf(#[from] GgufError),
}

/// A model file found on disk and its metadata.
#[derive(Debug, Clone)]
pub struct ModelFile {
    /// The id clients use: the file stem unless configured otherwise.
    pub id: String,
    /// Canonical path.
    pub path: PathBuf,
    pub size: u64,
    pub metadata: GgufMetadata,
}

impl ModelFile {
    /// Read a model file's metadata; `id` defaults to the file stem.
    pub fn open(path: PathBuf, id: Option<String>) -> Result<Self, CatalogError> {
        let size = std::fs::metadata(&path)
            .map_err(|source| CatalogError::File {
                path: path.display().to_string(),
                source,
            })?
            .len();
        let metadata = GgufMetadata::read(&path)?;
        let id = id.unwrap_or_else(|| model_id(&path));
        Ok(Self {
            id,
            path,
            size,
            metadata,
        })
    }
}

/// The file stem, without a split suffix (`-00001-of-00003`).
pub fn model_id(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match split_part(&stem) {
        Some((base, _)) => base.to_owned(),
        None => stem,
    }
}

/// `name-00002-of-00003` → `(name, 2)`.
fn split_part(stem: &str) -> Option<(&str, u32)> {
    let (rest, total) = stem.rsplit_once("-of-")?;
    let (base, part) = rest.rsplit_once('-')?;
    let ok = |s: &str| s.len() == 5 && s.bytes().all(|b| b.is_ascii_digit());
    if !ok(part) || !ok(total) {
        return None;
    }
    Some((base, part.parse().ok()?))
}

/// Canonical forms of the model directories; a missing one is an error.
pub fn canonical_dirs(dirs: &[PathBuf]) -> Result<Vec<PathBuf>, CatalogError> {
    dirs.iter()
        .map(|d| {
            d.canonicalize().map_err(|source| CatalogError::Dir {
                path: d.display().to_string(),
                source,
            })
        })
        .collect()
}

/// Resolve a configured model path; refuse anything outside `dirs`
/// (canonical) after following symlinks and `..`.
pub fn resolve_inside(path: &Path, dirs: &[PathBuf]) -> Result<PathBuf, CatalogError> {
    let resolved = path.canonicalize().map_err(|source| CatalogError::File {
        path: path.display().to_string(),
        source,
    })?;
    if dirs.iter().any(|d| resolved.starts_with(d)) {
        Ok(resolved)
    } else {
        Err(CatalogError::OutsideModelDirs {
            path: path.display().to_string(),
            resolved: resolved.display().to_string(),
            dirs: dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

/// Every loadable `*.gguf` under the (canonical) directories, sorted by path.
/// Symlinks that point outside the directories are skipped with a warning;
/// of a split model only the first part is listed.
pub fn discover(dirs: &[PathBuf]) -> Result<Vec<PathBuf>, CatalogError> {
    let mut found = Vec::new();
    for dir in dirs {
        walk(dir, dir, dirs, 0, &mut found)?;
    }
    found.sort();
    found.dedup();
    Ok(found)
}

fn walk(
    root: &Path,
    dir: &Path,
    dirs: &[PathBuf],
    depth: usize,
    found: &mut Vec<PathBuf>,
) -> Result<(), CatalogError> {
    let entries = std::fs::read_dir(dir).map_err(|source| CatalogError::Dir {
        path: dir.display().to_string(),
        source,
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(resolved) = path.canonicalize() else {
            continue;
        };
        if !dirs.iter().any(|d| resolved.starts_with(d)) {
            tracing::warn!(path = %path.display(), "skipping a link that leads outside the model directories");
            continue;
        }
        if resolved.is_dir() {
            if depth < MAX_DEPTH && resolved.starts_with(root) {
                walk(root, &resolved, dirs, depth + 1, found)?;
            }
            continue;
        }
        let is_gguf = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gguf"));
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let later_part = split_part(&stem).is_some_and(|(_, n)| n > 1);
        if is_gguf && !later_part {
            found.push(resolved);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ids_are_file_stems_without_split_suffixes() {
        assert_eq!(
            model_id(Path::new("/m/SmolLM2-135M-Instruct.Q4_1.gguf")),
            "SmolLM2-135M-Instruct.Q4_1"
        );
        assert_eq!(model_id(Path::new("/m/big-00001-of-00003.gguf")), "big");
    }

    #[test]
    fn discovery_finds_gguf_files_and_skips_escaping_links() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let models = root.path().join("models");
        std::fs::create_dir_all(models.join("sub")).unwrap();
        std::fs::write(models.join("a.gguf"), b"x").unwrap();
        std::fs::write(models.join("sub/b.GGUF"), b"x").unwrap();
        std::fs::write(models.join("notes.txt"), b"x").unwrap();
        std::fs::write(models.join("c-00001-of-00002.gguf"), b"x").unwrap();
        std::fs::write(models.join("c-00002-of-00002.gguf"), b"x").unwrap();
        std::fs::write(outside.path().join("evil.gguf"), b"x").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(outside.path().join("evil.gguf"), models.join("evil.gguf"))
            .unwrap();
        let dirs = canonical_dirs(std::slice::from_ref(&models)).unwrap();
        let found: Vec<String> = discover(&dirs)
            .unwrap()
            .iter()
            .map(|p| p.strip_prefix(&dirs[0]).unwrap().display().to_string())
            .collect();
        assert_eq!(found, ["a.gguf", "c-00001-of-00002.gguf", "sub/b.GGUF"]);
    }

    #[test]
    fn configured_paths_must_stay_inside_model_dirs() {
        let root = tempfile::tempdir().unwrap();
        let models = root.path().join("models");
        std::fs::create_dir_all(&models).unwrap();
        std::fs::write(root.path().join("secret.gguf"), b"x").unwrap();
        std::fs::write(models.join("ok.gguf"), b"x").unwrap();
        let dirs = canonical_dirs(std::slice::from_ref(&models)).unwrap();
        assert!(resolve_inside(&models.join("ok.gguf"), &dirs).is_ok());
        let err = resolve_inside(&models.join("../secret.gguf"), &dirs).unwrap_err();
        assert!(
            matches!(err, CatalogError::OutsideModelDirs { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("outside the model directories"));
    }
}
