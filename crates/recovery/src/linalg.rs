//! Small dense kernels shared by the stages.

use faer::{Mat, Par};

/// The Cholesky factor of the symmetric matrix whose lower triangle `m` holds, in place and
/// on this thread; false when it is not numerically positive definite. Cost: d³/3 flops.
pub(crate) fn cholesky(m: &mut Mat<f64>) -> bool {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::cholesky::llt;
    let mut stack = MemBuffer::new(llt::factor::cholesky_in_place_scratch::<f64>(
        m.nrows(),
        Par::Seq,
        Default::default(),
    ));
    llt::factor::cholesky_in_place(
        m.as_mut(),
        Default::default(),
        Par::Seq,
        MemStack::new(&mut stack),
        Default::default(),
    )
    .is_ok()
}
