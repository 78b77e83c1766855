//! Array specs: a set of task indices, chunked so no array exceeds the
//! cluster's `MaxArraySize`, with an optional `%N` throttle.

/// One sbatch array: `--array=<spec>`; task `i` of it stands for `offset + i`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrayChunk {
    /// The `--array=` value, e.g. `0-999%50` or `1,4,7-9`.
    pub spec: String,
    /// Added to `SLURM_ARRAY_TASK_ID` to get the global task index.
    pub offset: u32,
    /// How many tasks this chunk holds.
    pub len: u32,
}

/// Global task indices to run as arrays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArraySpec {
    indices: Vec<u32>,
}

impl ArraySpec {
    /// Indices `0..n`.
    pub fn range(n: u32) -> Self {
        ArraySpec {
            indices: (0..n).collect(),
        }
    }

    /// Any set of indices (sorted, deduplicated), e.g. the failed tasks of a retry.
    pub fn indices(mut v: Vec<u32>) -> Self {
        v.sort_unstable();
        v.dedup();
        ArraySpec { indices: v }
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// Splits into arrays whose task ids stay below `max_array_size` (Slurm's
    /// limit is on the index value, not the count): each chunk is shifted by an
    /// offset so its ids start near 0.
    pub fn chunks(&self, max_array_size: u32, throttle: Option<u32>) -> Vec<ArrayChunk> {
        let max = max_array_size.max(1);
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.indices.len() {
            let offset = self.indices[i];
            let mut j = i;
            while j < self.indices.len() && self.indices[j] - offset < max {
                j += 1;
            }
            let local: Vec<u32> = self.indices[i..j].iter().map(|x| x - offset).collect();
            let mut spec = compress(&local);
            if let Some(t) = throttle.filter(|t| *t > 0) {
                spec.push_str(&format!("%{t}"));
            }
            out.push(ArrayChunk {
                spec,
                offset,
                len: (j - i) as u32,
            });
            i = j;
        }
        out
    }
}

/// `[0,1,2,5,7,8]` → `0-2,5,7-8`.
fn compress(v: &[u32]) -> String {
    let mut parts = Vec::new();
    let mut k = 0;
    while k < v.len() {
        let start = v[k];
        let mut end = start;
        while k + 1 < v.len() && v[k + 1] == end + 1 {
            k += 1;
            end = v[k];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        k += 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_chunk_with_throttle() {
        let c = ArraySpec::range(4).chunks(1001, Some(2));
        assert_eq!(
            c,
            vec![ArrayChunk {
                spec: "0-3%2".into(),
                offset: 0,
                len: 4
            }]
        );
    }

    #[test]
    fn chunked_to_max_array_size() {
        let c = ArraySpec::range(2500).chunks(1000, None);
        assert_eq!(c.len(), 3);
        assert_eq!(
            (c[0].spec.as_str(), c[0].offset, c[0].len),
            ("0-999", 0, 1000)
        );
        assert_eq!(
            (c[1].spec.as_str(), c[1].offset, c[1].len),
            ("0-999", 1000, 1000)
        );
        assert_eq!(
            (c[2].spec.as_str(), c[2].offset, c[2].len),
            ("0-499", 2000, 500)
        );
        let total: u32 = c.iter().map(|c| c.len).sum();
        assert_eq!(total, 2500);
    }

    #[test]
    fn sparse_retry_indices() {
        let c = ArraySpec::indices(vec![9, 1, 2, 3, 7, 2, 1500]).chunks(1000, Some(5));
        assert_eq!(c[0].spec, "0-2,6,8%5");
        assert_eq!(c[0].offset, 1);
        assert_eq!(c[1].spec, "0%5");
        assert_eq!(c[1].offset, 1500);
        assert!(ArraySpec::indices(vec![]).chunks(10, None).is_empty());
    }
}
