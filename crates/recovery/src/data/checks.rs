use faer::MatRef;
use twolayer_moments::{CHUNK, InMemory, SampleMoments, SampleSource, spread_indices};

use crate::error::RecoveryError;

/// Checks that every entry of `a` is finite; the error names `what` and the first bad entry.
///
/// Cost: one pass over `a`.
pub fn check_finite(what: &'static str, a: MatRef<'_, f64>) -> Result<(), RecoveryError> {
    // Scan in memory order: a row-major matrix column by column would stride through memory.
    let clean = if a.col_stride() == 1 && a.row_stride() != 1 {
        a.transpose().is_all_finite()
    } else {
        a.is_all_finite()
    };
    if clean {
        return Ok(());
    }
    for col in 0..a.ncols() {
        for row in 0..a.nrows() {
            if !a[(row, col)].is_finite() {
                return Err(RecoveryError::NotFinite { what, row, col });
            }
        }
    }
    unreachable!("is_all_finite disagreed with an entry scan")
}

/// Checks the samples X (n×d) and labels Y (n×m): non-empty, same n, finite.
pub(crate) fn check_samples(x: MatRef<'_, f64>, y: MatRef<'_, f64>) -> Result<(), RecoveryError> {
    check_shapes(x, y)?;
    check_finite("X", x)?;
    check_finite("Y", y)
}

/// Checks that every sample of `source` is finite, one chunk at a time (memory O(chunk ·
/// (d + m)) per thread), naming the first bad entry as [`check_samples`] does. For the
/// streamed paths whose moments saw a subsample and whose certificate pass did not run.
pub(crate) fn check_source(source: &dyn SampleSource) -> Result<(), RecoveryError> {
    use faer::Mat;
    use rayon::prelude::*;
    let (n, d, m) = (source.n(), source.d(), source.m());
    let first_bad = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| -> Result<Option<RecoveryError>, RecoveryError> {
            let (start, len) = (c * CHUNK, CHUNK.min(n - c * CHUNK));
            let mut x = Mat::<f64>::zeros(d, len);
            let mut y = Mat::<f64>::zeros(m, len);
            source.read(start, x.as_mut(), y.as_mut())?;
            // Columns are samples here: transpose back to rows for the error's row index.
            for (what, a) in [("X", x.as_ref()), ("Y", y.as_ref())] {
                if let Err(RecoveryError::NotFinite { row, col, .. }) =
                    check_finite(what, a.transpose())
                {
                    return Ok(Some(RecoveryError::NotFinite {
                        what,
                        row: start + row,
                        col,
                    }));
                }
            }
            Ok(None)
        })
        .find_map_first(|r| match r {
            Ok(None) => None,
            Ok(Some(e)) | Err(e) => Some(e),
        });
    match first_bad {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The moments of order ≤ 2 of X (n×d) and Y (n×m), with the checks of [`check_samples`]:
/// finiteness comes out of the moment pass itself (a NaN or infinity poisons a diagonal
/// sum), so clean data are read once, not twice.
pub(crate) fn checked_moments(
    x: MatRef<'_, f64>,
    y: MatRef<'_, f64>,
) -> Result<SampleMoments, RecoveryError> {
    check_shapes(x, y)?;
    Ok(SampleMoments::compute(&InMemory::new(
        x.transpose(),
        y.transpose(),
    )?)?)
}

/// The moments the front doors start from: those of every sample (finiteness checked on
/// the way, see [`checked_moments`]) up to [`moment_samples`] samples, and of about that many
/// beyond, in whole chunks spread evenly over the data (docs/algorithms.md 1.4). The moments then say how
/// many samples they summed (`n` below the data's): the exact method's certificate pass
/// checks the finiteness of every sample, and every other path runs [`check_samples`].
///
/// Cost: one moment pass over min(n, [`moment_samples`]) samples.
pub(crate) fn moments_for_recovery(
    x: MatRef<'_, f64>,
    y: MatRef<'_, f64>,
) -> Result<SampleMoments, RecoveryError> {
    let (n, d, m) = (x.nrows(), x.ncols(), y.ncols());
    let cap = moment_samples(d, m);
    if n <= cap {
        return checked_moments(x, y);
    }
    check_shapes(x, y)?;
    let source = InMemory::new(x.transpose(), y.transpose())?;
    moments_of_source(&source)
}

/// [`moments_for_recovery`] for any source (a file streamed, say): the same spread chunks,
/// so that the streamed and the in-memory front doors start from the same bits. Needs a
/// non-empty source; the samples outside the chunks are checked by the certificate's pass.
pub(crate) fn moments_of_source(source: &dyn SampleSource) -> Result<SampleMoments, RecoveryError> {
    let (n, d, m) = (source.n(), source.d(), source.m());
    let cap = moment_samples(d, m);
    if n <= cap {
        return Ok(SampleMoments::compute(source)?);
    }
    let chunks = spread_indices(n.div_ceil(CHUNK), cap.div_ceil(CHUNK));
    Ok(SampleMoments::compute_on_chunks(source, &chunks)?)
}

/// Samples the front doors' moments are formed from: max(16·d·min(d, m), 64·d, F) with the
/// floor F = min(65 536, 2²⁸ / p²), p = d + m + 1.
///
/// Why these terms: the moments only have to place the search's candidates roughly
/// (docs/algorithms.md 1.4), and the search forms its own slices on its window. Measured at
/// n ≥ 10⁵ on planted networks from (20,5,5) to (200,20,20) and (100,40,40), plain and with
/// V or U conditioned 10 or units 10° apart, 5 seeds each: moments on 2·d·k, 4·d·k, …,
/// 32·d·k samples certified every run, so 16·d·k leaves a factor 8; with units 10° apart
/// (16 seeds, 5 shapes), 8 192 to 131 072 moment samples gave candidate counts and window
/// fallbacks that differed only within seed-to-seed noise. 64·d keeps the covariance's condition estimate, which decides
/// whitening, within (1 ± 1/8)² of the truth for isotropic inputs, well below the threshold
/// of 2. The floor is for small problems, where more samples do show: at (10,3,3) with V
/// conditioned 10, one seed in five was recovered exactly on 65 536 samples and only by the
/// slower least-squares path on 32 768. It is capped at 2²⁸ multiply-adds of the pass
/// (p² per sample), so it never costs more than a few milliseconds: where p is large the
/// first two terms, which the measurements cover, decide.
pub(crate) fn moment_samples(d: usize, m: usize) -> usize {
    let p = d + m + 1;
    let floor = (1usize << 16).min((1 << 28) / (p * p));
    (16 * d * d.min(m)).max(64 * d).max(floor)
}

/// Non-empty and the same number of rows.
fn check_shapes(x: MatRef<'_, f64>, y: MatRef<'_, f64>) -> Result<(), RecoveryError> {
    for (what, a) in [("X", x), ("Y", y)] {
        if a.nrows() == 0 || a.ncols() == 0 {
            return Err(RecoveryError::Empty {
                what,
                rows: a.nrows(),
                cols: a.ncols(),
            });
        }
    }
    if y.nrows() != x.nrows() {
        return Err(RecoveryError::Shape {
            what: "rows of Y (one label row per sample of X)",
            expected: x.nrows(),
            got: y.nrows(),
        });
    }
    Ok(())
}

/// Samples as columns: `a` (n×c, one sample per row) as a c×n matrix with contiguous
/// samples, copied only when needed.
pub(crate) enum Columns<'a> {
    Borrowed(MatRef<'a, f64>),
    Owned(faer::Mat<f64>),
}

impl Columns<'_> {
    pub fn as_ref(&self) -> MatRef<'_, f64> {
        match self {
            Columns::Borrowed(m) => *m,
            Columns::Owned(m) => m.as_ref(),
        }
    }
}

/// Borrowed when `a` is already row-major (a C-order NumPy array); otherwise transposed in
/// parallel blocks of samples, which keeps both sides of the copy in cache (a plain strided
/// transposition of a large matrix is several times slower). Cost: O(n c) at most.
pub(crate) fn samples_as_columns(a: MatRef<'_, f64>) -> Columns<'_> {
    use rayon::prelude::*;
    let (n, c) = a.shape();
    if a.col_stride() == 1 || n <= 1 {
        return Columns::Borrowed(a.transpose());
    }
    const BLOCK: usize = 256;
    let mut out = faer::Mat::<f64>::zeros(c, n);
    out.as_mut()
        .par_col_chunks_mut(BLOCK)
        .enumerate()
        .for_each(|(b, mut block)| {
            let src = a.subrows(b * BLOCK, block.ncols());
            let cols: Vec<_> = (0..c).map(|col| src.col(col)).collect();
            // Sample by sample: one contiguous write per sample, c read streams advancing
            // together (each source column is contiguous when `a` is column-major).
            for j in 0..block.ncols() {
                let mut dst = block.as_mut().col_mut(j);
                for (col, s) in cols.iter().enumerate() {
                    dst[col] = s[j];
                }
            }
        });
    Columns::Owned(out)
}
