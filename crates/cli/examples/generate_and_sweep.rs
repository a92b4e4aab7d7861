//! A small sweep: how often exact recovery succeeds, and how long it takes, as the number of
//! samples grows (the full experiments are `cargo xtask sweep`).
//!
//! `cargo run --release --example generate_and_sweep`

use std::time::Instant;

use twolayer_hardness::PlantedNetwork;
use twolayer_recovery::{Recovery, align};

fn main() -> anyhow::Result<()> {
    let (d, k, m) = (20, 5, 5);
    println!("(d, k, m) = ({d}, {k}, {m}); 10 seeds per n");
    println!("| n | n/(dk) | exact | mean time (ms) |\n|---|---|---|---|");
    for n in [200, 400, 800, 1600, 3200] {
        let (mut exact, mut time) = (0, 0.0);
        for seed in 0..10 {
            let planted = PlantedNetwork::new(d, k, m, n).seed(seed).generate()?;
            let start = Instant::now();
            let result = Recovery::new()
                .seed(seed)
                .recover(planted.x.as_ref(), planted.y.as_ref());
            time += start.elapsed().as_secs_f64();
            if let Ok((network, report)) = result
                && report.certified()
                && align(&network, &planted.network)?.v_max < 1e-8
            {
                exact += 1;
            }
        }
        println!(
            "| {n} | {:.1} | {exact}/10 | {:.1} |",
            n as f64 / (d * k) as f64,
            100.0 * time
        );
    }
    Ok(())
}
