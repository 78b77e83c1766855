//! Tidy results: one row per cell × metric, as `results_long.csv` and as
//! `results_long.parquet` (the same rows; `pandas.read_parquet` or pyarrow
//! load it). Columns: cell_id, model, modality (dna, protein, multimodal,
//! ensemble), fusion, members (`+`-joined), task, category, kind, seed,
//! metric, value (empty/null when undefined), primary (the task's headline
//! metric), n_train, n_valid, n_test, test_positives (empty/null for
//! regression).

use crate::aggregate::{Aggregate, METRICS};
use crate::config::SweepConfig;
use anyhow::Context;
use parquet::basic::Compression;
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use std::path::Path;
use std::sync::Arc;
use workers::dataset::{Dataset, TaskKind};
use workers::probe::metrics::primary_metric;

/// One long row.
#[derive(Debug, Clone, PartialEq)]
pub struct LongRow {
    pub cell_id: String,
    pub model: String,
    pub modality: String,
    pub fusion: String,
    pub members: String,
    pub task: String,
    pub category: String,
    pub kind: String,
    pub seed: i64,
    pub metric: String,
    pub value: Option<f64>,
    pub primary: bool,
    pub n_train: i64,
    pub n_valid: i64,
    pub n_test: i64,
    pub test_positives: Option<i64>,
}

/// The long rows of every aggregated cell (metrics in [`METRICS`] order).
pub fn long_rows(cfg: &SweepConfig, ds: &Dataset, agg: &Aggregate) -> Vec<LongRow> {
    let mut out = Vec::with_capacity(agg.rows.len() * METRICS.len());
    for r in &agg.rows {
        let spec = ds.task(&r.task);
        let kind = spec.map(|t| t.kind).unwrap_or(TaskKind::Binary);
        let category = spec.map(|t| t.category.clone()).unwrap_or_default();
        let modality = super::leaderboard::group_of(cfg, &r.model);
        for (j, m) in METRICS.iter().enumerate() {
            let v = r.metrics[j];
            out.push(LongRow {
                cell_id: r.cell_id.clone(),
                model: r.model.clone(),
                modality: modality.clone(),
                fusion: r.fusion.clone(),
                members: r.members.clone(),
                task: r.task.clone(),
                category: category.clone(),
                kind: r.kind.clone(),
                seed: r.seed as i64,
                metric: (*m).to_string(),
                value: v.is_finite().then_some(v),
                primary: *m == primary_metric(kind),
                n_train: r.n_train as i64,
                n_valid: r.n_valid as i64,
                n_test: r.n_test as i64,
                test_positives: (r.test_positives >= 0).then_some(r.test_positives),
            });
        }
    }
    out
}

const COLUMNS: &str = "cell_id,model,modality,fusion,members,task,category,kind,seed,metric,value,primary,n_train,n_valid,n_test,test_positives";

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `results_long.csv`.
pub fn write_csv(path: &Path, rows: &[LongRow]) -> anyhow::Result<()> {
    let mut s = String::with_capacity(rows.len() * 120);
    s.push_str(COLUMNS);
    s.push('\n');
    let opt = |v: Option<String>| v.unwrap_or_default();
    for r in rows {
        let fields = [
            csv_field(&r.cell_id),
            csv_field(&r.model),
            csv_field(&r.modality),
            csv_field(&r.fusion),
            csv_field(&r.members),
            csv_field(&r.task),
            csv_field(&r.category),
            csv_field(&r.kind),
            r.seed.to_string(),
            csv_field(&r.metric),
            opt(r.value.map(|v| v.to_string())),
            r.primary.to_string(),
            r.n_train.to_string(),
            r.n_valid.to_string(),
            r.n_test.to_string(),
            opt(r.test_positives.map(|v| v.to_string())),
        ];
        s.push_str(&fields.join(","));
        s.push('\n');
    }
    workers::atomic::write_atomic(path, s.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// `results_long.parquet`: one row group, snappy pages, UTF-8 strings,
/// nullable `value` and `test_positives`; built in memory, then written
/// atomically (temp file, rename).
pub fn write_parquet(path: &Path, rows: &[LongRow]) -> anyhow::Result<()> {
    let schema = Arc::new(parse_message_type(
        "message results_long {
            REQUIRED BYTE_ARRAY cell_id (UTF8);
            REQUIRED BYTE_ARRAY model (UTF8);
            REQUIRED BYTE_ARRAY modality (UTF8);
            REQUIRED BYTE_ARRAY fusion (UTF8);
            REQUIRED BYTE_ARRAY members (UTF8);
            REQUIRED BYTE_ARRAY task (UTF8);
            REQUIRED BYTE_ARRAY category (UTF8);
            REQUIRED BYTE_ARRAY kind (UTF8);
            REQUIRED INT64 seed;
            REQUIRED BYTE_ARRAY metric (UTF8);
            OPTIONAL DOUBLE value;
            REQUIRED BOOLEAN primary;
            REQUIRED INT64 n_train;
            REQUIRED INT64 n_valid;
            REQUIRED INT64 n_test;
            OPTIONAL INT64 test_positives;
        }",
    )?);
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by(format!("genoprot {}", env!("CARGO_PKG_VERSION")))
            .build(),
    );
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, props)?;
    let mut group = writer.next_row_group()?;
    let strings = |f: fn(&LongRow) -> &str| -> Vec<ByteArray> {
        rows.iter().map(|r| ByteArray::from(f(r))).collect()
    };
    let string_cols: [fn(&LongRow) -> &str; 8] = [
        |r| &r.cell_id,
        |r| &r.model,
        |r| &r.modality,
        |r| &r.fusion,
        |r| &r.members,
        |r| &r.task,
        |r| &r.category,
        |r| &r.kind,
    ];
    let mut k = 0usize;
    while let Some(mut col) = group.next_column()? {
        let name = col_name(k);
        match k {
            0..=7 => {
                col.typed::<ByteArrayType>()
                    .write_batch(&strings(string_cols[k]), None, None)?;
            }
            8 => {
                let v: Vec<i64> = rows.iter().map(|r| r.seed).collect();
                col.typed::<Int64Type>().write_batch(&v, None, None)?;
            }
            9 => {
                col.typed::<ByteArrayType>()
                    .write_batch(&strings(|r| &r.metric), None, None)?;
            }
            10 => {
                let (v, d) = nullable(rows.iter().map(|r| r.value));
                col.typed::<DoubleType>().write_batch(&v, Some(&d), None)?;
            }
            11 => {
                let v: Vec<bool> = rows.iter().map(|r| r.primary).collect();
                col.typed::<BoolType>().write_batch(&v, None, None)?;
            }
            12..=14 => {
                let v: Vec<i64> = rows
                    .iter()
                    .map(|r| [r.n_train, r.n_valid, r.n_test][k - 12])
                    .collect();
                col.typed::<Int64Type>().write_batch(&v, None, None)?;
            }
            15 => {
                let (v, d) = nullable(rows.iter().map(|r| r.test_positives));
                col.typed::<Int64Type>().write_batch(&v, Some(&d), None)?;
            }
            _ => anyhow::bail!("results_long.parquet: unexpected column {k}"),
        }
        col.close()
            .with_context(|| format!("writing column {name} of {}", path.display()))?;
        k += 1;
    }
    group.close()?;
    let bytes = writer.into_inner()?;
    workers::atomic::write_atomic(path, &bytes)
        .with_context(|| format!("writing {}", path.display()))
}

fn col_name(k: usize) -> &'static str {
    COLUMNS.split(',').nth(k).unwrap_or("?")
}

/// Values present and definition levels (1 present, 0 null).
fn nullable<T: Copy>(it: impl Iterator<Item = Option<T>>) -> (Vec<T>, Vec<i16>) {
    let (mut v, mut d) = (Vec::new(), Vec::new());
    for x in it {
        match x {
            Some(x) => {
                v.push(x);
                d.push(1);
            }
            None => d.push(0),
        }
    }
    (v, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;

    fn row(i: usize, value: Option<f64>) -> LongRow {
        LongRow {
            cell_id: format!("c{i}"),
            model: "nt+esm2:stacking".into(),
            modality: "ensemble".into(),
            fusion: "stacking".into(),
            members: "nt-tiny+esm2-tiny".into(),
            task: "membrane".into(),
            category: "structural".into(),
            kind: "binary".into(),
            seed: i as i64,
            metric: "auroc".into(),
            value,
            primary: i.is_multiple_of(2),
            n_train: 840,
            n_valid: 180,
            n_test: 180,
            test_positives: (i != 1).then_some(37),
        }
    }

    #[test]
    fn parquet_rows_read_back_equal() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("r.parquet");
        let rows = vec![row(0, Some(0.91)), row(1, None), row(2, Some(-0.25))];
        write_parquet(&p, &rows).unwrap();
        let r = SerializedFileReader::new(std::fs::File::open(&p).unwrap()).unwrap();
        assert_eq!(r.metadata().file_metadata().num_rows(), 3);
        let got: Vec<_> = r.get_row_iter(None).unwrap().map(|x| x.unwrap()).collect();
        let fields: Vec<(String, Field)> = got[1]
            .get_column_iter()
            .map(|(n, f)| (n.clone(), f.clone()))
            .collect();
        assert_eq!(fields.len(), 16);
        assert_eq!(fields[0], ("cell_id".into(), Field::Str("c1".into())));
        assert_eq!(fields[10], ("value".into(), Field::Null));
        assert_eq!(fields[15], ("test_positives".into(), Field::Null));
        let v0: Vec<Field> = got[2].get_column_iter().map(|(_, f)| f.clone()).collect();
        assert_eq!(v0[10], Field::Double(-0.25));
        assert_eq!(v0[8], Field::Long(2));
        assert_eq!(v0[11], Field::Bool(true));
        let csv = d.path().join("r.csv");
        write_csv(&csv, &rows).unwrap();
        let text = std::fs::read_to_string(csv).unwrap();
        assert_eq!(text.lines().next().unwrap(), COLUMNS);
        assert!(
            text.lines().nth(2).unwrap().contains(",auroc,,false,"),
            "{text}"
        );
    }
}
