use faer::Mat;
use rayon::prelude::*;

/// Number of samples per chunk. Fixed (not derived from the thread count) so that the
/// floating-point summation order, and hence every result, is the same on any machine
/// setting: 1 thread or 64.
pub const CHUNK: usize = 2048;

/// Chunks computed in parallel before their results are folded into the running sum. Bounds
/// the memory of a pass at `BLOCK` partial results however many samples stream through; it
/// does not affect the result (see [`TreeSum`]).
const BLOCK: usize = 32;
/// Bytes of partial results a block may hold at once: large partials (the sign-pattern
/// normal equations at (k+1)d = 10⁴ unknowns are 0.8 GB each) run fewer chunks at a time,
/// down to one per thread. 32 of them once took 26 GB and were killed for it.
const BLOCK_BYTES: usize = 1 << 30;

/// Chunks per block for partial results of nrows×ncols: [`BLOCK`], fewer when they would
/// exceed [`BLOCK_BYTES`], never fewer than the threads (nor than one).
fn block_len(nrows: usize, ncols: usize) -> usize {
    let bytes = (nrows * ncols * std::mem::size_of::<f64>()).max(1);
    (BLOCK_BYTES / bytes)
        .max(rayon::current_num_threads())
        .clamp(1, BLOCK)
}

/// Sums `part(range)` over the sample ranges `[0, CHUNK)`, `[CHUNK, 2·CHUNK)`, … of `0..n`,
/// in parallel, with a fixed pairwise (tree) reduction order.
///
/// Every `part` must return a matrix of the same shape. The result does not depend on how
/// many threads rayon uses. Cost: the parts, plus one matrix add per chunk; memory: at most
/// 32 + log₂(n / CHUNK) partial results at a time, fewer in flight when 32 of them would
/// pass 1 GiB (but at least one per thread).
pub fn chunked_sum<F>(n: usize, nrows: usize, ncols: usize, part: F) -> Mat<f64>
where
    F: Fn(std::ops::Range<usize>) -> Mat<f64> + Sync,
{
    try_chunked_sum::<_, std::convert::Infallible>(n, nrows, ncols, |r| Ok(part(r)))
        .unwrap_or_else(|never| match never {})
}

/// [`chunked_sum`] for parts that can fail (a chunk read from a file, say): the first error
/// in chunk order is returned. Same summation order, so the same bits, as `chunked_sum`.
pub fn try_chunked_sum<F, E>(n: usize, nrows: usize, ncols: usize, part: F) -> Result<Mat<f64>, E>
where
    F: Fn(std::ops::Range<usize>) -> Result<Mat<f64>, E> + Sync,
    E: Send,
{
    try_chunked_sum_by(n, CHUNK, nrows, ncols, part)
}

/// [`try_chunked_sum`] over chunks of `chunk` samples (at least 1) instead of [`CHUNK`]: for
/// a pass whose chunks are cheap, so that a few thousand samples still make enough chunks to
/// share between the threads. The bits depend on `chunk` (and never on the threads), so a
/// caller fixes it.
pub fn try_chunked_sum_by<F, E>(
    n: usize,
    chunk: usize,
    nrows: usize,
    ncols: usize,
    part: F,
) -> Result<Mat<f64>, E>
where
    F: Fn(std::ops::Range<usize>) -> Result<Mat<f64>, E> + Sync,
    E: Send,
{
    let chunk = chunk.max(1);
    let chunks = n.div_ceil(chunk);
    let mut sum = TreeSum::new();
    let block = block_len(nrows, ncols);
    for first in (0..chunks).step_by(block) {
        let last = (first + block).min(chunks);
        let parts: Vec<Result<Mat<f64>, E>> = (first..last)
            .into_par_iter()
            .map(|c| part(c * chunk..((c + 1) * chunk).min(n)))
            .collect();
        for p in parts {
            sum.push(p?);
        }
    }
    Ok(sum.finish().unwrap_or_else(|| Mat::zeros(nrows, ncols)))
}

/// A running pairwise sum of chunk results pushed in chunk order, holding O(log chunks)
/// partial sums.
///
/// It adds exactly as the level-by-level pairwise reduction of all chunks at once would
/// (part i absorbs part i + stride, stride = 1, 2, 4, …): full pairs are merged as in a binary
/// counter, and the leftover partial sums are folded right to left at the end. So a streamed
/// pass, an in-memory pass and any thread count give the same bits.
#[derive(Debug, Default)]
pub struct TreeSum {
    /// (level, sum of 2^level consecutive chunks), levels strictly decreasing.
    stack: Vec<(u32, Mat<f64>)>,
}

impl TreeSum {
    /// An empty sum.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the next chunk's result. Cost: amortised one matrix add.
    pub fn push(&mut self, part: Mat<f64>) {
        let mut top = (0u32, part);
        while let Some((level, _)) = self.stack.last() {
            if *level != top.0 {
                break;
            }
            let (level, mut left) = self.stack.pop().expect("non-empty");
            left += &top.1;
            top = (level + 1, left);
        }
        self.stack.push(top);
    }

    /// The total, `None` when nothing was pushed.
    pub fn finish(mut self) -> Option<Mat<f64>> {
        let (_, mut acc) = self.stack.pop()?;
        while let Some((_, mut left)) = self.stack.pop() {
            left += &acc;
            acc = left;
        }
        Some(acc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference order: all parts at once, level by level.
    fn level_by_level(mut parts: Vec<Mat<f64>>) -> Mat<f64> {
        let mut stride = 1;
        while stride < parts.len() {
            let len = parts.len();
            let mut i = 0;
            while i + stride < len {
                let (lo, hi) = parts.split_at_mut(i + stride);
                lo[i] += &hi[0];
                i += 2 * stride;
            }
            stride *= 2;
        }
        parts.swap_remove(0)
    }

    #[test]
    fn tree_sum_adds_in_the_level_by_level_order() {
        // Values whose sum depends on the order of additions in floating point.
        let value = |i: usize| Mat::from_fn(1, 1, |_, _| [1e16, 1.0, -1e16, 3.0, 0.1, 7e-3][i % 6]);
        for count in 1..70 {
            let parts: Vec<Mat<f64>> = (0..count).map(value).collect();
            let mut sum = TreeSum::new();
            for p in parts.iter().cloned() {
                sum.push(p);
            }
            let got = sum.finish().unwrap()[(0, 0)];
            let want = level_by_level(parts)[(0, 0)];
            assert_eq!(got.to_bits(), want.to_bits(), "{count} parts");
        }
    }

    /// Small partials run 32 chunks a block; partials of 0.8 GB (the sign-pattern normal
    /// equations at (k+1)d = 10200 unknowns) one per thread, so a block stays near 1 GiB.
    #[test]
    fn blocks_of_large_partials_hold_about_a_gibibyte() {
        assert_eq!(block_len(121, 121), BLOCK);
        let threads = rayon::current_num_threads().max(1);
        let (p, m) = (10_200, 50);
        let bytes = p * (p + m) * 8;
        let block = block_len(p, p + m);
        assert!(block >= 1 && block <= threads.min(BLOCK), "{block}");
        assert!(block * bytes <= BLOCK_BYTES.max(threads * bytes));
        // 2100 unknowns, (100, 20, 20): 35.6 MB partials, 30 of them in a GiB; with more
        // threads than that, one per thread up to 32.
        let on = |threads: usize, nrows: usize, ncols: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| block_len(nrows, ncols))
        };
        assert_eq!(on(2, 2_100, 2_120), 30);
        assert_eq!(on(31, 2_100, 2_120), 31);
        assert_eq!(on(64, 2_100, 2_120), 32);
        assert_eq!(on(2, 10_200, 10_250), 2);
        assert_eq!(on(1, 10_200, 10_250), 1);
    }

    #[test]
    fn first_error_in_chunk_order_wins() {
        let n = 10 * CHUNK;
        let r = try_chunked_sum(n, 1, 1, |r| {
            if r.start >= 3 * CHUNK {
                Err(r.start / CHUNK)
            } else {
                Ok(Mat::zeros(1, 1))
            }
        });
        assert_eq!(r.unwrap_err(), 3);
    }
}
