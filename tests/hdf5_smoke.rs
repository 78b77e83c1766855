//! HDF5 smoke test: an embedding store written from Rust (UTF-8 ids, chunked
//! gzip f32 [N, D], string and integer attributes) read back by Rust and by h5py.

mod common;

use ndarray::Array2;
use std::process::Command;
use std::time::Duration;
use workers::store::{EmbeddingMeta, Embeddings};

#[test]
fn rust_writes_rust_and_h5py_read_the_same_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("embeddings/esm2-tiny.h5");
    let (n, d) = (37, 5);
    let emb = Array2::from_shape_fn((n, d), |(i, j)| {
        (i as f32) * 0.5 - (j as f32) * 1.25 + 0.125
    });
    let ids: Vec<String> = (0..n).map(|i| format!("ENSG{i:011}-β{i}")).collect();
    let e = Embeddings {
        ids: ids.clone(),
        emb: emb.clone(),
        meta: EmbeddingMeta {
            model: "esm2-tiny".into(),
            modality: "protein".into(),
            pooling: "mean".into(),
            weights_hash: "abc123".into(),
            config_hash: "cfg456".into(),
            ..Default::default()
        },
    };
    e.write(&path).unwrap();

    let back = Embeddings::read(&path).unwrap();
    assert_eq!(back.ids, ids);
    assert_eq!(back.emb, emb);
    assert_eq!(back.meta.model, "esm2-tiny");
    assert_eq!(back.meta.tool_version, workers::TOOL_VERSION);
    // No temp files left beside the store: the store and its digest, which
    // `sha256sum -c` accepts.
    let mut names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["esm2-tiny.h5", "esm2-tiny.h5.sha256"]);
    let check = Command::new("sha256sum")
        .args(["-c", "esm2-tiny.h5.sha256"])
        .current_dir(path.parent().unwrap())
        .output()
        .unwrap();
    assert!(
        check.status.success()
            && String::from_utf8_lossy(&check.stdout).contains("esm2-tiny.h5: OK"),
        "{check:?}"
    );

    let py = r#"
import json, sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
ids = [s.decode("utf-8") if isinstance(s, bytes) else s for s in f["ids"][()]]
emb = f["emb"]
out = {
    "ids": ids,
    "emb": emb[()].astype(float).tolist(),
    "dtype": str(emb.dtype),
    "chunks": list(emb.chunks) if emb.chunks else None,
    "compression": emb.compression,
    "fletcher32": emb.fletcher32,
    "maxshape": [m if m is not None else -1 for m in emb.maxshape],
    "attrs": {k: (v.decode() if isinstance(v, bytes) else (v.item() if hasattr(v, "item") else v)) for k, v in f.attrs.items()},
}
print(json.dumps(out))
"#;
    let mut cmd = Command::new(common::python_with_h5py());
    cmd.args(["-c", py]).arg(&path);
    let out = common::run_with_timeout(cmd, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "h5py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let py_ids: Vec<String> = serde_json::from_value(v["ids"].clone()).unwrap();
    assert_eq!(py_ids, ids);
    let py_emb: Vec<Vec<f64>> = serde_json::from_value(v["emb"].clone()).unwrap();
    for i in 0..n {
        for j in 0..d {
            assert_eq!(py_emb[i][j] as f32, emb[[i, j]], "emb[{i},{j}]");
        }
    }
    assert_eq!(v["dtype"], "float32");
    assert_eq!(v["compression"], "gzip");
    // HDF5's own checksum per chunk: h5py detects a damaged chunk too.
    assert_eq!(v["fletcher32"], true);
    assert!(v["chunks"].is_array(), "emb must be chunked: {v}");
    assert_eq!(v["maxshape"], serde_json::json!([-1, d]));
    let a = &v["attrs"];
    assert_eq!(a["model"], "esm2-tiny");
    assert_eq!(a["modality"], "protein");
    assert_eq!(a["pooling"], "mean");
    assert_eq!(a["weights_hash"], "abc123");
    assert_eq!(a["dim"], d as i64);
    assert_eq!(a["format_version"], 1);
    assert!(a["created"].as_str().unwrap().ends_with('Z'));
}
