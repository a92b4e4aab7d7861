//! `cargo xtask <command>`: project chores that orchestrate the `twolayer` binary. Owns no
//! algorithm.
//!
//! Commands:
//! - `bar`: the end-to-end acceptance run of exact recovery at (d, k, m, n) = (100, 20, 20,
//!   30000): generate files, recover from them, evaluate against the truth, print time and
//!   errors.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("bar") => bar(),
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\ncommands:\n  bar   exact recovery at (100, 20, 20, 30000) from files: time and errors"
            );
            bail!("no command given")
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn run(args: &[&str]) -> Result<String> {
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

fn bar() -> Result<()> {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "-p", "twolayer-cli"])
        .current_dir(root())
        .status()?;
    if !status.success() {
        bail!("building the twolayer binary failed");
    }
    let dir = root().join("target/xtask-bar");
    let data = dir.join("data");
    let fit = dir.join("fit");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (d, k, m, n) = ("100", "20", "20", "30000");
    run(&[
        "generate",
        "--d",
        d,
        "--k",
        k,
        "--m",
        m,
        "--n",
        n,
        "--seed",
        "1",
        "--out",
        &s(&data),
    ])?;
    let start = Instant::now();
    let line = run(&[
        "recover",
        "--x",
        &s(&data.join("X.npy")),
        "--y",
        &s(&data.join("Y.npy")),
        "--out",
        &s(&fit),
    ])?;
    let wall = start.elapsed().as_secs_f64();
    print!("{line}");
    print!(
        "{}",
        run(&[
            "eval",
            "--x",
            &s(&data.join("X.npy")),
            "--y",
            &s(&data.join("Y.npy")),
            "--u",
            &s(&fit.join("U.npy")),
            "--v",
            &s(&fit.join("V.npy")),
            "--u-true",
            &s(&data.join("U_true.npy")),
            "--v-true",
            &s(&data.join("V_true.npy")),
        ])?
    );
    println!("whole `twolayer recover` process, file reading included: {wall:.3} s (bar: < 2 s)");
    Ok(())
}
