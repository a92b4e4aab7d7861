//! Workspace-level test suites live in `tests/`; this library holds what several of them
//! share.

use faer::MatRef;
use twolayer_recovery::{Network, OracleLs, align};

/// Runs `f` in a fresh rayon pool of `threads` threads (for the tests that results do not
/// depend on the thread count).
pub fn on_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool")
        .install(f)
}

/// The bits of a network's weights (V, then U, each row by row) and of its relative
/// residual: equal vectors mean results identical to the last bit.
pub fn network_bits(net: &Network, residual_rel: f64) -> Vec<u64> {
    let mut b: Vec<u64> = (0..net.v.nrows())
        .flat_map(|i| (0..net.v.ncols()).map(move |j| (i, j)))
        .map(|(i, j)| net.v[(i, j)].to_bits())
        .collect();
    b.extend(
        (0..net.u.nrows())
            .flat_map(|i| (0..net.u.ncols()).map(move |j| (i, j)))
            .map(|(i, j)| net.u[(i, j)].to_bits()),
    );
    b.push(residual_rel.to_bits());
    b
}

/// The parameter error of the oracle: least squares with the true sign patterns of `truth`
/// on X (n×d) and Y (n×m), aligned with `truth`. The floor the noisy methods are measured
/// against.
pub fn oracle_error(x: MatRef<'_, f64>, y: MatRef<'_, f64>, truth: &Network) -> f64 {
    let oracle = OracleLs::new(false)
        .fit(x, y, truth)
        .expect("the oracle's solve");
    align(&oracle.network, truth)
        .expect("the oracle's network aligns with the truth")
        .parameter_error()
}
