//! Symmetric tensors known only through their contractions: the form `moments` produces, so
//! that a d³ or d⁴ array never has to exist.

use faer::linalg::matmul::matmul;
use faer::{Mat, MatRef};

use crate::error::TensorError;
use crate::jennrich::check_slices;

/// A symmetric tensor T of order p ∈ {3, 4} in R^{d×…×d}, given by its contractions on the
/// last p − 2 modes: T(I, I, g) (order 3) or T(I, I, g, h) (order 4), d×d matrices.
///
/// [`decompose`](crate::decompose) needs nothing more. The provided methods build on
/// [`Self::contract`]; override them where a faster route exists (a dense
/// [`SymmetricTensor`](crate::SymmetricTensor) does each with one GEMM, a moment estimator can
/// form T(I, a, a) in O(n d) instead of a d×d slice).
pub trait Contractions: Sync {
    /// The dimension d.
    fn dim(&self) -> usize;

    /// The order p (3 or 4).
    fn order(&self) -> usize;

    /// T(I, I, v_1, …, v_{p−2}) for `vectors.len() == p − 2` vectors of length d: a symmetric
    /// d×d matrix.
    fn contract(&self, vectors: &[&[f64]]) -> Mat<f64>;

    /// Slices T(I, I, h_l) (order 3) or T(I, I, g_l, h_l) (order 4) for the columns of `g` and
    /// `h` (d×L each; `g` is unused at order 3).
    ///
    /// Cost: L contractions.
    fn slices(&self, g: &Mat<f64>, h: &Mat<f64>) -> Vec<Mat<f64>> {
        (0..h.ncols())
            .map(|l| {
                let hl: Vec<f64> = h.col(l).iter().copied().collect();
                if self.order() == 3 {
                    self.contract(&[&hl])
                } else {
                    let gl: Vec<f64> = g.col(l).iter().copied().collect();
                    self.contract(&[&gl, &hl])
                }
            })
            .collect()
    }

    /// The MTTKRP: column r is T(I, a_r, …, a_r) for the rows a_r of `factors` (R×d).
    ///
    /// Cost: R contractions and R d×d matrix–vector products.
    fn mttkrp(&self, factors: &Mat<f64>) -> Mat<f64> {
        let (rank, d) = factors.shape();
        let mut out = Mat::zeros(d, rank);
        for r in 0..rank {
            let a: Vec<f64> = factors.row(r).iter().copied().collect();
            let vectors = vec![a.as_slice(); self.order() - 2];
            let m = self.contract(&vectors);
            if m.shape() != (d, d) {
                // Reported by the caller as a non-finite contraction, not a panic here.
                out.col_mut(r).fill(f64::NAN);
                continue;
            }
            let col = &m * factors.row(r).transpose();
            out.col_mut(r).copy_from(&col);
        }
        out
    }

    /// The compressed tensor T(M, …, M) for a d×r matrix M (every mode multiplied by Mᵀ),
    /// as r^p row-major values.
    ///
    /// Cost: r contractions at order 3, r(r + 1)/2 at order 4, each projected in O(d² r).
    fn compress(&self, m: &Mat<f64>) -> Vec<f64> {
        let (d, r) = m.shape();
        let col = |c: usize| -> Vec<f64> { m.col(c).iter().copied().collect() };
        // A contraction of the wrong shape becomes NaN, which the caller reports.
        let project = |s: &Mat<f64>| {
            if s.shape() == (d, d) {
                m.transpose() * s * m
            } else {
                Mat::from_fn(r, r, |_, _| f64::NAN)
            }
        };
        let mut out = vec![0.0; r.pow(self.order() as u32)];
        if self.order() == 3 {
            for c in 0..r {
                let s = project(&self.contract(&[&col(c)]));
                for i in 0..r {
                    for j in 0..r {
                        out[(i * r + j) * r + c] = s[(i, j)];
                    }
                }
            }
        } else {
            for c in 0..r {
                for e in c..r {
                    let s = project(&self.contract(&[&col(c), &col(e)]));
                    for i in 0..r {
                        for j in 0..r {
                            out[((i * r + j) * r + c) * r + e] = s[(i, j)];
                            out[((i * r + j) * r + e) * r + c] = s[(i, j)];
                        }
                    }
                }
            }
        }
        out
    }

    /// ‖T − Σ_r w_r a_r^{⊗p}‖ / ‖T‖ computed exactly, where the tensor is stored. `None`
    /// (the default) makes [`decompose`](crate::decompose) estimate it from random probe
    /// slices instead.
    fn exact_relative_residual(&self, _weights: &[f64], _factors: &Mat<f64>) -> Option<f64> {
        None
    }

    /// ‖T‖_F where it is known exactly (a stored tensor); `None` by default.
    fn norm_if_stored(&self) -> Option<f64> {
        None
    }
}

/// A symmetric tensor defined by a closure that returns its contractions: the adaptor for
/// tensors that exist only as formulas over data (label-weighted moments, say).
///
/// The closure receives p − 2 vectors of length d and returns T(I, I, v_1, …, v_{p−2}).
/// [`decompose`](crate::decompose) checks every matrix it gets back (shape, finiteness,
/// symmetry) and answers a bad one with a typed error.
///
/// # Example
/// ```
/// use faer::Mat;
/// use twolayer_tensor::{DecomposeParams, ImplicitTensor, decompose};
///
/// // T = 2 e₀⊗e₀⊗e₀⊗e₀ − e₁⊗e₁⊗e₁⊗e₁ in R³, never stored: T(I, I, a, b) = Σ w_r (a·e_r)(b·e_r) e_r e_rᵀ.
/// let t = ImplicitTensor::new(3, 4, |v: &[&[f64]]| {
///     Mat::from_fn(3, 3, |i, j| match (i, j) {
///         (0, 0) => 2.0 * v[0][0] * v[1][0],
///         (1, 1) => -v[0][1] * v[1][1],
///         _ => 0.0,
///     })
/// })
/// .unwrap();
/// let out = decompose(&t, &DecomposeParams::new(2)).unwrap();
/// assert!((out.weights[0] - 2.0).abs() < 1e-10 && (out.weights[1] + 1.0).abs() < 1e-10);
/// assert!(out.report.residual_rel < 1e-10);
/// ```
pub struct ImplicitTensor<F> {
    d: usize,
    order: usize,
    contract: F,
}

impl<F> ImplicitTensor<F>
where
    F: Fn(&[&[f64]]) -> Mat<f64> + Sync,
{
    /// Wraps a contraction closure for a tensor of dimension `d ≥ 1` and order 3 or 4.
    pub fn new(d: usize, order: usize, contract: F) -> Result<Self, TensorError> {
        if order != 3 && order != 4 {
            return Err(TensorError::BadOrder { order });
        }
        if d == 0 {
            return Err(TensorError::BadTensorShape { d, order, len: 0 });
        }
        Ok(Self { d, order, contract })
    }
}

impl<F> Contractions for ImplicitTensor<F>
where
    F: Fn(&[&[f64]]) -> Mat<f64> + Sync,
{
    fn dim(&self) -> usize {
        self.d
    }

    fn order(&self) -> usize {
        self.order
    }

    fn contract(&self, vectors: &[&[f64]]) -> Mat<f64> {
        (self.contract)(vectors)
    }
}

/// Residuals of a fit to a tensor that is not stored, estimated from S fixed Gaussian probe
/// slices: for g, h ~ N(0, I), E‖T(I, I, g[, h])‖²_F = ‖T‖²_F, so the ratio of probed squared
/// norms estimates (‖T − T̂‖/‖T‖)² without bias in either term, with relative spread about
/// 1/√(S d) (S = max(8, ⌈256/d⌉)). The same probes serve every evaluation, so comparisons between fits are exact
/// comparisons of one fixed quadratic form.
pub(crate) struct Probes {
    vectors: Vec<Vec<Vec<f64>>>,
    slices: Vec<Mat<f64>>,
    norm_sq: f64,
}

impl Probes {
    /// Number of probe slices for dimension d: at least 8, and enough that S d ≥ 256 (a
    /// spread of about 1/16 in the estimate).
    pub(crate) fn count(d: usize) -> usize {
        8.max(256usize.div_ceil(d))
    }

    /// Contracts the tensor with [`Self::count`] probe vector sets drawn by `draw` (one call
    /// per entry, in order). Cost: that many contractions.
    pub(crate) fn new<T: Contractions + ?Sized>(
        t: &T,
        mut draw: impl FnMut() -> f64,
    ) -> Result<Self, TensorError> {
        let (d, p) = (t.dim(), t.order());
        let vectors: Vec<Vec<Vec<f64>>> = (0..Self::count(d))
            .map(|_| {
                (0..p - 2)
                    .map(|_| (0..d).map(|_| draw()).collect())
                    .collect()
            })
            .collect();
        let slices: Vec<Mat<f64>> = vectors
            .iter()
            .map(|v| {
                let refs: Vec<&[f64]> = v.iter().map(Vec::as_slice).collect();
                t.contract(&refs)
            })
            .collect();
        checked(&slices, d)?;
        let norm_sq = slices.iter().map(|s| s.squared_norm_l2()).sum::<f64>() / slices.len() as f64;
        Ok(Self {
            vectors,
            slices,
            norm_sq,
        })
    }

    /// The estimate of ‖T‖²_F: the mean squared norm of the probe slices.
    pub(crate) fn norm_sq(&self) -> f64 {
        self.norm_sq
    }

    /// The estimate of ‖T − Σ_r w_r a_r^{⊗p}‖ / ‖T‖ for rows a_r of `factors`: each probe's
    /// model slice Aᵀ diag(w_r Π_v (v·a_r)) A is subtracted entry by entry, so the estimate
    /// resolves residuals down to rounding. Cost: O(S R d²).
    pub(crate) fn relative_residual(&self, weights: &[f64], factors: &Mat<f64>) -> f64 {
        let (rank, d) = factors.shape();
        let mut err = 0.0;
        for (vecs, slice) in self.vectors.iter().zip(&self.slices) {
            let scaled = Mat::from_fn(rank, d, |r, i| {
                let c: f64 = vecs
                    .iter()
                    .map(|v| (0..d).map(|j| v[j] * factors[(r, j)]).sum::<f64>())
                    .product();
                weights[r] * c * factors[(r, i)]
            });
            let mut diff = slice.clone();
            matmul(
                diff.as_mut(),
                faer::Accum::Add,
                factors.transpose(),
                scaled.as_ref(),
                -1.0,
                faer::Par::Seq,
            );
            err += diff.squared_norm_l2();
        }
        (err / self.slices.len() as f64 / self.norm_sq.max(f64::MIN_POSITIVE)).sqrt()
    }
}

/// Checks contractions a caller's closure returned: d×d, finite, symmetric to 1e-8 relative.
pub(crate) fn checked(slices: &[Mat<f64>], d: usize) -> Result<(), TensorError> {
    // The first against d, the others (and finiteness) against the first.
    if let Some(s) = slices.first()
        && s.shape() != (d, d)
    {
        return Err(TensorError::SliceShape {
            index: 0,
            rows: s.nrows(),
            cols: s.ncols(),
            dim: d,
        });
    }
    let views: Vec<MatRef<'_, f64>> = slices.iter().map(|s| s.as_ref()).collect();
    check_slices(&views)?;
    for s in slices {
        let scale = s.norm_max();
        let mut worst: f64 = 0.0;
        for i in 0..d {
            for j in 0..i {
                worst = worst.max((s[(i, j)] - s[(j, i)]).abs());
            }
        }
        if worst > 1e-8 * scale {
            return Err(TensorError::NotSymmetric { worst });
        }
    }
    Ok(())
}
