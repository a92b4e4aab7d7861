//! `cargo xtask fuzz --seconds N`: the readers' fuzz target (fuzz/fuzz_targets/readers.rs)
//! for a bounded time, with cargo-fuzz. The corpus (fuzz/corpus/readers) is kept in the
//! repository and grows with each run; a crash leaves its input under fuzz/artifacts and
//! fails the command.

use std::process::Command;

use anyhow::{Context, Result, bail};

pub fn run(seconds: u64) -> Result<()> {
    let has_fuzz = Command::new(env!("CARGO"))
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_fuzz {
        bail!("cargo-fuzz is not installed: cargo install cargo-fuzz");
    }
    let dir = crate::root().join("fuzz");
    // libFuzzer's coverage instrumentation needs unstable rustc flags; RUSTC_BOOTSTRAP lets
    // the one stable toolchain of this machine use them. No sanitizer: it needs nightly's
    // std, and the target is safe Rust (panics and aborts are what it looks for).
    let status = Command::new(env!("CARGO"))
        .current_dir(&dir)
        .env("RUSTC_BOOTSTRAP", "1")
        .args(["fuzz", "run", "readers", "--sanitizer", "none", "--"])
        .arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1")
        .status()
        .context("running cargo fuzz")?;
    if !status.success() {
        bail!(
            "the fuzz target failed: the input that did it is under {}; reproduce with \
             cargo fuzz run readers --sanitizer none <that file>, fix, and add it to \
             fuzz/corpus/readers",
            dir.join("artifacts/readers").display()
        );
    }
    println!(
        "fuzzed the .npy/.npz/CSV readers for {seconds} s without a failure; corpus: {}",
        dir.join("corpus/readers").display()
    );
    Ok(())
}
