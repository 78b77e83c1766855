//! Length-bucketed batching and windowing, shared by every model that takes tokens.

use std::ops::Range;

/// Groups sequence indices into batches: sorted by length (longest first, so
/// the first batch shows the peak memory), each batch padded to its longest
/// member costs `len(batch) * max_len` tokens, which stays within
/// `max_tokens` (a single longer sequence gets a batch of its own).
/// `max_batch` caps the number of sequences per batch.
pub fn length_buckets(lengths: &[usize], max_tokens: usize, max_batch: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by(|a, b| lengths[*b].cmp(&lengths[*a]).then(a.cmp(b)));
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    let mut cur_max = 0usize;
    for i in order {
        let l = lengths[i].max(1);
        let new_max = cur_max.max(l);
        if !cur.is_empty()
            && ((cur.len() + 1) * new_max > max_tokens || cur.len() >= max_batch.max(1))
        {
            out.push(std::mem::take(&mut cur));
            cur_max = 0;
        }
        cur_max = cur_max.max(l);
        cur.push(i);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Windows covering `0..len` of at most `max_len` tokens, starting every
/// `stride` tokens; the last window is aligned to the end so every token is
/// covered and no window is shorter than needed.
pub fn windows(len: usize, max_len: usize, stride: usize) -> Vec<Range<usize>> {
    let max_len = max_len.max(1);
    if len <= max_len {
        #[allow(clippy::single_range_in_vec_init)] // one window: the whole sequence
        return vec![0..len];
    }
    let stride = stride.clamp(1, max_len);
    let mut out = Vec::new();
    let mut start = 0;
    loop {
        if start + max_len >= len {
            out.push(len - max_len..len);
            break;
        }
        out.push(start..start + max_len);
        start += stride;
    }
    out
}

/// Pools per-window mean embeddings into one vector: the mean of the window
/// means weighted by window length (exactly the token mean for non-overlapping
/// windows; overlapping tokens count once per window that covers them).
pub fn pool_windows(window_means: &[Vec<f32>], window_lens: &[usize]) -> Vec<f32> {
    let d = window_means.first().map_or(0, Vec::len);
    let total: usize = window_lens.iter().sum();
    let mut out = vec![0f32; d];
    for (m, &l) in window_means.iter().zip(window_lens) {
        let w = l as f32 / total.max(1) as f32;
        for (o, x) in out.iter_mut().zip(m) {
            *o += w * x;
        }
    }
    out
}

/// Splits items into `n` shards balanced by token count (longest first, each
/// to the lightest shard; ties to the lower shard), deterministic. Each shard
/// lists item indices in ascending order.
pub fn shard_by_tokens(lengths: &[usize], n: usize) -> Vec<Vec<usize>> {
    let n = n.max(1);
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by(|a, b| lengths[*b].cmp(&lengths[*a]).then(a.cmp(b)));
    let mut load = vec![0usize; n];
    let mut out = vec![Vec::new(); n];
    for i in order {
        let s = (0..n).min_by_key(|s| (load[*s], *s)).unwrap();
        load[s] += lengths[i].max(1);
        out[s].push(i);
    }
    for v in &mut out {
        v.sort_unstable();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_balance_tokens_not_counts() {
        let lens = [1000, 10, 10, 10, 10, 10, 990, 20];
        let s = shard_by_tokens(&lens, 2);
        let tok = |v: &Vec<usize>| v.iter().map(|i| lens[*i]).sum::<usize>();
        assert_eq!(s[0].len() + s[1].len(), lens.len());
        assert!(tok(&s[0]).abs_diff(tok(&s[1])) <= 20, "{s:?}");
        assert_eq!(s, shard_by_tokens(&lens, 2));
        assert_eq!(shard_by_tokens(&lens, 1)[0], (0..8).collect::<Vec<_>>());
    }

    #[test]
    fn buckets_respect_the_token_budget() {
        let lens = [10, 500, 30, 30, 29, 1000, 5];
        let b = length_buckets(&lens, 100, 64);
        // every index once
        let mut all: Vec<usize> = b.iter().flatten().copied().collect();
        all.sort();
        assert_eq!(all, (0..lens.len()).collect::<Vec<_>>());
        for batch in &b {
            let mx = batch.iter().map(|i| lens[*i]).max().unwrap();
            assert!(batch.len() == 1 || batch.len() * mx <= 100, "{batch:?}");
        }
        assert_eq!(b[0], vec![5]);
        assert_eq!(b[1], vec![1]);
        assert_eq!(b[2], vec![2, 3, 4]);
        assert_eq!(
            length_buckets(&[1, 1, 1], 1000, 2),
            vec![vec![0, 1], vec![2]]
        );
    }

    #[test]
    fn windows_cover_everything() {
        let one = windows(5, 10, 5);
        assert_eq!((one.len(), one[0].clone()), (1, 0..5));
        assert_eq!(windows(25, 10, 10), vec![0..10, 10..20, 15..25]);
        assert_eq!(windows(20, 10, 5), vec![0..10, 5..15, 10..20]);
        for (len, ml, st) in [(1000, 100, 50), (101, 100, 100), (7, 3, 1)] {
            let w = windows(len, ml, st);
            assert!(w.iter().all(|r| r.len() == ml));
            assert_eq!(w.first().unwrap().start, 0);
            assert_eq!(w.last().unwrap().end, len);
            assert!(w.windows(2).all(|p| p[1].start <= p[0].end), "gap in {w:?}");
        }
        let p = pool_windows(&[vec![1.0, 0.0], vec![3.0, 2.0]], &[10, 30]);
        assert_eq!(p, vec![2.5, 1.5]);
    }
}
