//! `twolayer tensor`: symmetric low-rank tensor decomposition on its own.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde_json::json;
use twolayer_hardness::planted_tensor;
use twolayer_tensor::{DecomposeParams, Method, SymmetricTensor, decompose};

use twolayer_io::npy::{encode_array, read_array};
use twolayer_io::output::{OutputDir, Outputs};

#[derive(Subcommand)]
pub enum TensorCommand {
    /// Decompose a dense symmetric tensor T ≈ Σ_r w_r a_r^{⊗p}: writes weights.npy (R,),
    /// factors.npy (R, d) with unit rows, and report.json.
    Decompose {
        /// The tensor, shape (d, d, d) or (d, d, d, d), float32 or float64.
        #[arg(long)]
        t: PathBuf,
        /// Number of components R (at most d).
        #[arg(long)]
        rank: usize,
        /// Expected order (3 or 4); read from the file's shape when omitted.
        #[arg(long)]
        order: Option<usize>,
        /// Starting-point method: auto (Jennrich), jennrich or power.
        #[arg(long, default_value = "auto")]
        method: String,
        /// Seed of the random slices and restarts.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// The polish stops when an iteration improves the relative residual by less than this.
        #[arg(long, default_value_t = 1e-6)]
        tol: f64,
        /// Most polishing iterations.
        #[arg(long, default_value_t = 100)]
        max_iter: usize,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a planted symmetric tensor: T.npy, weights_true.npy, factors_true.npy.
    Generate {
        /// Dimension d.
        #[arg(long)]
        d: usize,
        /// Number of components R.
        #[arg(long)]
        rank: usize,
        /// Order (3 or 4).
        #[arg(long, default_value_t = 3)]
        order: usize,
        /// Symmetric Gaussian noise, relative to the norm of the clean tensor.
        #[arg(long, default_value_t = 0.0)]
        noise: f64,
        /// Seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(cmd: TensorCommand) -> Result<()> {
    match cmd {
        TensorCommand::Decompose {
            t,
            rank,
            order,
            method,
            seed,
            tol,
            max_iter,
            out,
        } => decompose_cmd(&t, rank, order, &method, (seed, tol, max_iter), &out),
        TensorCommand::Generate {
            d,
            rank,
            order,
            noise,
            seed,
            out,
        } => {
            // The tensor, its noise draws, their symmetrisation and the file: 4 copies.
            let values = u32::try_from(order)
                .ok()
                .and_then(|o| (d as u64).checked_pow(o));
            twolayer_io::resources::check_memory(
                values.and_then(|v| v.checked_mul(32)),
                "this tensor",
                "pass a smaller --d",
            )?;
            let reserved = OutputDir::reserve(&out)?;
            let (t, w, f) = planted_tensor(d, rank, order, noise, seed)?;
            let mut files = Outputs::default();
            files.add("T.npy", encode_array(&vec![d as u64; order], t.data())?);
            files.add("weights_true.npy", encode_array(&[rank as u64], &w)?);
            let flat: Vec<f64> = (0..rank)
                .flat_map(|r| (0..d).map(move |i| (r, i)))
                .map(|(r, i)| f[(r, i)])
                .collect();
            files.add(
                "factors_true.npy",
                encode_array(&[rank as u64, d as u64], &flat)?,
            );
            let written = reserved.commit(files)?;
            crate::ui::print_json(&json!({
                "d": d, "rank": rank, "order": order,
                "wrote": written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            }));
            say!(
                "wrote T.npy ({d}^{order}), weights_true.npy ({rank},), factors_true.npy ({rank}, {d}) to {}",
                out.display()
            );
            Ok(())
        }
    }
}

fn decompose_cmd(
    path: &Path,
    rank: usize,
    order: Option<usize>,
    method: &str,
    (seed, tol, max_iter): (u64, f64, usize),
    out: &Path,
) -> Result<()> {
    let start = Instant::now();
    let reserved = OutputDir::reserve(out)?;
    let method = match method {
        "auto" => Method::Auto,
        "jennrich" => Method::Jennrich,
        "power" => Method::Power,
        other => bail!("--method {other:?} is not one of auto, jennrich, power"),
    };
    let (shape, mut values) = read_array(path)?;
    let d = shape.first().copied().unwrap_or(0) as usize;
    if shape.contains(&0) {
        bail!(
            "{} is an empty tensor (shape {shape:?}); pass a tensor of dimension d ≥ 1",
            path.display()
        );
    }
    // The decomposition works on T / max|T| (products of entries near 1e300 overflow; near
    // 1e-300 they vanish) and scales the weights back: the factors and the relative
    // residual do not depend on the scale.
    let scale = values.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    if scale == 0.0 {
        bail!(
            "{} is all zeros: it has no components to find",
            path.display()
        );
    }
    values.iter_mut().for_each(|v| *v /= scale);
    if !(shape.len() == 3 || shape.len() == 4) || shape.iter().any(|&n| n as usize != d) {
        bail!(
            "{} has shape {shape:?}; a symmetric tensor has shape (d, d, d) or (d, d, d, d)",
            path.display()
        );
    }
    if let Some(o) = order
        && o != shape.len()
    {
        bail!(
            "--order {o} but {} has order {}",
            path.display(),
            shape.len()
        );
    }
    let t = SymmetricTensor::new(d, shape.len(), values)
        .with_context(|| format!("reading {}", path.display()))?;
    let read_s = start.elapsed().as_secs_f64();
    let params = DecomposeParams {
        method,
        seed,
        tol,
        max_iter,
        ..DecomposeParams::new(rank)
    };
    let mut dec =
        decompose(&t, &params).with_context(|| format!("decomposing {}", path.display()))?;
    dec.weights.iter_mut().for_each(|w| *w *= scale);
    if dec.weights.iter().any(|w| !w.is_finite()) {
        bail!(
            "the weights of {} overflow float64 once scaled back (the tensor's largest entry is \
             {scale:e}); rescale the tensor",
            path.display()
        );
    }
    let r = &dec.report;
    let flat: Vec<f64> = (0..rank)
        .flat_map(|c| (0..d).map(move |i| (c, i)))
        .map(|(c, i)| dec.factors[(c, i)])
        .collect();
    let report = json!({
        "method": r.method,
        "residual_rel": r.residual_rel,
        "min_rel_gap": r.min_rel_gap,
        "iterations": r.iterations,
        "converged": r.converged,
        "start_converged": r.start_converged,
        "residual_estimated": r.residual_estimated,
        "time_s": r.time_s,
        "read_time_s": read_s,
        "d": d,
        "order": t.order(),
        "rank": rank,
    });
    let mut files = Outputs::default();
    files.add("weights.npy", encode_array(&[rank as u64], &dec.weights)?);
    files.add(
        "factors.npy",
        encode_array(&[rank as u64, d as u64], &flat)?,
    );
    files.add("report.json", serde_json::to_vec_pretty(&report)?);
    reserved.commit(files)?;
    crate::ui::print_json(&report);
    say!(
        "{}: rank {rank}, residual_rel {:.3e}, {} polish iterations ({}), {:.3} s (+{read_s:.3} s reading); wrote weights.npy, factors.npy, report.json to {}",
        r.method,
        r.residual_rel,
        r.iterations,
        if r.converged {
            "converged"
        } else {
            "budget reached"
        },
        r.time_s,
        out.display()
    );
    Ok(())
}
