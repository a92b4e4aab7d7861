use crate::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Mat, MatRef, Par};

use crate::chunked::chunked_sum;
use crate::error::MomentsError;

/// Weighted Gram matrix G(w) = (1/n) Σ_j w_j x_j x_jᵀ, with `x` d×n (samples as columns).
///
/// `w = None` means all weights 1. The result is exactly symmetric. Cost: O(n d²) flops in
/// GEMM-shaped chunks, one pass over `x`; memory O(d² · threads + d · chunk).
pub fn weighted_gram(x: MatRef<'_, f64>, w: Option<&[f64]>) -> Result<Mat<f64>, MomentsError> {
    let (d, n) = x.shape();
    check_samples("a Gram matrix", n, w)?;
    let mut g = chunked_sum(n, d, d, |r| {
        let xc = x.subcols(r.start, r.len());
        let mut out = Mat::zeros(d, d);
        // Only the lower triangle: half the flops of a full product.
        let lower = |out: &mut Mat<f64>, lhs: MatRef<'_, f64>| {
            triangular::matmul(
                out.as_mut(),
                BlockStructure::TriangularLower,
                Accum::Replace,
                lhs,
                BlockStructure::Rectangular,
                xc.transpose(),
                BlockStructure::Rectangular,
                1.0,
                Par::Seq,
            )
        };
        match w {
            Some(w) => {
                let mut xw = xc.to_owned();
                for (j, &wj) in w[r].iter().enumerate() {
                    xw.col_mut(j).iter_mut().for_each(|t| *t *= wj);
                }
                lower(&mut out, xw.as_ref());
            }
            None => lower(&mut out, xc),
        }
        out
    });
    let inv_n = 1.0 / n as f64;
    // The lower triangle was summed; mirror it (so the result is exactly symmetric).
    for j in 0..d {
        for i in j..d {
            let v = g[(i, j)] * inv_n;
            g[(i, j)] = v;
            g[(j, i)] = v;
        }
    }
    Ok(g)
}

/// Cross moment (1/n) X Yᵀ (d×m), with `x` d×n and `y` m×n (samples as columns).
///
/// Cost: O(n d m) flops, one pass over both.
pub fn cross_moment(x: MatRef<'_, f64>, y: MatRef<'_, f64>) -> Result<Mat<f64>, MomentsError> {
    let (d, n) = x.shape();
    let m = y.nrows();
    if y.ncols() != n {
        return Err(MomentsError::ShapeMismatch {
            what: "number of label samples",
            expected: n,
            got: y.ncols(),
        });
    }
    check_samples("a cross moment", n, None)?;
    let mut c = chunked_sum(n, d, m, |r| {
        let mut out = Mat::zeros(d, m);
        matmul(
            out.as_mut(),
            Accum::Replace,
            x.subcols(r.start, r.len()),
            y.subcols(r.start, r.len()).transpose(),
            1.0,
            Par::Seq,
        );
        out
    });
    c *= faer::Scale(1.0 / n as f64);
    Ok(c)
}

pub(crate) fn check_samples(
    what: &'static str,
    n: usize,
    w: Option<&[f64]>,
) -> Result<(), MomentsError> {
    if n == 0 {
        return Err(MomentsError::TooFewSamples { what, n, needed: 1 });
    }
    if let Some(w) = w
        && w.len() != n
    {
        return Err(MomentsError::ShapeMismatch {
            what: "number of weights",
            expected: n,
            got: w.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CHUNK;

    fn data(d: usize, n: usize) -> Mat<f64> {
        // Deterministic, irregular values: no generator needed for a shape/sum check.
        Mat::from_fn(d, n, |i, j| {
            ((i * 7919 + j * 104_729) % 1000) as f64 / 500.0 - 1.0
        })
    }

    #[test]
    fn gram_matches_direct_sum() {
        let (d, n) = (5, 2 * CHUNK + 37);
        let x = data(d, n);
        let w: Vec<f64> = (0..n).map(|j| (j % 13) as f64 - 6.0).collect();
        let g = weighted_gram(x.as_ref(), Some(&w)).unwrap();
        for a in 0..d {
            for b in 0..d {
                let direct: f64 =
                    (0..n).map(|j| w[j] * x[(a, j)] * x[(b, j)]).sum::<f64>() / n as f64;
                assert!((g[(a, b)] - direct).abs() < 1e-12, "{a},{b}");
            }
        }
        assert_eq!(g[(1, 3)].to_bits(), g[(3, 1)].to_bits());
    }

    #[test]
    fn cross_matches_direct_sum() {
        let (d, n) = (4, CHUNK + 5);
        let x = data(d, n);
        let y = data(3, n);
        let c = cross_moment(x.as_ref(), y.as_ref()).unwrap();
        let direct: f64 = (0..n).map(|j| x[(2, j)] * y[(1, j)]).sum::<f64>() / n as f64;
        assert!((c[(2, 1)] - direct).abs() < 1e-12);
    }

    #[test]
    fn bit_identical_for_one_and_two_threads() {
        let (d, n) = (7, 5 * CHUNK + 11);
        let x = data(d, n);
        let w: Vec<f64> = (0..n).map(|j| ((j * 31) % 17) as f64 / 3.0 - 2.0).collect();
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| weighted_gram(x.as_ref(), Some(&w)).unwrap())
        };
        let (g1, g2) = (run(1), run(2));
        for a in 0..d {
            for b in 0..d {
                assert_eq!(g1[(a, b)].to_bits(), g2[(a, b)].to_bits());
            }
        }
    }

    #[test]
    fn mismatched_weights_are_an_error() {
        let x = data(3, 10);
        let err = weighted_gram(x.as_ref(), Some(&[1.0; 9])).unwrap_err();
        assert!(matches!(
            err,
            MomentsError::ShapeMismatch {
                expected: 10,
                got: 9,
                ..
            }
        ));
        let empty = Mat::<f64>::zeros(3, 0);
        assert!(weighted_gram(empty.as_ref(), None).is_err());
    }
}
