//! `twolayer`: learn the weights of a two-layer rectified network from samples.
//!
//! Subcommands: `demo` (the embedded default), `generate`, `recover`, `eval`. Any error is one
//! line on stderr and exit code 2; no output file is written unless all of them are.

mod generate;
mod hardness_cmd;
mod npy;
mod output;
mod tensor_cmd;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use faer::Mat;
use serde_json::json;
use twolayer_hardness::PlantedNetwork;
use twolayer_recovery::{
    Activation, ExactRecovery, Network, NoiseModel, OracleLs, Recovery, align,
    relative_prediction_error,
};

use crate::generate::GenerateArgs;
use crate::hardness_cmd::HardnessCommand;
use crate::npy::{encode_matrix, read_matrix};
use crate::output::Outputs;
use crate::tensor_cmd::TensorCommand;

#[derive(Parser)]
#[command(
    name = "twolayer",
    version,
    about = "Learn the weights of a two-layer ReLU network y = U relu(V x) from samples, exactly",
    long_about = "Learn the weights of a two-layer ReLU network y = U relu(V x) from samples.\n\
                  Files hold one sample per row: X.npy (n, d), Y.npy (n, m); weights are \
                  written as PyTorch nn.Linear stores them: V (k, d), U (m, k)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a planted instance (d=20, k=10, m=10, n=3000), recover it, print the errors.
    Demo {
        /// Seed of the planted instance and of the recovery.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Write a planted instance: X.npy, Y.npy, U_true.npy, V_true.npy, meta.json.
    Generate(GenerateArgs),
    /// Recover U and V from X.npy and Y.npy; writes U.npy, V.npy and report.json.
    Recover {
        /// Samples, (n, d) float32/float64, C or Fortran order.
        #[arg(long)]
        x: PathBuf,
        /// Labels, (n, m) or (n,) for one output.
        #[arg(long)]
        y: PathBuf,
        /// Hidden units (default: the numerical rank of Y; give it when m < k or the labels
        /// are noisy and m ≠ k).
        #[arg(long)]
        k: Option<usize>,
        /// What to assume about label noise: auto tries the exact method and falls back to
        /// least squares; none requires a certified exact fit; gaussian and huber go straight
        /// to (robust) least squares.
        #[arg(long, value_enum, default_value_t = NoiseArg::Auto)]
        noise: NoiseArg,
        /// Most random restarts of the sign-pattern solver.
        #[arg(long, default_value_t = 16)]
        restarts: usize,
        /// Fit an intercept: for noise independent of x but not mean-zero.
        #[arg(long)]
        intercept: bool,
        /// Hidden activation: relu, relu2, relupow:P (P > 0) or logrelu.
        #[arg(long, default_value = "relu")]
        activation: String,
        /// Seed of the method's random draws.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
    },
    /// Symmetric low-rank tensor decomposition (orders 3 and 4), on its own.
    #[command(subcommand)]
    Tensor(TensorCommand),
    /// The k = 2 NP-hardness reduction from Partition: gadgets, certificates, decoding.
    #[command(subcommand)]
    Hardness(HardnessCommand),
    /// Prediction error of U, V on X, Y and, given the truth, the aligned weight errors and
    /// the ratio to the least-squares floor (the fit given the true sign patterns).
    Eval {
        /// Samples, (n, d).
        #[arg(long)]
        x: PathBuf,
        /// Labels, (n, m) or (n,).
        #[arg(long)]
        y: PathBuf,
        /// Output weights, (m, k).
        #[arg(long)]
        u: PathBuf,
        /// Hidden weights, (k, d).
        #[arg(long)]
        v: PathBuf,
        /// True output weights, to report aligned errors.
        #[arg(long, requires = "v_true")]
        u_true: Option<PathBuf>,
        /// True hidden weights, to report aligned errors.
        #[arg(long, requires = "u_true")]
        v_true: Option<PathBuf>,
        /// Hidden activation of the networks: relu, relu2, relupow:P or logrelu.
        #[arg(long, default_value = "relu")]
        activation: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum NoiseArg {
    Auto,
    None,
    Gaussian,
    Huber,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            // One line, like every other error: clap's message without its usage block.
            let text = e.render().to_string();
            let first: Vec<&str> = text
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            eprintln!("{}; see 'twolayer --help'", first.join(" "));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Demo { seed } => demo(seed),
        Command::Generate(args) => args.planted().and_then(|p| generate(&p, &args.out)),
        Command::Hardness(cmd) => hardness_cmd::run(cmd),
        Command::Tensor(cmd) => tensor_cmd::run(cmd),
        Command::Recover {
            x,
            y,
            k,
            noise,
            restarts,
            intercept,
            activation,
            seed,
            out,
        } => {
            let noise = match noise {
                NoiseArg::Auto => NoiseModel::Auto,
                NoiseArg::None => NoiseModel::None,
                NoiseArg::Gaussian => NoiseModel::Gaussian,
                NoiseArg::Huber => NoiseModel::Huber,
            };
            let activation = match Activation::parse(&activation) {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let method = Recovery::new()
                .k(k)
                .activation(activation)
                .noise(noise)
                .restarts(restarts)
                .intercept(intercept)
                .seed(seed);
            recover(&x, &y, &method, &out)
        }
        Command::Eval {
            x,
            y,
            u,
            v,
            u_true,
            v_true,
            activation,
        } => Activation::parse(&activation)
            .map_err(anyhow::Error::from)
            .and_then(|f| eval(&x, &y, &u, &v, u_true.as_deref().zip(v_true.as_deref()), &f)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn demo(seed: u64) -> Result<()> {
    let (d, k, m, n) = (20, 10, 10, 3000);
    println!("twolayer demo: planted y = U relu(V x), d={d} k={k} m={m} n={n}, seed {seed}");
    let inst = PlantedNetwork::new(d, k, m, n).seed(seed).generate()?;
    let start = Instant::now();
    let found = ExactRecovery::new()
        .seed(seed)
        .recover(inst.x.as_ref(), inst.y.as_ref())?;
    let elapsed = start.elapsed().as_secs_f64();
    let a = align(&found.network, &inst.network)?;
    let r = &found.report;
    println!("method           {}", r.method);
    println!("k (detected)     {}", r.k);
    println!(
        "max |V - V*|     {:.2e}  (unit rows, matched units)",
        a.v_max
    );
    println!("max |U - U*|/|U*| {:.2e}", a.u_max_rel);
    println!("residual_rel     {:.2e}", r.residual_rel);
    println!(
        "certified        {}",
        if r.certified {
            "yes (exact fit on every sample)"
        } else {
            "no"
        }
    );
    println!("time             {:.3} s", elapsed);
    if !r.certified {
        bail!(
            "the demo did not certify an exact fit (residual {:.2e})",
            r.residual_rel
        );
    }
    Ok(())
}

fn generate(planted: &PlantedNetwork, out: &Path) -> Result<()> {
    let inst = planted.generate()?;
    let (n, d) = inst.x.shape();
    let (m, k) = inst.network.u.shape();
    let mut files = Outputs::default();
    files.add("X.npy", encode_matrix(&inst.x)?);
    files.add("Y.npy", encode_matrix(&inst.y)?);
    files.add("U_true.npy", encode_matrix(&inst.network.u)?);
    files.add("V_true.npy", encode_matrix(&inst.network.v)?);
    let meta = json!({
        "d": d, "k": k, "m": m, "n": n,
        "settings": format!("{planted:?}"),
        "noise_std": inst.noise_std,
        "activation": inst.network.activation.name(),
    });
    files.add("meta.json", serde_json::to_vec_pretty(&meta)?);
    files.commit(out)?;
    println!(
        "wrote X.npy ({n}, {d}), Y.npy ({n}, {m}), U_true.npy ({m}, {k}), V_true.npy ({k}, {d}), meta.json to {}",
        out.display()
    );
    Ok(())
}

fn recover(x: &Path, y: &Path, method: &Recovery, out: &Path) -> Result<()> {
    let start = Instant::now();
    let xm = read_matrix(x)?;
    let ym = read_matrix(y)?;
    let read_s = start.elapsed().as_secs_f64();
    let (network, report) = method
        .recover(xm.as_ref(), ym.as_ref())
        .with_context(|| format!("recovering from {} and {}", x.display(), y.display()))?;
    if let Some(inputs) = report.inputs() {
        for w in &inputs.warnings {
            eprintln!("warning: {w}");
        }
    }
    let mut rep = serde_json::to_value(&report)?;
    rep["restarts_used"] = json!(report.restarts_used());
    rep["activation"] = json!(network.activation.name());
    rep["read_time_s"] = json!(read_s);
    rep["x"] = json!(x.display().to_string());
    rep["y"] = json!(y.display().to_string());
    let mut files = Outputs::default();
    files.add("U.npy", encode_matrix(&network.u)?);
    files.add("V.npy", encode_matrix(&network.v)?);
    files.add("report.json", serde_json::to_vec_pretty(&rep)?);
    files.commit(out)?;
    println!(
        "{}: k={} residual_rel={:.2e} certified={} restarts_used={} time={:.3}s (+{:.3}s reading); wrote U.npy, V.npy, report.json to {}",
        report.method(),
        report.k(),
        report.residual_rel(),
        report.certified(),
        report.restarts_used(),
        report.time_s(),
        read_s,
        out.display()
    );
    Ok(())
}

fn eval(
    x: &Path,
    y: &Path,
    u: &Path,
    v: &Path,
    truth: Option<(&Path, &Path)>,
    f: &Activation,
) -> Result<()> {
    let xm = read_matrix(x)?;
    let ym = read_matrix(y)?;
    let net = load_network(u, v, f)?;
    let err = relative_prediction_error(&net, xm.as_ref(), ym.as_ref()).with_context(|| {
        format!(
            "evaluating {} and {} on {}",
            u.display(),
            v.display(),
            x.display()
        )
    })?;
    println!("prediction_error_rel {err:.3e}");
    if let Some((ut, vt)) = truth {
        let t = load_network(ut, vt, f)?;
        let a = align(&net, &t).context("comparing with the true weights")?;
        println!("v_max_err            {:.3e}", a.v_max);
        println!("u_max_rel_err        {:.3e}", a.u_max_rel);
        let ours = a.parameter_error();
        println!("param_err            {ours:.3e}");
        // The least-squares floor: the same fit given the true sign patterns (ReLU).
        if *f == Activation::Relu {
            let oracle = OracleLs::new(false)
                .fit(xm.as_ref(), ym.as_ref(), &t)
                .context("fitting with the true sign patterns")?;
            let o = align(&oracle.network, &t)?;
            let floor = o.parameter_error();
            println!("oracle_param_err     {floor:.3e}");
            if floor > 1e-12 {
                println!("ratio_to_oracle      {:.3}", ours / floor);
            }
        }
    }
    Ok(())
}

fn load_network(u: &Path, v: &Path, f: &Activation) -> Result<Network> {
    let um: Mat<f64> = read_matrix(u)?;
    let vm: Mat<f64> = read_matrix(v)?;
    Network::new(um, vm, f.clone())
        .with_context(|| format!("{} and {} do not form a network", u.display(), v.display()))
}
