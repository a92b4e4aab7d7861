//! `cargo xtask mutants`: cargo-mutants over the core files, with a time budget, and the
//! caught/missed table per target. Not in CI (one build and test run per mutant: hours on 2
//! cores for the whole list); run it before resolving an issue that touches these files.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// One target: a name, the file, a regex on mutant names limiting it to the functions that
/// matter (empty: the whole file), and the packages whose tests judge each mutant (the
/// front-door tests of `twolayer-tests` and the CLI's live outside the mutated crate).
struct Target {
    name: &'static str,
    file: &'static str,
    functions: &'static str,
    tests: &'static [&'static str],
}

const RECOVERY: &[&str] = &["twolayer-recovery", "twolayer-tests"];
/// The io crate's unit tests and the command line's, which drive it end to end.
const IO: &[&str] = &["twolayer-io", "twolayer-cli"];

/// The core files of issue 30: alignment, certificate, exact search, sign-pattern least
/// squares, moments, npy readers, output commit, hardness decode.
const TARGETS: &[Target] = &[
    Target {
        name: "alignment",
        file: "crates/recovery/src/align.rs",
        functions: "",
        tests: &["twolayer-recovery"],
    },
    Target {
        name: "decode",
        file: "crates/hardness/src/partition.rs",
        functions: "decode|check_signs",
        tests: &["twolayer-hardness"],
    },
    Target {
        name: "output commit",
        file: "crates/io/src/output.rs",
        functions: "commit|reserve|write_file|file_target|exchange",
        tests: IO,
    },
    Target {
        name: "certificate",
        file: "crates/recovery/src/certificate.rs",
        functions: "",
        // Its own unit tests pin every branch; the front-door suite would take 20× longer.
        tests: &["twolayer-recovery"],
    },
    Target {
        name: "moments accumulator",
        file: "crates/moments/src/sample_moments.rs",
        functions: "merge|validate",
        tests: &["twolayer-moments"],
    },
    Target {
        name: "npy header",
        file: "crates/io/src/npy_header.rs",
        functions: "",
        tests: IO,
    },
    Target {
        name: "npy rows",
        file: "crates/io/src/npy_source.rs",
        functions: "read_rows|with_header|extract_npz_member",
        tests: IO,
    },
    Target {
        name: "sign-pattern least squares",
        file: "crates/recovery/src/local/sign_pattern.rs",
        functions: "fit",
        tests: RECOVERY,
    },
    Target {
        name: "exact search",
        file: "crates/recovery/src/exact/search.rs",
        functions: "",
        tests: RECOVERY,
    },
];

/// Runs the targets named in `only` (all when empty) within `minutes`, then prints the table.
pub fn run(only: &[String], minutes: u64) -> Result<()> {
    let probe = Command::new("cargo")
        .args(["mutants", "--version"])
        .output();
    if !matches!(probe, Ok(ref o) if o.status.success()) {
        bail!("cargo-mutants is not installed; run: cargo install cargo-mutants --locked");
    }
    let root = crate::root();
    // --in-place mutates the sources (a copy would rebuild every dependency per run): the
    // crates must hold no uncommitted change, so that git can restore them if need be.
    let dirty = Command::new("git")
        .current_dir(&root)
        .args(["status", "--porcelain", "--", "crates"])
        .output()
        .context("cannot run git")?;
    if !dirty.stdout.is_empty() {
        bail!(
            "crates/ has uncommitted changes; commit or stash them first (mutants are applied in place)"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(minutes * 60);
    let mut rows = Vec::new();
    for t in TARGETS
        .iter()
        .filter(|t| only.is_empty() || only.iter().any(|o| t.name.contains(o.as_str())))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            rows.push((t, None, "not run: the time budget was spent".to_string()));
            continue;
        }
        let out = root.join("target/mutants").join(t.name.replace(' ', "-"));
        std::fs::create_dir_all(&out)
            .with_context(|| format!("cannot create {}", out.display()))?;
        let mut cmd = Command::new("cargo");
        cmd.current_dir(&root)
            .args([
                "mutants",
                "--workspace",
                "--in-place",
                "--no-shuffle",
                "-f",
                t.file,
            ])
            .arg("--output")
            .arg(&out)
            .args(["--minimum-test-timeout", "60"]);
        if !t.functions.is_empty() {
            cmd.args(["--re", t.functions]);
        }
        for package in t.tests {
            cmd.args(["--test-package", package]);
        }
        println!(
            "{}: cargo mutants on {} ({:.0} min left)",
            t.name,
            t.file,
            left.as_secs_f64() / 60.0
        );
        let status = run_until(&mut cmd, left)?;
        let counts = outcomes(&out.join("mutants.out"));
        rows.push((t, counts, status));
    }
    println!("\n| target | file | caught | missed | unviable | timeout | note |");
    println!("|---|---|---|---|---|---|---|");
    for (t, counts, note) in rows {
        let [caught, missed, unviable, timeout] = counts.unwrap_or_default();
        println!(
            "| {} | {} | {caught} | {missed} | {unviable} | {timeout} | {note} |",
            t.name, t.file
        );
    }
    println!("\nMissed mutants are listed in target/mutants/<target>/mutants.out/missed.txt");
    Ok(())
}

/// Runs `cmd`, killing it when `left` runs out; says how it ended.
fn run_until(cmd: &mut Command, left: Duration) -> Result<String> {
    let mut child = cmd.spawn().context("cannot start cargo mutants")?;
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            // cargo-mutants exits 2 when mutants were missed, 3 on timeouts: not failures here.
            return Ok(match status.code() {
                Some(0) | Some(2) | Some(3) => "complete".to_string(),
                other => format!("cargo mutants exited with {other:?}"),
            });
        }
        if start.elapsed() > left {
            // SIGINT lets cargo-mutants put the unmutated source back itself.
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let grace = Instant::now();
            while child.try_wait()?.is_none() && grace.elapsed() < Duration::from_secs(60) {
                std::thread::sleep(Duration::from_millis(200));
            }
            if child.try_wait()?.is_none() {
                child.kill()?;
                child.wait()?;
            }
            // Whatever it left, the committed sources come back (crates/ was clean).
            let restored = Command::new("git")
                .current_dir(crate::root())
                .args(["checkout", "--", "crates"])
                .status()?;
            return Ok(format!(
                "stopped at the time budget (sources restored: {})",
                restored.success()
            ));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// [caught, missed, unviable, timeout] from cargo-mutants' output folder.
fn outcomes(dir: &Path) -> Option<[usize; 4]> {
    let count = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .map(|t| t.lines().filter(|l| !l.trim().is_empty()).count())
            .unwrap_or(0)
    };
    dir.exists().then(|| {
        [
            count("caught.txt"),
            count("missed.txt"),
            count("unviable.txt"),
            count("timeout.txt"),
        ]
    })
}
