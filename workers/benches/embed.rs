//! Embedding-stage benchmark (run by bench/embed.sh): k-mer embedding
//! throughput and embedding-store write/read throughput on a dataset folder.
//! Prints a table and one JSON line (`RESULT {...}`) for the comparison script.

use std::path::PathBuf;
use std::time::Instant;
use workers::dataset::Dataset;
use workers::embed::kmer::{CodonEmbedder, KmerEmbedder};
use workers::embed::{Embedder, Modality, SeqInput, embed_all};
use workers::store::{EmbeddingMeta, Embeddings, read_rows};

fn best_of<T>(n: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..n {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed().as_secs_f64());
        out = Some(r);
    }
    (best, out.unwrap())
}

fn main() {
    let dir: PathBuf = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(PathBuf::from)
        .expect("usage: cargo bench -p workers --bench embed -- DATASET_DIR");
    let ds = Dataset::load(&dir).unwrap_or_else(|f| panic!("{}", f.report(10)));
    let inputs: Vec<SeqInput<'_>> = ds.genes.iter().map(SeqInput::of).collect();
    let mbp = ds.genes.iter().map(|g| g.cds.len()).sum::<usize>() as f64 / 1e6;
    let maa = ds.genes.iter().map(|g| g.protein.len()).sum::<usize>() as f64 / 1e6;
    let threads = rayon::current_num_threads();
    println!(
        "{} genes, {mbp:.1} Mbp CDS, {maa:.1} M residues, {threads} threads\n",
        ds.genes.len()
    );
    println!("{:<34} {:>9} {:>12}", "operation", "seconds", "throughput");
    let mut json = Vec::new();
    let models: Vec<(Box<dyn Embedder>, f64, &str)> = vec![
        (
            Box::new(KmerEmbedder::new("kmer6-dna", Modality::Dna, 6).unwrap()),
            mbp,
            "Mbp/s",
        ),
        (
            Box::new(KmerEmbedder::new("kmer3-dna", Modality::Dna, 3).unwrap()),
            mbp,
            "Mbp/s",
        ),
        (
            Box::new(KmerEmbedder::new("kmer2-protein", Modality::Protein, 2).unwrap()),
            maa,
            "Maa/s",
        ),
        (
            Box::new(KmerEmbedder::new("aac", Modality::Protein, 1).unwrap()),
            maa,
            "Maa/s",
        ),
        (Box::new(CodonEmbedder::new("codon", false)), mbp, "Mbp/s"),
    ];
    let mut k6 = None;
    for (m, size, unit) in &models {
        let (t, emb) = best_of(3, || embed_all(m.as_ref(), &inputs, &mut |_| {}).unwrap());
        println!(
            "{:<34} {:>9.3} {:>8.1} {unit}",
            format!("embed {}", m.name()),
            t,
            size / t
        );
        json.push(format!("\"{}\": {t}", m.name()));
        if m.name() == "kmer6-dna" {
            k6 = Some(emb);
        }
    }
    let emb = k6.unwrap();
    let store = Embeddings {
        ids: ds.genes.iter().map(|g| g.id.clone()).collect(),
        emb,
        meta: EmbeddingMeta {
            model: "kmer6-dna".into(),
            ..Default::default()
        },
    };
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("kmer6.h5");
    let mb = (store.emb.len() * 4) as f64 / 1e6;
    let (tw, _) = best_of(3, || store.write(&p).unwrap());
    let file_mb = std::fs::metadata(&p).unwrap().len() as f64 / 1e6;
    println!(
        "{:<34} {:>9.3} {:>8.1} MB/s  ({mb:.0} MB raw, {file_mb:.0} MB on disk)",
        "store write (gzip 4, chunked)",
        tw,
        mb / tw
    );
    let (tr, back) = best_of(3, || Embeddings::read(&p).unwrap());
    assert_eq!(back.emb, store.emb);
    println!(
        "{:<34} {:>9.3} {:>8.1} MB/s",
        "store read (all rows)",
        tr,
        mb / tr
    );
    // A test split: every 7th gene (scattered rows).
    let subset: Vec<&str> = store.ids.iter().step_by(7).map(String::as_str).collect();
    let (ts, rows) = best_of(3, || read_rows(&p, &subset).unwrap());
    assert_eq!(rows.nrows(), subset.len());
    println!(
        "{:<34} {:>9.3} {:>8.1} MB/s",
        format!("store read subset ({} rows)", subset.len()),
        ts,
        mb / 7.0 / ts
    );
    let contiguous: Vec<&str> = store.ids[..store.ids.len() / 7]
        .iter()
        .map(String::as_str)
        .collect();
    let (tc, _) = best_of(3, || read_rows(&p, &contiguous).unwrap());
    println!(
        "{:<34} {:>9.3} {:>8.1} MB/s",
        format!("store read range ({} rows)", contiguous.len()),
        tc,
        mb / 7.0 / tc
    );
    json.push(format!(
        "\"write\": {tw}, \"read\": {tr}, \"subset\": {ts}, \"mb\": {mb}, \"mbp\": {mbp}"
    ));
    println!("\nRESULT {{{}}}", json.join(", "));
}
