//! f32 slice kernels written so LLVM vectorises them without fast-math: reductions keep 16
//! independent lanes (a fixed order, so results do not depend on the instruction set), and
//! callers compiled for wider vectors inline them.

const LANES: usize = 16;

/// Dot product of two equally long slices (extra elements of the longer one are ignored).
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; LANES];
    let ca = a.chunks_exact(LANES);
    let cb = b.chunks_exact(LANES);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for j in 0..LANES {
            acc[j] += x[j] * y[j];
        }
    }
    let mut tail = 0f32;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    reduce(acc) + tail
}

/// Four dot products sharing `b`, so each load of `b` serves four rows; bit-identical to
/// four calls of [`dot`] (same lanes, same reduction order).
#[inline(always)]
pub(crate) fn dot4(a0: &[f32], a1: &[f32], a2: &[f32], a3: &[f32], b: &[f32]) -> [f32; 4] {
    let n = b.len();
    let rows = [&a0[..n], &a1[..n], &a2[..n], &a3[..n]];
    let mut acc = [[0f32; LANES]; 4];
    let full = n / LANES * LANES;
    let mut i = 0;
    while i < full {
        let bb = &b[i..i + LANES];
        for (acc, row) in acc.iter_mut().zip(rows) {
            let x = &row[i..i + LANES];
            for j in 0..LANES {
                acc[j] += x[j] * bb[j];
            }
        }
        i += LANES;
    }
    let mut out = [0f32; 4];
    for ((o, row), acc) in out.iter_mut().zip(rows).zip(acc) {
        let mut tail = 0f32;
        for j in full..n {
            tail += row[j] * b[j];
        }
        *o = reduce(acc) + tail;
    }
    out
}

/// `y += alpha * x`.
#[inline(always)]
pub(crate) fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

#[inline(always)]
fn reduce(acc: [f32; LANES]) -> f32 {
    let mut h = [0f32; LANES / 2];
    for j in 0..LANES / 2 {
        h[j] = acc[j] + acc[j + LANES / 2];
    }
    let q = [h[0] + h[4], h[1] + h[5], h[2] + h[6], h[3] + h[7]];
    (q[0] + q[2]) + (q[1] + q[3])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_match_naive_sums() {
        for n in [0usize, 1, 7, 16, 17, 33, 128, 130] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let naive: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            assert!((dot(&a, &b) as f64 - naive).abs() < 1e-4, "dot n={n}");
            let d4 = dot4(&a, &b, &a, &b, &b);
            assert_eq!(d4, [dot(&a, &b), dot(&b, &b), dot(&a, &b), dot(&b, &b)]);
            let mut y = b.clone();
            axpy(2.0, &a, &mut y);
            for i in 0..n {
                assert_eq!(y[i], b[i] + 2.0 * a[i]);
            }
        }
    }
}
