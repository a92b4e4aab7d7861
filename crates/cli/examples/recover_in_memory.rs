//! Recover a planted network from samples held in memory.
//!
//! `cargo run --release --example recover_in_memory`

use twolayer_hardness::PlantedNetwork;
use twolayer_recovery::{Recovery, align};

fn main() -> anyhow::Result<()> {
    // y = U relu(V x) with d = 30 inputs, k = 8 hidden units, m = 8 outputs, n Gaussian samples.
    let planted = PlantedNetwork::new(30, 8, 8, 20_000).seed(7).generate()?;
    // X is n×d and Y is n×m, one sample per row (any faer matrix view will do).
    let (network, report) = Recovery::new().recover(planted.x.as_ref(), planted.y.as_ref())?;
    let errors = align(&network, &planted.network)?;
    println!(
        "method {}, certified {}, residual {:.1e}; V rows within {:.1e}, U within {:.1e} (relative)",
        report.method(),
        report.certified(),
        report.residual_rel(),
        errors.v_max,
        errors.u_max_rel
    );
    // network.v is k×d and network.u is m×k, as PyTorch's nn.Linear stores them.
    assert!(report.certified() && errors.v_max < 1e-9);
    Ok(())
}
