//! The first pass over the data: every moment of order ≤ 2 of (x, y), as one Gram matrix.

use crate::dots::dot;
use crate::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::prelude::*;
use faer::{Accum, Mat, MatRef, Par, Side};
use serde::{Deserialize, Serialize};

use crate::chunked::{CHUNK, try_chunked_sum};
use crate::error::MomentsError;
use crate::source::SampleSource;

/// Format tag of the serialised accumulator.
const FORMAT: &str = "twolayer-moments";
const VERSION: u32 = 1;

/// Raw sums over samples of z zᵀ with z = (x, y, 1) ∈ R^{d+m+1}, plus Σ x_a⁴ and Σ ‖x‖⁴:
/// means, covariances, the cross moment, the label Gram matrix and the input diagnostics
/// all come from it.
///
/// One pass over the data, as one lower-triangular GEMM per chunk of samples
/// ((d+m+1)² n flops, the cost of a symmetric rank-n update). Sums, not means, so that two
/// shards of a data set merge by addition ([`SampleMoments::merge`]) and serialise without
/// loss (serde_json writes every f64 so that it reads back to the same bits).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleMoments {
    format: String,
    version: u32,
    /// Number of samples summed.
    pub n: u64,
    /// Input dimension.
    pub d: usize,
    /// Label dimension.
    pub m: usize,
    /// Lower triangle of Σ_j z_j z_jᵀ, column by column (p(p+1)/2 values, p = d + m + 1).
    gram_lower: Vec<f64>,
    /// Σ_j x_aj⁴ for each input coordinate; absent after a change of input basis.
    sum_x4: Option<Vec<f64>>,
    /// Σ_j ‖x_j‖⁴; absent after a change of input basis.
    sum_norm4: Option<f64>,
}

impl SampleMoments {
    /// One pass over `source`. Bit-identical for any thread count and for any source holding
    /// the same samples (memory or file). Cost: (d+m+1)² n flops; memory O((d+m)² + chunk).
    ///
    /// Samples already in memory with contiguous columns are read in place, not copied. The
    /// pass also checks finiteness: a NaN or an infinity anywhere makes a diagonal sum
    /// non-finite, and only then is the data scanned again to name the first bad entry
    /// ([`MomentsError::NotFinite`]), so clean data costs no extra pass.
    pub fn compute(source: &dyn SampleSource) -> Result<Self, MomentsError> {
        Self::compute_chunks(source, None)
    }

    /// The moments of some whole chunks of `source` only, chunk c being samples
    /// c·[`CHUNK`] .. (c+1)·[`CHUNK`]: `chunks` strictly increasing, below ⌈n / CHUNK⌉. Evenly
    /// spread chunks are a subsample that reads memory in long contiguous runs (a strided one
    /// would pay a TLB miss per sample), for statistics that need fewer samples than the data
    /// hold (docs/algorithms.md 1.4). `n` of the result counts the samples summed. Same bits as
    /// [`SampleMoments::compute`] on a source holding just those chunks.
    ///
    /// # Panics
    /// If `chunks` is not strictly increasing or names a chunk past the end (a caller's bug).
    pub fn compute_on_chunks(
        source: &dyn SampleSource,
        chunks: &[usize],
    ) -> Result<Self, MomentsError> {
        let count = source.n().div_ceil(CHUNK);
        assert!(
            chunks.windows(2).all(|w| w[0] < w[1]) && chunks.last().is_none_or(|&c| c < count),
            "compute_on_chunks: chunks must be increasing and below {count}"
        );
        Self::compute_chunks(source, Some(chunks))
    }

    fn compute_chunks(
        source: &dyn SampleSource,
        chunks: Option<&[usize]>,
    ) -> Result<Self, MomentsError> {
        let (d, m) = (source.d(), source.m());
        let original = |c: usize| c * CHUNK..((c + 1) * CHUNK).min(source.n());
        // Only the data's last chunk can be short, and it can only come last: the chosen
        // chunks lie end to end as the chunks of a pass over n samples.
        let n = match chunks {
            None => source.n(),
            Some(list) => list.iter().map(|&c| original(c).len()).sum(),
        };
        let p = d + m + 1;
        let whole = source.whole();
        // Column p of each partial carries the fourth-power sums: rows 0..d Σ x_a⁴, row d
        // Σ ‖x‖⁴. One matrix per chunk keeps the reduction (and its order) in one place.
        let total = try_chunked_sum(n, p, p + 1, |r| {
            let r = match chunks {
                None => r,
                Some(list) => original(list[r.start / CHUNK]),
            };
            let read;
            let (x, y) = match &whole {
                Some(all) => (
                    all.x().subcols(r.start, r.len()),
                    all.y().subcols(r.start, r.len()),
                ),
                None => {
                    let mut x = Mat::<f64>::zeros(d, r.len());
                    let mut y = Mat::<f64>::zeros(m, r.len());
                    source.read(r.start, x.as_mut(), y.as_mut())?;
                    read = (x, y);
                    (read.0.as_ref(), read.1.as_ref())
                }
            };
            Ok(chunk_sums(x, y))
        })?;
        if (0..d + m).any(|a| !total[(a, a)].is_finite()) {
            let all: Vec<usize> = (0..source.n().div_ceil(CHUNK)).collect();
            return Err(locate_non_finite(
                source,
                chunks.unwrap_or(&all).iter().map(|&c| original(c)),
            ));
        }
        let mut gram_lower = Vec::with_capacity(p * (p + 1) / 2);
        for b in 0..p {
            for a in b..p {
                gram_lower.push(total[(a, b)]);
            }
        }
        Ok(Self {
            format: FORMAT.into(),
            version: VERSION,
            n: n as u64,
            d,
            m,
            gram_lower,
            sum_x4: Some((0..d).map(|a| total[(a, p)]).collect()),
            sum_norm4: Some(total[(d, p)]),
        })
    }

    /// Adds the sums of another shard of the same data set. Cost O((d+m)²). A count or a sum
    /// that overflows is an error, and `self` is then unchanged.
    pub fn merge(&mut self, other: &SampleMoments) -> Result<(), MomentsError> {
        if (self.d, self.m) != (other.d, other.m) {
            return Err(MomentsError::MergeMismatch {
                d_left: self.d,
                m_left: self.m,
                d_right: other.d,
                m_right: other.m,
            });
        }
        let n = self.n.checked_add(other.n).ok_or_else(|| {
            MomentsError::Source(format!(
                "merging counts of {} and {} samples overflows 64 bits; these are not shards \
                 of one data set",
                self.n, other.n
            ))
        })?;
        let overflows = self
            .gram_lower
            .iter()
            .zip(&other.gram_lower)
            .any(|(a, b)| !(a + b).is_finite());
        if overflows {
            return Err(MomentsError::Source(
                "the merged sums overflow float64; scale the data down before computing moments"
                    .into(),
            ));
        }
        self.n = n;
        self.gram_lower
            .iter_mut()
            .zip(&other.gram_lower)
            .for_each(|(a, b)| *a += b);
        self.sum_x4 = match (self.sum_x4.take(), &other.sum_x4) {
            (Some(mut a), Some(b)) => {
                a.iter_mut().zip(b).for_each(|(s, t)| *s += t);
                Some(a)
            }
            _ => None,
        };
        self.sum_norm4 = self.sum_norm4.zip(other.sum_norm4).map(|(a, b)| a + b);
        Ok(())
    }

    /// Adds the sums of several shards in one fixed order: a pairwise tree over the list
    /// (neighbours first, then neighbouring pairs, …), so that merging A B C D gives the bits
    /// of merging (A B) with (C D). Cost O(parts · (d+m)²).
    pub fn merge_all(parts: Vec<SampleMoments>) -> Result<SampleMoments, MomentsError> {
        let mut level = parts;
        if level.is_empty() {
            return Err(MomentsError::Source("no moments to merge".into()));
        }
        while level.len() > 1 {
            let mut next = Vec::with_capacity(level.len().div_ceil(2));
            let mut items = level.into_iter();
            while let Some(mut a) = items.next() {
                if let Some(b) = items.next() {
                    a.merge(&b)?;
                }
                next.push(a);
            }
            level = next;
        }
        Ok(level.pop().expect("one part is left"))
    }

    /// Checks a deserialised accumulator: format tag, version, lengths (without overflow),
    /// and sums a real data set can have: n ≥ 1, Σ 1 = n, finite sums, non-negative sums of
    /// squares and of fourth powers.
    pub fn validate(&self) -> Result<(), MomentsError> {
        let bad = |what: String| Err(MomentsError::Source(what));
        let Some((p, values)) = self
            .d
            .checked_add(self.m)
            .and_then(|s| s.checked_add(1))
            .and_then(|p| Some((p, p.checked_mul(p + 1)? / 2)))
        else {
            return bad(format!(
                "moments file claims d = {}, m = {}, beyond any data set; it is corrupt: \
                 recompute it with `twolayer moments`",
                self.d, self.m
            ));
        };
        if self.format != FORMAT || self.version != VERSION {
            return bad(format!(
                "not a twolayer moments file (format {:?} version {}, expected {FORMAT:?} \
                 version {VERSION}); write it with `twolayer moments`",
                self.format, self.version
            ));
        }
        if self.gram_lower.len() != values
            || self.sum_x4.as_ref().is_some_and(|v| v.len() != self.d)
        {
            return bad(format!(
                "moments file for d = {}, m = {} holds {} Gram values (expected {}); it is \
                 corrupt: recompute it with `twolayer moments`",
                self.d,
                self.m,
                self.gram_lower.len(),
                values
            ));
        }
        if self.gram_lower.iter().any(|v| !v.is_finite())
            || self.sum_norm4.is_some_and(|v| !v.is_finite())
            || self.sum_x4.iter().flatten().any(|v| !v.is_finite())
        {
            return bad("moments file holds non-finite sums; recompute it".into());
        }
        if self.n == 0 {
            return bad(
                "moments file counts n = 0 samples; compute it on a non-empty shard".into(),
            );
        }
        // Column b of the packed lower triangle starts at b (2p − b + 1) / 2: its first entry
        // is the diagonal Σ z_b².
        let diagonal = |b: usize| self.gram_lower[b * (2 * p - b + 1) / 2];
        if (0..p).any(|b| diagonal(b) < 0.0)
            || self.sum_norm4.is_some_and(|v| v < 0.0)
            || self.sum_x4.iter().flatten().any(|&v| v < 0.0)
        {
            return bad(
                "moments file holds a negative sum of squares or of fourth powers, which no \
                 data set has; it is corrupt: recompute it"
                    .into(),
            );
        }
        if diagonal(p - 1) != self.n as f64 {
            return bad(format!(
                "moments file counts n = {} samples but its constant term sums to {}; it is \
                 corrupt: recompute it",
                self.n,
                diagonal(p - 1)
            ));
        }
        Ok(())
    }

    /// (1/n) Σ z_a z_b for coordinates a, b of z = (x, y, 1), read from the packed lower
    /// triangle. Cost O(1).
    fn entry(&self, a: usize, b: usize) -> f64 {
        let p = self.d + self.m + 1;
        let (a, b) = if a >= b { (a, b) } else { (b, a) };
        // Columns 0..b of the lower triangle hold p + (p − 1) + … + (p − b + 1) values.
        let offset = b * (2 * p - b + 1) / 2;
        self.gram_lower[offset + (a - b)] / self.n.max(1) as f64
    }

    /// The block (1/n) Σ z_{r0+i} z_{c0+j}, rows×cols.
    fn block(&self, r0: usize, c0: usize, rows: usize, cols: usize) -> Mat<f64> {
        Mat::from_fn(rows, cols, |i, j| self.entry(r0 + i, c0 + j))
    }

    /// The full symmetric (1/n) Σ z zᵀ, p×p with p = d + m + 1 (z = (x, y, 1)).
    pub fn second_moment(&self) -> Mat<f64> {
        let p = self.d + self.m + 1;
        self.block(0, 0, p, p)
    }

    /// Mean of x (length d).
    pub fn mean_x(&self) -> Vec<f64> {
        let one = self.d + self.m;
        (0..self.d).map(|a| self.entry(one, a)).collect()
    }

    /// Mean of y (length m).
    pub fn mean_y(&self) -> Vec<f64> {
        let one = self.d + self.m;
        (0..self.m).map(|r| self.entry(one, self.d + r)).collect()
    }

    /// Raw second moment (1/n) Σ y yᵀ (m×m).
    pub fn second_y(&self) -> Mat<f64> {
        self.block(self.d, self.d, self.m, self.m)
    }

    /// Raw second moment (1/n) Σ x xᵀ (d×d).
    pub fn second_x(&self) -> Mat<f64> {
        self.block(0, 0, self.d, self.d)
    }

    /// Covariance of x (d×d) and cross covariance of x and y (d×m), both centred.
    pub fn covariances(&self) -> (Mat<f64>, Mat<f64>) {
        let (d, m) = (self.d, self.m);
        let (mx, my) = (self.mean_x(), self.mean_y());
        let cxx = Mat::from_fn(d, d, |a, b| self.entry(a, b) - mx[a] * mx[b]);
        let cxy = Mat::from_fn(d, m, |a, r| self.entry(a, d + r) - mx[a] * my[r]);
        (cxx, cxy)
    }

    /// The affine least-squares fit y ≈ α + B x: returns (α (length m), B (m×d)).
    ///
    /// Fails when the input covariance is singular (the fit is not unique). Cost O(d³ + d²m).
    pub fn affine_fit(&self) -> Result<(Vec<f64>, Mat<f64>), MomentsError> {
        let d = self.d;
        let (cxx, cxy) = self.covariances();
        // A Cholesky factor whose trace bound proves the covariance well conditioned spares
        // the eigenvalues (several times the factor's cost at d = 100); they are computed
        // only to decide, and to say, when it does not.
        let trace: f64 = (0..d).map(|a| cxx[(a, a)]).sum();
        let llt = match cxx.llt(Side::Lower) {
            Ok(f) if condition_lower_bound(f.L(), trace) > 1e-12 => f,
            factor => {
                let eig = symmetric_eigenvalues(cxx.as_ref()).ok_or(
                    MomentsError::SingularCovariance {
                        min_eig: f64::NAN,
                        max_eig: f64::NAN,
                    },
                )?;
                let (min_eig, max_eig) = (eig[0], eig[d - 1]);
                if min_eig.is_nan() || min_eig <= 1e-12 * max_eig {
                    return Err(MomentsError::SingularCovariance { min_eig, max_eig });
                }
                factor.map_err(|_| MomentsError::SingularCovariance { min_eig, max_eig })?
            }
        };
        let bt = llt.solve(&cxy); // d×m
        let (mean_x, mean_y) = (self.mean_x(), self.mean_y());
        let alpha = (0..self.m)
            .map(|r| mean_y[r] - (0..d).map(|a| bt[(a, r)] * mean_x[a]).sum::<f64>())
            .collect();
        Ok((alpha, bt.transpose().to_owned()))
    }

    /// Per-coordinate raw fourth moments (1/n) Σ x_a⁴, when known.
    pub fn fourth_x(&self) -> Option<Vec<f64>> {
        let inv_n = 1.0 / self.n.max(1) as f64;
        self.sum_x4
            .as_ref()
            .map(|v| v.iter().map(|s| s * inv_n).collect())
    }

    /// (1/n) Σ ‖x‖⁴, when known.
    pub fn fourth_norm(&self) -> Option<f64> {
        self.sum_norm4.map(|s| s / self.n.max(1) as f64)
    }

    /// The moments of (W x, y) for a d'×d matrix `w`: exact for the Gram part (it is linear
    /// in x x ᵀ); the fourth-power sums are dropped. Cost O(p² d).
    pub fn map_inputs(&self, w: MatRef<'_, f64>) -> SampleMoments {
        let (d, m) = (self.d, self.m);
        let d2 = w.nrows();
        let p = d + m + 1;
        let p2 = d2 + m + 1;
        let n = self.n.max(1) as f64;
        // z' = T z with T = diag(W, I_{m+1}); Σ z' z'ᵀ = T (Σ z zᵀ) Tᵀ.
        let t = Mat::from_fn(p2, p, |i, j| match (i < d2, j < d) {
            (true, true) => w[(i, j)],
            (false, false) => f64::from(i - d2 == j - d),
            _ => 0.0,
        });
        let g = self.second_moment();
        let mut tg = Mat::zeros(p2, p);
        matmul(
            tg.as_mut(),
            Accum::Replace,
            t.as_ref(),
            g.as_ref(),
            n,
            Par::Seq,
        );
        let mut g2 = Mat::zeros(p2, p2);
        matmul(
            g2.as_mut(),
            Accum::Replace,
            tg.as_ref(),
            t.transpose(),
            1.0,
            Par::Seq,
        );
        let mut gram_lower = Vec::with_capacity(p2 * (p2 + 1) / 2);
        for b in 0..p2 {
            for a in b..p2 {
                gram_lower.push(0.5 * (g2[(a, b)] + g2[(b, a)]));
            }
        }
        SampleMoments {
            format: FORMAT.into(),
            version: VERSION,
            n: self.n,
            d: d2,
            m,
            gram_lower,
            sum_x4: None,
            sum_norm4: None,
        }
    }
}

/// The sums of one chunk, x (d×len) and y (m×len) with unit row stride: the lower triangle
/// of z zᵀ for z = (x, y, 1) in its first p columns, the fourth-power sums in column p. The
/// blocks are three GEMMs on the chunk as it lies, so no z is assembled.
fn chunk_sums(x: MatRef<'_, f64>, y: MatRef<'_, f64>) -> Mat<f64> {
    let ((d, len), m) = (x.shape(), y.nrows());
    let p = d + m + 1;
    let mut out = Mat::<f64>::zeros(p, p + 1);
    let lower = |out: faer::MatMut<'_, f64>, a: MatRef<'_, f64>| {
        triangular::matmul(
            out,
            BlockStructure::TriangularLower,
            Accum::Replace,
            a,
            BlockStructure::Rectangular,
            a.transpose(),
            BlockStructure::Rectangular,
            1.0,
            Par::Seq,
        )
    };
    lower(out.as_mut().submatrix_mut(0, 0, d, d), x);
    lower(out.as_mut().submatrix_mut(d, d, m, m), y);
    matmul(
        out.as_mut().submatrix_mut(d, 0, m, d),
        Accum::Replace,
        y,
        x.transpose(),
        1.0,
        Par::Seq,
    );
    let (mut sx, mut x4, mut sy) = (vec![0.0; d], vec![0.0; d], vec![0.0; m]);
    let mut norm4 = 0.0;
    let x_col = |j: usize| {
        x.col(j)
            .try_as_col_major()
            .expect("unit row stride")
            .as_slice()
    };
    let y_col = |j: usize| {
        y.col(j)
            .try_as_col_major()
            .expect("unit row stride")
            .as_slice()
    };
    // Four samples per sweep over the coordinates: the coordinate-wise sums vectorise, and
    // their accumulators are loaded and stored once per four samples rather than once per
    // sample (one load and store per sample made this loop cost a third of the GEMMs). The
    // one sum across coordinates per sample goes through the lane-parallel dot.
    let quads = len / 4;
    for b in 0..quads {
        let j = 4 * b;
        let (c0, c1, c2, c3) = (x_col(j), x_col(j + 1), x_col(j + 2), x_col(j + 3));
        for (((((s, acc), &v0), &v1), &v2), &v3) in sx
            .iter_mut()
            .zip(x4.iter_mut())
            .zip(c0)
            .zip(c1)
            .zip(c2)
            .zip(c3)
        {
            *s += (v0 + v1) + (v2 + v3);
            let (t0, t1, t2, t3) = (v0 * v0, v1 * v1, v2 * v2, v3 * v3);
            *acc += (t0 * t0 + t1 * t1) + (t2 * t2 + t3 * t3);
        }
        for c in [c0, c1, c2, c3] {
            let sq = dot(c, c);
            norm4 += sq * sq;
        }
        let (e0, e1, e2, e3) = (y_col(j), y_col(j + 1), y_col(j + 2), y_col(j + 3));
        for ((((s, &v0), &v1), &v2), &v3) in sy.iter_mut().zip(e0).zip(e1).zip(e2).zip(e3) {
            *s += (v0 + v1) + (v2 + v3);
        }
    }
    for j in 4 * quads..len {
        let col = x_col(j);
        for ((s, acc), &v) in sx.iter_mut().zip(x4.iter_mut()).zip(col) {
            *s += v;
            let t = v * v;
            *acc += t * t;
        }
        let sq = dot(col, col);
        norm4 += sq * sq;
        sy.iter_mut().zip(y_col(j)).for_each(|(s, &v)| *s += v);
    }
    for (a, (s, q)) in sx.into_iter().zip(x4).enumerate() {
        out[(p - 1, a)] = s;
        out[(a, p)] = q;
    }
    for (r, s) in sy.into_iter().enumerate() {
        out[(p - 1, d + r)] = s;
    }
    out[(p - 1, p - 1)] = len as f64;
    out[(d, p)] = norm4;
    out
}

/// The first NaN or infinity of samples `x` (d×len) and labels `y` (m×len), in sample order,
/// as the error naming it; `row(j)` is the data's row number of column j. Cost: one scan up
/// to the bad entry.
pub fn first_non_finite(
    x: MatRef<'_, f64>,
    y: MatRef<'_, f64>,
    row: impl Fn(usize) -> usize,
) -> Option<MomentsError> {
    (0..x.ncols()).find_map(|j| {
        [("X", x.col(j)), ("Y", y.col(j))]
            .into_iter()
            .find_map(|(what, col)| {
                col.iter()
                    .position(|v| !v.is_finite())
                    .map(|c| MomentsError::NotFinite {
                        what,
                        row: row(j),
                        col: c,
                    })
            })
    })
}

/// The error for samples whose sums came out non-finite: the first NaN or infinity in sample
/// order, or, when every value is finite, values so large that their squares overflow.
/// `ranges` are the chunks summed, each at most [`CHUNK`] long. Cost: one sequential pass,
/// paid only on bad data.
fn locate_non_finite(
    source: &dyn SampleSource,
    ranges: impl Iterator<Item = std::ops::Range<usize>>,
) -> MomentsError {
    let (d, m) = (source.d(), source.m());
    let (mut x, mut y) = (Mat::<f64>::zeros(d, CHUNK), Mat::<f64>::zeros(m, CHUNK));
    for r in ranges {
        let (start, len) = (r.start, r.len());
        let (mut xc, mut yc) = (
            x.as_mut().subcols_mut(0, len),
            y.as_mut().subcols_mut(0, len),
        );
        if let Err(e) = source.read(start, xc.as_mut(), yc.as_mut()) {
            return e;
        }
        if let Some(e) = first_non_finite(xc.as_ref(), yc.as_ref(), |j| start + j) {
            return e;
        }
    }
    MomentsError::Source(
        "the samples hold values so large (above about 1e154) that their squares overflow; \
         rescale X and Y"
            .into(),
    )
}

/// The eigenvalues of the symmetric matrix `a` (its lower triangle is read), ascending,
/// computed on this thread: at the sizes this crate meets (d ≤ a few hundred) a parallel
/// decomposition costs more in synchronisation than it saves. `None` if the iteration fails.
/// Cost: about (4/3) d³ flops.
///
/// # Panics
/// If `a` is not square (a caller's bug: every caller passes a d×d moment).
pub fn symmetric_eigenvalues(a: MatRef<'_, f64>) -> Option<Vec<f64>> {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::evd::{self, ComputeEigenvectors};
    let d = a.nrows();
    let mut s = faer::diag::Diag::<f64>::zeros(d);
    let scratch = evd::self_adjoint_evd_scratch::<f64>(
        d,
        ComputeEigenvectors::No,
        Par::Seq,
        Default::default(),
    );
    evd::self_adjoint_evd(
        a,
        s.as_mut(),
        None,
        Par::Seq,
        MemStack::new(&mut MemBuffer::new(scratch)),
        Default::default(),
    )
    .ok()?;
    Some(s.column_vector().iter().copied().collect())
}

/// A lower bound on λ_min/λ_max of a positive definite matrix A from its Cholesky factor L
/// (read from the lower triangle of `l` only, so a factor stored over A's upper triangle
/// will do) and its trace: 1/(tr A · tr A⁻¹), since λ_max ≤ tr A and λ_min ≥ 1/tr A⁻¹, with
/// tr A⁻¹ = ‖L⁻¹‖²_F. The bound is within a factor d² of the truth. 0 when it cannot be
/// formed (not finite). Cost: d³/3 flops.
///
/// # Panics
/// If `l` is not square (a caller's bug: every caller passes a factor it just computed).
pub fn condition_lower_bound(l: MatRef<'_, f64>, trace: f64) -> f64 {
    let d = l.nrows();
    let mut inverse = Mat::<f64>::zeros(d, d);
    faer::linalg::triangular_inverse::invert_lower_triangular(inverse.as_mut(), l, Par::Seq);
    // Only the lower triangle of the inverse is written.
    let inverse_trace: f64 = (0..d)
        .map(|j| (j..d).map(|i| inverse[(i, j)].powi(2)).sum::<f64>())
        .sum();
    let bound = 1.0 / (trace * inverse_trace);
    if bound.is_finite() { bound } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::InMemory;

    fn data(rows: usize, n: usize, salt: usize) -> Mat<f64> {
        Mat::from_fn(rows, n, |i, j| {
            ((i * 7919 + j * 104_729 + salt * 31) % 1000) as f64 / 500.0 - 1.0
        })
    }

    fn shard(n: usize, salt: usize) -> SampleMoments {
        let (x, y) = (data(3, n, salt), data(2, n, salt + 1));
        SampleMoments::compute(&InMemory::new(x.as_ref(), y.as_ref()).unwrap()).unwrap()
    }

    /// Merging A B C D in one call gives the bits of merging (A B) with (C D): one pairwise
    /// tree, whatever the grouping into calls of that shape.
    #[test]
    fn merge_all_is_one_pairwise_tree() {
        let parts: Vec<_> = (0..4).map(|i| shard(1000 + 37 * i, i)).collect();
        let all = SampleMoments::merge_all(parts.clone()).unwrap();
        let ab = SampleMoments::merge_all(parts[..2].to_vec()).unwrap();
        let cd = SampleMoments::merge_all(parts[2..].to_vec()).unwrap();
        let grouped = SampleMoments::merge_all(vec![ab, cd]).unwrap();
        assert_eq!(all, grouped);
        assert_eq!(all.n, 4000 + 37 * 6);
        assert!(SampleMoments::merge_all(Vec::new()).is_err());
    }

    /// Two shards merge into the sums of one pass over both: the Gram matrix, the fourth
    /// powers and the fourth power of the norm alike (equal up to the order of additions);
    /// large sums whose total is finite merge, and a merge is refused only when it overflows.
    #[test]
    fn merged_shards_hold_the_sums_of_one_pass() {
        let (x, y) = (data(3, 3000, 2), data(2, 3000, 3));
        let (a, b) = (1000, 2000);
        let part = |r: std::ops::Range<usize>| {
            let (xs, ys) = (x.subcols(r.start, r.len()), y.subcols(r.start, r.len()));
            SampleMoments::compute(&InMemory::new(xs, ys).unwrap()).unwrap()
        };
        let whole = part(0..3000);
        let mut merged = part(0..a);
        merged.merge(&part(a..a + b)).unwrap();
        assert_eq!(merged.n, whole.n);
        let close = |u: f64, v: f64| (u - v).abs() <= 1e-12 * v.abs().max(1.0);
        assert!(
            merged
                .gram_lower
                .iter()
                .zip(&whole.gram_lower)
                .all(|(u, v)| close(*u, *v))
        );
        let (mx, wx) = (
            merged.sum_x4.as_ref().unwrap(),
            whole.sum_x4.as_ref().unwrap(),
        );
        assert!(
            mx.iter().zip(wx).all(|(u, v)| close(*u, *v)),
            "{mx:?} {wx:?}"
        );
        assert!(close(merged.sum_norm4.unwrap(), whole.sum_norm4.unwrap()));
        // One side without fourth powers (after a change of basis): the merge has none.
        let mut plain = part(0..a);
        plain.sum_x4 = None;
        plain.sum_norm4 = None;
        let mut m2 = part(a..a + b);
        m2.merge(&plain).unwrap();
        assert!(m2.sum_x4.is_none() && m2.sum_norm4.is_none());
        // 1e200 + 1e200 is finite (their product is not).
        let mut large = part(0..a);
        large.gram_lower[0] = 1e200;
        let mut sum = large.clone();
        sum.merge(&large).unwrap();
        assert_eq!(sum.gram_lower[0], 2e200);
    }

    /// Impossible accumulators are refused: counts that wrap, sizes that overflow, n = 0, a
    /// negative sum of squares or fourth powers, Σ 1 ≠ n.
    #[test]
    fn impossible_accumulators_are_refused() {
        let good = shard(500, 1);
        good.validate().unwrap();
        let mut huge = good.clone();
        huge.n = u64::MAX;
        let mut merged = huge.clone();
        assert!(merged.merge(&good).is_err());
        assert_eq!(
            merged, huge,
            "a failed merge leaves the accumulator unchanged"
        );

        type Break = Box<dyn Fn(&mut SampleMoments)>;
        let broken: Vec<(&str, Break)> = vec![
            (
                "d wraps",
                Box::new(|s| {
                    s.d = usize::MAX;
                    s.m = 0;
                    s.gram_lower.clear();
                    s.sum_x4 = None;
                }),
            ),
            ("n = 0", Box::new(|s| s.n = 0)),
            ("n differs from the constant's sum", Box::new(|s| s.n += 1)),
            ("negative diagonal", Box::new(|s| s.gram_lower[0] = -1.0)),
            (
                "negative fourth power",
                Box::new(|s| s.sum_x4.as_mut().unwrap()[1] = -2.0),
            ),
            ("negative norm⁴", Box::new(|s| s.sum_norm4 = Some(-1.0))),
            ("non-finite", Box::new(|s| s.gram_lower[3] = f64::INFINITY)),
            (
                "non-finite norm⁴",
                Box::new(|s| s.sum_norm4 = Some(f64::NAN)),
            ),
            (
                "non-finite fourth power",
                Box::new(|s| s.sum_x4.as_mut().unwrap()[2] = f64::INFINITY),
            ),
            (
                "fourth powers of the wrong length",
                Box::new(|s| s.sum_x4.as_mut().unwrap().push(1.0)),
            ),
            ("another format", Box::new(|s| s.format = "other".into())),
            ("another version", Box::new(|s| s.version += 1)),
        ];
        // Each is refused by its own check, whose message names it.
        let says = |what: &str| match what {
            "d wraps" => "beyond any data set",
            "n = 0" => "n = 0",
            "n differs from the constant's sum" => "constant term",
            "fourth powers of the wrong length" => "Gram values",
            "another format" | "another version" => "not a twolayer moments file",
            w if w.starts_with("negative") => "negative sum",
            _ => "non-finite",
        };
        for (what, apply) in broken {
            let mut s = good.clone();
            apply(&mut s);
            let err = s.validate().expect_err(what).to_string();
            assert!(err.contains(says(what)), "{what}: {err}");
        }
        // Zero sums are sums a data set can have (an input coordinate that is always 0).
        let zero_x = Mat::<f64>::zeros(3, 400);
        let y = data(2, 400, 5);
        let zeros =
            SampleMoments::compute(&InMemory::new(zero_x.as_ref(), y.as_ref()).unwrap()).unwrap();
        assert_eq!(zeros.sum_norm4, Some(0.0));
        zeros.validate().unwrap();
        let mut big = good.clone();
        big.gram_lower[0] = f64::MAX;
        let mut twice = big.clone();
        assert!(twice.merge(&big).is_err(), "an overflowing sum merged");
    }

    /// The trace bound brackets λ_min/λ_max within d², and an affine fit refuses a covariance
    /// the bound cannot vouch for exactly when its eigenvalues say it is singular.
    #[test]
    fn the_condition_bound_is_a_bound_and_the_fit_still_refuses_singular_inputs() {
        let d = 5;
        let spectrum = [4.0, 2.0, 1.0, 0.5, 1e-3];
        // Q diag(λ) Qᵀ for an orthogonal Q (the Householder reflection I − 2uuᵀ/uᵀu).
        let u = [1.0, -2.0, 0.5, 3.0, 1.0];
        let uu: f64 = u.iter().map(|t| t * t).sum();
        let q = Mat::from_fn(d, d, |i, j| f64::from(i == j) - 2.0 * u[i] * u[j] / uu);
        let a = Mat::from_fn(d, d, |i, j| {
            (0..d)
                .map(|c| q[(i, c)] * spectrum[c] * q[(j, c)])
                .sum::<f64>()
        });
        let eig = symmetric_eigenvalues(a.as_ref()).unwrap();
        assert!((eig[0] - 1e-3).abs() < 1e-12 && (eig[d - 1] - 4.0).abs() < 1e-12);
        let llt = a.llt(Side::Lower).unwrap();
        let bound = condition_lower_bound(llt.L(), spectrum.iter().sum());
        let ratio = 1e-3 / 4.0;
        assert!(bound <= ratio && bound >= ratio / (d * d) as f64, "{bound}");

        // Two identical input coordinates: singular, refused with its eigenvalues.
        let n = 3 * CHUNK;
        let mut x = data(3, n, 2);
        for j in 0..n {
            x[(2, j)] = x[(0, j)];
        }
        let y = data(1, n, 3);
        let s = SampleMoments::compute(&InMemory::new(x.as_ref(), y.as_ref()).unwrap()).unwrap();
        match s.affine_fit() {
            Err(MomentsError::SingularCovariance { min_eig, max_eig }) => {
                assert!(
                    min_eig <= 1e-12 * max_eig && max_eig > 0.1,
                    "{min_eig} {max_eig}"
                );
            }
            other => panic!("expected a singular covariance, got {other:?}"),
        }
    }

    #[test]
    fn sums_match_direct_loops() {
        let (d, m, n) = (4, 2, 2 * CHUNK + 17);
        let (x, y) = (data(d, n, 0), data(m, n, 1));
        let s = SampleMoments::compute(&InMemory::new(x.as_ref(), y.as_ref()).unwrap()).unwrap();
        let nf = n as f64;
        let direct = |f: &dyn Fn(usize) -> f64| (0..n).map(f).sum::<f64>() / nf;
        let g = s.second_moment();
        assert!((g[(3, 1)] - direct(&|j| x[(3, j)] * x[(1, j)])).abs() < 1e-13);
        assert!((g[(d + 1, 2)] - direct(&|j| y[(1, j)] * x[(2, j)])).abs() < 1e-13);
        assert!((s.mean_x()[2] - direct(&|j| x[(2, j)])).abs() < 1e-13);
        assert!((s.mean_y()[0] - direct(&|j| y[(0, j)])).abs() < 1e-13);
        assert!((s.fourth_x().unwrap()[1] - direct(&|j| x[(1, j)].powi(4))).abs() < 1e-13);
        let norm4 = direct(&|j| x.col(j).squared_norm_l2().powi(2));
        assert!((s.fourth_norm().unwrap() - norm4).abs() < 1e-12);
    }

    #[test]
    fn chunks_of_a_source_sum_as_a_source_of_those_chunks() {
        let (d, m, n) = (3, 2, 4 * CHUNK + 100);
        let (x, y) = (data(d, n, 6), data(m, n, 7));
        let all = InMemory::new(x.as_ref(), y.as_ref()).unwrap();
        let picked = SampleMoments::compute_on_chunks(&all, &[1, 2, 4]).unwrap();
        // The same samples laid end to end: chunks 1 and 2, then the short last chunk.
        let keep: Vec<usize> = (CHUNK..3 * CHUNK).chain(4 * CHUNK..n).collect();
        let xs = Mat::from_fn(d, keep.len(), |i, j| x[(i, keep[j])]);
        let ys = Mat::from_fn(m, keep.len(), |i, j| y[(i, keep[j])]);
        let direct =
            SampleMoments::compute(&InMemory::new(xs.as_ref(), ys.as_ref()).unwrap()).unwrap();
        assert_eq!(picked, direct);
        assert_eq!(picked.n, keep.len() as u64);
    }

    #[test]
    fn a_bad_value_is_named_by_its_sample() {
        let (d, m, n) = (3, 2, 3 * CHUNK);
        let (mut x, mut y) = (data(d, n, 8), data(m, n, 9));
        x[(2, 2 * CHUNK + 5)] = f64::NAN;
        let err = SampleMoments::compute(&InMemory::new(x.as_ref(), y.as_ref()).unwrap());
        assert_eq!(
            err,
            Err(MomentsError::NotFinite {
                what: "X",
                row: 2 * CHUNK + 5,
                col: 2
            })
        );
        x[(2, 2 * CHUNK + 5)] = 0.0;
        y[(1, 7)] = f64::NEG_INFINITY;
        let all = InMemory::new(x.as_ref(), y.as_ref()).unwrap();
        assert_eq!(
            SampleMoments::compute_on_chunks(&all, &[0, 2]),
            Err(MomentsError::NotFinite {
                what: "Y",
                row: 7,
                col: 1
            })
        );
        // Outside the chunks asked for, it is not seen.
        assert!(SampleMoments::compute_on_chunks(&all, &[1, 2]).is_ok());
        // Finite values whose squares overflow are refused too, with the remedy.
        y[(1, 7)] = 1e200;
        let err = SampleMoments::compute(&all_of(&x, &y)).unwrap_err();
        assert!(err.to_string().contains("rescale"), "{err}");
    }

    fn all_of<'a>(x: &'a Mat<f64>, y: &'a Mat<f64>) -> InMemory<'a> {
        InMemory::new(x.as_ref(), y.as_ref()).unwrap()
    }

    #[test]
    fn shards_merge_to_the_whole_and_round_trip_through_json() {
        let (d, m, n) = (3, 2, 3 * CHUNK);
        let (x, y) = (data(d, n, 2), data(m, n, 3));
        let whole =
            SampleMoments::compute(&InMemory::new(x.as_ref(), y.as_ref()).unwrap()).unwrap();
        let part = |a: usize, b: usize| {
            SampleMoments::compute(
                &InMemory::new(x.subcols(a, b - a), y.subcols(a, b - a)).unwrap(),
            )
            .unwrap()
        };
        // Chunk-aligned shards add in the same order as the whole pass's top level.
        let mut merged = part(0, 2 * CHUNK);
        merged.merge(&part(2 * CHUNK, n)).unwrap();
        assert_eq!(merged.n, whole.n);
        let (a, b) = (merged.second_moment(), whole.second_moment());
        assert!((&a - &b).norm_max() < 1e-14);
        let json = serde_json::to_string(&merged).unwrap();
        let back: SampleMoments = serde_json::from_str(&json).unwrap();
        back.validate().unwrap();
        assert_eq!(back, merged);
        let other =
            SampleMoments::compute(&InMemory::new(x.subrows(0, 2), y.as_ref()).unwrap()).unwrap();
        assert!(matches!(
            merged.clone().merge(&other),
            Err(MomentsError::MergeMismatch { .. })
        ));
    }

    #[test]
    fn a_change_of_input_basis_maps_the_moments() {
        let (d, m, n) = (3, 1, 500);
        let (x, y) = (data(d, n, 4), data(m, n, 5));
        let w = Mat::from_fn(2, 3, |i, j| (i + 2 * j) as f64 - 1.5);
        let wx = &w * &x;
        let direct =
            SampleMoments::compute(&InMemory::new(wx.as_ref(), y.as_ref()).unwrap()).unwrap();
        let mapped = SampleMoments::compute(&InMemory::new(x.as_ref(), y.as_ref()).unwrap())
            .unwrap()
            .map_inputs(w.as_ref());
        assert!((&mapped.second_moment() - &direct.second_moment()).norm_max() < 1e-12);
        assert!(mapped.fourth_x().is_none());
    }
}
