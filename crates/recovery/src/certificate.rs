//! The certificate of a fit: its relative residual ‖Y − U f(V X)‖_F / ‖Y‖_F over every
//! sample, and the threshold below which that residual proves the labels exact (docs/algorithms.md
//! section 3). Every path that can claim an exact answer decides it here.

use faer::prelude::*;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use twolayer_moments::{
    CHUNK, MomentsError, SampleSource, first_non_finite, matmul, try_chunked_sum_by,
};

use crate::activation::Activation;
use crate::error::RecoveryError;

/// A fit is exact when its relative residual is below this: noiseless fits land at 1e-13 to
/// 1e-15, and label noise or a wrong model leaves far more.
pub(crate) const EXACT_TOL: f64 = 1e-10;

/// Whether a relative residual certifies an exact fit: below [`EXACT_TOL`] (NaN never does).
pub(crate) fn certifies(residual_rel: f64) -> bool {
    residual_rel < EXACT_TOL
}

/// A fit's relative residual over every sample of its source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Certificate {
    /// ‖Y − U f(V X)‖_F / ‖Y‖_F (the absolute residual when Y = 0).
    pub(crate) residual_rel: f64,
}

impl Certificate {
    /// The certificate of U f(V x) on every sample of `source`: one pass, see
    /// [`residual_sum_of_squares`].
    ///
    /// Cost: O(n k (d + m)) flops; memory O(chunk · (d + m + k)).
    pub(crate) fn of(
        source: &dyn SampleSource,
        f: &Activation,
        v: MatRef<'_, f64>,
        u: MatRef<'_, f64>,
    ) -> Result<Self, RecoveryError> {
        let (residual, labels) = residual_sum_of_squares(source, f, v, u)?;
        Ok(Self::from_sums(residual, labels))
    }

    /// From Σ‖y_j − ŷ_j‖² and Σ‖y_j‖²: their ratio's square root, or the residual's own
    /// when every label is zero.
    pub(crate) fn from_sums(residual: f64, labels: f64) -> Self {
        Self {
            residual_rel: if labels > 0.0 {
                (residual / labels).sqrt()
            } else {
                residual.sqrt()
            },
        }
    }

    /// Whether the fit is certified exact.
    pub(crate) fn certified(&self) -> bool {
        certifies(self.residual_rel)
    }
}

thread_local! {
    /// Per-thread scratch of the certificate pass (pre-activations, residuals), reused from
    /// chunk to chunk: fresh buffers would cost page faults on every chunk. A chunk takes it
    /// out while in use, so a chunk started on this thread meanwhile (rayon runs other work
    /// while a thread waits) starts from empty buffers instead of finding them borrowed.
    static SCRATCH: std::cell::Cell<(Vec<f64>, Vec<f64>)> = const { std::cell::Cell::new((Vec::new(), Vec::new())) };
}

/// Samples per chunk of the certificate's pass: half of [`CHUNK`], since its chunks cost little
/// (two thin products), so that 10⁴ samples make ten chunks for the threads to share evenly
/// instead of five.
const CERTIFY_CHUNK: usize = CHUNK / 2;

/// Whether the samples of `x` (d×n) have their coordinates apart in memory (the columns
/// of a transposed n×d column-major array), which the pass multiplies as Xᵀ Vᵀ so that the
/// long dimension of its products is contiguous; samples stored whole keep V X.
fn coordinates_apart(x: MatRef<'_, f64>) -> bool {
    x.row_stride() != 1
}

/// (Σ_j ‖y_j − U f(V x_j)‖², Σ_j ‖y_j‖²) over every sample of `source`, in one pass
/// (chunked, in parallel, bit-identical for any thread count): the certificate of a fit made
/// on a subset. Samples in memory are read in place. The pass also checks that every sample
/// is finite (the error names the first bad entry), so a caller whose moments came from a
/// subsample needs no separate pass for that.
///
/// Cost: O(n k (d + m)) flops, two GEMMs per chunk; memory O(chunk · (d + m + k)).
pub(crate) fn residual_sum_of_squares(
    source: &dyn SampleSource,
    f: &Activation,
    v: MatRef<'_, f64>,
    u: MatRef<'_, f64>,
) -> Result<(f64, f64), RecoveryError> {
    let (d, m, k) = (source.d(), source.m(), v.nrows());
    // Samples whose coordinates lie apart (a column-major n×d X) are multiplied as Xᵀ Vᵀ
    // and Hᵀ Uᵀ, with the chunk's samples as the long dimension of column-major operands:
    // at (100, 20, 20, 10⁴) that took the certify phase (this pass and the output fit) from
    // 1.5–1.9 to 1.3–1.4 ms. Samples stored whole keep V X.
    let (vt, ut) = (v.transpose().to_owned(), u.transpose().to_owned());
    // In memory the products read the samples where they lie, in any layout.
    let in_memory = source.matrices();
    let total = try_chunked_sum_by(source.n(), CERTIFY_CHUNK, 1, 2, |r| {
        let len = r.len();
        let read;
        let (x, y) = match &in_memory {
            Some(all) => (all.x().subcols(r.start, len), all.y().subcols(r.start, len)),
            None => {
                let mut x = Mat::<f64>::zeros(d, len);
                let mut y = Mat::<f64>::zeros(m, len);
                source.read(r.start, x.as_mut(), y.as_mut())?;
                read = (x, y);
                (read.0.as_ref(), read.1.as_ref())
            }
        };
        // Taken out while in use (see the note on `SCRATCH`).
        let (mut hb, mut eb) = SCRATCH.take();
        let (clean, ess, yss) = {
            hb.resize(k * CERTIFY_CHUNK, 0.0);
            eb.resize(m * CERTIFY_CHUNK, 0.0);
            let transposed = coordinates_apart(x);
            let (rows, cols) = if transposed { (len, k) } else { (k, len) };
            let mut h = MatMut::from_column_major_slice_mut(&mut hb[..k * len], rows, cols);
            if transposed {
                matmul(
                    h.rb_mut(),
                    Accum::Replace,
                    x.transpose(),
                    vt.as_ref(),
                    1.0,
                    Par::Seq,
                );
            } else {
                matmul(h.rb_mut(), Accum::Replace, v, x, 1.0, Par::Seq);
            }
            // A NaN or infinity in x reaches every pre-activation (NaN · 0 is NaN, ∞ · 0
            // too), one in y reaches the residual: checking those k + 1 numbers per sample,
            // not the d + m inputs, finds every bad sample.
            let clean = h.is_all_finite();
            f.apply_in_place(&mut hb[..k * len]);
            let h = MatRef::from_column_major_slice(&hb[..k * len], rows, cols);
            let ess = if transposed {
                let mut e = MatMut::from_column_major_slice_mut(&mut eb[..m * len], len, m);
                e.copy_from(y.transpose());
                matmul(e.rb_mut(), Accum::Add, h, ut.as_ref(), -1.0, Par::Seq);
                e.squared_norm_l2()
            } else {
                let mut e = MatMut::from_column_major_slice_mut(&mut eb[..m * len], m, len);
                e.copy_from(y);
                matmul(e.rb_mut(), Accum::Add, u, h, -1.0, Par::Seq);
                e.squared_norm_l2()
            };
            (clean, ess, y.squared_norm_l2())
        };
        SCRATCH.set((hb, eb));
        if !clean || !ess.is_finite() || !yss.is_finite() {
            return Err(locate_in_chunk(x, y, r.start));
        }
        Ok(Mat::from_fn(1, 2, |_, c| if c == 0 { ess } else { yss }))
    })
    .map_err(RecoveryError::from)?;
    Ok((total[(0, 0)], total[(0, 1)]))
}

/// The error for a chunk of samples `x`, `y` (the first being sample `start`) whose
/// certificate sums came out non-finite: its first NaN or infinity, or values so large that
/// the products overflow.
fn locate_in_chunk(x: MatRef<'_, f64>, y: MatRef<'_, f64>, start: usize) -> MomentsError {
    if let Some(e) = first_non_finite(x, y, |j| start + j) {
        return e;
    }
    MomentsError::Source(format!(
        "the samples near row {start} are so large (above about 1e150) that the network's \
         outputs overflow; rescale X and Y"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use twolayer_moments::InMemory;

    /// The certificate's sums are those of a plain loop, whichever way the samples lie in
    /// memory (whole samples contiguous, or each coordinate's values), over several chunks.
    #[test]
    fn the_certificate_sums_the_same_in_either_layout() {
        let (d, k, m, n) = (5, 3, 2, 2 * CERTIFY_CHUNK + 77);
        let x = Mat::from_fn(d, n, |a, j| {
            (((a * 7919 + j * 104_729) % 1000) as f64) / 500.0 - 1.0
        });
        let v = Mat::from_fn(k, d, |i, a| ((i * 5 + a * 3) % 7) as f64 / 3.0 - 1.0);
        let u = Mat::from_fn(m, k, |o, i| ((o * 3 + i) % 5) as f64 - 2.0);
        let y = Mat::from_fn(m, n, |o, j| ((o + 3 * j) % 11) as f64 / 4.0 - 1.0);
        let f = Activation::Relu;
        let (mut ess, mut yss) = (0.0, 0.0);
        for j in 0..n {
            for o in 0..m {
                let out: f64 = (0..k)
                    .map(|i| u[(o, i)] * f.apply((0..d).map(|a| v[(i, a)] * x[(a, j)]).sum()))
                    .sum();
                ess += (y[(o, j)] - out).powi(2);
                yss += y[(o, j)].powi(2);
            }
        }
        // Whole samples contiguous (d×n column-major), then each coordinate (the transpose of
        // an n×d column-major matrix).
        let (xr, yr) = (x.transpose().to_owned(), y.transpose().to_owned());
        for (xs, ys) in [(x.as_ref(), y.as_ref()), (xr.transpose(), yr.transpose())] {
            let source = InMemory::new(xs, ys).unwrap();
            let (e, t) = residual_sum_of_squares(&source, &f, v.as_ref(), u.as_ref()).unwrap();
            assert!(
                (e - ess).abs() < 1e-10 * ess && (t - yss).abs() < 1e-10 * yss,
                "{e} {ess}"
            );
        }
    }

    /// The documented chunking: 10⁴ samples make ten chunks of the pass (for two threads to
    /// share evenly), twice as many as the moment passes' chunks would.
    #[test]
    fn ten_thousand_samples_make_ten_chunks() {
        assert_eq!(10_000usize.div_ceil(CERTIFY_CHUNK), 10);
        assert_eq!(10_000usize.div_ceil(CHUNK), 5);
    }

    /// Samples stored whole (d×n column-major) keep V X; an n×d column-major array's
    /// transpose, whose coordinates lie apart, takes Xᵀ Vᵀ.
    #[test]
    fn the_layout_decides_the_product() {
        let whole = Mat::<f64>::zeros(4, 9);
        let apart = Mat::<f64>::zeros(9, 4);
        assert!(!coordinates_apart(whole.as_ref()));
        assert!(coordinates_apart(apart.transpose()));
    }

    /// The threshold itself: 0.99e-10 certifies, 1.01e-10 and NaN do not; all-zero labels
    /// give the absolute residual.
    #[test]
    fn the_threshold_is_one_in_ten_billion() {
        assert!(Certificate::from_sums(0.99e-10f64.powi(2) * 4.0, 4.0).certified());
        assert!(!Certificate::from_sums(1.01e-10f64.powi(2) * 4.0, 4.0).certified());
        assert!(!Certificate::from_sums(f64::NAN, 4.0).certified());
        assert!(!certifies(EXACT_TOL));
        let c = Certificate::from_sums(0.25, 4.0);
        assert_eq!(c.residual_rel, 0.25);
        let zero = Certificate::from_sums(0.25, 0.0);
        assert_eq!(zero.residual_rel, 0.5);
        assert!(Certificate::from_sums(0.0, 0.0).certified());
    }

    /// A NaN sample is named by its row; values whose products overflow are refused with a
    /// message to rescale; in either layout and past the first chunk.
    #[test]
    fn bad_samples_are_named_not_summed() {
        let (d, k, m, n) = (3, 2, 1, CERTIFY_CHUNK + 10);
        let v = Mat::from_fn(k, d, |i, a| if i == a { 1.0 } else { 0.5 });
        let u = Mat::from_fn(m, k, |_, i| 1.0 + i as f64);
        let f = Activation::Relu;
        let x = Mat::from_fn(d, n, |a, j| ((a + j) % 5) as f64 - 2.0);
        let y = Mat::from_fn(m, n, |_, j| (j % 3) as f64);
        let clean = InMemory::new(x.as_ref(), y.as_ref()).unwrap();
        assert!(Certificate::of(&clean, &f, v.as_ref(), u.as_ref()).is_ok());
        let row = CERTIFY_CHUNK + 3;
        let mut nan_x = x.clone();
        nan_x[(1, row)] = f64::NAN;
        let mut nan_y = y.clone();
        nan_y[(0, row)] = f64::INFINITY;
        let mut huge = x.clone();
        for a in 0..d {
            huge[(a, row)] = 1e200;
        }
        for (xs, ys, want) in [
            (&nan_x, &y, format!("{row}")),
            (&x, &nan_y, format!("{row}")),
            (&huge, &y, "rescale".to_string()),
        ] {
            let (xr, yr) = (xs.transpose().to_owned(), ys.transpose().to_owned());
            for (xa, ya) in [(xs.as_ref(), ys.as_ref()), (xr.transpose(), yr.transpose())] {
                let source = InMemory::new(xa, ya).unwrap();
                let err = Certificate::of(&source, &f, v.as_ref(), u.as_ref())
                    .unwrap_err()
                    .to_string();
                assert!(err.contains(&want), "{err} (want {want})");
            }
        }
    }
}
