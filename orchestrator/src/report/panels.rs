//! Report figures that are per-task bar panels (small multiples): one panel
//! per task, horizontal bars with ± std over seeds, a dashed chance line, the
//! axis of the task's metric type (AUROC panels, then Spearman panels, each
//! section with its own scale), bars coloured by row kind with the
//! Okabe–Ito colour-blind-safe palette and a legend above the panels (never
//! over a bar). Readable with 20 rows × 12 tasks: rows keep one order in every
//! panel, labels sit left of the bars, the best row of a panel is in bold.

use super::leaderboard::KINDS;
use anyhow::Context;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::Path;

/// Okabe & Ito's colour-blind-safe colours for the row kinds.
pub fn kind_colour(kind: &str) -> RGBColor {
    match kind {
        "dna" => RGBColor(0, 114, 178),
        "protein" => RGBColor(230, 159, 0),
        "multimodal" => RGBColor(0, 158, 115),
        "ensemble" => RGBColor(204, 121, 167),
        _ => RGBColor(153, 153, 153),
    }
}

/// One bar.
pub struct Bar {
    pub label: String,
    pub kind: String,
    pub mean: f64,
    pub std: f64,
}

/// One task's panel.
pub struct Panel {
    pub title: String,
    /// `auroc` or `spearman`: the section and the scale.
    pub metric: String,
    /// Too small to rank: drawn faded, nothing bold.
    pub faded: bool,
    pub bars: Vec<Bar>,
}

/// The chance level, the lowest value and the axis label of a metric.
fn metric_axis(metric: &str) -> (f64, f64, &'static str) {
    match metric {
        "spearman" => (0.0, -1.0, "Spearman ρ (chance 0)"),
        _ => (0.5, 0.0, "AUROC (chance 0.5)"),
    }
}

const LABEL_W: i32 = 215;
const PLOT_W: i32 = 190;
const ROW_H: i32 = 14;
const COLS: usize = 3;

/// Writes the panels, grouped by metric, as one SVG.
pub fn panels_svg(path: &Path, title: &str, panels: &[Panel]) -> anyhow::Result<()> {
    let mut metrics: Vec<&str> = panels.iter().map(|p| p.metric.as_str()).collect();
    metrics.sort_by_key(|m| (*m != "auroc", m.to_string()));
    metrics.dedup();
    let rows_max = panels.iter().map(|p| p.bars.len()).max().unwrap_or(1) as i32;
    let panel_h = 40 + ROW_H * rows_max + 28;
    let panel_w = LABEL_W + PLOT_W + 20;
    let mut sections = Vec::new();
    let mut height = 70;
    for m in &metrics {
        let ps: Vec<&Panel> = panels.iter().filter(|p| p.metric == *m).collect();
        let grid_rows = ps.len().div_ceil(COLS) as i32;
        sections.push((*m, ps, height));
        height += 30 + grid_rows * panel_h;
    }
    let width = 20 + panel_w * COLS.min(panels.len().max(1)) as i32;
    let width = width.max(640);
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (width as u32, height as u32)).into_drawing_area();
        root.fill(&WHITE)?;
        root.draw(&Text::new(title.to_string(), (10, 8), ("sans-serif", 16)))?;
        // Legend: the kinds present, above every panel.
        let mut x = 10;
        for k in KINDS.iter().chain(["other"].iter()) {
            if !panels.iter().any(|p| p.bars.iter().any(|b| b.kind == *k)) {
                continue;
            }
            root.draw(&Rectangle::new(
                [(x, 36), (x + 12, 48)],
                kind_colour(k).filled(),
            ))?;
            root.draw(&Text::new(k.to_string(), (x + 16, 36), ("sans-serif", 12)))?;
            x += 30 + 8 * k.len() as i32;
        }
        root.draw(&Text::new(
            "bars: mean over seeds; whiskers: ± std; dashed: chance; † too small to rank",
            (x + 10, 36),
            ("sans-serif", 11),
        ))?;
        for (metric, ps, top) in &sections {
            let (chance, floor, axis) = metric_axis(metric);
            root.draw(&Text::new(
                axis.to_string(),
                (10, top + 6),
                ("sans-serif", 14).into_font().style(FontStyle::Bold),
            ))?;
            // One scale per section: chance and every bar ± std of the
            // rankable tasks inside, never past the metric's range (AUROC
            // from 0, Spearman from −1; both at most 1). Faded panels (too
            // small to rank) do not stretch it: their bars and every
            // whisker are clipped to the axis.
            let mut lo = chance - 0.05;
            for b in ps.iter().filter(|p| !p.faded).flat_map(|p| &p.bars) {
                if b.mean.is_finite() {
                    lo = lo.min(b.mean - b.std);
                }
            }
            let lo = ((lo * 10.0).floor() / 10.0).max(floor);
            let hi = 1.0;
            for (i, p) in ps.iter().enumerate() {
                let x0 = 10 + panel_w * (i % COLS) as i32;
                let y0 = top + 30 + panel_h * (i / COLS) as i32;
                draw_panel(&root, (x0, y0), p, (lo, hi), chance, rows_max)?;
            }
        }
        root.present()?;
    }
    workers::atomic::write_atomic(path, svg.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

fn draw_panel(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    (x0, y0): (i32, i32),
    p: &Panel,
    (lo, hi): (f64, f64),
    chance: f64,
    rows_max: i32,
) -> anyhow::Result<()> {
    let px = |v: f64| x0 + LABEL_W + ((v - lo) / (hi - lo) * PLOT_W as f64).round() as i32;
    let title = if p.faded {
        format!("{} †", p.title)
    } else {
        p.title.clone()
    };
    root.draw(&Text::new(
        title,
        (x0 + LABEL_W, y0),
        ("sans-serif", 13).into_font().style(FontStyle::Bold),
    ))?;
    let top = y0 + 22;
    let bottom = top + ROW_H * rows_max;
    root.draw(&Rectangle::new(
        [(px(lo), top), (px(hi), bottom)],
        RGBColor(120, 120, 120).stroke_width(1),
    ))?;
    let best = p
        .bars
        .iter()
        .map(|b| b.mean)
        .filter(|v| v.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    let base = chance.clamp(lo, hi);
    for (i, b) in p.bars.iter().enumerate() {
        let y = top + ROW_H * i as i32;
        let bold = !p.faded && b.mean == best;
        let font = ("sans-serif", 11).into_font();
        let font = if bold {
            font.style(FontStyle::Bold)
        } else {
            font
        };
        root.draw(&Text::new(
            truncate(&b.label, 34),
            (x0, y + 1),
            font.color(&BLACK),
        ))?;
        if !b.mean.is_finite() {
            root.draw(&Text::new(
                "undefined",
                (px(base) + 4, y + 1),
                ("sans-serif", 10)
                    .into_font()
                    .color(&RGBColor(120, 120, 120)),
            ))?;
            continue;
        }
        let c = kind_colour(&b.kind);
        let c = if p.faded { c.mix(0.45) } else { c.mix(1.0) };
        let mean = b.mean.clamp(lo, hi);
        let (a, z) = (px(base.min(mean)), px(base.max(mean)));
        if z > a {
            root.draw(&Rectangle::new(
                [(a, y + 2), (z, y + ROW_H - 2)],
                c.filled(),
            ))?;
        }
        if b.std > 1e-9 {
            let (l, r) = (px((b.mean - b.std).max(lo)), px((b.mean + b.std).min(hi)));
            let ym = y + ROW_H / 2;
            if r > l {
                root.draw(&PathElement::new(
                    vec![(l, ym), (r, ym)],
                    BLACK.stroke_width(1),
                ))?;
            }
        }
    }
    // Chance line, dashed.
    let xc = px(chance);
    if chance > lo && chance < hi {
        let mut y = top;
        while y < bottom {
            root.draw(&PathElement::new(
                vec![(xc, y), (xc, (y + 4).min(bottom))],
                RGBColor(60, 60, 60).stroke_width(1),
            ))?;
            y += 7;
        }
    }
    // Axis ticks: chance and hi, and lo where it does not crowd chance.
    let mut ticks = vec![chance.clamp(lo, hi), hi];
    if chance - lo > 0.2 * (hi - lo) {
        ticks.push(lo);
    }
    for t in ticks {
        root.draw(&Text::new(
            format!("{t:.1}"),
            (px(t) - 8, bottom + 3),
            ("sans-serif", 10),
        ))?;
    }
    Ok(())
}

/// A label cut to `n` characters (an ellipsis marks the cut).
pub(super) fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let t: String = s.chars().take(n - 1).collect();
        format!("{t}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(label: &str, kind: &str, mean: f64) -> Bar {
        Bar {
            label: label.into(),
            kind: kind.into(),
            mean,
            std: 0.02,
        }
    }

    #[test]
    fn panels_are_grouped_by_metric_with_a_chance_line_and_a_legend() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.svg");
        let panels = vec![
            Panel {
                title: "membrane".into(),
                metric: "auroc".into(),
                faded: false,
                bars: vec![bar("esm2", "protein", 0.91), bar("kmer3", "dna", 0.6)],
            },
            Panel {
                title: "expression".into(),
                metric: "spearman".into(),
                faded: false,
                bars: vec![bar("esm2", "protein", -0.2), bar("kmer3", "dna", f64::NAN)],
            },
            Panel {
                title: "tiny".into(),
                metric: "spearman".into(),
                faded: true,
                bars: vec![bar("esm2", "protein", -0.9)],
            },
        ];
        panels_svg(&p, "Per-task scores", &panels).unwrap();
        let svg = std::fs::read_to_string(&p).unwrap();
        for s in [
            "AUROC (chance 0.5)",
            "Spearman ρ (chance 0)",
            "membrane",
            "expression",
            "tiny †",
            "undefined",
            "protein",
            "dna",
            "#0072B2",
        ] {
            assert!(svg.contains(s), "{s} missing");
        }
        // Ticks: chance and 1.0 in each section; the Spearman section's
        // floor (−0.3: the lowest bar − std, floored to 0.1) is far enough from 0 to show.
        // A too-small task's −0.9 does not stretch the axis.
        for t in ["\n0.5\n", "\n1.0\n", "\n0.0\n", "\n-0.3\n"] {
            assert!(svg.contains(t), "{t}: {svg}");
        }
        assert!(!svg.contains("\n-1.0\n") && !svg.contains("\n-0.9\n"));
    }

    #[test]
    fn an_auroc_axis_never_runs_below_zero() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.svg");
        let mut wide = bar("noisy", "dna", 0.1);
        wide.std = 0.3;
        let panels = vec![Panel {
            title: "t".into(),
            metric: "auroc".into(),
            faded: false,
            bars: vec![wide, bar("esm2", "protein", 0.9)],
        }];
        panels_svg(&p, "x", &panels).unwrap();
        let svg = std::fs::read_to_string(&p).unwrap();
        assert!(svg.contains("\n0.0\n"), "{svg}");
        assert!(!svg.contains("\n-0.2\n") && !svg.contains("\n-0.1\n"));
    }
}
