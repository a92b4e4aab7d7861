//! Dense symmetric tensors of order 3 and 4, and the contractions the algorithms need.

use faer::{Mat, MatRef};

use crate::contractions::Contractions;
use crate::error::TensorError;

/// A dense symmetric tensor of order 3 or 4 in R^{d×…×d}, stored row-major (d^order values).
///
/// Symmetric means invariant under every permutation of the indices; [`Self::new`] checks it.
#[derive(Debug, Clone, PartialEq)]
pub struct SymmetricTensor {
    d: usize,
    order: usize,
    data: Vec<f64>,
}

impl SymmetricTensor {
    /// Wraps row-major data of a d×…×d tensor, checking the order (3 or 4), the length, that
    /// every value is finite and that the tensor is symmetric to `1e-10` relative.
    ///
    /// Cost: O(d^order).
    pub fn new(d: usize, order: usize, data: Vec<f64>) -> Result<Self, TensorError> {
        if order != 3 && order != 4 {
            return Err(TensorError::BadOrder { order });
        }
        if d == 0 || Some(data.len()) != d.checked_pow(order as u32) {
            return Err(TensorError::BadTensorShape {
                d,
                order,
                len: data.len(),
            });
        }
        if let Some(index) = data.iter().position(|v| !v.is_finite()) {
            return Err(TensorError::TensorNotFinite { index });
        }
        let t = Self { d, order, data };
        let scale = t.data.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        let worst = t.asymmetry();
        if worst > 1e-10 * scale.max(f64::MIN_POSITIVE) {
            return Err(TensorError::NotSymmetric { worst });
        }
        Ok(t)
    }

    /// Σ_r w_r a_r^{⊗order} for weights w (length R) and factors a_r (rows of R×d).
    ///
    /// Cost: O(R d^order).
    pub fn from_factors(
        weights: &[f64],
        factors: &Mat<f64>,
        order: usize,
    ) -> Result<Self, TensorError> {
        if order != 3 && order != 4 {
            return Err(TensorError::BadOrder { order });
        }
        let d = factors.ncols();
        let mut data = vec![0.0; d.pow(order as u32)];
        for (r, &w) in weights.iter().enumerate() {
            let a: Vec<f64> = (0..d).map(|i| factors[(r, i)]).collect();
            for (idx, v) in data.iter_mut().enumerate() {
                let mut prod = w;
                let mut rest = idx;
                for _ in 0..order {
                    prod *= a[rest % d];
                    rest /= d;
                }
                *v += prod;
            }
        }
        Ok(Self { d, order, data })
    }

    /// The symmetric part of any d^order array: the average over all index permutations.
    ///
    /// Cost: O(order! · d^order).
    pub fn symmetrise(d: usize, order: usize, data: &[f64]) -> Vec<f64> {
        let perms: Vec<Vec<usize>> = permutations(order);
        let strides: Vec<usize> = (0..order).map(|k| d.pow((order - 1 - k) as u32)).collect();
        (0..data.len())
            .map(|idx| {
                let digits: Vec<usize> = strides.iter().map(|&s| (idx / s) % d).collect();
                perms
                    .iter()
                    .map(|p| {
                        data[p
                            .iter()
                            .zip(&strides)
                            .map(|(&k, s)| digits[k] * s)
                            .sum::<usize>()]
                    })
                    .sum::<f64>()
                    / perms.len() as f64
            })
            .collect()
    }

    /// The dimension d.
    pub fn dim(&self) -> usize {
        self.d
    }

    /// The order (3 or 4).
    pub fn order(&self) -> usize {
        self.order
    }

    /// The row-major values.
    pub fn data(&self) -> &[f64] {
        &self.data
    }

    /// Frobenius norm.
    pub fn norm(&self) -> f64 {
        self.data.iter().map(|v| v * v).sum::<f64>().sqrt()
    }

    /// The largest |T_idx − T_perm(idx)| over transpositions of adjacent indices (which
    /// generate all permutations). Cost: O(d^order).
    fn asymmetry(&self) -> f64 {
        let d = self.d;
        let t = &self.data;
        // Rows along the last index are contiguous: compare whole rows for the first swap,
        // and each d×d block (fixed leading indices) with its transpose for the last one.
        let inner = d.pow(self.order as u32 - 1);
        let mut worst: f64 = 0.0;
        for i in 0..d {
            for j in i + 1..d {
                let (a, b) = (i * inner + j * (inner / d), j * inner + i * (inner / d));
                for k in 0..inner / d {
                    worst = worst.max((t[a + k] - t[b + k]).abs());
                }
            }
        }
        let blocks = t.len() / (d * d);
        for blk in 0..blocks {
            let base = blk * d * d;
            for j in 0..d {
                for k in j + 1..d {
                    worst = worst.max((t[base + j * d + k] - t[base + k * d + j]).abs());
                }
            }
        }
        if self.order == 4 {
            // The middle swap (indices 2 and 3), through the adjacent-transposition chain.
            for i in 0..d {
                for j in 0..d {
                    for k in j + 1..d {
                        for l in 0..d {
                            let a = ((i * d + j) * d + k) * d + l;
                            let b = ((i * d + k) * d + j) * d + l;
                            worst = worst.max((t[a] - t[b]).abs());
                        }
                    }
                }
            }
        }
        worst
    }

    /// The matrix T(I, I, g) (order 3) or T(I, I, g, h) (order 4; `h` defaults to `g`).
    ///
    /// Cost: O(d^order), one pass over the values.
    pub fn slice(&self, g: &[f64], h: Option<&[f64]>) -> Mat<f64> {
        let d = self.d;
        let h = h.unwrap_or(g);
        let mut out = Mat::zeros(d, d);
        match self.order {
            3 => {
                for i in 0..d {
                    for j in 0..d {
                        let row = &self.data[(i * d + j) * d..(i * d + j + 1) * d];
                        out[(i, j)] = row.iter().zip(g).map(|(t, x)| t * x).sum();
                    }
                }
            }
            _ => {
                for i in 0..d {
                    for j in 0..d {
                        let block = &self.data[(i * d + j) * d * d..(i * d + j + 1) * d * d];
                        let mut acc = 0.0;
                        for k in 0..d {
                            let row = &block[k * d..(k + 1) * d];
                            acc += g[k] * row.iter().zip(h).map(|(t, x)| t * x).sum::<f64>();
                        }
                        out[(i, j)] = acc;
                    }
                }
            }
        }
        out
    }

    /// The MTTKRP: column r is T(I, a_r, …, a_r) for the rows a_r of `factors` (R×d), from
    /// one GEMM of the tensor unfolded to d^{order−1}×d with the factors, then an O(R d^{order−1})
    /// contraction of the remaining middle indices.
    ///
    /// Cost: 2 R d^order flops (GEMM-shaped) + O(R d^{order−1}).
    pub fn mttkrp(&self, factors: &Mat<f64>) -> Mat<f64> {
        let (d, rank) = (self.d, factors.nrows());
        let z = self.unfolded_times(factors.transpose());
        let mut m = Mat::<f64>::zeros(d, rank);
        for r in 0..rank {
            let a: Vec<f64> = (0..d).map(|i| factors[(r, i)]).collect();
            let mut col: Vec<f64> = z.col(r).iter().copied().collect();
            for _ in 0..self.order - 2 {
                let len = col.len() / d;
                col = (0..len)
                    .map(|i| {
                        col[i * d..(i + 1) * d]
                            .iter()
                            .zip(&a)
                            .map(|(x, y)| x * y)
                            .sum()
                    })
                    .collect();
            }
            for i in 0..d {
                m[(i, r)] = col[i];
            }
        }
        m
    }

    /// Slices T(I, I, g_l) (order 3) or T(I, I, g_l, h_l) (order 4) for the columns of `g`
    /// and `h` (d×L each), from one GEMM. Cost: 2 L d^order flops + O(L d^{order−1}).
    pub fn slices(&self, g: &Mat<f64>, h: &Mat<f64>) -> Vec<Mat<f64>> {
        let d = self.d;
        let z = self.unfolded_times(h.as_ref());
        (0..h.ncols())
            .map(|l| match self.order {
                3 => Mat::from_fn(d, d, |i, j| z[(i * d + j, l)]),
                _ => Mat::from_fn(d, d, |i, j| {
                    (0..d)
                        .map(|k| z[((i * d + j) * d + k, l)] * g[(k, l)])
                        .sum::<f64>()
                }),
            })
            .collect()
    }

    /// The tensor unfolded to d^{order−1}×d (row-major values, no copy) times `m` (d×c): the
    /// last mode contracted with every column of `m`, one GEMM of 2 c d^order flops.
    fn unfolded_times(&self, m: MatRef<'_, f64>) -> Mat<f64> {
        let rows = self.data.len() / self.d;
        let unfold = MatRef::from_row_major_slice(&self.data, rows, self.d);
        let mut z = Mat::<f64>::zeros(rows, m.ncols());
        faer::linalg::matmul::matmul(
            z.as_mut(),
            faer::Accum::Replace,
            unfold,
            m,
            1.0,
            faer::get_global_parallelism(),
        );
        z
    }

    /// The vector T(I, a, …, a) (all but the first index contracted with a).
    ///
    /// Cost: O(d^order).
    pub fn contract_all_but_one(&self, a: &[f64]) -> Vec<f64> {
        // T(I, I, a[, a]) contracted once more with a.
        let m = self.slice(a, Some(a));
        (0..self.d)
            .map(|i| (0..self.d).map(|j| m[(i, j)] * a[j]).sum())
            .collect()
    }

    /// T(a, …, a).
    pub fn evaluate(&self, a: &[f64]) -> f64 {
        self.contract_all_but_one(a)
            .iter()
            .zip(a)
            .map(|(x, y)| x * y)
            .sum()
    }

    /// ‖T − Σ_r w_r a_r^{⊗order}‖ / ‖T‖, computed entry by entry (so it resolves residuals
    /// down to rounding, unlike the expanded form ‖T‖² − 2⟨T, T̂⟩ + ‖T̂‖²): the reconstruction
    /// unfolded to d^{order−1}×d is a product K A of the Khatri–Rao rows K and the factors.
    ///
    /// Cost: one (d^{order−1}×R)·(R×d) GEMM, memory O(R d^{order−1}).
    pub fn relative_residual(&self, weights: &[f64], factors: &Mat<f64>) -> f64 {
        let (d, rank) = (self.d, factors.nrows());
        let rows = self.data.len() / d;
        let k = Mat::from_fn(rows, rank, |row, r| {
            let mut prod = weights[r];
            let mut rest = row;
            for _ in 0..self.order - 1 {
                prod *= factors[(r, rest % d)];
                rest /= d;
            }
            prod
        });
        let mut recon = Mat::<f64>::zeros(rows, d);
        faer::linalg::matmul::matmul(
            recon.as_mut(),
            faer::Accum::Replace,
            k.as_ref(),
            factors.as_ref(),
            1.0,
            faer::get_global_parallelism(),
        );
        let mut err = 0.0;
        for row in 0..rows {
            for c in 0..d {
                let e = self.data[row * d + c] - recon[(row, c)];
                err += e * e;
            }
        }
        err.sqrt() / self.norm().max(f64::MIN_POSITIVE)
    }
}

/// The stored tensor through the contraction interface, each contraction by one GEMM of the
/// unfolded values.
impl Contractions for SymmetricTensor {
    fn dim(&self) -> usize {
        self.d
    }

    fn order(&self) -> usize {
        self.order
    }

    fn contract(&self, vectors: &[&[f64]]) -> Mat<f64> {
        match vectors {
            [g] => self.slice(g, None),
            [g, h, ..] => self.slice(g, Some(h)),
            [] => Mat::zeros(0, 0),
        }
    }

    fn slices(&self, g: &Mat<f64>, h: &Mat<f64>) -> Vec<Mat<f64>> {
        SymmetricTensor::slices(self, g, h)
    }

    fn mttkrp(&self, factors: &Mat<f64>) -> Mat<f64> {
        SymmetricTensor::mttkrp(self, factors)
    }

    /// The last mode through one GEMM of the tensor unfolded to d^{p−1}×d, the others mode
    /// by mode on the shrinking array. Cost: 2 r d^p + O(r² d^{p−1}) flops.
    fn compress(&self, m: &Mat<f64>) -> Vec<f64> {
        let (d, p, r) = (self.d, self.order, m.ncols());
        let rows = self.data.len() / d;
        let z = self.unfolded_times(m.as_ref());
        let mut data: Vec<f64> = (0..rows)
            .flat_map(|i| (0..r).map(move |c| (i, c)))
            .map(|(i, c)| z[(i, c)])
            .collect();
        let mut dims = vec![d; p];
        dims[p - 1] = r;
        for mode in (0..p - 1).rev() {
            data = mode_product(&data, &dims, mode, m);
            dims[mode] = r;
        }
        data
    }

    fn exact_relative_residual(&self, weights: &[f64], factors: &Mat<f64>) -> Option<f64> {
        Some(self.relative_residual(weights, factors))
    }

    fn norm_if_stored(&self) -> Option<f64> {
        Some(self.norm())
    }
}

/// Multiplies mode `mode` of a flat row-major tensor of shape `dims` by Mᵀ (M is n×r):
/// the result has dims[mode] = r. Cost O(Π dims · r).
fn mode_product(data: &[f64], dims: &[usize], mode: usize, m: &Mat<f64>) -> Vec<f64> {
    let r = m.ncols();
    let outer: usize = dims[..mode].iter().product();
    let inner: usize = dims[mode + 1..].iter().product();
    let n = dims[mode];
    let mut out = vec![0.0; outer * r * inner];
    for o in 0..outer {
        for c in 0..r {
            let dst = &mut out[(o * r + c) * inner..(o * r + c + 1) * inner];
            for i in 0..n {
                let coef = m[(i, c)];
                if coef == 0.0 {
                    continue;
                }
                let src = &data[(o * n + i) * inner..(o * n + i + 1) * inner];
                for (x, y) in dst.iter_mut().zip(src) {
                    *x += coef * y;
                }
            }
        }
    }
    out
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 1 {
        return vec![vec![0]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for pos in 0..n {
            let mut q = p.clone();
            q.insert(pos, n - 1);
            out.push(q);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_one_slices_and_residual() {
        let a = Mat::from_fn(1, 3, |_, j| [1.0, 2.0, -1.0][j]);
        for order in [3, 4] {
            let t = SymmetricTensor::from_factors(&[2.0], &a, order).unwrap();
            let g = [0.5, 0.0, 1.0];
            let s = t.slice(&g, None);
            // T(I, I, g[, g]) = 2 (a·g)^(order−2) a aᵀ, with a·g = −0.5.
            let c = 2.0 * (-0.5f64).powi(order as i32 - 2);
            assert!((s[(1, 2)] + c * 2.0).abs() < 1e-14);
            assert!(t.relative_residual(&[2.0], &a) < 1e-7);
            assert!((t.relative_residual(&[1.0], &a) - 0.5).abs() < 1e-12);
            assert!(SymmetricTensor::new(3, order, t.data().to_vec()).is_ok());
        }
    }

    #[test]
    fn bad_tensors_are_errors() {
        assert!(matches!(
            SymmetricTensor::new(2, 5, vec![0.0; 32]),
            Err(TensorError::BadOrder { order: 5 })
        ));
        assert!(matches!(
            SymmetricTensor::new(2, 3, vec![0.0; 7]),
            Err(TensorError::BadTensorShape { .. })
        ));
        let mut v = vec![0.0; 8];
        v[1] = 1.0; // T_001 without T_010, T_100
        assert!(matches!(
            SymmetricTensor::new(2, 3, v),
            Err(TensorError::NotSymmetric { .. })
        ));
        let mut w = vec![0.0; 8];
        w[3] = f64::NAN;
        assert!(matches!(
            SymmetricTensor::new(2, 3, w),
            Err(TensorError::TensorNotFinite { index: 3 })
        ));
    }
}
