//! Unit tests of `cell.rs`: cells on planted data, and late fusion.

mod cells {
    use super::super::*;
    use ndarray::array;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn undefined_metrics_are_reported_not_nan() {
        let y = array![[0.0f32], [0.0], [0.0]];
        let p = array![[0.1f32], [0.7], [0.2]];
        let (m, why) = compute_metrics(TaskKind::Binary, &y, &p);
        assert_eq!(m["auroc"], None);
        assert_eq!(m["auprc"], None);
        assert_eq!(m["accuracy"], Some(2.0 / 3.0));
        assert!(
            why[0].starts_with("auroc: the test split has only negatives"),
            "{why:?}"
        );
        let (m, why) = compute_metrics(
            TaskKind::Regression,
            &array![[1.0f32], [1.0]],
            &array![[0.5f32], [2.0]],
        );
        assert_eq!((m["spearman"], m["r2"]), (None, None));
        assert_eq!(why.len(), 2);
        // Multiclass: classes absent from the test split are left out of the macro average, and said so.
        let y = array![[1.0f32, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]];
        let p = array![[0.8f32, 0.1, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1]];
        let (m, why) = compute_metrics(TaskKind::Multiclass, &y, &p);
        assert_eq!(m["auroc"], Some(1.0));
        assert_eq!(m["accuracy"], Some(1.0));
        assert!(why[0].contains("macro over 2 of 3 classes"), "{why:?}");
    }

    fn tiny() -> (tempfile::TempDir, Dataset) {
        let d = tempfile::tempdir().unwrap();
        let mut ds = crate::dataset::synth::synthesize(&crate::dataset::synth::SynthConfig {
            genes: 60,
            seed: 2,
            ..Default::default()
        });
        ds.write(&d.path().join("data"), false).unwrap();
        (d, ds)
    }

    fn spec(members: &[&str], fusion: Fusion, member_cells: Vec<String>) -> CellSpec {
        CellSpec {
            id: "c".into(),
            model: members.join("+"),
            members: members.iter().map(|s| s.to_string()).collect(),
            fusion,
            task: "membrane".into(),
            seed: 0,
            probe: ProbeParams {
                max_epochs: 3,
                ..Default::default()
            },
            splits: SplitConfig::default(),
            member_cells,
            pca: None,
        }
    }

    #[test]
    fn bad_embedding_inputs_are_clear_errors() {
        let (d, ds) = tiny();
        let emb = d.path().join("emb");
        let cells = d.path().join("cells");
        let dev = crate::device::cpu();
        let e = run_cell(
            &ds,
            &emb,
            &cells,
            &spec(&["nope"], Fusion::None, vec![]),
            &dev,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("model nope: no embedding store"), "{e}");
        // A store missing genes.
        let some = crate::store::Embeddings {
            ids: ds.genes[..10].iter().map(|g| g.id.clone()).collect(),
            emb: Array2::zeros((10, 4)),
            meta: Default::default(),
        };
        some.write(&emb.join("part.h5")).unwrap();
        let e = run_cell(
            &ds,
            &emb,
            &cells,
            &spec(&["part"], Fusion::None, vec![]),
            &dev,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("requested ids are not in the store"), "{e}");
        // NaN written behind genoprot's back (another tool).
        let p = emb.join("nan.h5");
        {
            let f = hdf5::File::create(&p).unwrap();
            let ids: Vec<hdf5::types::VarLenUnicode> = ds
                .genes
                .iter()
                .map(|g| std::str::FromStr::from_str(&g.id).unwrap())
                .collect();
            f.new_dataset_builder()
                .with_data(&ids)
                .create("ids")
                .unwrap();
            let mut a = Array2::<f32>::zeros((ds.genes.len(), 3));
            a[[5, 2]] = f32::NAN;
            f.new_dataset_builder().with_data(&a).create("emb").unwrap();
        }
        crate::seal::seal_in_place(&p).unwrap();
        let e = run_cell(
            &ds,
            &emb,
            &cells,
            &spec(&["nan"], Fusion::None, vec![]),
            &dev,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("model nan: non-finite embedding")
                && e.contains("column 2")
                && e.contains("delete that file and run again"),
            "{e}"
        );
        // Late fusion without member cells.
        let e = run_cell(
            &ds,
            &emb,
            &cells,
            &spec(&["a", "b"], Fusion::MeanProb, vec!["x".into(), "y".into()]),
            &dev,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("member a's cell") && e.contains("is not available"),
            "{e}"
        );
    }

    #[test]
    fn a_c_grid_choice_is_recorded_in_the_cell_store() {
        let (d, ds) = tiny();
        let emb = d.path().join("emb");
        let cells = d.path().join("cells");
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        crate::store::Embeddings {
            ids: ds.genes.iter().map(|g| g.id.clone()).collect(),
            emb: Array2::from_shape_fn((ds.genes.len(), 6), |_| rng.random_range(-1.0f32..1.0)),
            meta: Default::default(),
        }
        .write(&emb.join("m.h5"))
        .unwrap();
        let dev = crate::device::cpu();
        let mut one = spec(&["m"], Fusion::None, vec![]);
        one.probe.kind = crate::probe::ProbeKind::Logreg;
        one.probe.c = Some(crate::probe::PenaltyC::Grid(vec![0.01, 1.0]));
        let r = run_cell(&ds, &emb, &cells, &one, &dev).unwrap();
        assert!(
            [Some(0.01), Some(1.0)].contains(&r.probe_c),
            "{:?}",
            r.probe_c
        );
        let back = CellResult::read(&cells.join("c.h5")).unwrap();
        assert_eq!(back.probe_c, r.probe_c);
        // How the fit ended is stored and read back.
        let fit = back.fit.clone().unwrap();
        assert_eq!(Some(fit.clone()), r.fit);
        assert!(
            fit.solver == "lbfgs" && fit.converged && fit.iterations > 0,
            "{fit:?}"
        );
        assert!(fit.grad_norm <= 1e-6 || fit.stop == "ftol", "{fit:?}");
        // Without `c`: scikit-learn's default C = 1.
        one.probe.c = None;
        run_cell(&ds, &emb, &cells, &one, &dev).unwrap();
        assert_eq!(
            CellResult::read(&cells.join("c.h5")).unwrap().probe_c,
            Some(1.0)
        );
        // Too few iterations: recorded as not converged.
        one.probe.max_iter = 1;
        let r = run_cell(&ds, &emb, &cells, &one, &dev).unwrap();
        let fit = CellResult::read(&cells.join("c.h5")).unwrap().fit.unwrap();
        assert_eq!(Some(fit.clone()), r.fit);
        assert!(
            !fit.converged && fit.stop == "max_iter" && fit.iterations == 1,
            "{fit:?}"
        );
    }
}

mod fusion {
    use super::super::*;
    use crate::embed::{Embedder, Modality, SeqInput};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A good member (amino-acid composition, which carries the planted
    /// membrane signal) and a chance-level member (noise only): learned
    /// fusions give the noise (near) zero weight and stay within 0.005 of the
    /// good member on test.
    #[test]
    fn learned_fusions_ignore_a_chance_level_member() {
        let d = tempfile::tempdir().unwrap();
        let ds = crate::dataset::synth::synthesize(&crate::dataset::synth::SynthConfig {
            genes: 400,
            seed: 5,
            ..Default::default()
        });
        let emb = d.path().join("emb");
        let cells = d.path().join("cells");
        std::fs::create_dir_all(&emb).unwrap();
        std::fs::create_dir_all(&cells).unwrap();
        let ids: Vec<String> = ds.genes.iter().map(|g| g.id.clone()).collect();
        let inputs: Vec<SeqInput<'_>> = ds.genes.iter().map(SeqInput::of).collect();
        let aac = crate::embed::kmer::KmerEmbedder::new("aac", Modality::Protein, 1).unwrap();
        let good = aac.embed(&inputs).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let noise = Array2::from_shape_fn((ids.len(), 50), |_| rng.random_range(-1.0f32..1.0));
        for (name, e) in [("good", good), ("noise", noise)] {
            crate::store::Embeddings {
                ids: ids.clone(),
                emb: e,
                meta: Default::default(),
            }
            .write(&emb.join(format!("{name}.h5")))
            .unwrap();
        }
        let dev = crate::device::cpu();
        let cell =
            |id: &str, members: &[&str], fusion: Fusion, member_cells: Vec<String>| CellSpec {
                id: id.into(),
                model: members.join("+"),
                members: members.iter().map(|s| s.to_string()).collect(),
                fusion,
                task: "membrane".into(),
                seed: 0,
                probe: ProbeParams {
                    kind: crate::probe::ProbeKind::Logreg,
                    c: Some(crate::probe::PenaltyC::Grid(vec![0.01, 0.1, 1.0])),
                    ..Default::default()
                },
                splits: SplitConfig::default(),
                member_cells,
                pca: None,
            };
        let g = run_cell(
            &ds,
            &emb,
            &cells,
            &cell("g", &["good"], Fusion::None, vec![]),
            &dev,
        )
        .unwrap();
        run_cell(
            &ds,
            &emb,
            &cells,
            &cell("n", &["noise"], Fusion::None, vec![]),
            &dev,
        )
        .unwrap();
        let good_auroc = g.metrics["auroc"].unwrap();
        for fusion in [Fusion::Stacking, Fusion::Caruana] {
            let r = run_cell(
                &ds,
                &emb,
                &cells,
                &cell(
                    "f",
                    &["good", "noise"],
                    fusion,
                    vec!["g".into(), "n".into()],
                ),
                &dev,
            )
            .unwrap();
            assert!(r.weights[1] < 0.1, "{fusion:?}: {:?}", r.weights);
            let a = r.metrics["auroc"].unwrap();
            assert!(a >= good_auroc - 0.005, "{fusion:?}: {a} vs {good_auroc}");
            assert_eq!(
                CellResult::read(&cells.join("f.h5")).unwrap().weights,
                r.weights
            );
        }
        // Balanced early fusion: the 50 noise columns count as much as the
        // 20 signal columns, not 2.5 times as much.
        let plain = run_cell(
            &ds,
            &emb,
            &cells,
            &cell("p", &["good", "noise"], Fusion::Concat, vec![]),
            &dev,
        )
        .unwrap();
        let balanced = run_cell(
            &ds,
            &emb,
            &cells,
            &cell("b", &["good", "noise"], Fusion::ConcatBalanced, vec![]),
            &dev,
        )
        .unwrap();
        assert_eq!(balanced.fusion, Fusion::ConcatBalanced);
        assert!(
            balanced.metrics["auroc"].unwrap() >= good_auroc - 0.02,
            "balanced {:?} plain {:?} good {good_auroc}",
            balanced.metrics["auroc"],
            plain.metrics["auroc"]
        );
        // With `pca: 8`, each member is cut to 8 components fitted on the
        // training genes: the noise member's 50 columns become 8, the
        // composition member's 20 become 8, and the signal survives.
        let reduced = run_cell(
            &ds,
            &emb,
            &cells,
            &CellSpec {
                pca: Some(8),
                ..cell("r", &["good", "noise"], Fusion::ConcatBalanced, vec![])
            },
            &dev,
        )
        .unwrap();
        let r = reduced.metrics["auroc"].unwrap();
        assert!(r >= good_auroc - 0.05, "pca {r} vs good {good_auroc}");
        assert_ne!(
            reduced.test_pred, balanced.test_pred,
            "pca changed the features"
        );
    }

    #[test]
    fn member_reduction_keeps_narrow_members_and_cuts_wide_ones() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let x = Array2::from_shape_fn((60, 7), |_| rng.random_range(-1.0f32..1.0));
        let widths = [3, 3, 3, 4, 4, 4, 4];
        let fit: Vec<usize> = (0..40).collect();
        let (y, w) = reduce_members(&x, &widths, &fit, 3, 0);
        assert_eq!(y.dim(), (60, 6));
        assert_eq!(w, vec![3; 6]);
        // The narrow member passes through unchanged.
        assert_eq!(y.slice(ndarray::s![.., ..3]), x.slice(ndarray::s![.., ..3]));
    }
}
