//! The spectral stages shared by every method: the label spectrum, the reduced labels, the
//! span of the hidden weights and the Jennrich candidate pool (ALGORITHMS.md 1–3).

use faer::{Accum, Mat, MatRef, Side};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use twolayer_moments::matmul;
use twolayer_moments::{AffineFit, centre_labels, t2, t4_contracted, weighted_gram};
use twolayer_tensor::{JennrichParams, Pencil, simultaneous_diagonalisation, whiten};

use crate::activation::Activation;
use crate::error::RecoveryError;

/// Singular values of Y below this fraction of the largest count as zero when detecting k.
pub(crate) const RANK_TOL: f64 = 1e-6;
/// Below this ratio σ_k/σ_1 of the first-order coefficients, the span comes from the second
/// moment instead.
const FIRST_ORDER_SPAN_MIN: f64 = 1e-2;

/// A Hermite coefficient below this fraction of the largest one is treated as zero.
const NEGLIGIBLE_COEFFICIENT: f64 = 1e-6;
/// Mixed into the seed for the fourth-order contraction vectors.
const FOURTH_ORDER_STREAM: u64 = 0x4f1b_bcdc_bfa5_3e0b;

/// Eigen-decomposition of YᵀY/n: the evidence for k and the reduction of Y.
pub(crate) struct LabelSpectrum {
    /// Eigenvectors (m×m), eigenvalues ascending.
    vectors: Mat<f64>,
    /// Eigenvalues, ascending.
    values: Vec<f64>,
    /// Singular values of Y relative to the largest, descending.
    pub rel_sv: Vec<f64>,
}

impl LabelSpectrum {
    /// Cost: O(n m²) for the Gram matrix, O(m³) for the eigen-decomposition.
    pub fn new(yt: MatRef<'_, f64>) -> Result<Self, RecoveryError> {
        Self::from_second_moment(weighted_gram(yt, None)?)
    }

    /// From the label second moment YᵀY/n (m×m), computed elsewhere. Cost O(m³).
    pub fn from_second_moment(gy: Mat<f64>) -> Result<Self, RecoveryError> {
        let m = gy.nrows();
        let eig = gy
            .self_adjoint_eigen(Side::Lower)
            .map_err(|_| RecoveryError::Numerical("the eigen-decomposition of YᵀY"))?;
        let values: Vec<f64> = (0..m).map(|i| eig.S().column_vector()[i]).collect();
        let top = values[m - 1].max(0.0);
        let rel_sv = (0..m)
            .rev()
            .map(|i| {
                if top > 0.0 {
                    (values[i].max(0.0) / top).sqrt()
                } else {
                    0.0
                }
            })
            .collect();
        Ok(Self {
            vectors: eig.U().to_owned(),
            values,
            rel_sv,
        })
    }

    /// Number of relative singular values above `tol`.
    pub fn rank(&self, tol: f64) -> usize {
        self.rel_sv.iter().take_while(|&&s| s > tol).count()
    }

    /// The m×r matrix P of the whitened reduction Ỹ = Pᵀ Y (see [`LabelSpectrum::reduce`]).
    pub fn reduction(&self, r: usize) -> Mat<f64> {
        let m = self.vectors.nrows();
        Mat::from_fn(m, r, |i, c| {
            self.vectors[(i, m - r + c)] / self.values[m - r + c].max(f64::MIN_POSITIVE).sqrt()
        })
    }

    /// Whitened reduction Ỹ = Λ^{-1/2} Pᵀ Y (r×n) onto the top-r left singular space: Ỹ has
    /// identity second moment, so the reduced output weights are well conditioned (and the
    /// null vectors of distinct units far apart). Cost: O(n m r).
    pub fn reduce(&self, yt: MatRef<'_, f64>, r: usize) -> Mat<f64> {
        let p = self.reduction(r);
        let mut out = Mat::zeros(r, yt.ncols());
        matmul(
            out.as_mut(),
            Accum::Replace,
            p.transpose(),
            yt,
            1.0,
            faer::get_global_parallelism(),
        );
        out
    }
}

/// The span of the hidden weights and candidate directions within it.
pub(crate) struct Spectral {
    /// Orthonormal basis Q (d×k) of the estimated span of V*.
    pub q: Mat<f64>,
    /// Qᵀ X (k×n).
    pub xq: Mat<f64>,
    /// σ_k/σ_1 of the span estimate.
    pub span_ratio: f64,
    /// `"first-order"` or `"second-order"`.
    pub span_source: &'static str,
    /// Jennrich pencils on the whitened slices, best first, directions in Q's coordinates
    /// (k×k). Empty when the labels give a single slice (one output).
    pub pencils: Vec<Pencil>,
    /// The centred reduced labels (r×n).
    pub centred: Mat<f64>,
    /// Whether the activation's fourth Hermite coefficient is large enough to use.
    fourth_order_usable: bool,
    /// Wall time of the Jennrich pencils, in seconds (the rest is moments).
    pub tensor_s: f64,
}

impl Spectral {
    /// Jennrich pencils on k whitened fourth-order slices M(a_l, b_l) (section 1.3) for
    /// random a_l, b_l in the span, cycling over the label rows: candidates when the labels
    /// give fewer than two second-order slices' worth of structure (m < k). Very
    /// sample-hungry; a source of starting points only. `None` if no pencil diagonalises.
    ///
    /// Cost: O(n k³) for the slices, O(P k³) for the pencils.
    pub fn fourth_order_pencils(&self, params: &JennrichParams) -> Option<Vec<Pencil>> {
        if !self.fourth_order_usable {
            return None;
        }
        let k = self.xq.nrows();
        let r = self.centred.nrows();
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed ^ FOURTH_ORDER_STREAM);
        let mut slices = Vec::with_capacity(k.max(2));
        for l in 0..k.max(2) {
            let a: Vec<f64> = (0..k).map(|_| rng.sample(StandardNormal)).collect();
            let b: Vec<f64> = (0..k).map(|_| rng.sample(StandardNormal)).collect();
            let w = row_vec(&self.centred, l % r);
            slices.push(t4_contracted(self.xq.as_ref(), &w, &a, &b).ok()?);
        }
        let views: Vec<MatRef<'_, f64>> = slices.iter().map(|s| s.as_ref()).collect();
        simultaneous_diagonalisation(&views, params).ok()
    }
}

/// Span and candidate pool from reduced labels `yr` (r×n, r ≤ k) and samples `xt` (d×n).
///
/// With r = k the span comes from the linear part of the affine fit (E[relu(v·x) x] = v/2:
/// free, since the centring computes it) unless that is badly conditioned; otherwise, and
/// always for r < k, from the second-moment slices T2(ỹ_r). The slices projected on the span
/// give r whitened k×k matrices S D_r Sᵀ, diagonalised by Jennrich when r ≥ 2.
///
/// Cost: O(n d²) for the centring (plus O(r n d²) for a second-order span), O(n k (d + r k))
/// for the projections and slices, O(P k³) for the pencils.
pub(crate) fn spectral(
    xt: MatRef<'_, f64>,
    yr: MatRef<'_, f64>,
    k: usize,
    f: &Activation,
    params: &JennrichParams,
) -> Result<Spectral, RecoveryError> {
    let fit = centre_labels(xt, yr)?;
    spectral_with_fit(xt, fit, k, f, params)
}

/// [`spectral`] with the affine fit of the reduced labels already made (on these samples or
/// on a superset of them): `fit.residual` holds the centred reduced labels of the samples
/// in `xt`.
pub(crate) fn spectral_with_fit(
    xt: MatRef<'_, f64>,
    fit: AffineFit,
    k: usize,
    f: &Activation,
    params: &JennrichParams,
) -> Result<Spectral, RecoveryError> {
    let n = xt.ncols();
    // The moments' weights for this activation (unit-norm units): a moment whose weight
    // vanishes carries no signal, and its pencils would only be noise.
    let coefficients = f.hermite_coefficients(1.0);
    let scale = coefficients.iter().fold(0.0f64, |a, c| a.max(c.abs()));
    let usable = |j: usize| coefficients[j].abs() > NEGLIGIBLE_COEFFICIENT * scale;
    let (q, span_ratio, span_source) = span(xt, &fit, k)?;
    let mut xq = Mat::zeros(k, n);
    matmul(
        xq.as_mut(),
        Accum::Replace,
        q.transpose(),
        xt,
        1.0,
        faer::get_global_parallelism(),
    );
    let mut tensor_s = 0.0;
    let pencils = if fit.residual.nrows() >= 2 && usable(2) {
        let slices = (0..fit.residual.nrows())
            .map(|r| t2(xq.as_ref(), &row_vec(&fit.residual, r)))
            .collect::<Result<Vec<_>, _>>()?;
        let views: Vec<MatRef<'_, f64>> = slices.iter().map(|s| s.as_ref()).collect();
        let start = std::time::Instant::now();
        let pencils = simultaneous_diagonalisation(&views, params)?;
        tensor_s = start.elapsed().as_secs_f64();
        pencils
    } else {
        Vec::new()
    };
    Ok(Spectral {
        q,
        xq,
        span_ratio,
        span_source,
        pencils,
        centred: fit.residual,
        fourth_order_usable: usable(4),
        tensor_s,
    })
}

fn span(
    xt: MatRef<'_, f64>,
    fit: &AffineFit,
    k: usize,
) -> Result<(Mat<f64>, f64, &'static str), RecoveryError> {
    let r = fit.linear.nrows();
    if r >= k {
        let svd = fit
            .linear
            .transpose()
            .thin_svd()
            .map_err(|_| RecoveryError::Numerical("the SVD of the first-order coefficients"))?;
        let s = svd.S().column_vector();
        let ratio = if s[0] > 0.0 { s[k - 1] / s[0] } else { 0.0 };
        if ratio >= FIRST_ORDER_SPAN_MIN {
            return Ok((svd.U().subcols(0, k).to_owned(), ratio, "first-order"));
        }
    }
    let slices = (0..r)
        .map(|i| t2(xt, &row_vec(&fit.residual, i)))
        .collect::<Result<Vec<_>, _>>()?;
    let views: Vec<MatRef<'_, f64>> = slices.iter().map(|s| s.as_ref()).collect();
    let w = whiten(&views, k)?;
    Ok((w.basis, w.span_ratio, "second-order"))
}

fn row_vec(m: &Mat<f64>, r: usize) -> Vec<f64> {
    m.row(r).iter().copied().collect()
}
