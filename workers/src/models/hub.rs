//! Where a model's weights are: `weights:` is a local folder, or a Hugging
//! Face hub id `org/name` with an optional `@revision` (a branch, tag or
//! commit), found offline in the hub cache as `huggingface_hub` lays it out:
//!
//! ```text
//! <cache>/models--org--name/refs/<revision>          the commit a branch/tag points at
//! <cache>/models--org--name/snapshots/<commit>/...   files (symlinks into ../../blobs/)
//! ```
//!
//! The cache is `HF_HUB_CACHE`, else `HF_HOME/hub`, else
//! `~/.cache/huggingface/hub`. Nothing is ever downloaded: when a model is not
//! in the cache the error lists where it looked and the command that fetches
//! it on a machine with network.

use super::ModelError;
use std::path::{Path, PathBuf};

/// The hub cache folders to look in, in order (duplicates removed).
pub fn cache_dirs() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    if let Some(c) = std::env::var_os("HF_HUB_CACHE").filter(|v| !v.is_empty()) {
        out.push(PathBuf::from(c));
    }
    if let Some(h) = std::env::var_os("HF_HOME").filter(|v| !v.is_empty()) {
        out.push(PathBuf::from(h).join("hub"));
    }
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        out.push(PathBuf::from(home).join(".cache/huggingface/hub"));
    }
    let mut seen = Vec::new();
    out.retain(|p| {
        let new = !seen.contains(p);
        seen.push(p.clone());
        new
    });
    out
}

/// `org/name[@revision]` → (org, name, revision), when `s` has that shape.
pub fn parse_hub_id(s: &str) -> Option<(&str, &str, Option<&str>)> {
    let (id, rev) = match s.split_once('@') {
        Some((id, rev)) if !rev.is_empty() => (id, Some(rev)),
        Some(_) => return None,
        None => (s, None),
    };
    let (org, name) = id.split_once('/')?;
    let ok = |w: &str| {
        !w.is_empty()
            && !w.starts_with('.')
            && !w.starts_with('-')
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    (ok(org) && ok(name)).then_some((org, name, rev))
}

/// The folder a `weights:` value names: an existing path (relative to
/// `base`), or a hub id resolved in the cache.
pub fn resolve(weights: &Path, base: &Path) -> Result<PathBuf, ModelError> {
    resolve_in(weights, base, &cache_dirs())
}

/// [`resolve`] with the cache folders given.
pub fn resolve_in(weights: &Path, base: &Path, dirs: &[PathBuf]) -> Result<PathBuf, ModelError> {
    let local = if weights.is_absolute() {
        weights.to_path_buf()
    } else {
        base.join(weights)
    };
    if local.is_dir() {
        return Ok(local);
    }
    if local.exists() {
        return Err(ModelError::NotFound(format!(
            "weights {}: is a file; `weights` is a model folder (config.json, weights, tokenizer) or a hub id org/name",
            local.display()
        )));
    }
    let text = weights.to_string_lossy();
    let Some((org, name, rev)) = parse_hub_id(&text) else {
        return Err(ModelError::NotFound(format!(
            "weights {}: no such folder (hint: give the model folder, or a Hugging Face hub id such as facebook/esm2_t6_8M_UR50D)",
            local.display()
        )));
    };
    for cache in dirs {
        let repo = cache.join(format!("models--{org}--{name}"));
        if !repo.is_dir() {
            continue;
        }
        let wanted = rev.unwrap_or("main");
        let commit = if wanted.len() == 40 && wanted.chars().all(|c| c.is_ascii_hexdigit()) {
            Some(wanted.to_string())
        } else {
            std::fs::read_to_string(repo.join("refs").join(wanted))
                .ok()
                .map(|s| s.trim().to_string())
        };
        if let Some(c) = commit {
            let snap = repo.join("snapshots").join(&c);
            if snap.is_dir() {
                return Ok(snap);
            }
        }
    }
    let looked: Vec<String> = dirs
        .iter()
        .map(|d| format!("{}/models--{org}--{name}", d.display()))
        .collect();
    Err(ModelError::NotFound(format!(
        "weights {text}: no folder {}, and hub model {org}/{name}{} is not in the Hugging Face cache \
         (looked in {}; set HF_HUB_CACHE or HF_HOME to another cache). genoprot never downloads: \
         on a machine with network run `hf download {org}/{name}{}` (huggingface_hub), then point \
         HF_HUB_CACHE at that cache or copy the snapshot folder and give its path",
        local.display(),
        rev.map(|r| format!("@{r}")).unwrap_or_default(),
        looked.join(", "),
        rev.map(|r| format!(" --revision {r}")).unwrap_or_default(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_ids_resolve_offline_in_the_cache_layout() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
        let cache = root.join("hf-cache/hub");
        let snap = resolve_in(
            Path::new("genoprot-test/esm2-tiny"),
            &root,
            std::slice::from_ref(&cache),
        )
        .unwrap();
        assert!(
            snap.join("model.safetensors").is_file(),
            "{}",
            snap.display()
        );
        assert!(snap.join("config.json").is_symlink());
        let commit = snap.file_name().unwrap().to_string_lossy().into_owned();
        // A branch and the commit itself name the same snapshot.
        for id in [
            "genoprot-test/esm2-tiny@main".to_string(),
            format!("genoprot-test/esm2-tiny@{commit}"),
        ] {
            assert_eq!(
                resolve_in(Path::new(&id), &root, std::slice::from_ref(&cache)).unwrap(),
                snap
            );
        }
        // Not in the cache: where it looked, and how to fetch it.
        let e = resolve_in(
            Path::new("facebook/esm2_t6_8M_UR50D@v2"),
            &root,
            std::slice::from_ref(&cache),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains(&format!(
                "looked in {}/models--facebook--esm2_t6_8M_UR50D",
                cache.display()
            )) && e.contains("hf download facebook/esm2_t6_8M_UR50D --revision v2")
                && e.contains("never downloads"),
            "{e}"
        );
        // A local folder wins over a hub id of the same spelling.
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("genoprot-test/esm2-tiny")).unwrap();
        assert_eq!(
            resolve_in(Path::new("genoprot-test/esm2-tiny"), d.path(), &[cache]).unwrap(),
            d.path().join("genoprot-test/esm2-tiny")
        );
        let e = resolve_in(Path::new("./nope"), d.path(), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("no such folder"), "{e}");
    }

    #[test]
    fn hub_ids_are_told_from_paths() {
        assert_eq!(
            parse_hub_id("facebook/esm2_t6_8M_UR50D"),
            Some(("facebook", "esm2_t6_8M_UR50D", None))
        );
        assert_eq!(
            parse_hub_id("zhihan1996/DNABERT-2-117M@main"),
            Some(("zhihan1996", "DNABERT-2-117M", Some("main")))
        );
        for not in ["./a/b", "/abs/x", "a/b/c", "a", "a/b@", "../x"] {
            assert_eq!(parse_hub_id(not), None, "{not}");
        }
    }
}
