//! Matrix products that stay at GEMM speed whatever the left operand's padding holds.
//!
//! An owned faer `Mat<f64>` rounds each column up to a multiple of 8 entries and leaves the
//! extra rows uninitialised. faer's kernels load and multiply those rows of a column-major
//! left operand (their results are discarded), so a denormal left there by an earlier
//! allocation turns every multiply-add on it into a microcode assist: a 20×100 by 100×24 000
//! product measured 10–20 ms instead of 1–2 ms, depending only on what the heap held.

use faer::linalg::matmul::matmul as faer_matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Mat, MatMut, MatRef, Par};

/// Rows per SIMD register of f64 on the widest x86 kernels: padding beyond a multiple of this
/// is what the kernels read.
const LANES: usize = 8;

/// `dst = alpha · lhs · rhs` (or `dst += …` with [`Accum::Add`]), exactly as faer's `matmul`
/// computes it (the same kernels, so the same bits), except that a column-major `lhs` whose
/// columns are followed by rows outside the matrix is first copied into zeroed storage.
///
/// Cost: faer's product, plus a copy of `lhs` (nrows·ncols, negligible beside the product's
/// nrows·ncols·rhs.ncols) when it has such rows.
pub fn matmul(
    dst: MatMut<'_, f64>,
    accum: Accum,
    lhs: MatRef<'_, f64>,
    rhs: MatRef<'_, f64>,
    alpha: f64,
    par: Par,
) {
    with_clean_lhs(lhs, |lhs| faer_matmul(dst, accum, lhs, rhs, alpha, par));
}

/// The lower triangle of `alpha · a aᵀ` (a r×c) as an r×r matrix whose strict upper triangle
/// is zero: half the multiply-adds of the full product, for a Cholesky factor or anything
/// else that reads one triangle. The left operand is cleaned of padding as in [`matmul`].
///
/// Cost: r² c flops (r(r+1)/2 · c multiply-adds).
pub fn lower_gram(a: MatRef<'_, f64>, alpha: f64, par: Par) -> Mat<f64> {
    let r = a.nrows();
    let mut out = Mat::<f64>::zeros(r, r);
    with_clean_lhs(a, |a| {
        triangular::matmul(
            out.as_mut(),
            BlockStructure::TriangularLower,
            Accum::Replace,
            a,
            BlockStructure::Rectangular,
            a.transpose(),
            BlockStructure::Rectangular,
            alpha,
            par,
        )
    });
    out
}

/// Calls `f` with `lhs`, or with a copy in zeroed storage when `lhs` is column-major with
/// rows beyond its end in each column (the padding faer's kernels read).
fn with_clean_lhs<R>(lhs: MatRef<'_, f64>, f: impl FnOnce(MatRef<'_, f64>) -> R) -> R {
    let (rows, cols) = lhs.shape();
    let padded = lhs.row_stride() == 1
        && cols > 1
        && rows % LANES != 0
        && lhs.col_stride().unsigned_abs() > rows;
    if padded {
        let mut clean = Mat::<f64>::zeros(rows.next_multiple_of(LANES), cols);
        clean.as_mut().subrows_mut(0, rows).copy_from(lhs);
        f(clean.as_ref().subrows(0, rows))
    } else {
        f(lhs)
    }
}

/// `lhs · rhs` as a new matrix, through [`matmul`] (the global parallelism).
pub fn product(lhs: MatRef<'_, f64>, rhs: MatRef<'_, f64>) -> Mat<f64> {
    let mut out = Mat::zeros(lhs.nrows(), rhs.ncols());
    matmul(
        out.as_mut(),
        Accum::Replace,
        lhs,
        rhs,
        1.0,
        faer::get_global_parallelism(),
    );
    out
}

/// Column-major scratch for chunk-sized operands, kept and reused across calls. Its columns
/// are padded to a multiple of 8 rows with zeros, so a matrix in it is a left operand for
/// faer's kernels as it stands ([`matmul_padded`]), without the copy into zeroed storage that
/// [`matmul`] makes of a padded operand; and taking it again costs no allocation and no
/// zeroing. (Fresh zeroed k×len buffers and those copies, four of each per chunk of a
/// Gauss–Newton product, wrote as many bytes as the product read.)
#[derive(Default)]
pub struct PaddedScratch {
    data: Vec<f64>,
    /// The row count the zero padding is laid out for.
    rows: usize,
}

impl PaddedScratch {
    /// A rows×cols matrix in the scratch. Its entries are whatever the last use left there
    /// (zeros at first): callers write every entry (a product with `Accum::Replace`, a copy)
    /// before reading one. Cost: O(1), or one zeroing of the buffer when `rows` changes or
    /// it grows.
    pub fn matrix(&mut self, rows: usize, cols: usize) -> MatMut<'_, f64> {
        let stride = rows.next_multiple_of(LANES).max(1);
        if rows != self.rows {
            // The padding of the old layout may hold values where the new one has its padding.
            self.data.clear();
            self.rows = rows;
        }
        let len = stride * cols;
        if self.data.len() < len {
            self.data.resize(len, 0.0);
        }
        MatMut::from_column_major_slice_with_stride_mut(&mut self.data[..len], rows, cols, stride)
    }

    /// The rows×cols matrix [`PaddedScratch::matrix`] last gave, as a left operand for
    /// [`matmul_padded`].
    ///
    /// # Panics
    /// If the scratch was last laid out for another row count, or holds fewer columns.
    pub fn operand(&self, rows: usize, cols: usize) -> PaddedOperand<'_> {
        assert_eq!(rows, self.rows, "PaddedScratch::operand: another layout");
        let stride = rows.next_multiple_of(LANES).max(1);
        PaddedOperand(MatRef::from_column_major_slice_with_stride(
            &self.data[..stride * cols],
            rows,
            cols,
            stride,
        ))
    }
}

/// A matrix in a [`PaddedScratch`], whose padding rows are zero.
#[derive(Clone, Copy)]
pub struct PaddedOperand<'a>(MatRef<'a, f64>);

impl<'a> PaddedOperand<'a> {
    /// The matrix, for reading.
    pub fn as_ref(&self) -> MatRef<'a, f64> {
        self.0
    }
}

/// [`matmul`] with a left operand from a [`PaddedScratch`]: faer's product on it as it
/// stands (its padding is zero), the same bits as [`matmul`] gives for the same values.
pub fn matmul_padded(
    dst: MatMut<'_, f64>,
    accum: Accum,
    lhs: PaddedOperand<'_>,
    rhs: MatRef<'_, f64>,
    alpha: f64,
    par: Par,
) {
    faer_matmul(dst, accum, lhs.0, rhs, alpha, par);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 20×d left operand whose padding rows hold denormals, as a reused allocation can.
    fn poisoned(d: usize) -> (Vec<f64>, usize) {
        let stride = 32;
        let mut buf = vec![f64::from_bits(5); stride * d];
        for j in 0..d {
            for i in 0..20 {
                buf[i + stride * j] = ((i * 3 + j) % 11) as f64 * 0.1 - 0.5;
            }
        }
        (buf, stride)
    }

    #[test]
    fn padding_never_reaches_the_result() {
        let d = 30;
        let (buf, stride) = poisoned(d);
        let lhs = MatRef::from_column_major_slice_with_stride(&buf, 20, d, stride);
        let rhs = Mat::from_fn(d, 50, |i, j| ((i * 7 + j * 5) % 13) as f64 - 6.0);
        let ours = product(lhs, rhs.as_ref());
        let mut plain = Mat::zeros(20, 50);
        faer_matmul(
            plain.as_mut(),
            Accum::Replace,
            lhs,
            rhs.as_ref(),
            1.0,
            Par::Seq,
        );
        assert_eq!(ours, plain);
        let exact = Mat::from_fn(20, 50, |i, j| {
            (0..d).map(|c| lhs[(i, c)] * rhs[(c, j)]).sum::<f64>()
        });
        assert!((&ours - &exact).norm_max() < 1e-12);
    }

    /// A scratch matrix is a left operand as it stands: the same bits as `matmul` on a copy,
    /// and its padding rows stay zero through reuse at other shapes (wider, narrower, with
    /// other row counts), which is what lets faer's kernels read them.
    #[test]
    fn scratch_operands_multiply_like_copies_and_keep_zero_padding() {
        let mut scratch = PaddedScratch::default();
        for (round, &(rows, cols)) in [(20, 50), (20, 30), (13, 70), (20, 64), (16, 10)]
            .iter()
            .enumerate()
        {
            let values = Mat::from_fn(rows, cols, |i, j| {
                ((i * 7 + j * 3 + round) % 17) as f64 * 0.25 - 2.0
            });
            scratch.matrix(rows, cols).copy_from(&values);
            let rhs = Mat::from_fn(cols, 9, |i, j| ((i + 5 * j) % 11) as f64 - 5.0);
            let mut ours = Mat::zeros(rows, 9);
            matmul_padded(
                ours.as_mut(),
                Accum::Replace,
                scratch.operand(rows, cols),
                rhs.as_ref(),
                1.0,
                Par::Seq,
            );
            assert_eq!(
                ours,
                product(values.as_ref(), rhs.as_ref()),
                "round {round}"
            );
            let stride = rows.next_multiple_of(LANES);
            for j in 0..cols {
                for i in rows..stride {
                    assert_eq!(
                        scratch.data[i + j * stride],
                        0.0,
                        "round {round}: ({i}, {j})"
                    );
                }
            }
        }
    }

    /// The lower triangle is a·aᵀ's, scaled, the strict upper one zero, and a poisoned
    /// padding (as in `padding_never_reaches_the_result`) changes nothing.
    #[test]
    fn the_lower_gram_is_the_lower_triangle_of_the_product() {
        let d = 30;
        let (buf, stride) = poisoned(d);
        let a = MatRef::from_column_major_slice_with_stride(&buf, 20, d, stride);
        let g = lower_gram(a, 0.5, Par::Seq);
        let clean = a.to_owned();
        assert_eq!(g, lower_gram(clean.as_ref(), 0.5, Par::Seq));
        for i in 0..20 {
            for j in 0..20 {
                let want = if j <= i {
                    0.5 * (0..d).map(|c| a[(i, c)] * a[(j, c)]).sum::<f64>()
                } else {
                    0.0
                };
                assert!((g[(i, j)] - want).abs() < 1e-12, "({i}, {j})");
            }
        }
    }

    #[test]
    fn accumulating_adds_to_the_destination() {
        let lhs = Mat::from_fn(5, 3, |i, j| (i + 2 * j) as f64);
        let rhs = Mat::from_fn(3, 4, |i, j| (i * j) as f64 - 1.0);
        let mut dst = Mat::from_fn(5, 4, |i, j| (i + j) as f64);
        let expected = &dst + &lhs * &rhs * 2.0;
        matmul(
            dst.as_mut(),
            Accum::Add,
            lhs.as_ref(),
            rhs.as_ref(),
            2.0,
            Par::Seq,
        );
        assert!((&dst - &expected).norm_max() < 1e-12);
    }
}
