//! The report in the forms people share: every SVG figure also as a PNG
//! (resvg, at 2× for print; text needs a font, e.g. Debian's
//! fonts-dejavu-core), and `report.html`, one self-contained page — the
//! summary's markdown rendered (pulldown-cmark) with every figure inlined.

use anyhow::Context;
use std::path::{Path, PathBuf};

/// Debian's DejaVu Sans (fonts-dejavu-core): loaded alone when present
/// (else every system font).
const DEJAVU: [&str; 2] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
];

fn options() -> resvg::usvg::Options<'static> {
    let mut opt = resvg::usvg::Options::default();
    let db = opt.fontdb_mut();
    // Read into memory: a font loaded as a file is memory-mapped again each
    // time a glyph is outlined (most of the rendering time, in the kernel).
    for f in DEJAVU {
        if let Ok(bytes) = std::fs::read(f) {
            db.load_font_data(bytes);
        }
    }
    if db.is_empty() {
        db.load_system_fonts();
    }
    // The figures ask for the generic `sans-serif`: map it to a font that is
    // there (DejaVu Sans where installed, else the first family found).
    let family = db
        .faces()
        .flat_map(|f| f.families.iter().map(|(name, _)| name.clone()))
        .find(|n| n == "DejaVu Sans")
        .or_else(|| {
            db.faces()
                .find_map(|f| f.families.first().map(|(n, _)| n.clone()))
        });
    if let Some(f) = family {
        db.set_sans_serif_family(f.clone());
        db.set_serif_family(f);
    } else {
        tracing::warn!(
            "no fonts found: the report's PNG figures will have no text (install fonts-dejavu-core)"
        );
    }
    opt
}

/// Rasterizes each `*.svg` of `dir` to a PNG beside it (in parallel);
/// returns the PNGs.
pub fn pngs(dir: &Path, svgs: &[&str]) -> anyhow::Result<Vec<PathBuf>> {
    use rayon::prelude::*;
    let opt = options();
    svgs.par_iter()
        .map(|name| {
            let svg = dir.join(name);
            let data = std::fs::read(&svg).with_context(|| format!("reading {}", svg.display()))?;
            let tree = resvg::usvg::Tree::from_data(&data, &opt)
                .with_context(|| format!("parsing {}", svg.display()))?;
            let size = tree.size().to_int_size();
            let scale = 2.0;
            let mut pixmap = resvg::tiny_skia::Pixmap::new(
                (size.width() as f32 * scale) as u32,
                (size.height() as f32 * scale) as u32,
            )
            .with_context(|| format!("{}: empty figure", svg.display()))?;
            pixmap.fill(resvg::tiny_skia::Color::WHITE);
            resvg::render(
                &tree,
                resvg::tiny_skia::Transform::from_scale(scale, scale),
                &mut pixmap.as_mut(),
            );
            let png = pixmap
                .encode_png()
                .with_context(|| format!("encoding the PNG of {}", svg.display()))?;
            let p = svg.with_extension("png");
            workers::atomic::write_atomic(&p, &png)?;
            Ok(p)
        })
        .collect()
}

/// Sortable tables: a click on a header sorts the rows by that column
/// (numbers by value — the leading number of `0.912 ± 0.010` — else as
/// text; a second click reverses). No network, no library. When done it
/// marks `<html data-sortable="N">` (N tables), which the headless-browser
/// check reads.
const SORT_JS: &str = r#"(function () {
  function key(td) {
    var t = td.textContent.trim();
    var m = t.match(/^[-+\u2212]?\d+(\.\d+)?(e[-+]?\d+)?/i);
    return m ? parseFloat(m[0].replace('\u2212', '-')) : t.toLowerCase();
  }
  var tables = document.querySelectorAll('table');
  tables.forEach(function (table) {
    var head = table.tHead ? table.tHead.rows[0] : null;
    var body = table.tBodies[0];
    if (!head || !body) return;
    Array.prototype.forEach.call(head.cells, function (th, col) {
      th.title = 'sort by this column';
      th.addEventListener('click', function () {
        var asc = th.getAttribute('aria-sort') !== 'ascending';
        Array.prototype.forEach.call(head.cells, function (o) { o.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[col] || a), y = key(b.cells[col] || b);
          if (typeof x !== typeof y) { x = String(x); y = String(y); }
          return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  document.documentElement.setAttribute('data-sortable', String(tables.length));
})();
"#;

/// `report.html`: `md` rendered, each `![alt](x.svg)` replaced by the SVG itself.
pub fn html(dir: &Path, title: &str, md: &str) -> anyhow::Result<PathBuf> {
    let mut body = String::new();
    let parser = pulldown_cmark::Parser::new_ext(md, pulldown_cmark::Options::ENABLE_TABLES);
    pulldown_cmark::html::push_html(&mut body, parser);
    // Inline the figures: the page stands alone.
    let mut page = String::new();
    let mut rest = body.as_str();
    while let Some(i) = rest.find("<img src=\"") {
        page.push_str(&rest[..i]);
        let after = &rest[i + 10..];
        let end = after.find('"').unwrap_or(0);
        let src = &after[..end];
        let close = after.find('>').map_or(after.len(), |k| k + 1);
        match std::fs::read_to_string(dir.join(src)) {
            Ok(svg) if src.ends_with(".svg") => {
                let svg = svg.find("<svg").map_or(svg.as_str(), |k| &svg[k..]);
                page.push_str("<figure>");
                page.push_str(svg);
                page.push_str("</figure>");
            }
            _ => page.push_str(&rest[i..i + 10 + close]),
        }
        rest = &after[close..];
    }
    page.push_str(rest);
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\n<style>\
         body{{font-family:sans-serif;max-width:1400px;margin:2em auto;padding:0 1em;color:#222}}\
         table{{border-collapse:collapse;margin:1em 0;font-size:13px;display:block;overflow-x:auto}}\
         th,td{{border:1px solid #ccc;padding:3px 6px;text-align:left;white-space:nowrap}}\
         th{{background:#f3f3f3;cursor:pointer;user-select:none}}th[aria-sort=ascending]::after{{content:' \\25B2'}}\
         th[aria-sort=descending]::after{{content:' \\25BC'}}\
         figure{{margin:1.5em 0;overflow-x:auto}}code{{font-size:12px}}\
         </style></head><body>\n{page}\n<script>\n{SORT_JS}</script>\n</body></html>\n"
    );
    let p = dir.join("report.html");
    workers::atomic::write_atomic(&p, html.as_bytes())?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_become_pngs_and_the_page_inlines_them() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("f.svg"),
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40" height="20" fill="#ff0000"/><text x="2" y="14">hi</text></svg>"##,
        )
        .unwrap();
        let p = pngs(d.path(), &["f.svg"]).unwrap();
        let bytes = std::fs::read(&p[0]).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        // 2× scale: an IHDR of 80 × 40.
        assert_eq!(u32::from_be_bytes(bytes[16..20].try_into().unwrap()), 80);
        let h = html(
            d.path(),
            "t",
            "# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n![fig](f.svg)\n",
        )
        .unwrap();
        let page = std::fs::read_to_string(h).unwrap();
        assert!(
            page.contains("<table>") && page.contains("<td>2</td>"),
            "{page}"
        );
        assert!(
            page.contains("<figure><svg") && !page.contains("<img"),
            "{page}"
        );
    }
}
