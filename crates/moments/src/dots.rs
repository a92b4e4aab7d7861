//! Projections of every sample on one direction: the GEMV-shaped work of the unit search.

use faer::MatRef;

/// out_j = vᵀ x_j for every column x_j of `x` (c×n, samples as columns): n dot products of
/// length c. Contiguous columns (a row-major X, or any column-major matrix) are read as
/// slices with four interleaved partial sums, which the compiler vectorises; the summation
/// order is fixed, so the result does not depend on the thread count. A one-row matrix
/// product through a general GEMM is several times slower at this shape.
///
/// Cost: 2 c n flops, one sequential pass over `x`.
///
/// # Panics
/// If `v.len() != x.nrows()` or `out.len() != x.ncols()` (a caller's bug, not user data).
pub fn column_dots(v: &[f64], x: MatRef<'_, f64>, out: &mut [f64]) {
    assert!(
        v.len() == x.nrows() && out.len() == x.ncols(),
        "column_dots: shapes differ"
    );
    for (j, o) in out.iter_mut().enumerate() {
        let col = x.col(j);
        *o = match col.try_as_col_major() {
            Some(c) => dot(v, c.as_slice()),
            None => col.iter().zip(v).map(|(a, b)| a * b).sum(),
        };
    }
}

/// out_j = ‖x_j‖ for every column x_j of `x` (c×n), by the same one-pass sums as
/// [`column_dots`] (no rescaling against overflow: sample coordinates are far from 1e150).
///
/// Columns that are strided but rows that are contiguous (a column-major n×c matrix seen as
/// c×n) are summed row by row instead, in one pass too.
///
/// Cost: 2 c n flops, one sequential pass over `x`.
pub fn column_norms(x: MatRef<'_, f64>, out: &mut [f64]) {
    assert!(out.len() == x.ncols(), "column_norms: shapes differ");
    if x.nrows() > 1 && x.row_stride() != 1 && x.col_stride() == 1 {
        out.iter_mut().for_each(|o| *o = 0.0);
        for r in 0..x.nrows() {
            let row = x.row(r).try_as_row_major().expect("unit column stride");
            out.iter_mut()
                .zip(row.as_slice())
                .for_each(|(o, &v)| *o += v * v);
        }
        out.iter_mut().for_each(|o| *o = o.sqrt());
        return;
    }
    for (j, o) in out.iter_mut().enumerate() {
        let col = x.col(j);
        *o = match col.try_as_col_major() {
            Some(c) => dot(c.as_slice(), c.as_slice()),
            None => col.iter().map(|a| a * a).sum(),
        }
        .sqrt();
    }
}

/// Σ a_i b_i with sixteen partial sums (a fixed order). One chain of additions would wait on
/// the adder's latency at every step; sixteen independent ones keep the vector units busy
/// (measured 3× faster than four at length 100).
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    const LANES: usize = 16;
    let mut acc = [0.0f64; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    let tail: f64 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            acc[l] += acc[l + width];
        }
    }
    acc[0] + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    #[test]
    fn matches_the_plain_sums_for_contiguous_and_strided_columns() {
        let x = Mat::from_fn(7, 5, |i, j| (i * 3 + j * 5) as f64 % 4.0 - 1.5);
        let v: Vec<f64> = (0..7).map(|i| 0.5 * i as f64 - 1.0).collect();
        let plain: Vec<f64> = (0..5)
            .map(|j| (0..7).map(|i| v[i] * x[(i, j)]).sum())
            .collect();
        let mut out = vec![0.0; 5];
        column_dots(&v, x.as_ref(), &mut out);
        for (a, b) in out.iter().zip(&plain) {
            assert!((a - b).abs() < 1e-12);
        }
        // A transposed (row-major) view: columns are strided.
        let xt = x.transpose().to_owned();
        let mut strided = vec![0.0; 5];
        column_dots(&v, xt.transpose(), &mut strided);
        for (a, b) in strided.iter().zip(&plain) {
            assert!((a - b).abs() < 1e-12);
        }
        let mut norms = vec![0.0; 5];
        column_norms(x.as_ref(), &mut norms);
        for (j, nj) in norms.iter().enumerate() {
            assert!((nj - x.col(j).norm_l2()).abs() < 1e-12);
        }
        column_norms(xt.transpose(), &mut norms);
        for (j, nj) in norms.iter().enumerate() {
            assert!((nj - x.col(j).norm_l2()).abs() < 1e-12);
        }
    }
}
