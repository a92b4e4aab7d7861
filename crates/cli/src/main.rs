//! `twolayer`: learn the weights of a two-layer rectified network from samples.
//!
//! Subcommands: `demo` (the embedded default), `generate`, `recover`, `eval`. Any error is one
//! line on stderr and exit code 2; no output file is written unless all of them are.

#[macro_use]
mod ui;
mod generate;
mod hardness_cmd;
mod moments_cmd;
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
    Activation, ExactRecovery, Network, NoiseModel, OracleLs, Recovery, ResidualStructure, align,
    relative_prediction_error,
};

use crate::generate::GenerateArgs;
use crate::hardness_cmd::HardnessCommand;
use crate::moments_cmd::MomentsCommand;
use crate::tensor_cmd::TensorCommand;
use crate::ui::{Step, UI, Ui, ui};
use twolayer_io::npy::encode_matrix;
use twolayer_io::npy_source::{CsvHeaders, Inputs, open_inputs, read_any};
use twolayer_io::output::{OutputDir, Outputs};
use twolayer_io::resources;
use twolayer_io::safetensors_out::{self, WeightDtype};
use twolayer_moments::SampleSource;

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
    /// Print the result as one line of JSON on stdout instead of the human summary (recover:
    /// the report; eval: the metrics; every other command: what it computed and wrote).
    #[arg(long, global = true)]
    json: bool,
    /// Print nothing on success (errors still go to stderr, with exit code 2).
    #[arg(long, global = true)]
    quiet: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a planted instance (d=20, k=10, m=10, n=3000), recover it, print the errors.
    Demo {
        /// Seed of the planted instance and of the recovery.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Write a planted instance: X.npy, Y.npy, U_true.npy, V_true.npy, meta.json.
    Generate(GenerateArgs),
    /// Recover U and V from X.npy and Y.npy; writes U.npy, V.npy, model.safetensors (loadable
    /// into PyTorch) and report.json.
    Recover {
        /// Samples, (n, d): a float32/float64 .npy (C or Fortran order), an array of an .npz
        /// archive (ARCHIVE.npz:NAME), or a .csv file (one sample per row, header optional).
        #[arg(long)]
        x: PathBuf,
        /// Labels, (n, m) or (n,) for one output: .npy, .npz (ARCHIVE.npz:NAME) or .csv.
        #[arg(long, required_unless_present = "y_cols")]
        y: Option<PathBuf>,
        /// Take the labels from these columns of the --x CSV file (comma-separated 0-based
        /// indices or header names) instead of a --y file.
        #[arg(long, conflicts_with = "y")]
        y_cols: Option<String>,
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
        /// Hidden activation: relu, relu2, relupow:P (0 < P ≤ 8) or logrelu.
        #[arg(long, default_value = "relu")]
        activation: String,
        /// Seed of the method's random draws.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Stream the samples from the files instead of loading them: memory stays
        /// O((d + m)² + subset), for data larger than memory. The moments and the certificate
        /// read every sample; when the labels are not fit exactly (noise), least squares runs
        /// on an evenly spread subset sized to the memory budget, and the report says so.
        /// Chosen automatically when the data do not fit the budget.
        #[arg(long)]
        stream: bool,
        /// Float type of model.safetensors (U.npy and V.npy are always float64).
        #[arg(long, value_enum, default_value_t = DtypeArg::F32)]
        dtype: DtypeArg,
        /// Memory budget, e.g. 512M or 8G (default: half the available memory). The data are
        /// loaded when four times their size fits (once with --noise none), else streamed,
        /// with the subset held in memory sized so the peak stays within the budget.
        #[arg(long, value_parser = parse_bytes)]
        memory_budget: Option<u64>,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the JSON schema of report.json (docs/report.schema.json).
    #[command(hide = true)]
    ReportSchema,
    /// The moments of order ≤ 2 of (x, y) as a mergeable JSON accumulator: run it on shards
    /// of a data set (on separate machines, say) and combine them with `moments merge`.
    Moments(MomentsCommand),
    /// Symmetric low-rank tensor decomposition (orders 3 and 4), on its own.
    #[command(subcommand)]
    Tensor(TensorCommand),
    /// The k = 2 NP-hardness reduction from Partition: gadgets, certificates, decoding.
    #[command(subcommand)]
    Hardness(HardnessCommand),
    /// Prediction error of U, V on X, Y and, given the truth, the aligned weight errors and
    /// the ratio to the least-squares floor (the fit given the true sign patterns).
    Eval {
        /// Samples, (n, d): .npy, ARCHIVE.npz:NAME or .csv.
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

/// Float type of model.safetensors on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum DtypeArg {
    /// float32 (PyTorch's default).
    F32,
    /// float64 (no rounding of the recovered weights).
    F64,
}

impl From<DtypeArg> for WeightDtype {
    fn from(d: DtypeArg) -> Self {
        match d {
            DtypeArg::F32 => WeightDtype::F32,
            DtypeArg::F64 => WeightDtype::F64,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum NoiseArg {
    Auto,
    None,
    Gaussian,
    Huber,
}

/// The subcommand the command line names, as typed: "twolayer", "twolayer recover",
/// "twolayer tensor decompose", … (for pointing an error at the right help).
fn subcommand_path() -> String {
    use clap::CommandFactory;
    let mut path = String::from("twolayer");
    let mut cmd = Cli::command();
    for arg in std::env::args().skip(1) {
        let Some(sub) = cmd.find_subcommand(&arg).cloned() else {
            if arg.starts_with('-') {
                continue;
            }
            break;
        };
        path.push(' ');
        path.push_str(&arg);
        cmd = sub;
    }
    path
}

fn main() -> ExitCode {
    twolayer_io::resources::tune_allocator();
    // `twolayer eval … | head` closes the pipe early: end quietly as Unix tools do, instead of
    // panicking in println! (Rust ignores SIGPIPE by default).
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    on_sigbus_exit();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            // One line, like every other error: clap's message and its tip ("a similar
            // argument exists"), without the usage block, pointing at the subcommand's help.
            let text = e.render().to_string();
            let parts: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .filter(|l| !l.is_empty())
                .collect();
            eprintln!(
                "{}; see '{} --help'",
                ui::one_line(&parts.join("; ")),
                subcommand_path()
            );
            return ExitCode::from(2);
        }
    };
    let _ = UI.set(Ui {
        json: cli.json,
        quiet: cli.quiet,
    });
    twolayer_io::output::WARNINGS.store(!cli.quiet, std::sync::atomic::Ordering::Relaxed);
    let result = match cli.command {
        Command::Demo { seed } => demo(seed),
        Command::Generate(args) => args.planted().and_then(|p| generate(&p, &args.out)),
        Command::Hardness(cmd) => hardness_cmd::run(cmd),
        Command::Tensor(cmd) => tensor_cmd::run(cmd),
        Command::Recover {
            x,
            y,
            y_cols,
            k,
            noise,
            restarts,
            intercept,
            activation,
            seed,
            stream,
            dtype,
            memory_budget,
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
                    eprintln!("error: {}", ui::one_line(&e.to_string()));
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
            recover(
                &x,
                y.as_deref(),
                y_cols.as_deref(),
                &method,
                stream,
                memory_budget,
                dtype.into(),
                &out,
            )
        }
        Command::Moments(cmd) => moments_cmd::run(cmd),
        Command::ReportSchema => report_schema().map(|s| print!("{s}")),
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
            eprintln!("error: {}", ui::one_line(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}

/// A mapped input file that another process truncates makes the next read of a page beyond
/// its new end raise SIGBUS, which would kill the process with no word. Say what happened,
/// on one line, and exit with code 2 like every other error.
fn on_sigbus_exit() {
    #[cfg(unix)]
    {
        extern "C" fn handler(_: libc::c_int) {
            const MSG: &[u8] = b"error: an input file shrank while twolayer was reading it (it is \
                mapped into memory); leave the input files unchanged while twolayer runs, or copy \
                them first\n";
            // SAFETY: write(2) and _exit(2) are async-signal-safe.
            unsafe {
                libc::write(2, MSG.as_ptr().cast(), MSG.len());
                libc::_exit(2);
            }
        }
        // SAFETY: installs a handler that only calls async-signal-safe functions.
        unsafe {
            libc::signal(libc::SIGBUS, handler as *const () as libc::sighandler_t);
        }
    }
}

fn demo(seed: u64) -> Result<()> {
    let (d, k, m, n) = (20, 10, 10, 3000);
    say!("twolayer demo: planted y = U relu(V x), d={d} k={k} m={m} n={n}, seed {seed}");
    let inst = PlantedNetwork::new(d, k, m, n).seed(seed).generate()?;
    let start = Instant::now();
    let found = ExactRecovery::new()
        .seed(seed)
        .recover(inst.x.as_ref(), inst.y.as_ref())?;
    let elapsed = start.elapsed().as_secs_f64();
    let a = align(&found.network, &inst.network)?;
    let r = &found.report;
    say!("method           {}", r.method);
    say!("k (detected)     {}", r.k);
    say!(
        "max |V - V*|     {:.2e}  (unit rows, matched units)",
        a.v_max
    );
    say!("max |U - U*|/|U*| {:.2e}", a.u_max_rel);
    say!("residual_rel     {:.2e}", r.residual_rel);
    say!(
        "certified        {}",
        if r.certified {
            "yes (exact fit on every sample)"
        } else {
            "no"
        }
    );
    say!("time             {:.3} s", elapsed);
    ui::print_json(&json!({
        "d": d, "k": k, "m": m, "n": n, "seed": seed,
        "method": r.method,
        "k_found": r.k,
        "v_max_err": a.v_max,
        "u_max_rel_err": a.u_max_rel,
        "residual_rel": r.residual_rel,
        "certified": r.certified,
        "time_s": elapsed,
    }));
    if !r.certified {
        bail!(
            "the demo did not certify an exact fit (residual {:.2e})",
            r.residual_rel
        );
    }
    Ok(())
}

fn generate(planted: &PlantedNetwork, out: &Path) -> Result<()> {
    // The instance, and its files rendered in memory beside it.
    resources::check_memory(
        planted.bytes().and_then(|b| b.checked_mul(2)),
        "this instance",
        "pass a smaller --n (or --d, --m)",
    )?;
    let reserved = OutputDir::reserve(out)?;
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
        "settings": serde_json::to_value(planted)?,
        "noise_std": inst.noise_std,
        "activation": inst.network.activation.name(),
    });
    files.add("meta.json", serde_json::to_vec_pretty(&meta)?);
    let written = reserved.commit(files)?;
    ui::print_json(&json!({
        "n": n, "d": d, "k": k, "m": m,
        "noise_std": inst.noise_std,
        "wrote": written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
    }));
    say!(
        "wrote X.npy ({n}, {d}), Y.npy ({n}, {m}), U_true.npy ({m}, {k}), V_true.npy ({k}, {d}), meta.json to {}",
        out.display()
    );
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn recover(
    x: &Path,
    y: Option<&Path>,
    y_cols: Option<&str>,
    method: &Recovery,
    stream: bool,
    memory_budget: Option<u64>,
    dtype: WeightDtype,
    out: &Path,
) -> Result<()> {
    let start = Instant::now();
    let reserved = OutputDir::reserve(out)?;
    let step = Step::start(format!("reading {}", x.display()));
    let inputs = open_inputs(x, y, y_cols)?;
    drop(step);
    let y_shown = match (y, y_cols) {
        (Some(y), _) => y.display().to_string(),
        (None, cols) => format!("{}[columns {}]", x.display(), cols.unwrap_or_default()),
    };
    let budget = memory_budget.unwrap_or_else(default_memory_budget);
    let context = || format!("recovering from {} and {}", x.display(), y_shown);
    let mut headers = CsvHeaders::default();
    let (network, report, read_s, streamed) = match inputs {
        Inputs::Files(source) => {
            let data_bytes = source.x.bytes_f64() + source.y.bytes_f64();
            // In memory, the exact method needs the data once; least squares (the fallback
            // under noise) holds a transposed copy and its working set beside them, up to
            // 3.6 times the data in all (144 MB for 40 MB at (20, 5, 5, 2·10⁵)). Unless the
            // labels are declared noiseless, the data are loaded only when four times their
            // size fits, beside the process's own footprint.
            let factor = if method.noise_model() == NoiseModel::None {
                1
            } else {
                4
            };
            let in_memory_bytes = data_bytes.saturating_mul(factor) + BASE_FOOTPRINT;
            if stream || in_memory_bytes > budget {
                // Streamed, the subset held in memory (the exact search's, or least
                // squares') costs up to 4 times its bytes with the working set: a sixth of
                // what the footprint leaves keeps the peak within the budget.
                let per_sample = 8 * (source.d() + source.m()) as u64;
                let subset = (budget.saturating_sub(BASE_FOOTPRINT) / 6 / per_sample.max(1))
                    .max(MIN_SUBSET) as usize;
                let _step = Step::start("recovering, streaming the samples from disk");
                let (network, report) = method
                    .recover_source(&source, Some(subset))
                    .with_context(context)?;
                (network, report, 0.0, true)
            } else {
                let loaded = {
                    let _step = Step::start(format!("reading {}", x.display()));
                    source.load()?
                };
                let read_s = start.elapsed().as_secs_f64();
                let _step = Step::start("recovering (exact, else least squares)");
                let (network, report) = method
                    .recover(loaded.x(), loaded.y())
                    .with_context(context)?;
                (network, report, read_s, false)
            }
        }
        Inputs::Memory(loaded, csv) => {
            headers = csv;
            if stream {
                bail!(
                    "--stream reads .npy and .npz files; CSV inputs are loaded into memory \
                     (convert them to .npy to stream)"
                );
            }
            let read_s = start.elapsed().as_secs_f64();
            let _step = Step::start("recovering (exact, else least squares)");
            let (network, report) = method
                .recover(loaded.x(), loaded.y())
                .with_context(context)?;
            (network, report, read_s, false)
        }
    };
    if let Some(inputs) = report.inputs()
        && !ui().quiet
    {
        for w in &inputs.warnings {
            eprintln!("warning: {}", ui::one_line(w));
        }
    }
    if !ui().quiet {
        for w in report.warnings() {
            eprintln!("warning: {}", ui::one_line(w));
        }
    }
    let peak = peak_memory_bytes();
    if let Some(p) = peak
        && p > budget
        && !ui().quiet
    {
        eprintln!(
            "warning: the peak memory, {}, exceeded the budget of {}; pass --stream or a \
             larger --memory-budget",
            resources::show_bytes(p),
            resources::show_bytes(budget)
        );
    }
    let rep = ReportFile {
        report: report.clone(),
        read_time_s: read_s,
        streamed,
        memory_budget_bytes: budget,
        peak_memory_bytes: peak,
        x: x.display().to_string(),
        y: y_shown,
        x_csv_header: headers.x,
        y_csv_header: headers.y,
    };
    let mut files = Outputs::default();
    files.add("U.npy", encode_matrix(&network.u)?);
    files.add("V.npy", encode_matrix(&network.v)?);
    let metadata = safetensors_out::metadata(&network, &report);
    files.add(
        "model.safetensors",
        safetensors_out::encode(&network, dtype, metadata)?,
    );
    files.add("report.json", serde_json::to_vec_pretty(&rep)?);
    reserved.commit(files)?;
    if ui().json && !ui().quiet {
        println!("{}", serde_json::to_string(&rep)?);
    }
    say!(
        "{}: k={} residual_rel={:.2e} certified={} restarts_used={}{} time={:.3}s (+{:.3}s reading); wrote U.npy, V.npy, model.safetensors, report.json to {}",
        report.method(),
        report.k(),
        report.residual_rel(),
        report.certified(),
        report.restarts_used(),
        report
            .stopped()
            .map(|s| format!(" stopped={}", s.name()))
            .unwrap_or_default()
            + &report
                .residual_structure()
                .filter(|_| !report.certified())
                .map(|s| format!(
                    " residual_structure={:.3} (limit {:.3})",
                    s.statistic, s.limit
                ))
                .unwrap_or_default(),
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
    let xm = read_any(x)?;
    let ym = read_any(y)?;
    let net = load_network(u, v, f)?;
    let err = relative_prediction_error(&net, xm.as_ref(), ym.as_ref()).with_context(|| {
        format!(
            "evaluating {} and {} on {}",
            u.display(),
            v.display(),
            x.display()
        )
    })?;
    if !err.is_finite() {
        bail!(
            "the predictions of {} and {} on {} are not finite numbers (they overflow float64); \
             rescale the weights",
            u.display(),
            v.display(),
            x.display()
        );
    }
    let mut metrics = serde_json::Map::new();
    metrics.insert("prediction_error_rel".into(), json!(err));
    // Whether the fit left structure in its residual: needs no true weights.
    let structure = ResidualStructure::measure(&net, xm.as_ref(), ym.as_ref())
        .context("measuring the structure left in the residual")?;
    metrics.insert("residual_structure".into(), json!(structure.statistic));
    metrics.insert("residual_structure_limit".into(), json!(structure.limit));
    if let Some((ut, vt)) = truth {
        let t = load_network(ut, vt, f)?;
        let a = align(&net, &t).context("comparing with the true weights")?;
        metrics.insert("v_max_err".into(), json!(a.v_max));
        metrics.insert("u_max_rel_err".into(), json!(a.u_max_rel));
        let ours = a.parameter_error();
        metrics.insert("param_err".into(), json!(ours));
        // The least-squares floor: the same fit given the true sign patterns (ReLU), unless
        // its normal equations would take minutes.
        let (n, d, k) = (xm.nrows(), xm.ncols(), t.k());
        let oracle_flops = n as f64 * (((k + 1) * d) as f64).powi(2);
        if *f == Activation::Relu && oracle_flops > ORACLE_FLOPS_MAX {
            metrics.insert(
                "oracle_skipped".into(),
                json!(format!(
                    "the oracle's normal equations ((k+1)d = {} unknowns, n = {n}) would cost \
                     {oracle_flops:.1e} flops, above {ORACLE_FLOPS_MAX:.0e}; evaluate on a \
                     subset of the samples for the oracle's error",
                    (k + 1) * d
                )),
            );
        } else if *f == Activation::Relu {
            let oracle = OracleLs::new(false)
                .fit(xm.as_ref(), ym.as_ref(), &t)
                .context("fitting with the true sign patterns")?;
            let o = align(&oracle.network, &t)?;
            let floor = o.parameter_error();
            metrics.insert("oracle_param_err".into(), json!(floor));
            if floor > 1e-12 {
                metrics.insert("ratio_to_oracle".into(), json!(ours / floor));
            }
        }
    }
    if ui().json && !ui().quiet {
        println!("{}", serde_json::Value::Object(metrics));
    } else {
        for (key, value) in &metrics {
            if let Some(text) = value.as_str() {
                say!("{key:<24} {text}");
                continue;
            }
            let v = value.as_f64().unwrap_or(f64::NAN);
            if key == "ratio_to_oracle" || key.starts_with("residual_structure") {
                say!("{key:<24} {v:.3}");
            } else {
                say!("{key:<24} {v:.3e}");
            }
        }
    }
    Ok(())
}

/// The process's own memory before any data: code, thread stacks, chunk buffers (21 MB
/// measured at (20, 5, 5)), with room.
const BASE_FOOTPRINT: u64 = 32 << 20;

/// The fewest samples a streamed run holds in memory, whatever the budget.
const MIN_SUBSET: u64 = 1024;

/// Above this many flops, n ((k+1) d)², `eval` skips the oracle (about a minute here): at
/// (200, 50, 50, 2·10⁵) it would take 2·10¹³, and its 0.8 GB partial sums once exhausted
/// the machine's memory.
const ORACLE_FLOPS_MAX: f64 = 2e12;

fn load_network(u: &Path, v: &Path, f: &Activation) -> Result<Network> {
    let um: Mat<f64> = read_any(u)?;
    let vm: Mat<f64> = read_any(v)?;
    Network::new(um, vm, f.clone())
        .with_context(|| format!("{} and {} do not form a network", u.display(), v.display()))
}

/// report.json: the method's report (exact or sign-pattern)
/// and what the command line adds.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct ReportFile {
    #[serde(flatten)]
    report: twolayer_recovery::Report,
    /// Seconds spent reading the files (0 when streamed: reading is part of every pass).
    read_time_s: f64,
    /// Whether the samples were streamed from the files instead of loaded.
    streamed: bool,
    /// The memory budget in bytes (see --memory-budget).
    memory_budget_bytes: u64,
    /// Peak resident memory of the process in bytes (Linux; null elsewhere).
    peak_memory_bytes: Option<u64>,
    /// Path of the samples.
    x: String,
    /// Path of the labels.
    y: String,
    /// For a CSV file of samples: whether its first row was read as a header (names only)
    /// rather than a sample (numbers only); absent for other files.
    #[serde(skip_serializing_if = "Option::is_none")]
    x_csv_header: Option<bool>,
    /// The same for the labels' CSV file (the samples' own with --y-cols).
    #[serde(skip_serializing_if = "Option::is_none")]
    y_csv_header: Option<bool>,
}

/// The JSON schema of report.json, as committed in docs/report.schema.json.
fn report_schema() -> Result<String> {
    Ok(serde_json::to_string_pretty(&schemars::schema_for!(ReportFile))? + "\n")
}

/// Parses a byte count with an optional K/M/G/T suffix (powers of 1024).
fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (digits, shift) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 10),
        Some('M') => (&t[..t.len() - 1], 20),
        Some('G') => (&t[..t.len() - 1], 30),
        Some('T') => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    digits
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|v| v.checked_mul(1u64 << shift))
        .filter(|&v| v > 0)
        .ok_or_else(|| format!("{s:?} is not a size; write e.g. 512M, 8G or 1000000 (bytes)"))
}

/// Half of the memory the kernel reports available (8 GiB when it cannot be read).
fn default_memory_budget() -> u64 {
    resources::available_memory().map_or(8 << 30, |b| b / 2)
}

/// Peak resident memory of this process so far (Linux; `None` elsewhere).
fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}
