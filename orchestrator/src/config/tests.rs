//! Unit tests of the config reader: positions, hints, checks.

use super::position::{duplicate_key, locate_in_entry};
use super::*;

const OK: &str = "name: t\ndataset: data/demo\nstore: runs/t\nmodels:\n  - {name: k3, kind: kmer, modality: dna, k: 3}\n  - {name: aac, kind: kmer, modality: protein, k: 1}\nensembles:\n  - {name: both, members: [k3, aac]}\n";

fn err(text: &str) -> String {
    SweepConfig::parse(text, "c.yaml").unwrap_err().to_string()
}

#[test]
fn parses_defaults() {
    let c = SweepConfig::parse(OK, "c.yaml").unwrap();
    assert_eq!(c.seeds, vec![0, 1, 2]);
    assert_eq!(c.tasks, TaskSelection::All);
    assert_eq!(
        c.ensembles[0].fusion,
        vec![Fusion::Concat, Fusion::MeanProb]
    );
    assert_eq!(c.executor.kind, ExecutorKind::Local);
    assert_eq!(c.probe.hidden, vec![256]);
    assert_eq!(c.check_tasks(&["a".into()]).unwrap(), vec!["a".to_string()]);
}

#[test]
fn errors_carry_positions_and_suggestions() {
    assert_eq!(
        err(&OK.replace("store:", "stroe:")),
        "c.yaml:3:1: unknown field `stroe`, expected one of `name`, `dataset`, `store`, `seeds`, `tasks`, `models`, `ensembles`, `splits`, `probe`, `executor`, `device`, `report`; did you mean `store`?"
    );
    let e = err(&format!("{OK}probe: {{kind: mlp, hiden: [8]}}\n"));
    assert!(
        e.starts_with("c.yaml:9:") && e.contains("did you mean `hidden`?"),
        "{e}"
    );
    let e = err(&format!("{OK}device: cuda:x\n"));
    assert!(
        e.starts_with("c.yaml:9:") && e.contains("is not one of `cpu`, `cuda`, `cuda:N`"),
        "{e}"
    );
    // A bad value inside a list is placed at that value, not at the same
    // number elsewhere (`seeds: [0, 1]`), in flow and block lists.
    let e = err(&format!("{OK}probe:\n  kind: logreg\n  c: [1, 0]\n"));
    assert!(
        e.starts_with("c.yaml:11:10: probe.c = 0: must be > 0"),
        "{e}"
    );
    let e = err(&format!(
        "{OK}probe:\n  kind: logreg\n  c:\n    - 1\n    - 0\n"
    ));
    assert!(e.starts_with("c.yaml:13:7: probe.c = 0"), "{e}");
    let e = err(&format!("{OK}report: {{margin: 0}}\n"));
    assert!(
        e.starts_with("c.yaml:9:10: report.margin 0 must be between 0 and 1"),
        "{e}"
    );
    let c =
        SweepConfig::parse(&format!("{OK}probe: {{kind: logreg, c: auto}}\n"), "c.yaml").unwrap();
    assert!(c.probe.c.as_ref().is_some_and(|c| c.is_auto()));
    let e = err(&format!("{OK}probe: {{kind: mlp, c: auto}}\n"));
    assert!(e.contains("auto widens the grid of a linear probe"), "{e}");
    let c = SweepConfig::parse(&format!("{OK}device: cuda:1\n"), "c.yaml").unwrap();
    assert_eq!(c.device, workers::device::DeviceSpec::Cuda(Some(1)));
    let e = err(&format!("{OK}seeds: one\n"));
    assert!(
        e.starts_with("c.yaml:9:") && e.contains("invalid type"),
        "{e}"
    );
    let e = err(&OK.replace("members: [k3, aac]", "members: [k3, aacc]"));
    assert_eq!(
        e,
        "c.yaml:8:32: ensemble both: member `aacc` is not a model; did you mean `aac`?"
    );
    let e = err(&OK.replace(
        "kind: kmer, modality: dna, k: 3",
        "kind: kmer, modality: dna",
    ));
    assert_eq!(e, "c.yaml:5:6: model k3: a kmer model needs `k`");
    let e = err(&OK.replace("k: 1}", "k: 1, weights: w}"));
    assert!(
        e.starts_with("c.yaml:6:54: model aac: `weights` does not apply to a kmer model"),
        "{e}"
    );
    let e = err(&OK.replace("name: aac", "name: k3"));
    assert!(e.contains("model name k3 is used twice"), "{e}");
    let e = err(&OK.replace("kind: kmer, modality: dna", "kind: kmers, modality: dna"));
    assert!(
        e.starts_with("c.yaml:5:") && e.contains("did you mean `kmer`?"),
        "{e}"
    );
    let e = err(&format!("{OK}tasks: everything\n"));
    assert!(e.contains("expected `all` or a list"), "{e}");
    // A probe setting out of range: at its key.
    let e = err(&format!("{OK}seeds: [1]\nprobe: {{kind: logreg, c: -1}}\n"));
    assert_eq!(
        e,
        "c.yaml:10:23: probe.c = -1: must be > 0 (the inverse L2 strength; leave it out for none)"
    );
    let e = err(&format!("{OK}probe:\n  lr: 0\n"));
    assert!(
        e.starts_with("c.yaml:10:3: probe.lr = 0: must be > 0"),
        "{e}"
    );
    let e = err(&format!("{OK}probe: {{c: []}}\n"));
    assert!(
        e.starts_with("c.yaml:9:12: probe.c = []: give one value"),
        "{e}"
    );
    // A setting the probe kind does not use would silently change every cell id.
    let e = err(&format!("{OK}probe: {{kind: logreg, hidden: [64]}}\n"));
    assert!(
        e.contains("probe.hidden = [64]: does not apply to a logreg probe (its settings: c, alpha, tol, max_iter, class_weights)"),
        "{e}"
    );
    let e = err(&format!("{OK}probe: {{kind: mlp, max_iter: 50}}\n"));
    assert!(
        e.contains("c.yaml:9:") && e.contains("probe.max_iter = 50: does not apply to a mlp probe"),
        "{e}"
    );
    let c = SweepConfig::parse(&format!("{OK}probe: {{c: [0.1, 1, 10]}}\n"), "c.yaml").unwrap();
    assert_eq!(c.probe.c.map(|c| c.values()), Some(vec![0.1, 1.0, 10.0]));
}

#[test]
fn repeated_keys_are_found_where_they_repeat() {
    // Top level, inside a nested mapping, inside a list item; a block
    // scalar's lines and separate list items are not keys of one mapping.
    let e = err(&format!("{OK}seeds: [1]\nseeds: [2]\n"));
    assert_eq!(
        e,
        "c.yaml:10:1: duplicate field `seeds` (first on line 9); a key may appear once in its mapping"
    );
    let e = err(&format!(
        "{OK}probe:\n  kind: mlp\n  lr: 0.1\n  kind: logreg\n"
    ));
    assert!(
        e.starts_with("c.yaml:12:3: duplicate field `kind` (first on line 10)"),
        "{e}"
    );
    let text = "name: t\ndataset: d\nstore: s\nmodels:\n  - name: a\n    kind: kmer\n    modality: dna\n    k: 2\n  - name: b\n    kind: kmer\n    modality: dna\n    k: 3\n    k: 4\n";
    assert!(err(text).starts_with("c.yaml:13:5: duplicate field `k` (first on line 12)"));
    let ok = "name: t\ndataset: d\nstore: s\nmodels:\n  - name: a\n    kind: command\n    modality: dna\n    dim: 2\n    command: |\n      run: 1\n      run: 2\n";
    assert_eq!(duplicate_key(ok), None);
}

#[test]
fn slurm_keys_and_resources_are_checked_at_every_level() {
    let slurm = |s: &str| format!("{OK}executor:\n  kind: slurm\n  slurm:\n{s}");
    let e = err(&slurm("    partition: pbatch\n    partiton: pgpu\n"));
    assert_eq!(
        e,
        "c.yaml:13:5: executor.slurm: unknown field `partiton`; did you mean `partition`?"
    );
    let e = err(&slurm("    stages: {embed: {partiton: pgpu}}\n"));
    assert!(
        e.starts_with("c.yaml:12:") && e.contains("did you mean `partition`?"),
        "{e}"
    );
    let e = err(&slurm("    stages:\n      probe: {time: 1h}\n"));
    assert!(
        e.starts_with("c.yaml:13:15: executor.slurm.stages.probe: time = \"1h\": expected minutes"),
        "{e}"
    );
    let e = err(&slurm("    models: {k3: {nodes: 0}}\n"));
    assert!(
        e.contains("executor.slurm.models.k3: nodes = \"0\": must be at least 1"),
        "{e}"
    );
    // The processes scheduler's settings follow the same rules.
    let e = err(&format!(
        "{OK}executor:\n  kind: processes\n  processes: {{time_factor: 0.5}}\n"
    ));
    assert!(
        e.contains("executor.processes.time_factor = 0.5: must be at least 1"),
        "{e}"
    );
    let e = err(&slurm("    cells_per_task: 0\n"));
    assert!(
        e.contains("cells_per_task must be at least 1 (or `auto`)"),
        "{e}"
    );
    let c = SweepConfig::parse(
        &slurm("    partition: pbatch\n    gpus_per_node: 4\n    cells_per_task: auto\n    stages: {probe: {gpus_per_node: 0}, aggregate: {partition: pdebug}}\n    models: {k3: {time: \"2:00:00\"}}\n"),
        "c.yaml",
    )
    .unwrap();
    let s = &c.executor.slurm;
    assert_eq!(s.cells_per_task, CellsPerTask::Auto);
    use crate::grid::Stage;
    assert!(s.resources_for(Stage::Embed, None).asks_gpus());
    assert!(!s.resources_for(Stage::Probe, None).asks_gpus());
    assert!(!s.resources_for(Stage::Aggregate, None).asks_gpus());
    assert_eq!(
        s.resources_for(Stage::Aggregate, None).partition.as_deref(),
        Some("pdebug")
    );
    assert_eq!(
        s.resources_for(Stage::Embed, Some("k3")).time.as_deref(),
        Some("2:00:00")
    );
    assert_eq!(s.resources_for(Stage::Probe, Some("k3")).time, None);
}

#[test]
fn model_field_errors_point_at_the_field_of_that_model() {
    let e = err(&OK.replace("k: 1}", "k: 0}"));
    assert!(
        e.starts_with("c.yaml:6:48: model aac: k = 0: must be >= 1"),
        "{e}"
    );
    let block = "name: t\ndataset: d\nstore: s\nmodels:\n  - name: a\n    kind: kmer\n    modality: dna\n    k: 2\n  - name: b\n    kind: kmer\n    modality: dna\n    k: 0\n";
    assert!(
        err(block).starts_with("c.yaml:12:5: model b: k = 0"),
        "{}",
        err(block)
    );
    // A field that is absent: at the model's name.
    let e = err(&OK.replace(", k: 1}", "}"));
    assert!(
        e.starts_with("c.yaml:6:6: model aac: a kmer model needs `k`"),
        "{e}"
    );
    assert_eq!(locate_in_entry(block, "a", "k"), Some((8, 5)));
    assert_eq!(locate_in_entry(block, "a", "dim"), None);
}

#[test]
fn values_that_cannot_work_are_refused_at_their_position() {
    let cases: Vec<(String, &str)> =
        vec![
        (OK.replace("  - {name: k3", "\t- {name: k3"), "c.yaml:5:1: a tab in the indentation"),
        (
            format!("{OK}defaults: &d {{kind: mlp}}\nprobe:\n  <<: *d\n"),
            "c.yaml:11:3: YAML merge keys",
        ),
        (OK.replace("name: t\n", "name: a/b\n"), "c.yaml:1:1: sweep name \"a/b\""),
        (OK.replace("name: t\n", "name: \"x;rm\"\n"), "sweep name \"x;rm\""),
        (OK.replace("name: k3,", "name: ..,"), "model name \"..\": use letters"),
        (OK.replace("name: both,", "name: .hidden,"), "ensemble name \".hidden\""),
        (
            OK.replace("members: [k3, aac]", "members: [aac, aac]"),
            "ensemble both: member `aac` is listed twice",
        ),
        (
            OK.replace("members: [k3, aac]", "members: [k3, aac], pca: 4"),
            "ensemble both: pca applies to concat-balanced, which its fusion does not list",
        ),
        (
            OK.replace(
                "members: [k3, aac]",
                "members: [k3, aac], fusion: [concat-balanced], pca: 0",
            ),
            "ensemble both: pca: 0 keeps nothing",
        ),
        (OK.replace("k: 3}", "k: 9}"), "k = 9 gives too many features for dna"),
        (
            format!("{OK}  - {{name: c, kind: command, command: \"x {{fasta}} {{nope}}\"}}\n")
                .replace("ensembles:\n  - {name: both, members: [k3, aac]}\n", "")
                + "",
            "command: unknown placeholder {nope}",
        ),
        (
            OK.replace(
                "ensembles:",
                "  - {name: c, kind: command, command: \"x {fasta} {ot}\"}\nensembles:",
            ),
            "did you mean {out}?",
        ),
        (
            OK.replace(
                "ensembles:",
                "  - {name: c, kind: command, timeout_s: 0, command: \"x {fasta}\"}\nensembles:",
            ),
            "timeout_s = 0: must be >= 1",
        ),
        (
            OK.replace(
                "ensembles:",
                "  - {name: e, kind: esm, weights: w, window: 0}\nensembles:",
            ),
            "window = 0: must be >= 1",
        ),
        (
            OK.replace(
                "ensembles:",
                "  - {name: e, kind: esm, weights: w, max_tokens: 1}\nensembles:",
            ),
            "max_tokens = 1: must be >= 2",
        ),
        (
            OK.replace(
                "ensembles:",
                "  - {name: e, kind: esm, weights: w, window: 8, stride: 9}\nensembles:",
            ),
            "stride = 9 > window = 8",
        ),
    ];
    for (text, want) in cases {
        let e = err(&text);
        assert!(e.contains(want), "want {want:?}, got {e:?} for\n{text}");
    }
    // Shell-like braces are not placeholders.
    let ok = OK.replace(
        "ensembles:",
        "  - {name: c, kind: command, command: \"x ${HOME} {fasta} {out} a{1,2}\"}\nensembles:",
    );
    SweepConfig::parse(&ok, "c.yaml").unwrap();
}

#[test]
fn unreadable_config_files_are_named_with_a_position_and_a_hint() {
    let d = tempfile::tempdir().unwrap();
    let e = SweepConfig::load(&d.path().join("nope.yaml"))
        .unwrap_err()
        .to_string();
    assert!(e.ends_with("nope.yaml:1:1: no such file (hint: give the path of a sweep config, e.g. configs/demo.yaml)"), "{e}");
    let e = SweepConfig::load(d.path()).unwrap_err().to_string();
    assert!(e.contains(":1:1: is a folder"), "{e}");
    let p = d.path().join("bin.yaml");
    std::fs::write(&p, b"name: t\ndataset: d\nstore: \xff\xfe\n").unwrap();
    let e = SweepConfig::load(&p).unwrap_err().to_string();
    assert!(e.contains("bin.yaml:3:8: not UTF-8 text (byte 26)"), "{e}");
}

#[test]
fn task_names_are_checked_against_the_dataset() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("c.yaml");
    std::fs::write(&p, format!("{OK}tasks: [membrane, expresion]\n")).unwrap();
    let c = SweepConfig::load(&p).unwrap();
    let e = c
        .check_tasks(&["membrane".into(), "expression".into()])
        .unwrap_err()
        .to_string();
    assert!(e.ends_with("c.yaml:9:19: task `expresion` is not in the dataset data/demo; did you mean `expression`?"), "{e}");
}

#[test]
fn repeated_entries_empty_paths_tags_and_a_bom_are_handled_as_a_user_expects() {
    // Repeated seeds, tasks and fusions would compute and count rows twice.
    let e = err(&format!("{OK}seeds: [0, 1, 0]\n"));
    assert!(e.starts_with("c.yaml:9:1: seeds: 0 is listed twice"), "{e}");
    let e = err(&format!("{OK}tasks: [membrane, enzyme, membrane]\n"));
    assert!(
        e.starts_with("c.yaml:9:1: tasks: `membrane` is listed twice"),
        "{e}"
    );
    let e = err(&OK.replace(
        "members: [k3, aac]}",
        "members: [k3, aac], fusion: [concat, concat]}",
    ));
    assert!(e.contains("fusion `concat` is listed twice"), "{e}");
    // An empty store would write into the current folder.
    let e = err(&OK.replace("store: runs/t", "store: ''"));
    assert!(
        e.starts_with("c.yaml:3:1: store: '' names no folder"),
        "{e}"
    );
    // `~/` means the home folder, not a folder named `~`.
    let home = std::env::var("HOME").unwrap();
    let c = SweepConfig::parse(&OK.replace("store: runs/t", "store: ~/runs/t"), "c.yaml").unwrap();
    assert_eq!(c.store, Path::new(&home).join("runs/t"));
    // A tag is refused at its position, not silently dropped.
    let e = err(&OK.replace("dataset: data/demo", "dataset: !include other.yaml"));
    assert!(
        e.starts_with("c.yaml:2:10: YAML tag `!include` is not supported"),
        "{e}"
    );
    // A byte-order mark is not a missing field.
    let c = SweepConfig::parse(&format!("\u{feff}{OK}"), "c.yaml").unwrap();
    assert_eq!(c.name, "t");
    // An empty command; a name too long for a file name.
    let e = err(&OK.replace(
        "{name: aac, kind: kmer, modality: protein, k: 1}",
        "{name: aac, kind: command, modality: protein, command: ''}",
    ));
    assert!(e.contains("model aac: command is empty"), "{e}");
    let long = "m".repeat(120);
    let e = err(&OK
        .replace("name: k3", &format!("name: {long}"))
        .replace("[k3, aac]", &format!("[{long}, aac]")));
    assert!(e.contains("is 120 characters; at most 100"), "{e}");
}

#[test]
fn the_gene_input_is_for_multimodal_kinds_only() {
    let e = err(&OK.replace(
        "{name: aac, kind: kmer, modality: protein, k: 1}",
        "{name: aac, kind: esm, modality: gene, weights: w}",
    ));
    assert!(
        e.starts_with("c.yaml:6:28: model aac: modality: gene embeds a gene's CDS and protein")
            && e.contains("kind: glm2, lucaone")
            && e.contains("hint: set `modality: dna` or `modality: protein`"),
        "{e}"
    );
    for kind in ["glm2", "lucaone"] {
        let text = OK.replace(
            "{name: aac, kind: kmer, modality: protein, k: 1}",
            &format!("{{name: aac, kind: {kind}, modality: gene, weights: w}}"),
        );
        let cfg = SweepConfig::parse(&text, "c.yaml").unwrap();
        assert_eq!(cfg.models[1].modality(), workers::embed::Modality::Gene);
    }
}
