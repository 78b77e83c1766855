//! A linear probe's grid of `c` (`alpha`) values: whether the chosen value
//! sits at the grid's edge (the best may lie beyond it), and the next value
//! `auto` adds (a decade beyond that edge, within bounds).

/// Where `auto` inserts its next value and the value: a decade below the
/// grid when the best (`grid[best]`, the grid sorted) is its smallest, a
/// decade above when its largest; none when the best is inside or the next
/// value would leave [`super::AUTO_BOUNDS`].
pub fn widened(grid: &[f64], best: usize) -> Option<(usize, f64)> {
    let (at, next) = if best == 0 {
        (0, grid[0] / 10.0)
    } else if best + 1 == grid.len() {
        (grid.len(), grid[best] * 10.0)
    } else {
        return None;
    };
    let (lo, hi) = super::AUTO_BOUNDS;
    (lo * 0.999..=hi * 1.001)
        .contains(&next)
        .then_some((at, next))
}

/// Whether the chosen value `grid[best]` is the grid's smallest or largest
/// (a grid of at least two values): the best may lie beyond it. The words
/// name the value, the grid and what to do.
pub fn grid_edge(grid: &[f64], best: usize, regression: bool, auto: bool) -> Option<String> {
    if grid.len() < 2 {
        return None;
    }
    let v = grid[best];
    let lo = grid.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = grid.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let side = if v == lo {
        "smallest"
    } else if v == hi {
        "largest"
    } else {
        return None;
    };
    let (name, key) = if regression {
        ("alpha", "probe.alpha")
    } else {
        ("C", "probe.c")
    };
    let values: Vec<String> = grid.iter().map(|g| format!("{g}")).collect();
    let fix = if auto {
        format!(
            "{key}: auto stopped at its bound ({} widenings, {:e}..{:e})",
            super::AUTO_WIDENINGS,
            super::AUTO_BOUNDS.0,
            super::AUTO_BOUNDS.1
        )
    } else {
        format!("widen {key} (or set {key}: auto)")
    };
    Some(format!(
        "{name} = {v} is the {side} value of the grid [{}]: the best may lie beyond it; {fix}",
        values.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_edge_is_named_with_what_to_do() {
        let g = [0.01, 0.1, 1.0];
        let e = grid_edge(&g, 0, false, false).unwrap();
        assert!(
            e.starts_with("C = 0.01 is the smallest value of the grid [0.01, 0.1, 1]"),
            "{e}"
        );
        assert!(e.contains("widen probe.c (or set probe.c: auto)"), "{e}");
        assert!(grid_edge(&g, 1, false, false).is_none());
        let e = grid_edge(&[100.0, 10.0], 0, true, false).unwrap();
        assert!(e.starts_with("alpha = 100 is the largest value"), "{e}");
        assert!(grid_edge(&[1.0], 0, false, false).is_none());
        let e = grid_edge(&g, 2, false, true).unwrap();
        assert!(e.contains("probe.c: auto stopped at its bound"), "{e}");
    }

    #[test]
    fn auto_adds_a_decade_beyond_the_edge_within_bounds() {
        assert_eq!(widened(&[0.01, 0.1, 1.0], 0), Some((0, 0.001)));
        assert_eq!(widened(&[0.01, 0.1, 1.0], 2), Some((3, 10.0)));
        assert_eq!(widened(&[0.01, 0.1, 1.0], 1), None);
        assert_eq!(widened(&[1e-6, 1e-5], 0), None);
        let top = widened(&[1e4, 1e5], 1).unwrap();
        assert!((top.1 - 1e6).abs() < 1e-6);
        assert_eq!(widened(&[1e5, 1e6], 1), None);
    }
}
