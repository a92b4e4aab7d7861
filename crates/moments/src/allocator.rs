//! Large buffers first written by the threads that fill them.

use faer::Mat;
use rayon::prelude::*;

/// Entries per task when [`zeros_by_threads`] writes a matrix (256 KB each).
const ENTRIES_PER_TASK: usize = 1 << 15;

/// An nrows×ncols matrix of zeros, its padding rows zero too, whose memory is first written
/// on the rayon threads, a range of the allocation each (whatever its shape: a tall n×k
/// matrix of a few columns is shared out as well as a wide one), instead of on the calling
/// thread.
///
/// Why: the first write to freshly allocated memory takes a page fault per 4 KiB page, and
/// `Mat::zeros` takes them all on the caller. On the virtual machine measured a fault cost
/// about 2 µs, so the search's Qᵀx and reduced labels (7.7 MB at a 24 000-sample window) spent
/// 4–6 ms on one thread before the pass that fills them in parallel began.
///
/// Cost: one parallel write of the matrix (nrows rounded up to a multiple of 8, times ncols).
pub fn zeros_by_threads(nrows: usize, ncols: usize) -> Mat<f64> {
    if nrows == 0 || ncols == 0 {
        return Mat::zeros(nrows, ncols);
    }
    let mut m = Mat::<f64>::with_capacity(nrows, ncols);
    let stride = m.col_stride().unsigned_abs();
    debug_assert!(stride >= nrows);
    /// The allocation's base, shared by the tasks that write disjoint ranges of it.
    struct Base(*mut f64);
    // SAFETY: every task writes only its own range of entries, and the pointer outlives the
    // parallel loop (the matrix is alive until this function returns it).
    unsafe impl Sync for Base {}
    let base = Base(m.as_ptr_mut());
    let base = &base;
    let total = stride * ncols;
    (0..total.div_ceil(ENTRIES_PER_TASK))
        .into_par_iter()
        .for_each(move |t| {
            let from = t * ENTRIES_PER_TASK;
            let to = (from + ENTRIES_PER_TASK).min(total);
            // SAFETY: entries from..to lie inside the allocation of stride × ncols elements
            // that `with_capacity` made; the tasks' ranges are disjoint.
            unsafe { base.0.add(from).write_bytes(0, to - from) };
        });
    // SAFETY: nrows and ncols are within the capacity reserved above, and every element of
    // the new shape (and the padding) was written just above.
    unsafe { m.set_dims(nrows, ncols) };
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeros_by_threads_are_zeros_of_the_shape_asked() {
        for (r, c) in [
            (0, 5),
            (5, 0),
            (1, 1),
            (20, 3000),
            (7, 1025),
            (24, 2048),
            (33_001, 3),
        ] {
            let m = zeros_by_threads(r, c);
            assert_eq!(m.shape(), (r, c));
            assert!(m.col_iter().all(|col| col.iter().all(|&t| t == 0.0)));
        }
        // Memory the allocator hands back dirty is written over too.
        drop(Mat::<f64>::from_fn(20, 3000, |i, j| (i + j) as f64 + 1.0));
        let m = zeros_by_threads(20, 3000);
        assert!(m.col_iter().all(|col| col.iter().all(|&t| t == 0.0)));
    }
}
