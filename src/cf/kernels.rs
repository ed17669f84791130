//! f32 slice kernels written so LLVM vectorises them without fast-math: reductions keep 16
//! independent lanes in a fixed order, and callers compiled for wider vectors (multiversioned
//! at run time) inline them.
//!
//! `FMA` selects fused multiply-add. Only callers compiled with the `fma` target feature may
//! pass `true` (elsewhere `mul_add` is a slow library call); it changes the last bits of the
//! results, so factors are reproducible for a seed on one CPU family at any thread count, but
//! may differ in the last bits between CPUs with and without FMA.

/// `a * b + c`, fused when `FMA`.
#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

const LANES: usize = 16;

/// Dot product of two equally long slices (extra elements of the longer one are ignored).
#[inline(always)]
pub(crate) fn dot<const FMA: bool>(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    // Fixed-size chunks let LLVM drop the bounds checks and keep `acc` in vector registers.
    let (a16, a_tail) = a[..n].as_chunks::<LANES>();
    let (b16, b_tail) = b[..n].as_chunks::<LANES>();
    let mut acc = [0f32; LANES];
    for (x, y) in a16.iter().zip(b16) {
        for j in 0..LANES {
            acc[j] = madd::<FMA>(x[j], y[j], acc[j]);
        }
    }
    let mut tail = 0f32;
    for (x, y) in a_tail.iter().zip(b_tail) {
        tail = madd::<FMA>(*x, *y, tail);
    }
    // Without this barrier LLVM's SLP pass vectorises the loop together with the final
    // reduction and picks 2-wide vectors (ALS sweeps measured ~20% slower); values are unchanged.
    let acc = std::hint::black_box(acc);
    reduce(acc) + tail
}

/// Four dot products sharing `b`, so each load of `b` serves four rows; bit-identical to
/// four calls of [`dot`] (same lanes, same reduction order).
#[inline(always)]
pub(crate) fn dot4<const FMA: bool>(
    a0: &[f32],
    a1: &[f32],
    a2: &[f32],
    a3: &[f32],
    b: &[f32],
) -> [f32; 4] {
    let n = b.len();
    let (b16, b_tail) = b.as_chunks::<LANES>();
    let (r0, t0) = a0[..n].as_chunks::<LANES>();
    let (r1, t1) = a1[..n].as_chunks::<LANES>();
    let (r2, t2) = a2[..n].as_chunks::<LANES>();
    let (r3, t3) = a3[..n].as_chunks::<LANES>();
    let (mut c0, mut c1, mut c2, mut c3) =
        ([0f32; LANES], [0f32; LANES], [0f32; LANES], [0f32; LANES]);
    for ((((y, x0), x1), x2), x3) in b16.iter().zip(r0).zip(r1).zip(r2).zip(r3) {
        for j in 0..LANES {
            c0[j] = madd::<FMA>(x0[j], y[j], c0[j]);
            c1[j] = madd::<FMA>(x1[j], y[j], c1[j]);
            c2[j] = madd::<FMA>(x2[j], y[j], c2[j]);
            c3[j] = madd::<FMA>(x3[j], y[j], c3[j]);
        }
    }
    let tail = |t: &[f32]| {
        let mut s = 0f32;
        for (x, y) in t.iter().zip(b_tail) {
            s = madd::<FMA>(*x, *y, s);
        }
        s
    };
    [
        reduce(c0) + tail(t0),
        reduce(c1) + tail(t1),
        reduce(c2) + tail(t2),
        reduce(c3) + tail(t3),
    ]
}

/// `y += alpha * x`.
#[inline(always)]
pub(crate) fn axpy<const FMA: bool>(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi = madd::<FMA>(alpha, *xi, *yi);
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
            assert!(
                (dot::<false>(&a, &b) as f64 - naive).abs() < 1e-4,
                "dot n={n}"
            );
            assert!(
                (dot::<true>(&a, &b) as f64 - naive).abs() < 1e-4,
                "fused dot n={n}"
            );
            let d4 = dot4::<false>(&a, &b, &a, &b, &b);
            assert_eq!(
                d4,
                [dot::<false>(&a, &b), dot::<false>(&b, &b), d4[0], d4[1]]
            );
            let d4 = dot4::<true>(&a, &b, &a, &b, &b);
            assert_eq!(d4, [dot::<true>(&a, &b), dot::<true>(&b, &b), d4[0], d4[1]]);
            let mut y = b.clone();
            axpy::<false>(2.0, &a, &mut y);
            for i in 0..n {
                assert_eq!(y[i], b[i] + 2.0 * a[i]);
            }
        }
    }
}
