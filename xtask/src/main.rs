//! `cargo xtask <command>`: project chores that orchestrate the `twolayer` binary. Owns no
//! algorithm.
//!
//! Commands:
//! - `sweep [NAME…] [--quick] [--seeds N] [--threads T] [--out DIR]`: the scaling experiments
//!   (phase, runtime, noise, conditioning, versus; all by default), each writing
//!   `DIR/<name>/data.csv`, SVG plots and `summary.md` (DIR defaults to `results`, and to
//!   `target/sweep-quick` with `--quick`, so a quick run never touches the results). Cells
//!   already in a data.csv are skipped, so an interrupted sweep resumes.
//! - `bench [--quick] [--sign-pattern-n N] [--huge] [--bar]`: the performance ratios of issue 7 (moment pass
//!   against faer's matmul, end to end against moments + V·X and against that plus the span
//!   contractions of the second moment, slope in n, absolute targets, one sign-pattern
//!   iteration) and its bar (numpy-written files against Adam); `--huge`
//!   instead streams n = 1e7, d = 100 (9.6 GB written under target/) and reports peak memory.
//! - `pycheck`: loads a recovered model.safetensors with Python's `safetensors` and `numpy`
//!   (when installed) and checks its predictions against `twolayer eval`.
//! - `tensorly`: the bar of the `tensor` crate: on a numpy-written symmetric order-3 tensor
//!   (d = 150, R = 30, noise 1e-3), `twolayer tensor decompose` (whole process) against
//!   TensorLy's `parafac` (in-process, default settings), both compared with the clean tensor.
//! - `fuzz [--seconds N]`: the .npy/.npz/CSV readers' cargo-fuzz target for N seconds
//!   (default 60); needs `cargo install cargo-fuzz`.
//! - `mutants [TARGET…] [--minutes N]`: cargo-mutants (installed with `cargo install
//!   cargo-mutants --locked`) on the core files — alignment, decode, output commit,
//!   certificate, moments accumulator, npy readers, sign-pattern least squares, exact search —
//!   within N minutes (default 60), then the caught/missed table. Mutants are applied in
//!   place, so crates/ must be committed first. Not in CI.
//! - `bar`: the end-to-end acceptance runs, each from files through the release binary, with
//!   wall times (file reading included) and errors:
//!   exact recovery at (d, k, m, n) = (100, 20, 20, 30000);
//!   a single output at (50, 10, 1, 20000), noiseless, seeds 0–9;
//!   relu² labels at (50, 10, 10, 10000), noiseless;
//!   noisy labels (σ = 0.01) at (50, 10, 10, 100000), against the least-squares floor.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

mod bench;
mod fuzz;
mod mutants;
mod plot;
mod pycheck;
mod sweep;
mod tensorly;

fn main() -> Result<()> {
    twolayer_moments::tune_allocator();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("bar") => bar(),
        Some("sweep") => sweep_command(&args[1..]),
        Some("pycheck") => pycheck::run(),
        Some("tensorly") => tensorly::run(),
        Some("fuzz") => {
            let seconds = args
                .iter()
                .position(|a| a == "--seconds")
                .and_then(|i| args.get(i + 1))
                .map(|v| v.parse())
                .transpose()
                .context("--seconds takes a whole number")?
                .unwrap_or(60);
            fuzz::run(seconds)
        }
        Some("mutants") => {
            let mut only = Vec::new();
            let mut minutes = 60;
            let mut it = args[1..].iter();
            while let Some(a) = it.next() {
                match a.as_str() {
                    "--minutes" => {
                        minutes = it
                            .next()
                            .context("--minutes needs a value")?
                            .parse()
                            .context("--minutes takes a whole number")?
                    }
                    name => only.push(name.to_string()),
                }
            }
            mutants::run(&only, minutes)
        }
        Some("bench") => {
            let quick = args.iter().any(|a| a == "--quick");
            let n = args
                .iter()
                .position(|a| a == "--sign-pattern-n")
                .and_then(|i| args.get(i + 1))
                .map(|v| v.parse())
                .transpose()
                .context("--sign-pattern-n takes a whole number")?
                .unwrap_or(if quick { 100_000 } else { 1_000_000 });
            if args.iter().any(|a| a == "--bar") {
                return bench::bar().map(drop);
            }
            bench::run(quick, n, args.iter().any(|a| a == "--huge"))
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\ncommands:\n  bench  [--quick] [--sign-pattern-n N] [--huge] [--bar]: issue 7's performance ratios and bar (--bar: the bar only; PyTorch from $TWOLAYER_PYTHON when set)\n  tensorly  issue 9's bar: twolayer tensor decompose against TensorLy's parafac on a numpy-written tensor\n  pycheck  model.safetensors loaded in Python reproduces twolayer eval's predictions\n  fuzz   [--seconds N]: fuzz the .npy/.npz/CSV readers (cargo-fuzz)\n  mutants [TARGET...] [--minutes N]: cargo-mutants on the core files, with the caught/missed table\n  bar    acceptance runs from files: exact (100,20,20,30000), single output (50,10,1,20000), relu2, noisy (50,10,10,100000)\n  sweep  [NAME...] [--quick] [--seeds N] [--threads T] [--out DIR]: the scaling experiments (phase runtime noise conditioning versus)"
            );
            bail!("no command given")
        }
    }
}

fn sweep_command(args: &[String]) -> Result<()> {
    let mut names = Vec::new();
    let mut opts = sweep::Options {
        quick: false,
        seeds: None,
        out: root().join("results"),
    };
    let mut out_given = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |flag: &str| {
            it.next()
                .cloned()
                .with_context(|| format!("{flag} needs a value"))
        };
        match a.as_str() {
            "--quick" => opts.quick = true,
            "--seeds" => {
                opts.seeds = Some(
                    value("--seeds")?
                        .parse()
                        .context("--seeds takes a whole number")?,
                )
            }
            "--threads" => {
                let t: usize = value("--threads")?
                    .parse()
                    .context("--threads takes a whole number")?;
                rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .build_global()?;
            }
            "--out" => {
                opts.out = PathBuf::from(value("--out")?);
                out_given = true;
            }
            name if sweep::SWEEPS.contains(&name) => names.push(name.to_string()),
            other => bail!(
                "unknown sweep or option {other:?}; sweeps: {:?}",
                sweep::SWEEPS
            ),
        }
    }
    if names.is_empty() {
        names = sweep::SWEEPS.iter().map(|s| s.to_string()).collect();
    }
    // The reduced grid never touches the committed results: its rows would be appended to
    // them and its summaries would replace theirs.
    if opts.quick && !out_given {
        opts.out = root().join("target").join("sweep-quick");
        println!(
            "--quick writes to {} (pass --out to choose)",
            opts.out.display()
        );
    }
    sweep::run(&names, &opts)
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
