//! STRING `protein.links`: the interaction pair task above a score threshold.

use super::*;
use crate::dataset::findings::Findings;
use crate::dataset::tasks::Label;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::BufRead;
use std::path::Path;

/// STRING `protein.links` (`protein1 protein2 combined_score`, space-separated,
/// ids like `9606.ENSP00000000233`). Pairs with score ≥ `min_score` are
/// positives; as many negatives are sampled among the file's proteins.
pub fn read_string_links(path: &Path, min_score: u32, f: &mut Findings) -> Option<SourceLabels> {
    let r = match crate::dataset::fasta::open_maybe_gz(path) {
        Ok(r) => std::io::BufReader::new(r),
        Err(e) => {
            f.error("io", path, 0, None, format!("cannot read: {e}"));
            return None;
        }
    };
    let mut pos: HashSet<(String, String)> = HashSet::new();
    let mut proteins: BTreeSet<String> = BTreeSet::new();
    let mut lines: HashMap<(String, String), u64> = HashMap::new();
    for (i, line) in r.lines().enumerate() {
        let lineno = i as u64 + 1;
        let Ok(line) = line else {
            f.error("io", path, lineno, None, "unreadable line");
            return None;
        };
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.is_empty() || (lineno == 1 && w[0] == "protein1") {
            continue;
        }
        if w.len() < 3 {
            f.error(
                "string-row",
                path,
                lineno,
                w.first().copied(),
                "expected `protein1 protein2 combined_score`",
            );
            continue;
        }
        let Ok(score) = w[w.len() - 1].parse::<u32>() else {
            f.error(
                "string-row",
                path,
                lineno,
                Some(w[0]),
                format!("score {:?} is not an integer", w[w.len() - 1]),
            );
            continue;
        };
        let strip = |s: &str| {
            s.split_once('.')
                .map(|(_, r)| r.to_string())
                .unwrap_or_else(|| s.to_string())
        };
        let (a, b) = (strip(w[0]), strip(w[1]));
        proteins.insert(a.clone());
        proteins.insert(b.clone());
        if score >= min_score && a != b {
            let k = if a < b { (a, b) } else { (b, a) };
            lines.entry(k.clone()).or_insert(lineno);
            pos.insert(k);
        }
    }
    let genes: Vec<String> = proteins.into_iter().collect();
    let neg = sample_negatives(&genes, &pos, 29);
    let mut pos_sorted: Vec<_> = pos.into_iter().collect();
    pos_sorted.sort();
    let mut rows: Vec<PairRow> = pos_sorted
        .into_iter()
        .map(|(a, b)| {
            let line = lines[&(a.clone(), b.clone())];
            PairRow {
                a,
                b,
                label: Label::Binary(true),
                line,
            }
        })
        .collect();
    rows.extend(neg.into_iter().map(|(a, b)| PairRow {
        a,
        b,
        label: Label::Binary(false),
        line: 0,
    }));
    let task = binary_pair_task(
        "interact",
        &format!("STRING combined score >= {min_score}; negatives sampled"),
    );
    Some(SourceLabels {
        file: path.to_path_buf(),
        pair: vec![(task, rows)],
        ..Default::default()
    })
}
