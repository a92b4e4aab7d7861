//! The sign-pattern step at scale: matrix-free Gauss–Newton with preconditioned conjugate
//! gradients (docs/algorithms.md 4.5), for shapes where the joint normal equations of
//! [`crate::SignPatternLs`] (O(n (k+1)² d²) flops) are too costly.
//!
//! With the patterns s_ij = 1{v̂_i·x_j > 0} fixed, the model y ≈ U (s ⊙ V x) is bilinear in
//! (U, V). Each Gauss–Newton step solves JᵀJ δ = Jᵀ r by conjugate gradients; a product
//! with JᵀJ is one pass over the samples (four GEMM-shaped products per chunk,
//! O(n k (d + m)) flops) and never forms a k d × k d matrix. The preconditioner is exact
//! on the U block (H Hᵀ, k×k) and per unit on the V block (|u_i|² Σ s_i x xᵀ, from an evenly
//! spread subsample).

use faer::prelude::*;
use faer::{Accum, Mat, MatRef, Par, Side};
use rayon::prelude::*;
use twolayer_moments::chunked_sum;
use twolayer_moments::{PaddedScratch, matmul, matmul_padded};

use crate::data::subsample::strided_subsample;
use crate::error::RecoveryError;

/// Conjugate-gradient iterations per step at most.
const CG_ITERS: usize = 30;
/// Samples per block of a pass's chunk (see [`blocks`]): measured at (100, 20, 20, 2·10⁵, σ = 0.01),
/// 256, 512 and 1024 gave the same times within noise, the whole chunk of 2048 a sixth more.
const BLOCK: usize = 512;
/// CG stops when rᵀM⁻¹r falls below this many times k d / subsample (clamped to
/// [`CG_TOL`, 1e-4]) of its start. A subsample's matrix is itself only accurate to about
/// √(k d / subsample), so a residual a tenth of that buys nothing more; on every sample the
/// matrix is exact and the step an inexact Newton step, which the sign-pattern loop follows
/// while the fit improves (about 3× fewer CG iterations than solving to CG_TOL).
const CG_TOL_SUBSAMPLED: f64 = 1e-2;
/// The tightest CG tolerance.
const CG_TOL: f64 = 1e-12;

/// A Gauss–Newton direction: (ΔU m×k, ΔV k×d).
#[derive(Clone)]
struct Dir {
    u: Mat<f64>,
    v: Mat<f64>,
}

impl Dir {
    fn zeros(m: usize, k: usize, d: usize) -> Self {
        Self {
            u: Mat::zeros(m, k),
            v: Mat::zeros(k, d),
        }
    }
    fn dot(&self, o: &Dir) -> f64 {
        let f = |a: &Mat<f64>, b: &Mat<f64>| {
            (0..a.ncols())
                .map(|j| (0..a.nrows()).map(|i| a[(i, j)] * b[(i, j)]).sum::<f64>())
                .sum::<f64>()
        };
        f(&self.u, &o.u) + f(&self.v, &o.v)
    }
    fn axpy(&mut self, a: f64, o: &Dir) {
        self.u += faer::Scale(a) * &o.u;
        self.v += faer::Scale(a) * &o.v;
    }
}

/// Samples with the fixed patterns of `dirs`. The patterns s = 1{dirs·x > 0} and the
/// features h = s ⊙ (dirs·x) of the starting point V0 = dirs are recomputed chunk by chunk
/// on all samples (no k×n arrays: allocating them costs more than the product) and stored
/// for the small subsample the CG iterations run on.
struct Problem<'a> {
    xt: MatRef<'a, f64>,
    yt: MatRef<'a, f64>,
    dirs: MatRef<'a, f64>,
    /// (s, h), k×n each, when stored.
    stored: Option<(Mat<f64>, Mat<f64>)>,
}

impl Problem<'_> {
    /// Patterns and starting features of samples `r`: (s, h), k×len each, read in place when
    /// stored (each CG iteration passes over them: a copy per chunk would double its memory
    /// traffic), else computed into the scratch's `s` and `h`.
    fn features<'s>(
        &'s self,
        r: std::ops::Range<usize>,
        s: &'s mut PaddedScratch,
        h: &'s mut PaddedScratch,
    ) -> (MatRef<'s, f64>, MatRef<'s, f64>) {
        match &self.stored {
            Some((ms, hs)) => (
                ms.as_ref().subcols(r.start, r.len()),
                hs.as_ref().subcols(r.start, r.len()),
            ),
            None => {
                let (k, len) = (self.dirs.nrows(), r.len());
                let xc = self.xt.subcols(r.start, r.len());
                patterns_into(self.dirs, xc, s.matrix(k, len), h.matrix(k, len));
                (s.operand(k, len).as_ref(), h.operand(k, len).as_ref())
            }
        }
    }

    /// Stores the patterns and features of every sample (for a small problem).
    fn store(mut self) -> Self {
        self.stored = Some(patterns(self.dirs, self.xt));
        self
    }

    /// ‖Y − U f(dirs · X)‖², the network's own loss (each unit's pattern from its own
    /// weights), in one pass: the features of the patterns are the hidden outputs.
    fn own_loss(&self, u: &Mat<f64>) -> f64 {
        let m = u.nrows();
        chunked_sum(self.xt.ncols(), 1, 1, |r| {
            with_scratch(|Scratch { q, s, h, .. }| {
                let mut sum = 0.0;
                for b in blocks(r) {
                    let (_, h) = self.features(b.clone(), s, h);
                    let mut res = q.matrix(m, b.len());
                    res.copy_from(self.yt.subcols(b.start, b.len()));
                    matmul(res.rb_mut(), Accum::Add, u.as_ref(), h, -1.0, Par::Seq);
                    sum += res.squared_norm_l2();
                }
                Mat::from_fn(1, 1, |_, _| sum)
            })
        })[(0, 0)]
    }

    /// (Jᵀ r for r = Y − U H at V = dirs, ‖r‖²): the negative gradient, in one pass.
    fn gradient(&self, u: &Mat<f64>) -> (Dir, f64) {
        let (m, k, d) = (u.nrows(), u.ncols(), self.xt.nrows());
        let total = chunked_sum(self.xt.ncols(), m + k + 1, k.max(d), |r| {
            with_scratch(|Scratch { q, w, s, h, .. }| {
                let mut out = Mat::zeros(m + k + 1, k.max(d));
                for b in blocks(r) {
                    let xb = self.xt.subcols(b.start, b.len());
                    let mut res = q.matrix(m, b.len());
                    res.copy_from(self.yt.subcols(b.start, b.len()));
                    let (mask, h) = self.features(b, s, h);
                    matmul(res.rb_mut(), Accum::Add, u.as_ref(), h, -1.0, Par::Seq);
                    back_project(xb, mask, u, h, q, w, true, out.as_mut());
                }
                out
            })
        });
        (unpack(&total, m, k, d), total[(m + k, 0)])
    }

    /// JᵀJ p at V = dirs, in one pass.
    fn normal(&self, u: &Mat<f64>, p: &Dir) -> Dir {
        let (m, k, d) = (u.nrows(), u.ncols(), self.xt.nrows());
        let total = chunked_sum(self.xt.ncols(), m + k + 1, k.max(d), |r| {
            with_scratch(|Scratch { a, q, w, s, h }| {
                let mut out = Mat::zeros(m + k + 1, k.max(d));
                for b in blocks(r) {
                    let xb = self.xt.subcols(b.start, b.len());
                    let (mask, h) = self.features(b, s, h);
                    // q = J p = ΔU h + U (s ⊙ ΔV x)
                    let mut am = a.matrix(k, xb.ncols());
                    matmul(am.rb_mut(), Accum::Replace, p.v.as_ref(), xb, 1.0, Par::Seq);
                    zip_mask_ref(am.rb_mut(), mask);
                    let mut qm = q.matrix(m, xb.ncols());
                    matmul(
                        qm.rb_mut(),
                        Accum::Replace,
                        u.as_ref(),
                        am.rb(),
                        1.0,
                        Par::Seq,
                    );
                    matmul(qm.rb_mut(), Accum::Add, p.u.as_ref(), h, 1.0, Par::Seq);
                    back_project(xb, mask, u, h, q, w, false, out.as_mut());
                }
                out
            })
        });
        unpack(&total, m, k, d)
    }
}

/// The blocks of `BLOCK` samples (the last one shorter) a chunk's samples `r` are processed
/// in, one after the other: a block's samples, its buffers and features (about 0.8 MB at
/// d = 100, k = m = 20) stay in a core's cache between the block's two reads of its samples,
/// where a whole chunk's (3.2 MB) went back to memory in between. Per-chunk sums are then
/// sums over blocks, in a fixed order: the bits still do not depend on the thread count.
fn blocks(r: std::ops::Range<usize>) -> impl Iterator<Item = std::ops::Range<usize>> {
    r.clone()
        .step_by(BLOCK)
        .map(move |b| b..(b + BLOCK).min(r.end))
}

/// Per-thread block buffers of the passes, reused from block to block and pass to pass:
/// a (k×len), q (m×len: the residual, or J p), w (k×len), and the patterns s and features h
/// (k×len) when they are not stored. Taken out of the thread's slot while in use, like the
/// unit search's buffers, so that a thread never sees another chunk's buffers half written.
#[derive(Default)]
struct Scratch {
    a: PaddedScratch,
    q: PaddedScratch,
    w: PaddedScratch,
    s: PaddedScratch,
    h: PaddedScratch,
}

thread_local! {
    static SCRATCH: std::cell::Cell<Scratch> = std::cell::Cell::new(Scratch::default());
}

fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    let mut scratch = SCRATCH.take();
    let out = f(&mut scratch);
    SCRATCH.set(scratch);
    out
}

/// (s, h) for samples `xc` (d×len): s = 1{dirs·x > 0}, h = s ⊙ (dirs·x).
fn patterns(dirs: MatRef<'_, f64>, xc: MatRef<'_, f64>) -> (Mat<f64>, Mat<f64>) {
    let (k, len) = (dirs.nrows(), xc.ncols());
    let (mut mask, mut h) = (Mat::zeros(k, len), Mat::zeros(k, len));
    patterns_into(dirs, xc, mask.as_mut(), h.as_mut());
    (mask, h)
}

/// [`patterns`] into `mask` and `h` (k×len, contiguous columns), every entry written.
fn patterns_into(
    dirs: MatRef<'_, f64>,
    xc: MatRef<'_, f64>,
    mut mask: MatMut<'_, f64>,
    mut h: MatMut<'_, f64>,
) {
    matmul(h.rb_mut(), Accum::Replace, dirs, xc, 1.0, Par::Seq);
    // Branch-free: over samples a unit's sign is a coin flip, which a branch mispredicts
    // half the time.
    for j in 0..xc.ncols() {
        let (hc, mc) = (h.rb_mut().col_mut(j), mask.rb_mut().col_mut(j));
        let (Some(hc), Some(mc)) = (hc.try_as_col_major_mut(), mc.try_as_col_major_mut()) else {
            unreachable!("the patterns' matrices have contiguous columns")
        };
        for (t, s) in hc.as_slice_mut().iter_mut().zip(mc.as_slice_mut()) {
            let on = *t > 0.0;
            *s = if on { 1.0 } else { 0.0 };
            *t = if on { *t } else { 0.0 };
        }
    }
}

/// Adds Jᵀ q for one block to `out`, packed: rows 0..m cols 0..k the U part (q hᵀ), rows
/// m..m+k cols 0..d the V part ((s ⊙ Uᵀ q) xᵀ), and (m + k, 0) ‖q‖² when asked. q is the
/// m×len matrix `q` last gave; `w` is a k×len buffer.
#[allow(clippy::too_many_arguments)]
fn back_project(
    xc: MatRef<'_, f64>,
    mc: MatRef<'_, f64>,
    u: &Mat<f64>,
    hc: MatRef<'_, f64>,
    q: &PaddedScratch,
    w: &mut PaddedScratch,
    norm: bool,
    mut out: MatMut<'_, f64>,
) {
    let (m, k, d, len) = (u.nrows(), u.ncols(), xc.nrows(), xc.ncols());
    let q = q.operand(m, len);
    matmul_padded(
        out.rb_mut().submatrix_mut(0, 0, m, k),
        Accum::Add,
        q,
        hc.transpose(),
        1.0,
        Par::Seq,
    );
    let mut wm = w.matrix(k, len);
    matmul(
        wm.rb_mut(),
        Accum::Replace,
        u.transpose(),
        q.as_ref(),
        1.0,
        Par::Seq,
    );
    zip_mask_ref(wm.rb_mut(), mc);
    matmul_padded(
        out.rb_mut().submatrix_mut(m, 0, k, d),
        Accum::Add,
        w.operand(k, len),
        xc.transpose(),
        1.0,
        Par::Seq,
    );
    if norm {
        out[(m + k, 0)] += q.as_ref().squared_norm_l2();
    }
}

fn unpack(total: &Mat<f64>, m: usize, k: usize, d: usize) -> Dir {
    Dir {
        u: total.submatrix(0, 0, m, k).to_owned(),
        v: total.submatrix(m, 0, k, d).to_owned(),
    }
}

fn zip_mask_ref(mut a: MatMut<'_, f64>, mask: MatRef<'_, f64>) {
    for j in 0..a.ncols() {
        let col = a
            .rb_mut()
            .col_mut(j)
            .try_as_col_major_mut()
            .expect("contiguous column");
        let col = col.as_slice_mut();
        match mask.col(j).try_as_col_major() {
            Some(m) => col.iter_mut().zip(m.as_slice()).for_each(|(t, &s)| *t *= s),
            None => col
                .iter_mut()
                .zip(mask.col(j).iter())
                .for_each(|(t, &s)| *t *= s),
        }
    }
}

/// New (V, U) for the patterns of `dirs`: one Gauss–Newton step from (dirs, U0) on
/// ‖Y − U (s ⊙ V X)‖² over all samples, its linear system solved by preconditioned CG with
/// the Gauss–Newton matrix of an evenly spread subsample (scaled to n): a subsampled,
/// inexact Newton step. `xt` d×n, `yt` m×n.
///
/// The step is accepted when the network's own loss (patterns from the new V) drops, else
/// halved (at most six times); the result carries that loss. Cost: one pass over all samples
/// for the gradient, one per step-length trial (O(n k (d + m)) each); at most 30 CG
/// iterations on the subsample (max(50 k d, 20 000) samples), solved only as accurately as
/// the subsample's matrix is (about 9 at d = 100, k = 20); k Gram matrices d×d (lower
/// triangles, the units across the threads) on a tenth of the subsample for the
/// preconditioner. Measured at (100, 20, 20, 10⁵, σ = 0.01), where they took about 40% of a
/// start's iteration on one thread as full products: the noisy front door 2.6 → 1.8 s, the
/// same errors to every printed digit.
pub(crate) fn gauss_newton_step(
    xt: MatRef<'_, f64>,
    yt: MatRef<'_, f64>,
    dirs: MatRef<'_, f64>,
    u0: MatRef<'_, f64>,
    sample: &GnSample,
) -> Result<Step, RecoveryError> {
    let (d, n) = xt.shape();
    let (k, m) = (dirs.nrows(), yt.nrows());
    let full = Problem {
        xt,
        yt,
        dirs,
        stored: None,
    };
    let u = u0.to_owned();
    let (grad, loss) = full.gradient(&u);

    let (xs, ys) = sample.samples(xt, yt);
    let ns = xs.ncols();
    let scale = n as f64 / ns as f64;
    let small = Problem {
        xt: xs,
        yt: ys,
        dirs,
        stored: None,
    }
    .store();
    let (smask, hs) = small.stored.as_ref().expect("stored");

    // Preconditioner: the U block of JᵀJ is I ⊗ H Hᵀ, the V block's diagonal blocks
    // |u_i|² Σ s_i x xᵀ.
    let mut hh = Mat::zeros(k, k);
    matmul(
        hh.as_mut(),
        Accum::Replace,
        hs.as_ref(),
        hs.transpose(),
        scale,
        Par::Seq,
    );
    let ridge = |g: &mut Mat<f64>| {
        let p = g.nrows();
        let r = 1e-12 * (0..p).map(|a| g[(a, a)]).sum::<f64>() / p as f64 + f64::MIN_POSITIVE;
        for a in 0..p {
            g[(a, a)] += r;
        }
    };
    ridge(&mut hh);
    let hh = hh
        .llt(Side::Lower)
        .map_err(|_| RecoveryError::Numerical("the feature Gram matrix"))?;
    // The per-unit Grams only precondition: a tenth of the subsample (at least 50 d samples)
    // shapes them well enough.
    let pre = (50 * d).max(5_000).min(ns);
    let pre_stride = (ns / pre).max(1);
    let pre_scale = n as f64 / (ns.div_ceil(pre_stride)) as f64;
    let grams = (0..k)
        .into_par_iter()
        .with_max_len(1)
        .map(|i| {
            let mut g = unit_gram(xs, smask.row(i), pre_stride, pre_scale);
            ridge(&mut g);
            g.llt(Side::Lower)
                .map_err(|_| RecoveryError::Numerical("a unit's Gram matrix"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let unorm: Vec<f64> = (0..k)
        .map(|i| u.col(i).squared_norm_l2().max(f64::MIN_POSITIVE))
        .collect();
    let precondition = |r: &Dir| -> Dir {
        let zu = hh.solve(r.u.transpose()).transpose().to_owned();
        let mut zv = Mat::zeros(k, d);
        for i in 0..k {
            let col = grams[i].solve(r.v.row(i).transpose().as_mat());
            for a in 0..d {
                zv[(i, a)] = col[(a, 0)] / unorm[i];
            }
        }
        Dir { u: zu, v: zv }
    };
    // PCG on (JᵀJ)_sub δ = Jᵀ r.
    let mut delta = Dir::zeros(m, k, d);
    let mut r = grad;
    let mut z = precondition(&r);
    let mut p = z.clone();
    let mut rz = r.dot(&z);
    let rz0 = rz;
    let tol = (CG_TOL_SUBSAMPLED * (k * d) as f64 / ns as f64).clamp(CG_TOL, 1e-4);
    for _ in 0..CG_ITERS {
        if rz <= tol * rz0 || rz <= 0.0 {
            break;
        }
        let mut ap = small.normal(&u, &p);
        ap.u *= faer::Scale(scale);
        ap.v *= faer::Scale(scale);
        let pap = p.dot(&ap);
        if pap <= 0.0 {
            break;
        }
        let alpha = rz / pap;
        delta.axpy(alpha, &p);
        r.axpy(-alpha, &ap);
        z = precondition(&r);
        let rz_new = r.dot(&z);
        let beta = rz_new / rz;
        rz = rz_new;
        let mut next = z.clone();
        next.axpy(beta, &p);
        p = next;
    }

    // The model is bilinear and the patterns move with V: a full step can overshoot. Halve
    // it until the network's own loss (each unit's pattern from its new weights) drops.
    let mut t = 1.0;
    for _ in 0..6 {
        let mut v_try = dirs.to_owned();
        v_try += faer::Scale(t) * &delta.v;
        let mut u_try = u.clone();
        u_try += faer::Scale(t) * &delta.u;
        let own = Problem {
            xt,
            yt,
            dirs: v_try.as_ref(),
            stored: None,
        }
        .own_loss(&u_try);
        if own < loss {
            return Ok(Step {
                v: v_try,
                u: u_try,
                loss: own,
            });
        }
        t *= 0.5;
    }
    Ok(Step {
        v: dirs.to_owned(),
        u,
        loss,
    })
}

/// The lower triangle of `scale` · Σ x_j x_jᵀ over every `stride`-th sample of `xs` (d×n)
/// where `mask` (1×n) is positive: a unit's block of the preconditioner, which its Cholesky
/// factor reads from the lower triangle only. One thread (the units' blocks run in
/// parallel, so the bits do not depend on the thread count). Cost: d² c flops for the c
/// samples kept (half a full product's), and two copies of them (the gather, then the one
/// [`twolayer_moments::lower_gram`] makes into zero-padded storage: 2/d of the product).
fn unit_gram(
    xs: MatRef<'_, f64>,
    mask: faer::RowRef<'_, f64>,
    stride: usize,
    scale: f64,
) -> Mat<f64> {
    let d = xs.nrows();
    let cols: Vec<usize> = (0..xs.ncols())
        .step_by(stride)
        .filter(|&j| mask[j] > 0.0)
        .collect();
    let mut a = Mat::<f64>::zeros(d, cols.len());
    for (c, &j) in cols.iter().enumerate() {
        a.as_mut().col_mut(c).copy_from(xs.col(j));
    }
    twolayer_moments::lower_gram(a.as_ref(), scale, Par::Seq)
}

/// The samples that carry the Gauss–Newton matrix of [`gauss_newton_step`]: every one, read
/// in place, when there are at most max(50 k d, 20 000) (a copy of them all cost about as
/// much as a step's gradient pass), else that many spread evenly over the data, copied once
/// per fit: the same for every step, and a copy per step was an eighth of a step at
/// (100, 20, 20, 2·10⁵).
pub(crate) struct GnSample {
    copied: Option<(Mat<f64>, Mat<f64>)>,
}

impl GnSample {
    /// The sample for `k` units on `xt` (d×n) and `yt` (m×n). Cost: a copy of
    /// max(50 k d, 20 000) samples when n is larger, else nothing.
    pub(crate) fn new(xt: MatRef<'_, f64>, yt: MatRef<'_, f64>, k: usize) -> Self {
        let (d, n) = xt.shape();
        let sub = (50 * k * d).max(20_000).min(n);
        Self {
            copied: (sub < n).then(|| strided_subsample(xt, yt, sub)),
        }
    }

    /// (X, Y) of the sample: the copy, or the `xt` and `yt` it was made for.
    fn samples<'a>(
        &'a self,
        xt: MatRef<'a, f64>,
        yt: MatRef<'a, f64>,
    ) -> (MatRef<'a, f64>, MatRef<'a, f64>) {
        match &self.copied {
            Some((xs, ys)) => (xs.as_ref(), ys.as_ref()),
            None => (xt, yt),
        }
    }
}

/// The result of [`gauss_newton_step`].
pub(crate) struct Step {
    /// Hidden weights (k×d).
    pub v: Mat<f64>,
    /// Output weights (m×k).
    pub u: Mat<f64>,
    /// ‖Y − U relu(V X)‖² over all samples.
    pub loss: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(rows: usize, cols: usize, salt: usize) -> Mat<f64> {
        Mat::from_fn(rows, cols, |i, j| {
            (((i * 7 + 3 + salt) * (j * 13 + 5) + j * j) % 101) as f64 / 50.0 - 1.0
        })
    }

    fn dir(m: usize, k: usize, d: usize, salt: usize) -> Dir {
        Dir {
            u: grid(m, k, salt),
            v: grid(k, d, salt + 1),
        }
    }

    #[test]
    fn a_units_gram_sums_its_active_strided_samples_in_the_lower_triangle() {
        // d = 11: the gathered columns are padded to 16 rows, which must not leak in.
        let (d, n, stride, scale) = (11, 40, 3, 2.5);
        let xs = grid(d, n, 5);
        let mask = Mat::from_fn(1, n, |_, j| if (j * 7) % 5 < 2 { 0.0 } else { 1.0 });
        let g = unit_gram(xs.as_ref(), mask.row(0), stride, scale);
        for a in 0..d {
            for b in 0..=a {
                let want: f64 = (0..n)
                    .step_by(stride)
                    .filter(|&j| mask[(0, j)] > 0.0)
                    .map(|j| scale * xs[(a, j)] * xs[(b, j)])
                    .sum();
                assert!(
                    (g[(a, b)] - want).abs() <= 1e-12 * want.abs().max(1.0),
                    "({a}, {b})"
                );
            }
        }
        // Samples that are off or skipped by the stride do not count.
        let mut off = mask.clone();
        off[(0, 1)] = 0.0;
        off[(0, 6)] = 0.0;
        let moved = unit_gram(xs.as_ref(), off.row(0), stride, scale);
        assert_ne!(
            moved[(0, 0)],
            g[(0, 0)],
            "sample 6 is kept by the stride and was on"
        );
        off[(0, 6)] = mask[(0, 6)];
        let same = unit_gram(xs.as_ref(), off.row(0), stride, scale);
        assert_eq!(same[(0, 0)], g[(0, 0)], "sample 1 is skipped by the stride");
    }

    #[test]
    fn gauss_newton_matrix_is_symmetric_and_positive() {
        let (d, k, m, n) = (4, 3, 2, 300);
        let xt = grid(d, n, 0);
        let yt = grid(m, n, 1);
        let dirs = grid(k, d, 2);
        let u = grid(m, k, 3);
        let prob = Problem {
            xt: xt.as_ref(),
            yt: yt.as_ref(),
            dirs: dirs.as_ref(),
            stored: None,
        };
        let (p, q) = (dir(m, k, d, 4), dir(m, k, d, 7));
        let (ap, aq) = (prob.normal(&u, &p), prob.normal(&u, &q));
        let (pq, qp) = (p.dot(&aq), q.dot(&ap));
        assert!((pq - qp).abs() <= 1e-10 * pq.abs().max(1.0), "{pq} vs {qp}");
        assert!(p.dot(&ap) > 0.0);
        // Stored patterns give the same products as recomputed ones.
        let stored = Problem {
            xt: xt.as_ref(),
            yt: yt.as_ref(),
            dirs: dirs.as_ref(),
            stored: None,
        }
        .store();
        let bp = stored.normal(&u, &p);
        assert!((&bp.v - &ap.v).norm_max() < 1e-12 && (&bp.u - &ap.u).norm_max() < 1e-12);
    }

    #[test]
    fn one_step_from_the_truth_keeps_an_exact_fit() {
        let (d, k, m, n) = (4, 3, 2, 400);
        let xt = grid(d, n, 0);
        let v = grid(k, d, 2);
        let u = grid(m, k, 3);
        let mut h = &v * &xt;
        for j in 0..n {
            for i in 0..k {
                h[(i, j)] = h[(i, j)].max(0.0);
            }
        }
        let yt = &u * &h;
        let sample = GnSample::new(xt.as_ref(), yt.as_ref(), v.nrows());
        let step =
            gauss_newton_step(xt.as_ref(), yt.as_ref(), v.as_ref(), u.as_ref(), &sample).unwrap();
        // Already optimal: the step is rejected or tiny, and the loss stays at zero.
        assert!(step.loss <= 1e-20 * yt.squared_norm_l2(), "{}", step.loss);
        assert!((&step.v - &v).norm_max() < 1e-8);
    }
}
