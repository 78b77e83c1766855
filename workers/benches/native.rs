//! Native encoder throughput (run by bench/esm.sh, bench/bert.sh and bench/t5.sh): embeds
//! the sequences of a FASTA file with a model folder (any native family)
//! through burn (this build's backend), mean pooling, length-bucketed
//! batches; prints `RESULT {json}`. GP_MODALITY=dna reads them as DNA;
//! GP_PASS=2,4,6 returns those layers from one pass; GP_KIND names the kind.

use std::path::PathBuf;
use std::time::Instant;
use workers::embed::{Modality, SeqInput, embed_all};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let (model, fasta) = (PathBuf::from(&args[0]), PathBuf::from(&args[1]));
    let recs = workers::dataset::fasta::read_fasta(&fasta).unwrap();
    let ids: Vec<String> = recs.iter().map(|r| r.first_word().to_string()).collect();
    let inputs: Vec<SeqInput<'_>> = recs
        .iter()
        .zip(&ids)
        .map(|(r, id)| SeqInput {
            id,
            dna: &r.seq,
            protein: &r.seq,
        })
        .collect();
    let tokens: usize = recs.iter().map(|r| r.seq.len() + 2).sum();
    let budget = std::env::var("GP_MAX_TOKENS")
        .ok()
        .and_then(|v| v.parse().ok());
    // GP_DEVICE: cpu (this build's CPU backend), cuda, cuda:N.
    let spec: workers::device::DeviceSpec = std::env::var("GP_DEVICE")
        .unwrap_or_else(|_| "cpu".into())
        .parse()
        .unwrap();
    let (placement, device) = workers::device::resolve(spec).unwrap();
    let modality = match std::env::var("GP_MODALITY").as_deref() {
        Ok("dna") => Modality::Dna,
        _ => Modality::Protein,
    };
    eprintln!("device: {placement}");
    // GP_KIND: the kind an entry would name (codonbert, encodon); default:
    // whatever family the folder's model_type says.
    let kind: Option<workers::embed::kinds::ModelKind> = std::env::var("GP_KIND")
        .ok()
        .map(|k| serde_json::from_value(serde_json::Value::String(k)).expect("a kind"));
    let e = workers::models::native::NativeEmbedder::load(
        "bench",
        kind,
        modality,
        &device,
        &model,
        &workers::models::native::NativeOptions {
            // GP_PASS=2,4,6: those layers from one pass (a `layers:` entry).
            pass: std::env::var("GP_PASS")
                .map(|v| v.split(',').filter_map(|k| k.trim().parse().ok()).collect())
                .unwrap_or_default(),
            ..workers::models::native::NativeOptions::mean().max_tokens(budget)
        },
    )
    .unwrap();
    // warm-up on a few sequences
    embed_all(&e, &inputs[..4.min(inputs.len())], &mut |_| {}).unwrap();
    let t0 = Instant::now();
    let out = embed_all(&e, &inputs, &mut |_| {}).unwrap();
    let secs = t0.elapsed().as_secs_f64();
    assert!(out.iter().all(|v| v.is_finite()));
    println!(
        "burn ({placement}, {} threads): {} sequences, {tokens} tokens in {secs:.2} s = {:.0} tokens/s",
        rayon::current_num_threads(),
        inputs.len(),
        tokens as f64 / secs
    );
    // GP_LONG=N: one protein of N residues (titin: ~35,000), windowed as the
    // model requires; prints its time and the process's peak memory.
    if let Some(n) = std::env::var("GP_LONG")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        let aa = b"ACDEFGHIKLMNPQRSTVWY";
        let long: Vec<u8> = (0..n).map(|i| aa[(i * 7 + i / 3) % aa.len()]).collect();
        let t0 = Instant::now();
        let out = embed_all(
            &e,
            &[SeqInput {
                id: "long",
                dna: &long,
                protein: &long,
            }],
            &mut |_| {},
        )
        .unwrap();
        assert!(out.iter().all(|v| v.is_finite()));
        println!(
            "burn, one {n}-residue protein (windowed): {:.2} s; peak RSS of the process {} MB",
            t0.elapsed().as_secs_f64(),
            peak_rss_kb() / 1024
        );
    }
    println!("RESULT {{\"seconds\": {secs}, \"tokens\": {tokens}}}");
}

/// VmHWM of /proc/self/status (0 where there is none).
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
