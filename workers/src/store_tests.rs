//! Unit tests of `store.rs` (embedding stores: write, read, rows, shards).

use super::*;

#[test]
fn shards_merge_to_the_one_shot_store_and_bad_shards_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let ids: Vec<String> = (0..7).map(|i| format!("g{i}")).collect();
    let whole = Embeddings {
        ids: ids.clone(),
        emb: Array2::from_shape_fn((7, 3), |(i, j)| i as f32 * 10.0 + j as f32),
        meta: EmbeddingMeta {
            model: "m".into(),
            config_hash: "h".into(),
            ..Default::default()
        },
    };
    let dest = d.path().join("m.h5");
    let mut shards = Vec::new();
    for (s, rows) in [
        (0usize, vec![4usize, 0, 2]),
        (1, vec![1, 5]),
        (2, vec![3, 6]),
    ] {
        let part = Embeddings {
            ids: rows.iter().map(|r| ids[*r].clone()).collect(),
            emb: whole.emb.select(ndarray::Axis(0), &rows),
            meta: whole.meta.clone(),
        };
        let p = shard_path(&dest, s, 3);
        part.write(&p).unwrap();
        shards.push(p);
    }
    assert!(
        shards[1]
            .display()
            .to_string()
            .ends_with("m.shard-0001-of-0003.h5")
    );
    let merged = merge_shards(&shards, &ids, &dest).unwrap();
    assert_eq!(merged.emb, whole.emb);
    assert_eq!(Embeddings::read(&dest).unwrap().emb, whole.emb);
    // A missing shard, or an id in two shards, is refused and writes nothing.
    let dest2 = d.path().join("m2.h5");
    let e = merge_shards(&shards[..2], &ids, &dest2)
        .unwrap_err()
        .to_string();
    assert!(e.contains("2 ids are in no shard"), "{e}");
    let dup = vec![shards[0].clone(), shards[0].clone()];
    assert!(
        merge_shards(&dup, &ids, &dest2)
            .unwrap_err()
            .to_string()
            .contains("in two shards")
    );
    assert!(!dest2.exists());
    // Subset reads in any order.
    let r = read_rows(&dest, &["g6", "g1", "g2", "g3"]).unwrap();
    assert_eq!(r.row(0).to_vec(), vec![60.0, 61.0, 62.0]);
    assert_eq!(r.row(1).to_vec(), vec![10.0, 11.0, 12.0]);
    assert_eq!(r.row(3).to_vec(), vec![30.0, 31.0, 32.0]);
    assert!(
        read_rows(&dest, &["nope"])
            .unwrap_err()
            .to_string()
            .contains("not in the store")
    );
    // Wide rows (16-row chunks): a sparse subset is read run by run.
    let wide = Embeddings {
        ids: (0..200).map(|i| format!("w{i}")).collect(),
        emb: Array2::from_shape_fn((200, 4096), |(i, j)| (i * 4096 + j) as f32),
        meta: whole.meta.clone(),
    };
    let wp = d.path().join("wide.h5");
    wide.write(&wp).unwrap();
    let r = read_rows(&wp, &["w150", "w3", "w4", "w199"]).unwrap();
    for (k, i) in [150usize, 3, 4, 199].iter().enumerate() {
        assert_eq!(r.row(k), wide.emb.row(*i));
    }
    let (meta, back_ids, dim) = read_meta(&dest).unwrap();
    assert_eq!(
        (meta.config_hash.as_str(), back_ids.len(), dim),
        ("h", 7, 3)
    );
}

#[test]
fn cached_reads_equal_direct_reads_and_see_a_rewritten_store() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("c.h5");
    let store = |scale: f32, n: usize| Embeddings {
        ids: (0..n).map(|i| format!("g{i}")).collect(),
        emb: Array2::from_shape_fn((n, 4), |(i, j)| scale * (i * 4 + j) as f32),
        meta: EmbeddingMeta::default(),
    };
    store(1.0, 50).write(&p).unwrap();
    let ids = ["g7", "g0", "g49", "g7"];
    let direct = read_rows(&p, &ids).unwrap();
    for budget in [0, 1 << 20] {
        // Twice: the second read comes from memory when the budget allows.
        for _ in 0..2 {
            assert_eq!(read_rows_cached_within(&p, &ids, budget).unwrap(), direct);
        }
    }
    // Missing ids: the same error as a direct read.
    let e = read_rows_cached_within(&p, &["g1", "nope"], 1 << 20).unwrap_err();
    assert_eq!(
        e.to_string(),
        read_rows(&p, &["g1", "nope"]).unwrap_err().to_string()
    );
    // The store written again (another size): the cache reads it again.
    store(-1.0, 60).write(&p).unwrap();
    let again = read_rows_cached_within(&p, &["g55", "g7"], 1 << 20).unwrap();
    assert_eq!(again, read_rows(&p, &["g55", "g7"]).unwrap());
    assert_eq!(again[[1, 0]], -28.0);
    // A budget smaller than a store: read directly, nothing kept.
    let q = d.path().join("big.h5");
    store(2.0, 50).write(&q).unwrap();
    assert_eq!(
        read_rows_cached_within(&q, &ids, 100).unwrap(),
        read_rows(&q, &ids).unwrap()
    );
    assert!(!CACHE.lock().unwrap().entries.contains_key(&q));
}

#[test]
fn timestamp_format() {
    let t = now_rfc3339();
    assert_eq!(t.len(), 20);
    assert!(t.starts_with("20") && t.ends_with('Z'), "{t}");
}

#[test]
fn rejects_bad_embeddings_before_writing() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("m.h5");
    let mut e = Embeddings {
        ids: vec!["a".into(), "b".into()],
        emb: Array2::zeros((2, 3)),
        meta: EmbeddingMeta::default(),
    };
    e.emb[[1, 2]] = f32::NAN;
    let err = e.write(&p).unwrap_err().to_string();
    assert!(err.contains("row 1") && err.contains("\"b\""), "{err}");
    e.emb[[1, 2]] = 0.0;
    e.ids[1] = "a".into();
    assert!(
        e.write(&p)
            .unwrap_err()
            .to_string()
            .contains("appears at rows 0 and 1")
    );
    assert!(!p.exists());
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
}

#[test]
fn a_matrix_that_disagrees_with_its_ids_or_dim_is_a_damaged_store() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("m.h5");
    let e = Embeddings {
        ids: (0..4).map(|i| format!("g{i}")).collect(),
        emb: Array2::from_shape_fn((4, 6), |(i, j)| (i * 6 + j) as f32),
        meta: EmbeddingMeta {
            model: "m".into(),
            config_hash: "h".into(),
            ..Default::default()
        },
    };
    e.write(&p).unwrap();
    let (_, ids, dim) = read_meta(&p).unwrap();
    assert_eq!((ids.len(), dim), (4, 6));
    // `emb` cut to 3 of its 6 columns, the `dim` attribute kept (an edit
    // that HDF5 reads without complaint).
    {
        let f = hdf5::File::open_rw(&p).unwrap();
        f.unlink("emb").unwrap();
        f.new_dataset_builder()
            .with_data(&e.emb.slice(ndarray::s![.., ..3]).to_owned())
            .create("emb")
            .unwrap();
    }
    // Unsealed, the edit is damage; sealed again (a hand-made store), its
    // shape is still checked.
    let err = read_meta(&p).unwrap_err();
    assert!(matches!(err, StoreError::Damaged { .. }), "{err}");
    crate::seal::seal_in_place(&p).unwrap();
    let err = read_meta(&p).unwrap_err().to_string();
    assert!(
        err.contains("emb is [4, 3] but the store has 4 ids and attribute dim = 6"),
        "{err}"
    );
    assert!(Embeddings::read(&p).is_err());
}
