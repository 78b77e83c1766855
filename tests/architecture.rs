//! The house rules of docs/design.md ("The house: one room per concept"),
//! checked on the source tree:
//!
//! * no source file over 700 lines, no function over 150;
//! * no module of a crate imports another that imports it back, except a
//!   parent and its child;
//! * store paths are joined only in `orchestrator/src/layout.rs`;
//! * `executor/` never calls up into the CLI layer (`commands`), and only
//!   `executor/slurm/` builds a Slurm client.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Source without comments, string contents and `#[cfg(test)]` modules.
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut in_str = false;
        let mut prev = ' ';
        let mut kept = String::new();
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if !in_str && c == '/' && chars.get(i + 1) == Some(&'/') {
                break;
            }
            if c == '"' && prev != '\\' && !(prev == '\'' && chars.get(i + 1) == Some(&'\'')) {
                in_str = !in_str;
                kept.push('"');
            } else if !in_str {
                kept.push(c);
            }
            prev = if prev == '\\' && c == '\\' { ' ' } else { c };
            i += 1;
        }
        out.push_str(&kept);
        out.push('\n');
    }
    out
}

/// Functions longer than `max` lines (from `fn` to its closing brace).
fn long_functions(path: &Path, max: usize) -> Vec<String> {
    let code = code_of(&std::fs::read_to_string(path).unwrap());
    let lines: Vec<&str> = code.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim_start();
        let is_fn = [
            "fn ",
            "pub fn ",
            "pub(crate) fn ",
            "pub(super) fn ",
            "async fn ",
        ]
        .iter()
        .any(|p| t.starts_with(p));
        if !is_fn {
            continue;
        }
        let (mut depth, mut started) = (0i64, false);
        for (j, l2) in lines.iter().enumerate().skip(i) {
            for c in l2.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        started = true;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if !started && l2.trim_end().ends_with(';') {
                break;
            }
            if started && depth <= 0 {
                if j - i + 1 > max {
                    out.push(format!(
                        "{}:{} ({} lines)",
                        path.display(),
                        i + 1,
                        j - i + 1
                    ));
                }
                break;
            }
        }
    }
    out
}

/// A crate's module path of a source file (`["executor", "batch"]`).
fn module_of(src: &Path, f: &Path) -> Vec<String> {
    let rel = f.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// Module cycles among a crate's files, parent/child edges left out.
fn cycles(src: &Path) -> Vec<Vec<String>> {
    let files = rust_files(src);
    let mods: BTreeMap<Vec<String>, PathBuf> = files
        .iter()
        .map(|f| (module_of(src, f), f.clone()))
        .collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (m, f) in &mods {
        let code = code_of(&std::fs::read_to_string(f).unwrap());
        let is_dir_mod = f.file_stem().is_some_and(|s| s == "mod" || s == "lib");
        for kw in ["crate::", "super::"] {
            let mut rest = code.as_str();
            while let Some(at) = rest.find(kw) {
                let before = rest[..at].chars().last();
                rest = &rest[at + kw.len()..];
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let path: Vec<String> = rest
                    .split("::")
                    .map(|p| {
                        p.chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect::<String>()
                    })
                    .take_while(|p| !p.is_empty())
                    .collect();
                let mut target = if kw == "crate::" {
                    path.clone()
                } else {
                    let mut base = if is_dir_mod {
                        m.clone()
                    } else {
                        m[..m.len().saturating_sub(1)].to_vec()
                    };
                    let mut p = path.as_slice();
                    while p.first().is_some_and(|s| s == "super") {
                        base.pop();
                        p = &p[1..];
                    }
                    base.extend(p.iter().cloned());
                    base
                };
                while !target.is_empty() && !mods.contains_key(&target) {
                    target.pop();
                }
                let related = target.starts_with(m) || m.starts_with(&target);
                if !target.is_empty() && !related {
                    edges.entry(m.clone()).or_default().insert(target);
                }
            }
        }
    }
    // Modules that reach themselves through others: a cycle.
    let mut found = Vec::new();
    for start in edges.keys() {
        let mut seen = BTreeSet::new();
        let mut stack = vec![start.clone()];
        while let Some(n) = stack.pop() {
            for next in edges.get(&n).into_iter().flatten() {
                if next == start {
                    found.push(vec![start.join("::"), n.join("::")]);
                }
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
    }
    found
}

fn sources() -> Vec<(PathBuf, Vec<PathBuf>)> {
    let root = common::workspace_root();
    ["orchestrator/src", "workers/src", "slurm/src"]
        .iter()
        .map(|d| (root.join(d), rust_files(&root.join(d))))
        .collect()
}

#[test]
fn no_file_over_700_lines_and_no_function_over_150() {
    let mut bad = Vec::new();
    for (_, files) in sources() {
        for f in files {
            let n = std::fs::read_to_string(&f).unwrap().lines().count();
            if n > 700 {
                bad.push(format!("{}: {n} lines", f.display()));
            }
            bad.extend(long_functions(&f, 150));
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    for (src, _) in sources() {
        let c = cycles(&src);
        assert!(c.is_empty(), "{}: {c:?}", src.display());
    }
}

#[test]
fn store_paths_scheduler_clients_and_layers_stay_in_their_rooms() {
    let root = common::workspace_root();
    for (_, files) in sources() {
        for f in files {
            let rel = f.strip_prefix(&root).unwrap().display().to_string();
            let code = code_of(&std::fs::read_to_string(&f).unwrap());
            if rel != "orchestrator/src/layout.rs" {
                assert!(!code.contains("store.join("), "{rel} joins a store path");
            }
            if rel.starts_with("orchestrator/src/executor/") {
                assert!(
                    !code.contains("crate::commands"),
                    "{rel} calls up into commands"
                );
            }
            if rel.starts_with("orchestrator/src/")
                && !rel.starts_with("orchestrator/src/executor/slurm/")
            {
                assert!(!code.contains("SlurmCli"), "{rel} builds a Slurm client");
            }
        }
    }
}

/// No paragraph of the README or of a document under docs/ is written twice
/// in the same file (a repeated paragraph is an edit that went wrong).
#[test]
fn no_document_repeats_a_paragraph() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = vec![root.join("README.md")];
    for e in std::fs::read_dir(root.join("docs")).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "md") {
            files.push(e.path());
        }
    }
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let mut seen = BTreeSet::new();
        for para in text.split("\n\n").map(str::trim) {
            // Prose only: headings, tables, code and list items may repeat.
            if para.len() < 60 || para.starts_with(['#', '|', '`', '-', '*']) {
                continue;
            }
            assert!(
                seen.insert(para),
                "{} repeats a paragraph: {para}",
                f.display()
            );
        }
    }
}
