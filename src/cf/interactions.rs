//! The customers × items interaction matrix in CSR form, validated once so the solvers can
//! index it without checks.

use super::Error;

/// A validated sparse customers × items matrix (CSR) of non-negative interaction strengths
/// (e.g. purchase counts); row = customer index, column = item index.
#[derive(Clone, Debug, PartialEq)]
pub struct Interactions {
    n_rows: usize,
    n_cols: usize,
    indptr: Vec<u32>,
    indices: Vec<u32>,
    values: Vec<f32>,
}

impl Interactions {
    /// Validates CSR arrays: `indptr` has `n_rows + 1` non-decreasing offsets from 0 to
    /// `indices.len()`, each row's indices are strictly increasing and `< n_cols`, and every
    /// value is finite and `>= 0`.
    pub fn from_csr(
        n_rows: usize,
        n_cols: usize,
        indptr: Vec<u32>,
        indices: Vec<u32>,
        values: Vec<f32>,
    ) -> Result<Self, Error> {
        check_ptr("indptr", &indptr, n_rows, indices.len())?;
        if indices.len() != values.len() {
            return Err(Error::LengthMismatch {
                left: "indices",
                left_len: indices.len(),
                right: "values",
                right_len: values.len(),
            });
        }
        for row in 0..n_rows {
            let range = indptr[row] as usize..indptr[row + 1] as usize;
            let mut previous: Option<u32> = None;
            for (&item, &value) in indices[range.clone()].iter().zip(&values[range]) {
                if item as usize >= n_cols {
                    return Err(Error::ItemOutOfRange {
                        row,
                        item,
                        n_items: n_cols,
                    });
                }
                if let Some(previous) = previous
                    && item <= previous
                {
                    return Err(Error::UnsortedRow {
                        row,
                        previous,
                        item,
                    });
                }
                if !value.is_finite() || value < 0.0 {
                    return Err(Error::BadValue { row, item, value });
                }
                previous = Some(item);
            }
        }
        Ok(Interactions {
            n_rows,
            n_cols,
            indptr,
            indices,
            values,
        })
    }

    /// Builds the matrix from `(row, col, value)` triples in any order, summing duplicates.
    pub fn from_triples(
        n_rows: usize,
        n_cols: usize,
        triples: &[(u32, u32, f32)],
    ) -> Result<Self, Error> {
        if triples.len() > u32::MAX as usize {
            return Err(Error::TooManyEntries {
                count: triples.len(),
            });
        }
        let mut sorted = triples.to_vec();
        for &(row, col, value) in &sorted {
            if row as usize >= n_rows {
                return Err(Error::RowOutOfRange { row, n_rows });
            }
            if col as usize >= n_cols {
                return Err(Error::ItemOutOfRange {
                    row: row as usize,
                    item: col,
                    n_items: n_cols,
                });
            }
            if !value.is_finite() || value < 0.0 {
                return Err(Error::BadValue {
                    row: row as usize,
                    item: col,
                    value,
                });
            }
        }
        sorted.sort_unstable_by_key(|&(r, c, _)| (r, c));
        let mut indptr = vec![0u32; n_rows + 1];
        let mut indices = Vec::with_capacity(sorted.len());
        let mut values: Vec<f32> = Vec::with_capacity(sorted.len());
        let mut last: Option<(u32, u32)> = None;
        for &(row, col, value) in &sorted {
            if last == Some((row, col)) {
                if let Some(v) = values.last_mut() {
                    *v += value;
                }
                continue;
            }
            last = Some((row, col));
            indices.push(col);
            values.push(value);
            indptr[row as usize + 1] += 1;
        }
        for r in 0..n_rows {
            indptr[r + 1] += indptr[r];
        }
        Interactions::from_csr(n_rows, n_cols, indptr, indices, values)
    }

    /// Number of rows (customers).
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of columns (items).
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Column indices and values of one row.
    pub fn row(&self, row: usize) -> (&[u32], &[f32]) {
        let range = self.indptr[row] as usize..self.indptr[row + 1] as usize;
        (&self.indices[range.clone()], &self.values[range])
    }

    /// The CSR offsets array (`n_rows + 1` entries).
    pub fn indptr(&self) -> &[u32] {
        &self.indptr
    }

    /// The items × customers matrix, built by a counting sort so it is deterministic and each
    /// of its rows stays sorted.
    pub fn transpose(&self) -> Interactions {
        let mut counts = vec![0u32; self.n_cols + 1];
        for &c in &self.indices {
            counts[c as usize + 1] += 1;
        }
        for c in 0..self.n_cols {
            counts[c + 1] += counts[c];
        }
        let indptr = counts.clone();
        let mut next = counts;
        let mut indices = vec![0u32; self.nnz()];
        let mut values = vec![0f32; self.nnz()];
        for row in 0..self.n_rows {
            let (cols, vals) = self.row(row);
            for (&c, &v) in cols.iter().zip(vals) {
                let slot = next[c as usize] as usize;
                indices[slot] = row as u32;
                values[slot] = v;
                next[c as usize] += 1;
            }
        }
        Interactions {
            n_rows: self.n_cols,
            n_cols: self.n_rows,
            indptr,
            indices,
            values,
        }
    }

    /// The same sparsity pattern with each value replaced by `f(value)`.
    pub(crate) fn map_values(&self, f: impl Fn(f32) -> f32) -> Interactions {
        Interactions {
            values: self.values.iter().map(|&v| f(v)).collect(),
            ..self.clone()
        }
    }
}

/// Checks that `ptr` is a valid offsets array for `n_rows` rows over `n_entries` entries.
pub(crate) fn check_ptr(
    array: &'static str,
    ptr: &[u32],
    n_rows: usize,
    n_entries: usize,
) -> Result<(), Error> {
    if n_entries > u32::MAX as usize {
        return Err(Error::TooManyEntries { count: n_entries });
    }
    if ptr.len() != n_rows + 1 {
        return Err(Error::PtrLength {
            array,
            found: ptr.len(),
            expected: n_rows + 1,
        });
    }
    if ptr[0] != 0 {
        return Err(Error::BadPtr {
            array,
            row: 0,
            reason: "first offset must be 0",
        });
    }
    for row in 0..n_rows {
        if ptr[row + 1] < ptr[row] {
            return Err(Error::BadPtr {
                array,
                row,
                reason: "offsets decrease",
            });
        }
    }
    if ptr[n_rows] as usize != n_entries {
        return Err(Error::BadPtr {
            array,
            row: n_rows,
            reason: "last offset must equal the number of entries",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triples_are_sorted_and_duplicates_summed() {
        let m =
            Interactions::from_triples(2, 3, &[(1, 2, 1.0), (0, 1, 2.0), (1, 0, 1.0), (1, 2, 3.0)])
                .unwrap();
        assert_eq!(m.row(0), (&[1u32][..], &[2.0f32][..]));
        assert_eq!(m.row(1), (&[0u32, 2][..], &[1.0f32, 4.0][..]));
    }

    #[test]
    fn transpose_twice_is_identity_and_moves_entries() {
        let m =
            Interactions::from_triples(3, 4, &[(0, 3, 1.0), (2, 0, 5.0), (1, 3, 2.0), (2, 3, 7.0)])
                .unwrap();
        let t = m.transpose();
        assert_eq!((t.n_rows(), t.n_cols()), (4, 3));
        assert_eq!(t.row(3), (&[0u32, 1, 2][..], &[1.0f32, 2.0, 7.0][..]));
        assert_eq!(t.row(0), (&[2u32][..], &[5.0f32][..]));
        assert_eq!(t.transpose(), m);
    }

    #[test]
    fn bad_arrays_are_typed_errors() {
        assert!(matches!(
            Interactions::from_csr(2, 3, vec![0, 1], vec![0], vec![1.0]),
            Err(Error::PtrLength {
                found: 2,
                expected: 3,
                ..
            })
        ));
        assert!(matches!(
            Interactions::from_csr(1, 3, vec![0, 2], vec![2, 1], vec![1.0, 1.0]),
            Err(Error::UnsortedRow {
                row: 0,
                previous: 2,
                item: 1
            })
        ));
        assert!(matches!(
            Interactions::from_csr(1, 3, vec![0, 1], vec![3], vec![1.0]),
            Err(Error::ItemOutOfRange { item: 3, .. })
        ));
        assert!(matches!(
            Interactions::from_csr(1, 3, vec![0, 1], vec![0], vec![f32::NAN]),
            Err(Error::BadValue { .. })
        ));
        assert!(matches!(
            Interactions::from_csr(2, 3, vec![0, 1, 0], vec![0], vec![1.0]),
            Err(Error::BadPtr { row: 1, .. })
        ));
        assert!(matches!(
            Interactions::from_triples(1, 3, &[(0, 1, -1.0)]),
            Err(Error::BadValue { .. })
        ));
    }
}
