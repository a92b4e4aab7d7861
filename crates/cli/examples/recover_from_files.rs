//! Recover from `.npy` files (or `ARCHIVE.npz:NAME`, or CSV), as the command line does.
//!
//! `cargo run --release --example recover_from_files -- X.npy Y.npy`
//! (without arguments it writes a planted instance to a temporary folder first).

use std::path::PathBuf;

use twolayer_hardness::PlantedNetwork;
use twolayer_io::npy::encode_matrix;
use twolayer_io::npy_source::{Inputs, open_inputs};
use twolayer_recovery::Recovery;

fn main() -> anyhow::Result<()> {
    let args: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let (x, y) = match &args[..] {
        [x, y] => (x.clone(), y.clone()),
        _ => {
            let dir = std::env::temp_dir().join("twolayer-example");
            std::fs::create_dir_all(&dir)?;
            let p = PlantedNetwork::new(20, 5, 5, 10_000).seed(1).generate()?;
            std::fs::write(dir.join("X.npy"), encode_matrix(&p.x)?)?;
            std::fs::write(dir.join("Y.npy"), encode_matrix(&p.y)?)?;
            (dir.join("X.npy"), dir.join("Y.npy"))
        }
    };
    // .npy files are opened, not read: `load` maps or reads them; `Recovery::recover_source`
    // would instead stream them (data larger than memory).
    let (network, report) = match open_inputs(&x, Some(&y), None)? {
        Inputs::Files(files) => {
            let loaded = files.load()?;
            Recovery::new().recover(loaded.x(), loaded.y())?
        }
        Inputs::Memory(loaded, _) => Recovery::new().recover(loaded.x(), loaded.y())?,
    };
    println!(
        "{}: k = {}, certified {}, residual {:.1e}; V is {}×{}, U is {}×{}",
        report.method(),
        report.k(),
        report.certified(),
        report.residual_rel(),
        network.v.nrows(),
        network.v.ncols(),
        network.u.nrows(),
        network.u.ncols()
    );
    Ok(())
}
