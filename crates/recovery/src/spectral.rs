//! The spectral stages shared by every method: the label spectrum, the reduced labels, the
//! span of the hidden weights and the Jennrich candidate pool (docs/algorithms.md 1–3).

use faer::prelude::*;
use faer::{Accum, Mat, MatMut, MatRef, Par, Side};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use twolayer_moments::matmul;
use twolayer_moments::{AffineFit, centre_labels, t2, t4_contracted, weighted_gram};
use twolayer_tensor::{
    JennrichParams, JointFit, Pencil, polish_pencils, simultaneous_diagonalisation, whiten,
};

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

/// Where the span of the hidden weights was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpanSource {
    /// The affine fit's linear coefficients (its m rows span V* when m ≥ k).
    FirstOrder,
    /// The whitened second-moment slices.
    SecondOrder,
}

impl SpanSource {
    /// The report's name for it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            SpanSource::FirstOrder => "first-order",
            SpanSource::SecondOrder => "second-order",
        }
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
    /// Where the span came from.
    pub span_source: SpanSource,
    /// Jennrich pencils on the whitened slices, best first, directions in Q's coordinates
    /// (k×k). Empty when the labels give a single slice (one output).
    pub pencils: Vec<Pencil>,
    /// The whitened second-moment slices the pencils diagonalised (r of k×k, in Q's
    /// coordinates); empty when there are no pencils.
    pub slices: Vec<Mat<f64>>,
    /// The centred reduced labels (r×n).
    pub centred: Mat<f64>,
    /// Whether the activation's fourth Hermite coefficient is large enough to use.
    fourth_order_usable: bool,
    /// Wall time of the Jennrich pencils, in seconds (the rest is moments).
    pub tensor_s: f64,
}

impl Spectral {
    /// The factor of the second-moment slices fitted to all of them at once, from the
    /// pencils in rank order ([`polish_pencils`]): directions in Q's coordinates (k×k) that
    /// are typically far closer to the units than any single pencil's (at (100, 20, 20,
    /// 5·10⁴) with σ = 0.01, the worst unit's |cos| rose from 0.48–0.66 to 0.999). `None`
    /// without pencils.
    ///
    /// Cost: O(r k³) per ALS sweep, usually for two pencils.
    pub fn polished_start(&self) -> Option<JointFit> {
        polished(&self.slices, &self.pencils)
    }

    /// Jennrich pencils on k whitened fourth-order slices M(a_l, b_l) (section 1.3) for
    /// random a_l, b_l in the span, cycling over the label rows: candidates when the labels
    /// give fewer than two second-order slices' worth of structure (m < k). Very
    /// sample-hungry; a source of starting points only. `None` if no pencil diagonalises.
    /// (Not polished like [`Self::polished_start`]: these slices are so noisy that a joint
    /// fit leaves a quarter of them unexplained and costs more than it gains.)
    ///
    /// Cost: O(n k³) for the slices, O(P k³) for the pencils.
    pub fn fourth_order_pencils(&self, params: &JennrichParams) -> Option<Vec<Pencil>> {
        if !self.fourth_order_usable {
            return None;
        }
        let k = self.xq.nrows();
        let r = self.centred.nrows();
        if r == 0 {
            return None;
        }
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

/// ALS sweeps per polished pencil: convergence takes 10–50 from a pencil at (100, 20, 20),
/// and a few hundred where the slices are noisy and k = d.
const POLISH_SWEEPS: usize = 200;

/// The lowest-residual fit of [`polish_pencils`], or `None` without slices or pencils.
fn polished(slices: &[Mat<f64>], pencils: &[Pencil]) -> Option<JointFit> {
    if slices.is_empty() || pencils.is_empty() {
        return None;
    }
    let views: Vec<MatRef<'_, f64>> = slices.iter().map(|s| s.as_ref()).collect();
    polish_pencils(&views, pencils, POLISH_SWEEPS)
        .ok()?
        .into_iter()
        .next()
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
    let usable = usable_moments(f);
    let (q, span_ratio, span_source) = span(xt, &fit, k)?;
    let mut xq = twolayer_moments::zeros_by_threads(k, n);
    matmul(
        xq.as_mut(),
        Accum::Replace,
        q.transpose(),
        xt,
        1.0,
        faer::get_global_parallelism(),
    );
    let mut tensor_s = 0.0;
    let (pencils, slices) = if fit.residual.nrows() >= 2 && usable(2) {
        let slices = (0..fit.residual.nrows())
            .map(|r| t2(xq.as_ref(), &row_vec(&fit.residual, r)))
            .collect::<Result<Vec<_>, _>>()?;
        let (pencils, seconds) = timed_pencils(&slices, params)?;
        tensor_s = seconds;
        (pencils, slices)
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(Spectral {
        q,
        xq,
        span_ratio,
        span_source,
        pencils,
        slices,
        centred: fit.residual,
        fourth_order_usable: usable(4),
        tensor_s,
    })
}

fn span(
    xt: MatRef<'_, f64>,
    fit: &AffineFit,
    k: usize,
) -> Result<(Mat<f64>, f64, SpanSource), RecoveryError> {
    let r = fit.linear.nrows();
    if let Some((q, ratio)) = first_order_span(fit.linear.as_ref(), k)? {
        return Ok((q, ratio, SpanSource::FirstOrder));
    }
    let slices = (0..r)
        .map(|i| t2(xt, &row_vec(&fit.residual, i)))
        .collect::<Result<Vec<_>, _>>()?;
    let views: Vec<MatRef<'_, f64>> = slices.iter().map(|s| s.as_ref()).collect();
    let w = whiten(&views, k)?;
    Ok((w.basis, w.span_ratio, SpanSource::SecondOrder))
}

/// Which Hermite moments carry signal for `f` (unit-norm units): `usable(j)` is false when
/// the weight of the j-th moment vanishes, since its pencils would only be noise.
fn usable_moments(f: &Activation) -> impl Fn(usize) -> bool {
    let coefficients = f.hermite_coefficients(1.0);
    let scale = coefficients.iter().fold(0.0f64, |a, c| a.max(c.abs()));
    move |j| coefficients[j].abs() > NEGLIGIBLE_COEFFICIENT * scale
}

/// The Jennrich pencils of whitened slices, and the seconds they took (the tensor phase).
fn timed_pencils(
    slices: &[Mat<f64>],
    params: &JennrichParams,
) -> Result<(Vec<Pencil>, f64), RecoveryError> {
    let views: Vec<MatRef<'_, f64>> = slices.iter().map(|s| s.as_ref()).collect();
    let start = std::time::Instant::now();
    let pencils = simultaneous_diagonalisation(&views, params)?;
    Ok((pencils, start.elapsed().as_secs_f64()))
}

/// The span of V* from the first-order coefficients `linear` (r×d, r ≥ k rows): the top k
/// left singular vectors of linearᵀ and σ_k/σ_1, or `None` when r < k or that ratio is below
/// [`FIRST_ORDER_SPAN_MIN`] (the second moment must give the span). Cost: O(r d k).
fn first_order_span(
    linear: MatRef<'_, f64>,
    k: usize,
) -> Result<Option<(Mat<f64>, f64)>, RecoveryError> {
    if linear.nrows() < k {
        return Ok(None);
    }
    // On this thread: an r×d SVD takes ~80 µs at (20, 100), and faer's parallel one spends
    // more than that handing its small steps to the pool.
    let (s, v) = svd_right(linear).ok_or(RecoveryError::Numerical(
        "the SVD of the first-order coefficients",
    ))?;
    let ratio = if s[0] > 0.0 { s[k - 1] / s[0] } else { 0.0 };
    Ok((ratio >= FIRST_ORDER_SPAN_MIN).then(|| (v.subcols(0, k).to_owned(), ratio)))
}

/// The singular values of `a` (r×c), descending, and its first min(r, c) right singular
/// vectors (c×min(r, c)), computed on this thread (the search's probes run one per thread,
/// and for the small matrices here faer's parallel SVD costs more in handoffs than it saves);
/// `None` if the iteration fails to converge. Cost: O(r c min(r, c)).
pub(crate) fn svd_right(a: MatRef<'_, f64>) -> Option<(Vec<f64>, Mat<f64>)> {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::svd::{self, ComputeSvdVectors};
    let (m, n) = a.shape();
    let mut s = faer::diag::Diag::<f64>::zeros(m.min(n));
    let mut v = Mat::<f64>::zeros(n, m.min(n));
    let scratch = svd::svd_scratch::<f64>(
        m,
        n,
        ComputeSvdVectors::No,
        ComputeSvdVectors::Thin,
        Par::Seq,
        Default::default(),
    );
    svd::svd(
        a,
        s.as_mut(),
        None,
        Some(v.as_mut()),
        Par::Seq,
        MemStack::new(&mut MemBuffer::new(scratch)),
        Default::default(),
    )
    .ok()?;
    Some((s.column_vector().iter().copied().collect(), v))
}

/// The exact method's search samples reduced in one pass: the reduced labels, the samples'
/// coordinates in the span and their norms, and the Jennrich pool.
pub(crate) struct SearchView {
    /// Ỹ = Pᵀ Y (k×n).
    pub yk: Mat<f64>,
    /// Xᵀ Q (n×k): the samples' span coordinates, a coordinate's values over the samples
    /// contiguous (the layout the candidates' cosines, one product, read fastest).
    pub xqt: Mat<f64>,
    /// ‖x_j‖ for every sample.
    pub norms: Vec<f64>,
    /// Span and pencils (`xq` and `centred` are left empty: the exact method reads the span
    /// coordinates as `xqt`, and never needs the centred labels themselves, only the slices
    /// they weight).
    pub spectral: Spectral,
}

/// Samples per chunk of the search's pass: half of [`twolayer_moments::CHUNK`], so that the
/// 10⁴ samples of a small problem make ten chunks for the threads to share evenly instead of
/// five (measured 4.8 → 4.4 ms for the pass at (100, 20, 20)); no change at larger windows.
const SEARCH_CHUNK: usize = twolayer_moments::CHUNK / 2;

thread_local! {
    /// Per-thread scratch of the search pass: a block's pair products.
    static PAIR_PRODUCTS: std::cell::Cell<Vec<f64>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Samples per block of the slice products inside a chunk: (k(k+1)/2 + 1) × this many pair
/// products stay in cache (430 KB at k = 20).
const SLICE_BLOCK: usize = 256;

/// [`spectral_with_fit`] fused with the reduction of the labels, for the exact method: one
/// pass over the search samples `xs` (d×n) and `ys` (m×n), chunk by chunk, forms Ỹ = Pᵀ Y, the
/// centred labels Ỹ − α − L x, Qᵀ x, ‖x‖ and the whitened slices Qᵀ T2(ỹ_r) Q, so the samples
/// are read from memory once instead of four times. The slices are one GEMM per block: the
/// pair products (Qᵀx)_a (Qᵀx)_b, a ≤ b, times the centred labels.
///
/// `None` when the first-order span is badly conditioned (the second moment must give it:
/// use [`spectral_with_fit`]). Bit-identical on any thread count (fixed chunks, tree sum).
///
/// Cost: O(n (k m + k d + k² + d + k³/2)) flops in one pass; memory O(n k) for Ỹ and Qᵀ X.
#[allow(clippy::too_many_arguments)]
pub(crate) fn search_view(
    xs: MatRef<'_, f64>,
    ys: MatRef<'_, f64>,
    p: MatRef<'_, f64>,
    alpha: &[f64],
    linear: MatRef<'_, f64>,
    k: usize,
    f: &Activation,
    params: &JennrichParams,
) -> Result<Option<SearchView>, RecoveryError> {
    use rayon::prelude::*;
    use twolayer_moments::{TreeSum, column_norms};
    let n = xs.ncols();
    let Some((q, span_ratio)) = first_order_span(linear, k)? else {
        return Ok(None);
    };
    let usable = usable_moments(f);
    let slices_wanted = k >= 2 && usable(2);
    let pairs = k * (k + 1) / 2;
    // Q spans L's rows (its right singular vectors), so L x = (L Q)(Qᵀ x): the centring
    // costs a k×k product per sample once Qᵀ x is there, not another k×d one.
    let mut lq = Mat::<f64>::zeros(linear.nrows(), k);
    matmul(
        lq.as_mut(),
        Accum::Replace,
        linear,
        q.as_ref(),
        1.0,
        Par::Seq,
    );
    // Filled chunk by chunk on the threads below: their pages are first written there too.
    let mut yk = twolayer_moments::zeros_by_threads(k, n);
    let mut xqt = twolayer_moments::zeros_by_threads(n, k);
    let mut norms = vec![0.0; n];
    let parts: Vec<Mat<f64>> = yk
        .as_mut()
        .par_col_chunks_mut(SEARCH_CHUNK)
        .zip(xqt.as_mut().par_row_chunks_mut(SEARCH_CHUNK))
        .zip(norms.par_chunks_mut(SEARCH_CHUNK))
        .enumerate()
        .map(|(c, ((mut yk_c, mut xqt_c), norms_c))| {
            let (start, len) = (c * SEARCH_CHUNK, norms_c.len());
            let (xc, yc) = (xs.subcols(start, len), ys.subcols(start, len));
            matmul(
                yk_c.rb_mut(),
                Accum::Replace,
                p.transpose(),
                yc,
                1.0,
                Par::Seq,
            );
            // Xᵀ Q with the chunk's samples as the long dimension of column-major operands
            // when X stores each coordinate's values together (as the certificate does); for
            // whole samples stored together, Qᵀ X and a transposed copy.
            let xq_c = if xc.row_stride() != 1 {
                matmul(
                    xqt_c.rb_mut(),
                    Accum::Replace,
                    xc.transpose(),
                    q.as_ref(),
                    1.0,
                    Par::Seq,
                );
                None
            } else {
                let mut xq_c = Mat::<f64>::zeros(k, len);
                matmul(
                    xq_c.as_mut(),
                    Accum::Replace,
                    q.transpose(),
                    xc,
                    1.0,
                    Par::Seq,
                );
                xqt_c.copy_from(xq_c.transpose());
                Some(xq_c)
            };
            // The centred labels Ỹ − α − (L Q)(Qᵀ x).
            let mut centred = yk_c.to_owned();
            matmul(
                centred.as_mut(),
                Accum::Add,
                lq.as_ref(),
                xq_c.as_ref().map_or(xqt_c.rb().transpose(), |m| m.as_ref()),
                -1.0,
                Par::Seq,
            );
            for j in 0..len {
                let c = column_mut(centred.as_mut(), j);
                c.iter_mut().zip(alpha).for_each(|(t, a)| *t -= a);
            }
            column_norms(xc, norms_c);
            let mut sums = Mat::<f64>::zeros(k, pairs + 1);
            if slices_wanted {
                // The pair products of a block as columns over its samples, (Qᵀx)_a ⊙ (Qᵀx)_b
                // for a ≤ b, then ones: long products the compiler vectorises, where a sample
                // at a time makes k ever shorter ones. The centred labels times these, as one
                // GEMM per block, sum the slices' entries (and, last, the labels' sums).
                // In a buffer each thread keeps (taken out while in use, as `KEYED` in the
                // unit search): every entry read is written first, and a fresh zeroed block
                // per chunk wrote 8.6 MB per 10⁴ samples (memset's share of a run at
                // (100, 20, 20, 10⁴) fell from 6.5% to 5.7% of its profile samples).
                let most = SLICE_BLOCK.min(len);
                let mut buffer = PAIR_PRODUCTS.take();
                buffer.resize(most * (pairs + 1), 0.0);
                let mut zt = MatMut::from_column_major_slice_mut(
                    &mut buffer[..most * (pairs + 1)],
                    most,
                    pairs + 1,
                );
                column_mut(zt.rb_mut(), pairs).fill(1.0);
                for b0 in (0..len).step_by(SLICE_BLOCK) {
                    let bl = SLICE_BLOCK.min(len - b0);
                    let block = xqt_c.rb().subrows(b0, bl);
                    let mut i = 0;
                    for a in 0..k {
                        let ta = column(block, a);
                        for b in a..k {
                            let tb = column(block, b);
                            let zi = &mut column_mut(zt.rb_mut(), i)[..bl];
                            for ((z, &x), &y) in zi.iter_mut().zip(ta).zip(tb) {
                                *z = x * y;
                            }
                            i += 1;
                        }
                    }
                    matmul(
                        sums.as_mut(),
                        Accum::Add,
                        centred.as_ref().subcols(b0, bl),
                        zt.rb().subrows(0, bl),
                        1.0,
                        Par::Seq,
                    );
                }
                PAIR_PRODUCTS.set(buffer);
            }
            sums
        })
        .collect();
    let mut total = TreeSum::new();
    for part in parts {
        total.push(part);
    }
    let sums = total.finish().unwrap_or_else(|| Mat::zeros(k, pairs + 1));
    let mut tensor_s = 0.0;
    let (pencils, slices) = if slices_wanted {
        let inv_n = 1.0 / n as f64;
        let slices: Vec<Mat<f64>> = (0..k)
            .map(|r| {
                let mut s = Mat::<f64>::zeros(k, k);
                let mut i = 0;
                for a in 0..k {
                    for b in a..k {
                        let v = sums[(r, i)] * inv_n;
                        s[(a, b)] = v;
                        s[(b, a)] = v;
                        i += 1;
                    }
                }
                let mean = sums[(r, pairs)] * inv_n;
                for a in 0..k {
                    s[(a, a)] -= mean;
                }
                s
            })
            .collect();
        if !slices.iter().all(|s| s.is_all_finite()) {
            return Err(RecoveryError::Numerical(
                "the second-moment slices (non-finite samples?)",
            ));
        }
        let (pencils, seconds) = timed_pencils(&slices, params)?;
        tensor_s = seconds;
        (pencils, slices)
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(Some(SearchView {
        yk,
        xqt,
        norms,
        spectral: Spectral {
            q,
            xq: Mat::zeros(0, n),
            span_ratio,
            span_source: SpanSource::FirstOrder,
            pencils,
            slices,
            centred: Mat::zeros(0, n),
            fourth_order_usable: usable(4),
            tensor_s,
        },
    }))
}

/// Column `j` of a column-major matrix as a slice.
pub(crate) fn column<'a>(m: MatRef<'a, f64>, j: usize) -> &'a [f64] {
    m.col(j)
        .try_as_col_major()
        .expect("column-major")
        .as_slice()
}

/// Column `j` of a column-major matrix as a mutable slice.
pub(crate) fn column_mut<'a>(m: MatMut<'a, f64>, j: usize) -> &'a mut [f64] {
    m.col_mut(j)
        .try_as_col_major_mut()
        .expect("column-major")
        .as_slice_mut()
}

fn row_vec(m: &Mat<f64>, r: usize) -> Vec<f64> {
    m.row(r).iter().copied().collect()
}

/// Below this σ_k/σ_1 of Y the output weights count as badly conditioned.
const WEAK_LABEL_SV: f64 = 1e-4;

/// Warnings about the label spectrum: σ_k/σ_1 tiny (U* nearly rank deficient) or no clear
/// gap after σ_k (k doubtful). `rel_sv` holds σ_1..σ_{k+1} relative to σ_1.
pub(crate) fn label_spectrum_warnings(rel_sv: &[f64], k: usize) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(&sk) = rel_sv.get(k.saturating_sub(1))
        && k >= 1
        && sk < WEAK_LABEL_SV
    {
        out.push(format!(
            "the k-th singular value of Y is only {sk:.1e} of the largest: the output weights \
             are nearly rank deficient and the recovered weights may lose accuracy; if k was \
             detected, try a smaller --k"
        ));
    }
    if let (Some(&sk), Some(&next)) = (rel_sv.get(k.saturating_sub(1)), rel_sv.get(k))
        && k >= 1
        && next > 0.1 * sk
    {
        out.push(format!(
            "no clear gap after the k-th singular value of Y (σ_{}/σ_{k} = {:.2}): k may be \
             wrong, or the labels are noisy; check k (--k) and the noise model",
            k + 1,
            next / sk
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_null_vector_comes_with_the_singular_values() {
        let a = crate::exact::null_space::with_singular_values(12, &[2.0, 1.0, 0.0]);
        let (s, v) = svd_right(a.as_ref()).expect("converges");
        assert!((s[0] - 2.0).abs() < 1e-14 && (s[1] - 1.0).abs() < 1e-14 && s[2] < 1e-14);
        let null = v.col(2);
        assert!((&a * null).norm_l2() < 1e-14);
        assert!((null.norm_l2() - 1.0).abs() < 1e-14);
    }
    use rand_distr::Distribution;
    use twolayer_moments::{InMemory, SampleMoments};

    /// The fused pass of the exact method gives what the separate steps give: the reduced
    /// labels, the projections, the norms and (through the slices) the same pencils.
    #[test]
    fn the_fused_search_view_matches_the_separate_steps() {
        let (d, k, n) = (6, 3, 6000); // two full chunks and a partial one
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let x = Mat::from_fn(d, n, |_, _| StandardNormal.sample(&mut rng));
        let v = Mat::from_fn(k, d, |i, a| {
            [
                [1.0, 0.5, 0.0, -0.3, 0.2, 0.0],
                [0.0, -1.0, 0.4, 0.0, 0.3, 0.5],
                [0.6, 0.0, 0.0, 1.0, -0.4, 0.2],
            ][i][a]
        });
        let u = Mat::from_fn(3, k, |r, i| {
            [[1.0, 0.3, -0.5], [0.2, -1.0, 0.4], [0.5, 0.6, 1.2]][r][i]
        });
        let mut h = &v * &x;
        Activation::Relu.apply_to(h.as_mut());
        let y = &u * &h;
        let moments =
            SampleMoments::compute(&InMemory::new(x.as_ref(), y.as_ref()).unwrap()).unwrap();
        let spectrum = LabelSpectrum::from_second_moment(moments.second_y()).unwrap();
        let p = spectrum.reduction(k);
        let (alpha, linear) = moments.affine_fit().unwrap();
        let alpha_k: Vec<f64> = (0..k)
            .map(|c| (0..3).map(|r| p[(r, c)] * alpha[r]).sum())
            .collect();
        let linear_k = p.transpose() * &linear;
        let params = JennrichParams {
            pencils: 4,
            seed: 1,
        };

        // Whole samples stored together (x, d×n column-major) and each coordinate's values
        // together (the transpose of an n×d column-major copy): the pass takes either.
        let (xr, yr) = (x.transpose().to_owned(), y.transpose().to_owned());
        let fused_in = |xs: MatRef<'_, f64>, ys: MatRef<'_, f64>| {
            search_view(
                xs,
                ys,
                p.as_ref(),
                &alpha_k,
                linear_k.as_ref(),
                k,
                &Activation::Relu,
                &params,
            )
            .unwrap()
            .expect("a well-conditioned first-order span")
        };
        let fused = fused_in(x.as_ref(), y.as_ref());
        let by_coordinate = fused_in(xr.transpose(), yr.transpose());
        assert!((&by_coordinate.xqt - &fused.xqt).norm_max() < 1e-12);
        assert!((&by_coordinate.yk - &fused.yk).norm_max() < 1e-12);
        for (a, b) in by_coordinate
            .spectral
            .pencils
            .iter()
            .zip(&fused.spectral.pencils)
        {
            assert!((&a.directions - &b.directions).norm_max() < 1e-9);
        }
        let yk = p.transpose() * &y;
        let residual = AffineFit::residual_of(&alpha_k, linear_k.as_ref(), x.as_ref(), yk.as_ref());
        let fit = AffineFit {
            alpha: alpha_k.clone(),
            linear: linear_k.clone(),
            residual,
        };
        let separate = spectral_with_fit(x.as_ref(), fit, k, &Activation::Relu, &params).unwrap();

        assert!((&fused.yk - &yk).norm_max() < 1e-12);
        assert!((fused.xqt.transpose() - &separate.xq).norm_max() < 1e-12);
        for j in 0..n {
            assert!((fused.norms[j] - x.col(j).norm_l2()).abs() < 1e-12);
        }
        assert!(!separate.pencils.is_empty());
        assert_eq!(fused.spectral.pencils.len(), separate.pencils.len());
        for (a, b) in fused.spectral.pencils.iter().zip(&separate.pencils) {
            let (mut ea, mut eb) = (a.eigenvalues.clone(), b.eigenvalues.clone());
            ea.sort_by(f64::total_cmp);
            eb.sort_by(f64::total_cmp);
            let scale = eb.iter().fold(0.0f64, |s, e| s.max(e.abs()));
            for (x, y) in ea.iter().zip(&eb) {
                assert!((x - y).abs() < 1e-9 * scale, "{ea:?} vs {eb:?}");
            }
        }
    }
}
