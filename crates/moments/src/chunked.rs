use faer::Mat;
use rayon::prelude::*;

/// Number of samples per chunk. Fixed (not derived from the thread count) so that the
/// floating-point summation order, and hence every result, is the same on any machine
/// setting: 1 thread or 64.
pub const CHUNK: usize = 2048;

/// Sums `part(range)` over the sample ranges `[0, CHUNK)`, `[CHUNK, 2·CHUNK)`, … of `0..n`,
/// in parallel, with a fixed pairwise (tree) reduction order.
///
/// Every `part` must return a matrix of the same shape. The result does not depend on how
/// many threads rayon uses. Cost: the parts, plus one matrix add per chunk.
pub fn chunked_sum<F>(n: usize, nrows: usize, ncols: usize, part: F) -> Mat<f64>
where
    F: Fn(std::ops::Range<usize>) -> Mat<f64> + Sync,
{
    let chunks = n.div_ceil(CHUNK);
    if chunks == 0 {
        return Mat::zeros(nrows, ncols);
    }
    let mut parts: Vec<Mat<f64>> = (0..chunks)
        .into_par_iter()
        .map(|c| part(c * CHUNK..((c + 1) * CHUNK).min(n)))
        .collect();
    // Pairwise reduction: level by level, part i absorbs part i + stride. The order depends on
    // the chunk count alone.
    let mut stride = 1;
    while stride < parts.len() {
        let len = parts.len();
        let mut i = 0;
        while i + stride < len {
            let (lo, hi) = parts.split_at_mut(i + stride);
            let rhs = &hi[0];
            lo[i] += rhs;
            i += 2 * stride;
        }
        stride *= 2;
    }
    parts.swap_remove(0)
}
