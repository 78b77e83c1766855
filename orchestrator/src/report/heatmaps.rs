//! Report figures that are grids of numbers: the model × task score heatmap
//! (viridis, a perceptually uniform colour-blind-safe map, with a colour bar
//! and the value in every cell), and the colour maps the report's heatmaps
//! share (viridis for scores; a blue–white–orange diverging map for gains,
//! readable with red–green colour blindness).

use anyhow::Context;
use plotters::prelude::*;
use std::collections::BTreeSet;
use std::path::Path;

use super::panels::truncate;
use super::verdict::{Comparison, Verdict};

fn lerp(stops: &[(f64, [u8; 3])], t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    for w in stops.windows(2) {
        let ((a, ca), (b, cb)) = (w[0], w[1]);
        if t <= b {
            let f = if b > a { (t - a) / (b - a) } else { 0.0 };
            let c = |k: usize| (ca[k] as f64 + f * (cb[k] as f64 - ca[k] as f64)).round() as u8;
            return RGBColor(c(0), c(1), c(2));
        }
    }
    let c = stops.last().map(|s| s.1).unwrap_or([0, 0, 0]);
    RGBColor(c[0], c[1], c[2])
}

/// matplotlib's viridis at `t` in [0, 1] (interpolated between 9 of its stops).
pub fn viridis(t: f64) -> RGBColor {
    lerp(
        &[
            (0.0, [68, 1, 84]),
            (0.125, [71, 44, 122]),
            (0.25, [59, 81, 139]),
            (0.375, [44, 113, 142]),
            (0.5, [33, 144, 141]),
            (0.625, [39, 173, 129]),
            (0.75, [92, 200, 99]),
            (0.875, [170, 220, 50]),
            (1.0, [253, 231, 37]),
        ],
        t,
    )
}

/// A diverging map at `t` in [-1, 1]: blue (negative), white (0), orange (positive).
pub fn diverging(t: f64) -> RGBColor {
    lerp(
        &[
            (0.0, [33, 102, 172]),
            (0.25, [103, 169, 207]),
            (0.5, [247, 247, 247]),
            (0.75, [244, 165, 130]),
            (1.0, [178, 88, 24]),
        ],
        (t + 1.0) / 2.0,
    )
}

/// Whether dark or light text reads on `c`.
pub fn text_on(c: RGBColor) -> RGBColor {
    let l = 0.299 * c.0 as f64 + 0.587 * c.1 as f64 + 0.114 * c.2 as f64;
    if l > 140.0 { BLACK } else { WHITE }
}

/// A vertical colour bar at (x, y), `h` pixels tall, labelled lo … hi.
pub fn colour_bar(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    (x, y, h): (i32, i32, i32),
    (lo, hi): (f64, f64),
    colour: &dyn Fn(f64) -> RGBColor,
    label: &str,
) -> anyhow::Result<()> {
    for k in 0..h {
        let t = 1.0 - k as f64 / (h - 1).max(1) as f64;
        root.draw(&Rectangle::new(
            [(x, y + k), (x + 14, y + k + 1)],
            colour(lo + t * (hi - lo)).filled(),
        ))?;
    }
    root.draw(&Rectangle::new(
        [(x, y), (x + 14, y + h)],
        BLACK.stroke_width(1),
    ))?;
    for (v, yy) in [(hi, y), ((lo + hi) / 2.0, y + h / 2), (lo, y + h)] {
        root.draw(&Text::new(
            format!("{v:.2}"),
            (x + 18, yy - 6),
            ("sans-serif", 11),
        ))?;
    }
    root.draw(&Text::new(
        label.to_string(),
        (x - 4, y - 18),
        ("sans-serif", 11),
    ))?;
    Ok(())
}

/// Task labels are written upwards; at most this many characters.
const TASK_LABEL: usize = 28;

/// Where a heatmap's grid starts: below the title's line and the upward
/// task labels (about 6.5 px a character, the longest label with its †).
fn labels_top(tasks: &[String]) -> i32 {
    let longest = tasks
        .iter()
        .map(|t| truncate(t, TASK_LABEL).chars().count() + 2)
        .max()
        .unwrap_or(4) as i32;
    44 + (longest * 13) / 2
}

/// The colour scale of one metric: its values on rankable tasks, with the
/// metric's chance level inside (AUROC 0.5, Spearman 0).
fn scale(vals: &[f64], chance: f64) -> (f64, f64) {
    let lo = vals.iter().copied().fold(chance, f64::min);
    let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo, hi.max(lo + 1e-6))
}

/// The model × task heatmap of mean primary scores, one row per model or
/// ensemble (in `rows` order), the value in each cell. Each metric (AUROC,
/// Spearman; `metrics[j]` is task j's) has its own viridis scale and colour
/// bar, set by the tasks that can be ranked: tasks in `small` (too small to
/// rank) are marked †, drawn in grey with their values and set no scale.
pub fn score_heatmap_svg(
    path: &Path,
    tasks: &[String],
    metrics: &[String],
    rows: &[String],
    value: &dyn Fn(&str, &str) -> Option<f64>,
    small: &BTreeSet<String>,
) -> anyhow::Result<()> {
    let (cw, ch, left) = (64i32, 22i32, 230i32);
    let top = labels_top(tasks);
    let mut kinds: Vec<&str> = metrics.iter().map(String::as_str).collect();
    kinds.sort_by_key(|m| (*m != "auroc", m.to_string()));
    kinds.dedup();
    let scales: Vec<(&str, (f64, f64))> = kinds
        .iter()
        .map(|m| {
            let vals: Vec<f64> = tasks
                .iter()
                .zip(metrics)
                .filter(|(t, mt)| mt.as_str() == *m && !small.contains(*t))
                .flat_map(|(t, _)| rows.iter().filter_map(|r| value(r, t)))
                .filter(|v| v.is_finite())
                .collect();
            let chance = if *m == "spearman" { 0.0 } else { 0.5 };
            (*m, scale(&vals, chance))
        })
        .collect();
    let scale_of = |m: &str| scales.iter().find(|(k, _)| *k == m).map(|(_, s)| *s);
    let w = left + cw * tasks.len() as i32 + 20 + 80 * scales.len() as i32;
    let h = top + ch * rows.len() as i32 + 30;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w as u32, h as u32)).into_drawing_area();
        root.fill(&WHITE)?;
        root.draw(&Text::new(
            "Mean primary score per model and task (AUROC; Spearman for regression; each its own scale; † too small to rank, grey)",
            (10, 10),
            ("sans-serif", 15),
        ))?;
        for (j, t) in tasks.iter().enumerate() {
            let t_short = truncate(t, TASK_LABEL);
            let name = if small.contains(t) {
                format!("{t_short} †")
            } else {
                t_short
            };
            root.draw(&Text::new(
                name,
                (left + cw * j as i32 + 4, top - 8),
                ("sans-serif", 11)
                    .into_font()
                    .transform(FontTransform::Rotate270),
            ))?;
        }
        for (i, r) in rows.iter().enumerate() {
            let y = top + ch * i as i32;
            root.draw(&Text::new(truncate(r, 34), (10, y + 5), ("sans-serif", 12)))?;
            for (j, t) in tasks.iter().enumerate() {
                let x = left + cw * j as i32;
                let sc = scale_of(&metrics[j]).filter(|_| !small.contains(t));
                match value(r, t).filter(|v| v.is_finite()) {
                    Some(v) => {
                        let c = match sc {
                            Some((lo, hi)) => viridis((v - lo) / (hi - lo)),
                            None => RGBColor(205, 205, 205),
                        };
                        root.draw(&Rectangle::new(
                            [(x, y), (x + cw - 2, y + ch - 2)],
                            c.filled(),
                        ))?;
                        root.draw(&Text::new(
                            format!("{v:.3}"),
                            (x + 12, y + 4),
                            ("sans-serif", 11).into_font().color(&text_on(c)),
                        ))?;
                    }
                    None => {
                        root.draw(&Rectangle::new(
                            [(x, y), (x + cw - 2, y + ch - 2)],
                            RGBColor(235, 235, 235).filled(),
                        ))?;
                    }
                }
            }
        }
        for (k, (m, (lo, hi))) in scales.iter().enumerate() {
            let label = if *m == "spearman" {
                "Spearman"
            } else {
                "AUROC"
            };
            colour_bar(
                &root,
                (
                    left + cw * tasks.len() as i32 + 20 + 80 * k as i32,
                    top,
                    (ch * rows.len() as i32).clamp(60, 300),
                ),
                (*lo, *hi),
                &|v| viridis((v - lo) / (hi - lo)),
                label,
            )?;
        }
        root.present()?;
    }
    workers::atomic::write_atomic(path, svg.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// The ensemble-gain heatmap: one row per ensemble fusion, one column per
/// task, ensemble − best member on a diverging map with a colour bar; `*`
/// where significant after Holm, † on tasks too small to rank.
pub fn gain_heatmap_svg(
    path: &Path,
    tasks: &[String],
    ens: &[String],
    gains: &[&Comparison],
    small: &BTreeSet<String>,
) -> anyhow::Result<()> {
    let cw = 70i32;
    let top = labels_top(tasks);
    let (w, h) = (
        220 + cw * tasks.len() as i32 + 90,
        top + 28 + 36 * ens.len() as i32,
    );
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w as u32, h as u32 + 40)).into_drawing_area();
        root.fill(&WHITE)?;
        root.draw(&Text::new(
            "Ensemble gain over best member (primary metric; * better/worse, ≈ equivalent within ±δ, Holm-corrected; † too small, off the scale)",
            (10, 10),
            ("sans-serif", 16),
        ))?;
        // The scale: gains on rankable tasks only (a too-small task's
        // gains are shown in grey, off the scale).
        let maxabs = gains
            .iter()
            .filter(|g| g.ranked && g.diff.is_finite())
            .map(|g| g.diff.abs())
            .fold(0.01f64, f64::max);
        for (j, t) in tasks.iter().enumerate() {
            let name = if small.contains(t) {
                format!("{} †", truncate(t, TASK_LABEL))
            } else {
                truncate(t, TASK_LABEL)
            };
            root.draw(&Text::new(
                name,
                (220 + cw * j as i32 + cw / 2 - 8, top - 8),
                ("sans-serif", 11)
                    .into_font()
                    .transform(FontTransform::Rotate270),
            ))?;
        }
        for (i, e) in ens.iter().enumerate() {
            let y = top + 8 + 36 * i as i32;
            root.draw(&Text::new(e.clone(), (10, y + 12), ("sans-serif", 13)))?;
            for (j, t) in tasks.iter().enumerate() {
                let x = 220 + cw * j as i32;
                let g = gains.iter().find(|g| &g.a == e && &g.task == t);
                let color = match g {
                    Some(g) if g.ranked => diverging(g.diff / maxabs),
                    Some(_) => RGBColor(205, 205, 205),
                    None => RGBColor(235, 235, 235),
                };
                root.draw(&Rectangle::new(
                    [(x, y), (x + cw - 4, y + 30)],
                    color.filled(),
                ))?;
                if let Some(g) = g {
                    let sig = match g.verdict {
                        Verdict::Better | Verdict::Worse => "*",
                        Verdict::Equivalent => "≈",
                        _ => "",
                    };
                    root.draw(&Text::new(
                        format!("{:+.3}{sig}", g.diff),
                        (x + 6, y + 9),
                        ("sans-serif", 12).into_font().color(&text_on(color)),
                    ))?;
                }
            }
        }
        colour_bar(
            &root,
            (w - 70, top + 8, (36 * ens.len() as i32).clamp(60, 300)),
            (-maxabs, maxabs),
            &|v| diverging(v / maxabs),
            "gain",
        )?;
        root.present()?;
    }
    workers::atomic::write_atomic(path, svg.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_maps_hit_their_ends_and_middle() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(diverging(0.0), RGBColor(247, 247, 247));
        assert_eq!(diverging(-1.0), RGBColor(33, 102, 172));
        assert_eq!(text_on(viridis(0.0)), WHITE);
        assert_eq!(text_on(viridis(1.0)), BLACK);
    }

    #[test]
    fn the_score_heatmap_has_every_value_and_a_colour_bar() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("h.svg");
        let tasks = vec!["membrane".to_string(), "tiny".to_string()];
        let rows = vec!["esm2".to_string(), "kmer3".to_string()];
        let small = BTreeSet::from(["tiny".to_string()]);
        let metrics = vec!["auroc".to_string(), "auroc".to_string()];
        score_heatmap_svg(
            &p,
            &tasks,
            &metrics,
            &rows,
            &|r, t| match (r, t) {
                ("esm2", "membrane") => Some(0.912),
                ("kmer3", "membrane") => Some(0.75),
                ("esm2", "tiny") => Some(0.5),
                _ => None,
            },
            &small,
        )
        .unwrap();
        let svg = std::fs::read_to_string(&p).unwrap();
        for s in ["0.912", "0.750", "0.500", "tiny †", "AUROC"] {
            assert!(svg.contains(s), "{s}");
        }
        // The scale runs over the rankable task only (0.50 is chance, 0.91 its top).
        assert!(
            svg.contains("\n0.91\n") && svg.contains("\n0.50\n"),
            "{svg}"
        );
    }

    #[test]
    fn auroc_and_spearman_get_their_own_scales_and_small_tasks_none() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("h.svg");
        let long = "a_task_label_far_longer_than_any_reasonable_column".to_string();
        let tasks = vec![long.clone(), "expr".to_string(), "tiny".to_string()];
        let metrics = vec!["auroc".into(), "spearman".into(), "auroc".into()];
        let rows = vec!["esm2".to_string()];
        let small = BTreeSet::from(["tiny".to_string()]);
        score_heatmap_svg(
            &p,
            &tasks,
            &metrics,
            &rows,
            &|_, t| match t {
                "expr" => Some(0.3),
                "tiny" => Some(1.0),
                _ => Some(0.8),
            },
            &small,
        )
        .unwrap();
        let svg = std::fs::read_to_string(&p).unwrap();
        assert!(
            svg.contains(">AUROC<") || svg.contains("\nAUROC\n"),
            "{svg}"
        );
        assert!(svg.contains("Spearman"));
        // AUROC: 0.50 … 0.80 (the too-small task's 1.000 sets nothing);
        // Spearman: 0.00 … 0.30.
        for l in ["\n0.80\n", "\n0.50\n", "\n0.30\n", "\n0.00\n"] {
            assert!(svg.contains(l), "{l}: {svg}");
        }
        assert!(!svg.contains("\n1.00\n"), "{svg}");
        assert!(svg.contains("1.000") && svg.contains("a_task_label_far_longer_tha…"));
        assert!(!svg.contains(&long));
    }
}
