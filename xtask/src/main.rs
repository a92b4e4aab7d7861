//! `cargo xtask <command>`: project chores that orchestrate the `twolayer` binary —
//! experiments (`sweep`), benchmarks (`bench`, `bar`), cross-checks with Python (`pycheck`,
//! `tensorly`), fuzzing and mutation testing. Owns no algorithm. `cargo xtask --help` lists
//! the commands and `cargo xtask <command> --help` their options.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::builder::PossibleValuesParser;
use clap::{Parser, Subcommand};

mod bench;
mod fuzz;
mod mutants;
mod plot;
mod pycheck;
mod sweep;
mod tensorly;

/// Project chores around the `twolayer` binary: experiments, benchmarks, cross-checks.
#[derive(Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// The end-to-end acceptance runs from files through the release binary, with wall times:
    /// exact (100,20,20,30000), a single output (50,10,1,20000), relu², noisy (50,10,10,100000).
    Bar,
    /// The scaling experiments, each writing DIR/<name>/data.csv, SVG plots and summary.md;
    /// cells already computed are skipped, so an interrupted sweep resumes.
    Sweep {
        /// Sweeps to run (all when none is named).
        #[arg(value_parser = PossibleValuesParser::new(sweep::SWEEPS))]
        names: Vec<String>,
        /// A reduced grid that runs in seconds (written to target/sweep-quick unless --out).
        #[arg(long)]
        quick: bool,
        /// Seeds per cell (the sweep's default otherwise).
        #[arg(long)]
        seeds: Option<u64>,
        /// Worker threads (all cores otherwise).
        #[arg(long)]
        threads: Option<usize>,
        /// Output folder [default: results, or target/sweep-quick with --quick].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The performance ratios (moment pass against faer's matmul, end to end against
    /// moments + V·X, scaling in n, one sign-pattern iteration) and the bar against Adam
    /// (PyTorch's too with TWOLAYER_PYTHON set to a Python with torch and scipy).
    Bench {
        /// Fewer repetitions and smaller sizes.
        #[arg(long)]
        quick: bool,
        /// Samples of the sign-pattern iteration [default: 10⁶, 10⁵ with --quick].
        #[arg(long)]
        sign_pattern_n: Option<usize>,
        /// Instead: stream n = 10⁷, d = 100 (9.6 GB written under target/) and report peak
        /// memory.
        #[arg(long)]
        huge: bool,
        /// The bar only.
        #[arg(long)]
        bar: bool,
    },
    /// A recovered model.safetensors loaded in Python reproduces twolayer eval's predictions.
    Pycheck,
    /// `twolayer tensor decompose` against TensorLy's parafac on a numpy-written tensor.
    Tensorly,
    /// Fuzz the .npy/.npz/CSV readers (needs `cargo install cargo-fuzz`).
    Fuzz {
        /// How long to fuzz.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// cargo-mutants on the core files (needs `cargo install cargo-mutants --locked`; crates/
    /// must be committed: mutants are applied in place), then the caught/missed table.
    Mutants {
        /// Targets to run, by (part of) their name: alignment, decode, output commit,
        /// certificate, moments accumulator, npy header, npy rows, sign-pattern least
        /// squares, exact search (all when none is named).
        targets: Vec<String>,
        /// Time budget in minutes.
        #[arg(long, default_value_t = 60)]
        minutes: u64,
    },
}

fn main() -> Result<()> {
    twolayer_io::resources::tune_allocator();
    match Cli::parse().command {
        Task::Bar => bar(),
        Task::Sweep {
            names,
            quick,
            seeds,
            threads,
            out,
        } => sweep_command(names, quick, seeds, threads, out),
        Task::Pycheck => pycheck::run(),
        Task::Tensorly => tensorly::run(),
        Task::Fuzz { seconds } => fuzz::run(seconds),
        Task::Mutants { targets, minutes } => mutants::run(&targets, minutes),
        Task::Bench {
            quick,
            sign_pattern_n,
            huge,
            bar,
        } => {
            if bar {
                return bench::bar().map(drop);
            }
            let n = sign_pattern_n.unwrap_or(if quick { 100_000 } else { 1_000_000 });
            bench::run(quick, n, huge)
        }
    }
}

fn sweep_command(
    mut names: Vec<String>,
    quick: bool,
    seeds: Option<u64>,
    threads: Option<usize>,
    out: Option<PathBuf>,
) -> Result<()> {
    if let Some(t) = threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build_global()?;
    }
    if names.is_empty() {
        names = sweep::SWEEPS.iter().map(|s| s.to_string()).collect();
    }
    // The reduced grid never touches the committed results: its rows would be appended to
    // them and its summaries would replace theirs.
    let out = match out {
        Some(out) => out,
        None if quick => {
            let out = root().join("target").join("sweep-quick");
            println!("--quick writes to {} (pass --out to choose)", out.display());
            out
        }
        None => root().join("results"),
    };
    sweep::run(&names, &sweep::Options { quick, seeds, out })
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn run(args: &[String]) -> Result<String> {
    let bin = root().join("target/release/twolayer");
    let out = Command::new(&bin)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    if !out.status.success() {
        bail!(
            "twolayer {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The Python interpreter the cross-checks run: `$TWOLAYER_PYTHON` (a virtualenv's python
/// with the optional packages, say) or `python3`.
pub fn python() -> String {
    std::env::var("TWOLAYER_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Whether [`python`] imports every one of `modules`; says how to install them when it does not.
fn python_has(modules: &[&str]) -> bool {
    let probe = Command::new(python())
        .args(["-c", &format!("import {}", modules.join(", "))])
        .output();
    let ok = matches!(probe, Ok(ref o) if o.status.success());
    if !ok {
        println!(
            "skipped: python ({}) with {} is not available (pip install {}, or set TWOLAYER_PYTHON)",
            python(),
            modules.join(" and "),
            modules.join(" ")
        );
    }
    ok
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Generates an instance, recovers it from the files and evaluates it; returns the recover
/// line, the eval output and the wall time of the recover process.
fn case(
    dir: &Path,
    shape: [&str; 4],
    seed: u64,
    extra_gen: &[&str],
    extra_rec: &[&str],
) -> Result<(String, String, f64)> {
    let data = dir.join(format!("data-{seed}"));
    let fit = dir.join(format!("fit-{seed}"));
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let [d, k, m, n] = shape;
    let seed = seed.to_string();
    let mut gen_args = args(&[
        "generate", "--d", d, "--k", k, "--m", m, "--n", n, "--seed", &seed,
    ]);
    gen_args.extend(args(extra_gen));
    gen_args.extend([String::from("--out"), s(&data)]);
    run(&gen_args)?;
    let mut rec = vec![
        "recover".into(),
        "--x".into(),
        s(&data.join("X.npy")),
        "--y".into(),
        s(&data.join("Y.npy")),
        "--out".into(),
        s(&fit),
    ];
    rec.extend(args(extra_rec));
    let start = Instant::now();
    let line = run(&rec)?;
    let wall = start.elapsed().as_secs_f64();
    let mut eval_args: Vec<String> = vec![
        "eval".into(),
        "--x".into(),
        s(&data.join("X.npy")),
        "--y".into(),
        s(&data.join("Y.npy")),
        "--u".into(),
        s(&fit.join("U.npy")),
        "--v".into(),
        s(&fit.join("V.npy")),
        "--u-true".into(),
        s(&data.join("U_true.npy")),
        "--v-true".into(),
        s(&data.join("V_true.npy")),
    ];
    // The activation flag, if any, applies to eval too.
    if let Some(i) = extra_rec.iter().position(|a| *a == "--activation") {
        eval_args.extend(args(&extra_rec[i..i + 2]));
    }
    let eval = run(&eval_args)?;
    Ok((line, eval, wall))
}

fn value(eval: &str, key: &str) -> f64 {
    eval.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

fn bar() -> Result<()> {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "-p", "twolayer-cli"])
        .current_dir(root())
        .status()?;
    if !status.success() {
        bail!("building the twolayer binary failed");
    }
    let dir = root().join("target/xtask-bar");

    println!(
        "== exact recovery, (d,k,m,n) = (100,20,20,30000) (bar: certified, errors ≤ 1e-9, < 2 s)"
    );
    let (line, eval, wall) = case(
        &dir.join("exact"),
        ["100", "20", "20", "30000"],
        1,
        &[],
        &[],
    )?;
    print!("{line}{eval}");
    println!("wall time of `twolayer recover`, reading included: {wall:.3} s\n");

    println!(
        "== single output, (50,10,1,20000), noiseless (bar: certified on ≥ 9 of 10 seeds, each < 5 s)"
    );
    let mut ok = 0;
    let mut worst: f64 = 0.0;
    for seed in 0..10 {
        let (line, eval, wall) = case(
            &dir.join("m1"),
            ["50", "10", "1", "20000"],
            seed,
            &[],
            &["--k", "10", "--seed", &seed.to_string()],
        )?;
        let exact = line.contains("certified=true") && value(&eval, "v_max_err") <= 1e-8;
        ok += usize::from(exact);
        worst = worst.max(wall);
        println!(
            "seed {seed}: certified exact {exact}, v_max_err {:.1e}, wall {wall:.2} s",
            value(&eval, "v_max_err")
        );
    }
    println!("{ok}/10 certified exact; slowest {worst:.2} s\n");

    println!("== relu², (50,10,10,10000), noiseless (bar: ≤ 1e-9 with --activation relu2)");
    let (line, eval, wall) = case(
        &dir.join("relu2"),
        ["50", "10", "10", "10000"],
        5,
        &["--activation", "relu2"],
        &["--activation", "relu2"],
    )?;
    print!("{line}");
    println!(
        "v_max_err {:.1e}, u_max_rel_err {:.1e}, wall {wall:.2} s\n",
        value(&eval, "v_max_err"),
        value(&eval, "u_max_rel_err")
    );

    println!("== noisy, (50,10,10,100000), σ = 0.01 (bar: ≤ 1.1× the least-squares floor, < 5 s)");
    for seed in 0..3 {
        let (line, eval, wall) = case(
            &dir.join("noisy"),
            ["50", "10", "10", "100000"],
            seed,
            &["--noise", "0.01"],
            &["--seed", &seed.to_string()],
        )?;
        print!("{line}");
        println!(
            "seed {seed}: param_err {:.3e}, floor {:.3e}, ratio {:.3}, wall {wall:.2} s",
            value(&eval, "param_err"),
            value(&eval, "oracle_param_err"),
            value(&eval, "ratio_to_oracle")
        );
    }
    Ok(())
}
