use faer::MatRef;

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
    check_finite("X", x)?;
    check_finite("Y", y)
}
