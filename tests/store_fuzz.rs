//! Bit-flip fuzzing of a finished store (issue: integrity). A small sweep
//! (two models, a late-fusion and an early-fusion ensemble, two tasks) is
//! run once; then, case after case, one random bit of one file of a copy of
//! its store is flipped — every file in turn: embedding and cell stores and
//! their digests, results, the report, the journal and its caches, logs —
//! and `genoprot run` is run again. Each case must end either with exit 0
//! and a results.csv equal to the undamaged one (timings aside) and a store
//! that is whole again, or with exit 1 and an error naming the damaged
//! file: never a crash (a signal), a hang, or a changed number.
//!
//! Half the cases flip the bit and then put the file's modification time
//! back (bit rot: the file's stamp is unchanged, so the stamp-keyed caches
//! still point at it); the other half leave the new time (an edit).
//! `GENOPROT_FUZZ_CASES` sets the number of cases (default 200),
//! `GENOPROT_FUZZ_SEED` the seed (default 1).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

const SWEEP: &str = "name: fuzz
dataset: DATA
store: runs/f
seeds: [0]
tasks: [membrane, expression]
models:
  - {name: aac, kind: kmer, modality: protein, k: 1}
  - {name: nuc, kind: kmer, modality: dna, k: 2}
ensembles:
  - {name: both, members: [aac, nuc], fusion: [concat, mean-prob]}
probe: {kind: logreg}
executor: {workers: 1}
";

/// splitmix64: a seeded, dependency-free generator.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let t = e.file_type().unwrap();
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() && e.metadata().unwrap().len() > 0 {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

fn copy_tree(from: &Path, to: &Path) {
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
}

/// results.csv by cell id, without the timing column.
fn results(store: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(store.join("results.csv")).unwrap_or_default();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let secs = header.iter().position(|h| *h == "seconds");
    lines
        .map(|l| {
            let f: Vec<&str> = l
                .split(',')
                .enumerate()
                .filter(|(i, _)| Some(*i) != secs)
                .map(|(_, x)| x)
                .collect();
            (f[0].to_string(), f[1..].join(","))
        })
        .collect()
}

/// Flips bit `bit` of byte `at` of `file`; with `keep_time`, the file's
/// modification time is put back (same size, inode and mtime: bit rot).
fn flip(file: &Path, at: u64, bit: u8, keep_time: bool) {
    use std::os::unix::fs::FileExt;
    let before = std::fs::metadata(file).unwrap();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .read(true)
        .open(file)
        .unwrap();
    let mut b = [0u8];
    f.read_exact_at(&mut b, at).unwrap();
    b[0] ^= 1 << bit;
    f.write_all_at(&b, at).unwrap();
    f.sync_all().unwrap();
    if keep_time {
        f.set_times(
            std::fs::FileTimes::new()
                .set_modified(before.modified().unwrap())
                .set_accessed(before.accessed().unwrap()),
        )
        .unwrap();
    }
}

/// A report file that differs from the digest the report recorded for it
/// (`journal/report-inputs`: the inputs' digest, then `sha256  name` lines).
fn stale_report_file(store: &Path) -> Option<String> {
    let rec = std::fs::read_to_string(store.join("journal/report-inputs")).ok()?;
    for l in rec.lines().skip(1) {
        let (hex, name) = workers::seal::parse_sum_line(l)?;
        let have = workers::seal::digest_file(&store.join("report").join(name)).ok();
        if have.as_deref() != Some(hex) {
            return Some(name.to_string());
        }
    }
    None
}

#[derive(Default, Debug)]
struct Tally {
    repaired: usize,
    refused: usize,
}

#[test]
fn random_bit_flips_in_every_file_of_a_store_never_crash_hang_or_change_a_result() {
    let cases: usize = std::env::var("GENOPROT_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let seed: u64 = std::env::var("GENOPROT_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let d = tempfile::tempdir().unwrap();
    let (code, _, err) = common::gp(
        d.path(),
        &[
            "-q", "dataset", "synth", "--out", "data", "--genes", "80", "--seed", "5",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let data = d.path().join("data");
    let base = d.path().join("base");
    std::fs::create_dir_all(&base).unwrap();
    let config = SWEEP.replace("DATA", data.to_str().unwrap());
    std::fs::write(base.join("f.yaml"), &config).unwrap();
    let (code, _, err) = common::gp(&base, &["-q", "run", "f.yaml"]);
    assert_eq!(code, 0, "{err}");
    let store = base.join("runs/f");
    let want = results(&store);
    assert_eq!(want.len(), 8, "{want:?}");
    let files: Vec<PathBuf> = files_under(&store)
        .into_iter()
        .map(|p| p.strip_prefix(&store).unwrap().to_path_buf())
        .collect();
    assert!(
        files.iter().any(|f| f.starts_with("embeddings"))
            && files
                .iter()
                .any(|f| f.to_string_lossy().ends_with(".h5.sha256"))
            && files.iter().any(|f| f.starts_with("report"))
            && files.iter().any(|f| f.starts_with("journal")),
        "{files:?}"
    );

    let tally = std::sync::Mutex::new(BTreeMap::<String, Tally>::new());
    let failures = std::sync::Mutex::new(Vec::<String>::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= cases {
                        break;
                    }
                    let mut rng = Rng(seed.wrapping_mul(1_000_003).wrapping_add(i as u64));
                    // Every file in turn, a random bit of it.
                    let rel = &files[i % files.len()];
                    let case = d.path().join(format!("case-{i}"));
                    std::fs::create_dir_all(case.join("runs")).unwrap();
                    std::fs::write(case.join("f.yaml"), &config).unwrap();
                    copy_tree(&store, &case.join("runs/f"));
                    let cstore = case.join("runs/f");
                    let file = cstore.join(rel);
                    let len = std::fs::metadata(&file).unwrap().len();
                    let (at, bit, keep) = (rng.below(len), rng.below(8) as u8, i.is_multiple_of(2));
                    // Let the copy's caches know its files (new inodes), so a
                    // kept time really leaves every cache pointing at them.
                    if keep {
                        let (c, _, e) = common::gp(&case, &["-q", "aggregate", "f.yaml"]);
                        assert_eq!(c, 0, "{e}");
                    }
                    flip(&file, at, bit, keep);
                    let what = format!(
                        "case {i}: {} byte {at} bit {bit}{}",
                        rel.display(),
                        if keep { " (time kept)" } else { "" }
                    );
                    let mut cmd = common::genoprot();
                    cmd.current_dir(&case).args(["-q", "run", "f.yaml"]);
                    let out = common::run_with_timeout(cmd, Duration::from_secs(180));
                    let err = String::from_utf8_lossy(&out.stderr);
                    let kind = rel
                        .iter()
                        .next()
                        .map(|c| c.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let verdict = match out.status.code() {
                        None => Err(format!(
                            "{what}: killed by a signal ({:?})\n{err}",
                            out.status
                        )),
                        Some(0) => {
                            let got = results(&cstore);
                            if got != want {
                                Err(format!("{what}: results changed\n{got:?}\nvs\n{want:?}"))
                            } else {
                                // Whole again: a second run has nothing to do and says
                                // nothing, and every report file is the one recorded.
                                let (c, _, e2) = common::gp(&case, &["-q", "run", "f.yaml"]);
                                if c != 0 || e2.contains("damaged") {
                                    Err(format!("{what}: not repaired: exit {c}\n{e2}"))
                                } else if let Some(bad) = stale_report_file(&cstore) {
                                    Err(format!("{what}: report file {bad} left damaged"))
                                } else {
                                    Ok(true)
                                }
                            }
                        }
                        Some(1) => {
                            let name = rel.file_name().unwrap().to_string_lossy();
                            if err.contains(&*name) {
                                Ok(false)
                            } else {
                                Err(format!("{what}: exit 1 without naming {name}\n{err}"))
                            }
                        }
                        Some(c) => Err(format!("{what}: exit {c}\n{err}")),
                    };
                    match verdict {
                        Ok(repaired) => {
                            let mut t = tally.lock().unwrap();
                            let e = t.entry(kind).or_default();
                            if repaired {
                                e.repaired += 1;
                            } else {
                                e.refused += 1;
                            }
                            let _ = std::fs::remove_dir_all(&case);
                        }
                        Err(m) => failures.lock().unwrap().push(m),
                    }
                }
            });
        }
    });
    let tally = tally.into_inner().unwrap();
    eprintln!("{:<18} {:>9} {:>8}", "files", "repaired", "refused");
    for (k, t) in &tally {
        eprintln!("{k:<18} {:>9} {:>8}", t.repaired, t.refused);
    }
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
