//! Row indices grouped by leaf (LightGBM `data_partition.hpp`): every leaf owns a contiguous
//! range of one index array, kept in increasing row order so bin codes are gathered forwards.

use rayon::prelude::*;

/// Rows per chunk of a parallel split; fixed so results never depend on the thread count.
const CHUNK: usize = 1 << 15;

/// Leaf → range of row indices.
#[derive(Debug, Default)]
pub struct DataPartition {
    indices: Vec<u32>,
    scratch: Vec<u32>,
    begin: Vec<usize>,
    len: Vec<usize>,
}

impl DataPartition {
    /// Puts `rows` (increasing) in leaf 0 and forgets every other leaf.
    pub fn reset(&mut self, rows: impl Iterator<Item = u32>) {
        self.indices.clear();
        self.indices.extend(rows);
        self.scratch.resize(self.indices.len(), 0);
        self.begin.clear();
        self.len.clear();
        self.begin.push(0);
        self.len.push(self.indices.len());
    }

    /// Rows of `leaf`, increasing.
    pub fn rows(&self, leaf: usize) -> &[u32] {
        &self.indices[self.begin[leaf]..self.begin[leaf] + self.len[leaf]]
    }

    /// Splits `leaf` in two, stably: rows with `goes_left(row)` stay in `leaf`, the others
    /// form a new leaf whose id is returned.
    pub fn split(&mut self, leaf: usize, goes_left: impl Fn(u32) -> bool + Sync) -> usize {
        let (b, n) = (self.begin[leaf], self.len[leaf]);
        let rows = &mut self.indices[b..b + n];
        let scratch = &mut self.scratch[..n];
        let n_left = if n <= 2 * CHUNK {
            stable_partition(rows, scratch, &goes_left)
        } else {
            // Every chunk partitions itself, then copies its two halves to known offsets of
            // scratch, which becomes the leaf's new order.
            let lefts: Vec<usize> = rows
                .par_chunks_mut(CHUNK)
                .zip(scratch.par_chunks_mut(CHUNK))
                .map(|(c, s)| stable_partition(c, s, &goes_left))
                .collect();
            let n_left: usize = lefts.iter().sum();
            let mut targets: Vec<(&mut [u32], &mut [u32])> = Vec::with_capacity(lefts.len());
            let (mut left_rest, mut right_rest) = scratch.split_at_mut(n_left);
            for (i, &l) in lefts.iter().enumerate() {
                let chunk_len = CHUNK.min(n - i * CHUNK);
                let (lh, lt) = std::mem::take(&mut left_rest).split_at_mut(l);
                let (rh, rt) = std::mem::take(&mut right_rest).split_at_mut(chunk_len - l);
                left_rest = lt;
                right_rest = rt;
                targets.push((lh, rh));
            }
            rows.par_chunks(CHUNK)
                .zip(targets)
                .for_each(|(c, (lo, ro))| {
                    let (l, r) = c.split_at(lo.len());
                    lo.copy_from_slice(l);
                    ro.copy_from_slice(r);
                });
            rows.copy_from_slice(scratch);
            n_left
        };
        self.len[leaf] = n_left;
        self.begin.push(b + n_left);
        self.len.push(n - n_left);
        self.begin.len() - 1
    }
}

/// Reorders `rows` stably into `[left rows | right rows]` and returns the number of left
/// rows; `scratch` (at least as long) holds the right rows meanwhile.
///
/// Branch-free: every row is written to both sides and only the matching cursor advances,
/// since which way a row goes is a coin flip the branch predictor would miss half the time.
#[inline]
fn stable_partition(
    rows: &mut [u32],
    scratch: &mut [u32],
    goes_left: &impl Fn(u32) -> bool,
) -> usize {
    let scratch = &mut scratch[..rows.len()];
    let (mut l, mut r) = (0, 0);
    for i in 0..rows.len() {
        let row = rows[i];
        let left = goes_left(row);
        // l <= i and r <= i: both writes are in bounds and never clobber an unread row.
        rows[l] = row;
        scratch[r] = row;
        l += usize::from(left);
        r += usize::from(!left);
    }
    rows[l..].copy_from_slice(&scratch[..r]);
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(n: u32) {
        let mut p = DataPartition::default();
        p.reset(0..n);
        let right = p.split(0, |r| r % 3 == 1);
        assert_eq!(right, 1);
        let want_left: Vec<u32> = (0..n).filter(|r| r % 3 == 1).collect();
        let want_right: Vec<u32> = (0..n).filter(|r| r % 3 != 1).collect();
        assert_eq!(p.rows(0), &want_left[..]);
        assert_eq!(p.rows(1), &want_right[..]);
        let third = p.split(1, |r| r < n / 2);
        assert_eq!(third, 2);
        assert!(p.rows(1).iter().all(|&r| r < n / 2 && r % 3 != 1));
        assert!(p.rows(2).iter().all(|&r| r >= n / 2 && r % 3 != 1));
        assert_eq!(
            p.rows(0).len() + p.rows(1).len() + p.rows(2).len(),
            n as usize
        );
    }

    #[test]
    fn small_split_is_stable() {
        check(1000);
    }

    #[test]
    fn chunked_parallel_split_is_stable() {
        check(5 * CHUNK as u32 + 123);
    }
}
