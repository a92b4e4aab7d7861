//! The output layer given the hidden layer: a linear least-squares problem.

use faer::prelude::*;
use faer::{Accum, Mat, MatRef, Par, Side};
use twolayer_moments::{CHUNK, matmul};

use crate::activation::Activation;
use crate::error::RecoveryError;

/// Least-squares output weights for fixed hidden weights, and how well they fit.
pub(crate) struct OutputFit {
    /// U (m×k).
    pub u: Mat<f64>,
    /// Intercept c (length m), when asked for.
    pub intercept: Option<Vec<f64>>,
    /// ‖Y − c − U f(V X)‖_F / ‖Y‖_F, unweighted.
    pub residual_rel: f64,
    /// ‖y_j − c − U f(V x_j)‖ per sample (for robust reweighting).
    pub sample_residuals: Vec<f64>,
}

/// U (and c) = argmin Σ_j w_j ‖y_j − c − U f(V x_j)‖² by QR least squares.
///
/// `v` is k×d, `xt` d×n, `yt` m×n, `w` optional sample weights. Cost: O(n k (d + k + m)).
pub(crate) fn fit_output_weights(
    f: &Activation,
    v: MatRef<'_, f64>,
    xt: MatRef<'_, f64>,
    yt: MatRef<'_, f64>,
    intercept: bool,
    w: Option<&[f64]>,
) -> Result<OutputFit, RecoveryError> {
    let (k, n, m) = (v.nrows(), xt.ncols(), yt.nrows());
    let cols = k + usize::from(intercept);
    let par = faer::get_global_parallelism();
    let mut ft = Mat::zeros(n, cols); // [f(V X)ᵀ, 1]
    matmul(
        ft.as_mut().subcols_mut(0, k),
        Accum::Replace,
        xt.transpose(),
        v.transpose(),
        1.0,
        par,
    );
    f.apply_to(ft.as_mut().subcols_mut(0, k));
    if intercept {
        ft.col_mut(k).fill(1.0);
    }
    let (a, b) = match w {
        None => (ft.clone(), yt.transpose().to_owned()),
        Some(w) => {
            let s: Vec<f64> = w.iter().map(|x| x.sqrt()).collect();
            (
                Mat::from_fn(n, cols, |j, c| s[j] * ft[(j, c)]),
                Mat::from_fn(n, m, |j, o| s[j] * yt[(o, j)]),
            )
        }
    };
    let mut coef = a.qr().solve_lstsq(&b); // cols×m
    if !coef.is_all_finite() {
        // A unit that is never active (or two identical units) makes the design rank
        // deficient: fall back to a minimally ridged solve, which gives such units U = 0.
        let mut g = a.transpose() * &a;
        let scale = (0..cols)
            .map(|c| g[(c, c)])
            .fold(0.0, f64::max)
            .max(f64::MIN_POSITIVE);
        for c in 0..cols {
            g[(c, c)] += 1e-12 * scale;
        }
        let rhs = a.transpose() * &b;
        coef = g
            .llt(Side::Lower)
            .map_err(|_| RecoveryError::Numerical("the least-squares fit of U"))?
            .solve(&rhs);
        if !coef.is_all_finite() {
            return Err(RecoveryError::Numerical("the least-squares fit of U"));
        }
    }
    let mut resid = yt.transpose().to_owned();
    matmul(
        resid.as_mut(),
        Accum::Add,
        ft.as_ref(),
        coef.as_ref(),
        -1.0,
        par,
    );
    let denom = yt.norm_l2();
    let total = resid.norm_l2();
    let sample_residuals = (0..n).map(|j| resid.row(j).norm_l2()).collect();
    Ok(OutputFit {
        u: coef.subrows(0, k).transpose().to_owned(),
        intercept: intercept.then(|| (0..m).map(|o| coef[(k, o)]).collect()),
        residual_rel: if denom > 0.0 { total / denom } else { total },
        sample_residuals,
    })
}

/// Entries of f(V X) that [`fit_output_exact`] keeps between its passes (32 MiB).
const HIDDEN_CACHE: usize = 1 << 22;

/// U = argmin ‖Y − U f(V X)‖_F for noiseless labels, deterministically: normal equations
/// summed chunk by chunk in a fixed order (so the same bits on any thread count), then one
/// step of iterative refinement on the residual, which brings the κ² rounding error of the
/// normal equations back to κ ε. Returns U (m×k) and the relative residual on these samples.
/// Falls back to [`fit_output_weights`] when f(V X) is rank deficient. Without
/// `with_residual` the last pass is skipped and the residual is NaN. `known`, when given,
/// is f(V X) (k×n) already computed (the exact search's last check has it), and no product
/// with X is formed.
///
/// Cost: three passes over the samples (two without the residual), O(n k (d + k + m)) flops;
/// one product with X in all when f(V X) has at most 2²² entries (then kept: 32 MiB at most),
/// none when `known` is given.
pub(crate) fn fit_output_exact(
    f: &Activation,
    v: MatRef<'_, f64>,
    xt: MatRef<'_, f64>,
    yt: MatRef<'_, f64>,
    known: Option<MatRef<'_, f64>>,
    with_residual: bool,
) -> Result<(Mat<f64>, f64), RecoveryError> {
    let (k, n, m) = (v.nrows(), xt.ncols(), yt.nrows());
    let known = known.filter(|h| h.shape() == (k, n));
    let hidden = |r: std::ops::Range<usize>| {
        let mut h = Mat::<f64>::zeros(k, r.len());
        matmul(
            h.as_mut(),
            Accum::Replace,
            v,
            xt.subcols(r.start, r.len()),
            1.0,
            Par::Seq,
        );
        f.apply_to(h.as_mut());
        h
    };
    // f(V X) chunk by chunk, kept for the passes below when it is small (the exact method's
    // few thousand samples): each pass then costs no product with X. The same chunks as the
    // passes', so the same bits either way.
    let cache: Option<Vec<Mat<f64>>> = match known {
        Some(h) => Some(
            (0..n.div_ceil(CHUNK))
                .map(|c| h.subcols(c * CHUNK, CHUNK.min(n - c * CHUNK)).to_owned())
                .collect(),
        ),
        None => (k * n <= HIDDEN_CACHE).then(|| {
            use rayon::prelude::*;
            (0..n.div_ceil(CHUNK))
                .into_par_iter()
                .map(|c| hidden(c * CHUNK..((c + 1) * CHUNK).min(n)))
                .collect()
        }),
    };
    let hidden_of = |r: &std::ops::Range<usize>| -> std::borrow::Cow<'_, Mat<f64>> {
        match &cache {
            Some(hs) => std::borrow::Cow::Borrowed(&hs[r.start / CHUNK]),
            None => std::borrow::Cow::Owned(hidden(r.clone())),
        }
    };
    // [Σ h hᵀ | Σ h yᵀ] in one pass.
    let normal = twolayer_moments::chunked_sum(n, k, k + m, |r| {
        let h = hidden_of(&r);
        let h = h.as_ref().as_ref();
        let mut out = Mat::zeros(k, k + m);
        matmul(
            out.as_mut().subcols_mut(0, k),
            Accum::Replace,
            h.as_ref(),
            h.transpose(),
            1.0,
            Par::Seq,
        );
        matmul(
            out.as_mut().subcols_mut(k, m),
            Accum::Replace,
            h.as_ref(),
            yt.subcols(r.start, r.len()).transpose(),
            1.0,
            Par::Seq,
        );
        out
    });
    let g = normal.subcols(0, k).to_owned();
    let Ok(llt) = g.llt(Side::Lower) else {
        let fit = fit_output_weights(f, v, xt, yt, false, None)?;
        return Ok((fit.u, fit.residual_rel));
    };
    let mut ut = llt.solve(normal.subcols(k, m)); // k×m
    // Refinement: Σ h eᵀ with e = y − U h, and the residual's norm, in one more pass.
    let pass = |ut: &Mat<f64>| {
        twolayer_moments::chunked_sum(n, k + 1, m, |r| {
            let h = hidden_of(&r);
            let h = h.as_ref().as_ref();
            let mut e = yt.subcols(r.start, r.len()).to_owned();
            matmul(
                e.as_mut(),
                Accum::Add,
                ut.transpose(),
                h.as_ref(),
                -1.0,
                Par::Seq,
            );
            let mut out = Mat::zeros(k + 1, m);
            matmul(
                out.as_mut().subrows_mut(0, k),
                Accum::Replace,
                h.as_ref(),
                e.transpose(),
                1.0,
                Par::Seq,
            );
            out[(k, 0)] = e.squared_norm_l2();
            out
        })
    };
    let correction = pass(&ut);
    ut += llt.solve(correction.subrows(0, k));
    let residual_rel = if with_residual {
        let total = pass(&ut)[(k, 0)];
        let denom = yt.squared_norm_l2();
        if denom > 0.0 {
            (total / denom).sqrt()
        } else {
            total.sqrt()
        }
    } else {
        f64::NAN
    };
    if !ut.is_all_finite() {
        return Err(RecoveryError::Numerical("the least-squares fit of U"));
    }
    Ok((ut.transpose().to_owned(), residual_rel))
}

/// Samples [`orient`] decides on at most: an evenly spread subset (the decision compares two
/// output weights that differ by whole units, which a few thousand samples settle).
const ORIENT_SAMPLES: usize = 1 << 15;

/// The directions `dirs` (k×d) with each row's sign chosen so that f(v̂_i·x), not
/// f(−v̂_i·x), carries unit i: the output layer is fitted on both features of every row
/// (2k of them, independent since f vanishes on one side), and row i keeps its sign when
/// ‖U₊ᵢ‖ ≥ ‖U₋ᵢ‖, else flips. The planted network has weight on one side only, so rows
/// within a few tenths of a radian of ±v_i get the unit's orientation.
///
/// Why: the spectral and random starts fix directions only up to sign, and a local method on
/// (U, V) (Gauss–Newton) turns a reversed unit back only slowly, if at all: f(v̂·x) and
/// f(−v̂·x) are different functions, far apart. From the best pencil's rows (about half of
/// them reversed), Gauss–Newton–CG at (100, 20, 20, 10⁵, σ = 0.01) spent 13 iterations
/// reaching the basin; oriented, 5.
///
/// Cost: one output fit with 2k units on at most 2¹⁵ samples, O(n' k (d + k + m)).
pub(crate) fn orient(
    f: &Activation,
    dirs: MatRef<'_, f64>,
    xt: MatRef<'_, f64>,
    yt: MatRef<'_, f64>,
) -> Result<Mat<f64>, RecoveryError> {
    let k = dirs.nrows();
    let both = Mat::from_fn(2 * k, dirs.ncols(), |i, a| {
        if i < k {
            dirs[(i, a)]
        } else {
            -dirs[(i - k, a)]
        }
    });
    let n = xt.ncols();
    let fit = if n > 2 * ORIENT_SAMPLES {
        let (xs, ys) = crate::data::subsample::strided_subsample(xt, yt, ORIENT_SAMPLES);
        fit_output_exact(f, both.as_ref(), xs.as_ref(), ys.as_ref(), None, false)
    } else {
        fit_output_exact(f, both.as_ref(), xt, yt, None, false)
    };
    let u = fit?.0;
    Ok(Mat::from_fn(k, dirs.ncols(), |i, a| {
        let flip = u.col(k + i).norm_l2() > u.col(i).norm_l2();
        if flip { -dirs[(i, a)] } else { dirs[(i, a)] }
    }))
}
