//! `twolayer moments`: the first pass over the data as a mergeable, serialisable accumulator.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use twolayer_moments::SampleMoments;

use twolayer_io::npy_source::NpySource;
use twolayer_io::output::{file_target, write_file};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct MomentsCommand {
    #[command(subcommand)]
    merge: Option<MergeCommand>,
    /// Samples, (n, d) float32/float64 .npy (streamed: any size).
    #[arg(long, requires = "y")]
    x: Option<PathBuf>,
    /// Labels, (n, m) or (n,).
    #[arg(long, requires = "x")]
    y: Option<PathBuf>,
    /// Where to write the accumulator (JSON); - for standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum MergeCommand {
    /// Adds accumulators of shards of one data set (same d and m) into one.
    Merge {
        /// Accumulators written by `twolayer moments`.
        #[arg(required = true, num_args = 1..)]
        parts: Vec<PathBuf>,
        /// Where to write the merged accumulator; - for standard output.
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(cmd: MomentsCommand) -> Result<()> {
    match cmd {
        MomentsCommand {
            merge: Some(MergeCommand::Merge { parts, out }),
            ..
        } => merge(&parts, &out),
        MomentsCommand {
            x: Some(x),
            y: Some(y),
            out: Some(out),
            ..
        } => compute(&x, &y, &out),
        _ => bail!(
            "usage: twolayer moments --x X.npy --y Y.npy --out part.json, or twolayer moments \
             merge A.json B.json … --out all.json"
        ),
    }
}

fn compute(x: &Path, y: &Path, out: &Path) -> Result<()> {
    let start = Instant::now();
    file_target(out)?;
    let source = NpySource::open(x, y)?;
    let _step = crate::ui::Step::start("streaming the moments");
    let moments = SampleMoments::compute(&source)
        .with_context(|| format!("reading {} and {}", x.display(), y.display()))?;
    write_file(out, &serde_json::to_vec(&moments)?)?;
    if out == Path::new("-") {
        return Ok(()); // stdout holds the accumulator itself
    }
    crate::ui::print_json(&serde_json::json!({
        "n": moments.n, "d": moments.d, "m": moments.m,
        "time_s": start.elapsed().as_secs_f64(),
        "wrote": out.display().to_string(),
    }));
    say!(
        "moments of n={} samples (d={}, m={}) in {:.3}s; wrote {}",
        moments.n,
        moments.d,
        moments.m,
        start.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(())
}

/// Reads and validates one accumulator file (a regular file: never a FIFO that would block).
pub fn read_moments(path: &Path) -> Result<SampleMoments> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !meta.is_file() {
        bail!(
            "{} is not a regular file; pass moments files written by `twolayer moments`",
            path.display()
        );
    }
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let m: SampleMoments = serde_json::from_slice(&text).with_context(|| {
        format!(
            "{} is not a moments file written by `twolayer moments`",
            path.display()
        )
    })?;
    m.validate()
        .with_context(|| format!("checking {}", path.display()))?;
    Ok(m)
}

fn merge(parts: &[PathBuf], out: &Path) -> Result<()> {
    file_target(out)?;
    let read = parts
        .iter()
        .map(|p| read_moments(p))
        .collect::<Result<Vec<_>>>()?;
    // One pairwise tree over the parts in the order given: the bits do not depend on how
    // the shards were grouped into calls of the same tree shape.
    let total = SampleMoments::merge_all(read).context("merging the moments")?;
    write_file(out, &serde_json::to_vec(&total)?)?;
    if out == Path::new("-") {
        return Ok(());
    }
    crate::ui::print_json(&serde_json::json!({
        "parts": parts.len(), "n": total.n, "d": total.d, "m": total.m,
        "wrote": out.display().to_string(),
    }));
    say!(
        "merged {} parts: n={} samples (d={}, m={}); wrote {}",
        parts.len(),
        total.n,
        total.d,
        total.m,
        out.display()
    );
    Ok(())
}
