//! `twolayer hardness`: the Partition gadget, its certificate and decoding.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde_json::json;
use twolayer_hardness::{PartitionInstance, certificate, decode, encode};
use twolayer_recovery::{Activation, Network};

use twolayer_io::npy::encode_matrix;
use twolayer_io::npy_source::read_any;
use twolayer_io::output::{OutputDir, Outputs};

#[derive(Subcommand)]
pub enum HardnessCommand {
    /// Write the gadget of a Partition instance (X.npy, Y.npy, partition.json) and, for a
    /// yes-instance, the certificate network U.npy, V.npy that fits it exactly.
    Partition {
        /// Positive integers, comma-separated (at most 40 for the exact solver).
        #[arg(long, value_name = "S1,S2,...")]
        values: String,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
    },
    /// Read the signs of a partition off a network that fits the gadget.
    Decode {
        /// Output weights (1, 2).
        #[arg(long)]
        u: PathBuf,
        /// Hidden weights (2, d).
        #[arg(long)]
        v: PathBuf,
        /// The Partition values the gadget was built from.
        #[arg(long, value_name = "S1,S2,...")]
        values: String,
        /// Largest relative residual on the gadget that still counts as a fit.
        #[arg(long, default_value_t = 1e-6)]
        tol: f64,
    },
}

pub fn run(cmd: HardnessCommand) -> Result<()> {
    match cmd {
        HardnessCommand::Partition { values, out } => partition(&parse_values(&values)?, &out),
        HardnessCommand::Decode { u, v, values, tol } => {
            decode_cmd(&u, &v, &parse_values(&values)?, tol)
        }
    }
}

fn parse_values(text: &str) -> Result<PartitionInstance> {
    let values = text
        .split(',')
        .map(|t| t.trim().parse::<u64>())
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| {
            format!("--values takes positive integers separated by commas (e.g. 3,1,1,2,2,1), got {text:?}")
        })?;
    Ok(PartitionInstance::new(values)?)
}

fn partition(inst: &PartitionInstance, out: &Path) -> Result<()> {
    let reserved = OutputDir::reserve(out)?;
    let signs = inst.solve()?;
    let (x, y) = encode(inst);
    let mut files = Outputs::default();
    files.add("X.npy", encode_matrix(&x)?);
    files.add("Y.npy", encode_matrix(&y)?);
    if let Some(signs) = &signs {
        let net = certificate(inst, signs)?;
        files.add("U.npy", encode_matrix(&net.u)?);
        files.add("V.npy", encode_matrix(&net.v)?);
    }
    let meta = json!({
        "values": inst.values(),
        "yes_instance": signs.is_some(),
        "signs": signs,
        "samples": x.nrows(),
        "d": inst.len(),
        "gadget": "x = ±e_i with label 1, x = ±s with label 0; fits exactly with k = 2 iff s has a partition",
    });
    files.add("partition.json", serde_json::to_vec_pretty(&meta)?);
    reserved.commit(files)?;
    crate::ui::print_json(&meta);
    match signs {
        Some(s) => say!(
            "yes-instance: signs {s:?}; wrote X.npy ({}, {}), Y.npy, U.npy (1, 2), V.npy (2, {}) (the certificate) and partition.json to {}",
            x.nrows(),
            x.ncols(),
            inst.len(),
            out.display()
        ),
        None => say!(
            "no-instance: no signs balance the values, so no two-unit network fits the gadget exactly; wrote X.npy, Y.npy and partition.json to {}",
            out.display()
        ),
    }
    Ok(())
}

fn decode_cmd(u: &Path, v: &Path, inst: &PartitionInstance, tol: f64) -> Result<()> {
    let net = Network::new(read_any(u)?, read_any(v)?, Activation::Relu)
        .with_context(|| format!("{} and {} do not form a network", u.display(), v.display()))?;
    let signs = decode(&net, inst, tol)?;
    if inst.imbalance(&signs) != 0 {
        bail!("internal: decoded signs do not balance the instance");
    }
    let plus: Vec<u64> = inst
        .values()
        .iter()
        .zip(&signs)
        .filter(|(_, e)| **e > 0)
        .map(|(v, _)| *v)
        .collect();
    let minus: Vec<u64> = inst
        .values()
        .iter()
        .zip(&signs)
        .filter(|(_, e)| **e < 0)
        .map(|(v, _)| *v)
        .collect();
    crate::ui::print_json(&json!({
        "signs": signs,
        "plus": plus,
        "minus": minus,
        "half_sum": plus.iter().sum::<u64>(),
    }));
    say!("signs {signs:?}");
    say!(
        "partition {plus:?} | {minus:?} (both sum to {})",
        plus.iter().sum::<u64>()
    );
    Ok(())
}
