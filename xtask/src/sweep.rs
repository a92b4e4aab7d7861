//! `cargo xtask sweep`: the scaling experiments. Each named sweep writes
//! `<out>/<name>/data.csv` (one row per cell, seeded and resumable), SVG plots and
//! `summary.md`. The algorithms live in the library crates; this only orchestrates.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use faer::Mat;
use indicatif::{ProgressBar, ProgressStyle};
use twolayer_hardness::PlantedNetwork;
use twolayer_recovery::baseline::Adam;
use twolayer_recovery::{
    Activation, ExactRecovery, NoiseModel, OracleLs, Recovery, align, relative_prediction_error,
};

use crate::plot::{Scale, Series, line_chart, line_chart_with_legend, loglog_slope};

/// (d, k, m).
type Shape3 = (usize, usize, usize);
/// (d, k, m, n).
type Shape4 = (usize, usize, usize, usize);

/// Every sweep, in the order `sweep` runs them.
pub const SWEEPS: [&str; 5] = ["phase", "runtime", "noise", "conditioning", "versus"];

/// Options shared by every sweep.
pub struct Options {
    pub quick: bool,
    pub seeds: Option<u64>,
    pub out: PathBuf,
}

/// Runs the named sweeps.
pub fn run(names: &[String], opts: &Options) -> Result<()> {
    for name in names {
        let dir = opts.out.join(name);
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let start = Instant::now();
        match name.as_str() {
            "phase" => phase(&dir, opts)?,
            "runtime" => runtime(&dir, opts)?,
            "noise" => noise(&dir, opts)?,
            "conditioning" => conditioning(&dir, opts)?,
            "versus" => versus(&dir, opts)?,
            other => bail!("unknown sweep {other:?}; the sweeps are {SWEEPS:?}"),
        }
        println!(
            "{name}: done in {:.1} s → {}",
            start.elapsed().as_secs_f64(),
            dir.display()
        );
    }
    Ok(())
}

/// A CSV file of cells, appended to as cells finish; cells already present are skipped.
struct Table {
    path: PathBuf,
    header: Vec<&'static str>,
    key_cols: usize,
    rows: Vec<Vec<String>>,
    done: HashSet<String>,
}

impl Table {
    fn open(dir: &Path, header: Vec<&'static str>, key_cols: usize) -> Result<Self> {
        let path = dir.join("data.csv");
        let mut rows = Vec::new();
        if let Ok(text) = fs::read_to_string(&path) {
            let mut lines = text.lines();
            if lines.next() == Some(header.join(",").as_str()) {
                rows = lines
                    .filter(|l| !l.is_empty())
                    .map(|l| l.split(',').map(String::from).collect::<Vec<_>>())
                    .filter(|r| r.len() == header.len())
                    .collect();
            }
        }
        // Rewrite the file so that a stale or partial one is made consistent.
        let mut body = header.join(",") + "\n";
        for r in &rows {
            body += &(r.join(",") + "\n");
        }
        fs::write(&path, body)?;
        let done = rows.iter().map(|r| r[..key_cols].join(",")).collect();
        Ok(Self {
            path,
            header,
            key_cols,
            rows,
            done,
        })
    }

    fn has(&self, key: &[String]) -> bool {
        self.done.contains(&key.join(","))
    }

    fn push(&mut self, row: Vec<String>) -> Result<()> {
        assert_eq!(row.len(), self.header.len());
        let mut f = OpenOptions::new().append(true).open(&self.path)?;
        writeln!(f, "{}", row.join(","))?;
        self.done.insert(row[..self.key_cols].join(","));
        self.rows.push(row);
        Ok(())
    }

    fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| *h == name)
            .expect("known column")
    }

    fn f(&self, row: &[String], name: &str) -> f64 {
        row[self.col(name)].parse().unwrap_or(f64::NAN)
    }
}

fn bar(len: usize, name: &str) -> ProgressBar {
    let pb = ProgressBar::new(len as u64);
    pb.set_style(
        ProgressStyle::with_template(
            "{prefix:>12} [{bar:30}] {pos}/{len} cells, {elapsed} elapsed, eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    pb.set_prefix(name.to_string());
    pb
}

fn s<T: ToString>(v: T) -> String {
    v.to_string()
}

/// Success probability of exact recovery against n, for m = k and m = 1.
fn phase(dir: &Path, opts: &Options) -> Result<()> {
    let (configs, factors, seeds): (Vec<(usize, usize, usize)>, Vec<f64>, u64) = if opts.quick {
        (
            vec![(10, 3, 3), (20, 5, 5), (10, 3, 1), (20, 5, 1)],
            vec![2.0, 3.0, 4.0, 8.0],
            3,
        )
    } else {
        (
            vec![
                (10, 3, 3),
                (20, 5, 5),
                (30, 8, 8),
                (50, 10, 10),
                (10, 3, 1),
                (20, 5, 1),
                (30, 8, 1),
            ],
            vec![1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 8.0, 12.0, 16.0],
            10,
        )
    };
    let seeds = opts.seeds.unwrap_or(seeds);
    let mut t = Table::open(
        dir,
        vec![
            "d", "k", "m", "n", "seed", "success", "v_max", "time_s", "method",
        ],
        5,
    )?;
    let cells: Vec<_> = configs
        .iter()
        .flat_map(|&c| {
            factors
                .iter()
                .flat_map(move |&f| (0..seeds).map(move |s| (c, f, s)))
        })
        .collect();
    let pb = bar(cells.len(), "phase");
    for ((d, k, m), f, seed) in cells {
        let n = (f * (d * k) as f64).round() as usize;
        let key = vec![s(d), s(k), s(m), s(n), s(seed)];
        if !t.has(&key) {
            let inst = PlantedNetwork::new(d, k, m, n).seed(seed).generate()?;
            let start = Instant::now();
            let result = Recovery::new()
                .k(Some(k))
                .noise(NoiseModel::None)
                .seed(seed)
                .recover(inst.x.as_ref(), inst.y.as_ref());
            let time = start.elapsed().as_secs_f64();
            let (ok, v_max, method) = match result {
                Ok((net, rep)) => {
                    let a = align(&net, &inst.network)?;
                    (rep.certified() && a.v_max <= 1e-8, a.v_max, rep.method())
                }
                Err(_) => (false, f64::NAN, "failed"),
            };
            let mut row = key;
            row.extend([
                s(u8::from(ok)),
                format!("{v_max:.3e}"),
                format!("{time:.4}"),
                s(method),
            ]);
            t.push(row)?;
        }
        pb.inc(1);
    }
    pb.finish_and_clear();

    // Success rate per (config, n), and the n at 50% and 95%.
    let mut rate: BTreeMap<Shape3, BTreeMap<usize, (f64, f64)>> = BTreeMap::new();
    for r in &t.rows {
        let key = (
            t.f(r, "d") as usize,
            t.f(r, "k") as usize,
            t.f(r, "m") as usize,
        );
        let e = rate
            .entry(key)
            .or_default()
            .entry(t.f(r, "n") as usize)
            .or_insert((0.0, 0.0));
        e.0 += t.f(r, "success");
        e.1 += 1.0;
    }
    let threshold = |curve: &BTreeMap<usize, (f64, f64)>, p: f64| -> Option<f64> {
        let pts: Vec<(f64, f64)> = curve
            .iter()
            .map(|(&n, &(s, c))| (n as f64, s / c))
            .collect();
        for w in pts.windows(2) {
            let ((n0, p0), (n1, p1)) = (w[0], w[1]);
            if p0 >= p {
                return Some(n0);
            }
            if p1 >= p {
                // Interpolate in log n.
                let t = (p - p0) / (p1 - p0);
                return Some((n0.ln() + t * (n1.ln() - n0.ln())).exp());
            }
        }
        pts.first().filter(|q| q.1 >= p).map(|q| q.0)
    };
    let mut summary = String::from(
        "# phase: exact recovery against the number of samples\n\nSuccess = certified exact fit with aligned errors ≤ 1e-8 (`Recovery`, noise declared none, k given).\n\n| d | k | m | n at 50% | n at 95% | n95 / (d k) |\n|---|---|---|---|---|---|\n",
    );
    let mut curves = Vec::new();
    let (mut n50_full, mut n50_single) = (Vec::new(), Vec::new());
    for (&(d, k, m), curve) in &rate {
        let (n50, n95) = (threshold(curve, 0.5), threshold(curve, 0.95));
        let fmt = |v: Option<f64>| v.map_or("not reached".into(), |v| format!("{v:.0}"));
        summary += &format!(
            "| {d} | {k} | {m} | {} | {} | {} |\n",
            fmt(n50),
            fmt(n95),
            n95.map_or("–".into(), |v| format!("{:.1}", v / (d * k) as f64))
        );
        if let Some(n50) = n50 {
            if m == 1 {
                &mut n50_single
            } else {
                &mut n50_full
            }
            .push(((d * k) as f64, n50));
        }
        curves.push(Series::data(
            format!("d={d} k={k} m={m}"),
            curve
                .iter()
                .map(|(&n, &(s, c))| (n as f64 / (d * k) as f64, s / c))
                .collect(),
        ));
    }
    for (label, pts) in [("m = k", &n50_full), ("m = 1", &n50_single)] {
        if let Some(slope) = loglog_slope(pts) {
            summary +=
                &format!("\nFitted slope of log n50 against log(d k), {label}: **{slope:.2}**.\n");
        }
    }
    line_chart(
        &dir.join("success.svg"),
        "Exact recovery: success probability",
        ("samples per parameter, n / (d k)", Scale::Log),
        ("success probability", Scale::Linear),
        &curves,
    )?;
    line_chart(
        &dir.join("n50.svg"),
        "Samples for 50% success",
        ("d k", Scale::Log),
        ("n at 50% success (samples)", Scale::Log),
        &[
            Series::data("m = k", n50_full),
            Series::data("m = 1", n50_single),
        ],
    )?;
    fs::write(dir.join("summary.md"), summary)?;
    Ok(())
}

/// Wall time against n, d and k, by phase, with the moment pass against faer's matmul.
fn runtime(dir: &Path, opts: &Options) -> Result<()> {
    type Cell = (&'static str, usize, usize, usize);
    let cells: Vec<Cell> = if opts.quick {
        let mut c: Vec<Cell> = [2000, 8000, 32000]
            .iter()
            .map(|&n| ("n", 20, 5, n))
            .collect();
        c.extend([10, 20, 40].iter().map(|&d| ("d", d, 5, 8000)));
        c.extend([2, 5, 10].iter().map(|&k| ("k", 20, k, 8000)));
        c
    } else {
        let mut c: Vec<Cell> = [10_000, 30_000, 100_000, 300_000, 1_000_000]
            .iter()
            .map(|&n| ("n", 100, 20, n))
            .collect();
        c.extend([25, 50, 100, 200].iter().map(|&d| ("d", d, 10, 40_000)));
        c.extend([5, 10, 20, 40].iter().map(|&k| ("k", 100, k, 40_000)));
        c
    };
    let seeds = opts.seeds.unwrap_or(if opts.quick { 1 } else { 3 });
    let mut t = Table::open(
        dir,
        vec![
            "scan",
            "d",
            "k",
            "m",
            "n",
            "seed",
            "reduce_s",
            "moments_s",
            "tensor_s",
            "units_s",
            "certify_s",
            "total_s",
            "gram_matmul_s",
            "certified",
        ],
        6,
    )?;
    let all: Vec<_> = cells
        .iter()
        .flat_map(|&c| (0..seeds).map(move |s| (c, s)))
        .collect();
    let pb = bar(all.len(), "runtime");
    for ((scan, d, k, n), seed) in all {
        let key = vec![s(scan), s(d), s(k), s(k), s(n), s(seed)];
        if !t.has(&key) {
            let inst = PlantedNetwork::new(d, k, k, n).seed(seed).generate()?;
            let r = ExactRecovery::new()
                .seed(seed)
                .recover(inst.x.as_ref(), inst.y.as_ref())?;
            // The same data through faer's matmul: XᵀX, the Gram matrix the moments need.
            let start = Instant::now();
            let mut g = Mat::<f64>::zeros(d, d);
            faer::linalg::matmul::matmul(
                g.as_mut(),
                faer::Accum::Replace,
                inst.x.transpose(),
                inst.x.as_ref(),
                1.0,
                faer::get_global_parallelism(),
            );
            let gram = start.elapsed().as_secs_f64();
            let p = &r.report.phase_time_s;
            let mut row = key;
            row.extend(
                [
                    p.reduce,
                    p.moments,
                    p.tensor,
                    p.units,
                    p.certify,
                    r.report.time_s,
                    gram,
                ]
                .iter()
                .map(|v| format!("{v:.5}")),
            );
            row.push(s(u8::from(r.report.certified)));
            t.push(row)?;
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let mut summary = String::from("# runtime: exact recovery, wall time by phase\n\n");
    for (scan, axis, label) in [
        ("n", "n", "samples n"),
        ("d", "d", "input dimension d"),
        ("k", "k", "hidden units k"),
    ] {
        let rows: Vec<&Vec<String>> = t.rows.iter().filter(|r| r[0] == scan).collect();
        let mut by: BTreeMap<usize, Vec<&Vec<String>>> = BTreeMap::new();
        for r in rows {
            by.entry(t.f(r, axis) as usize).or_default().push(r);
        }
        let mean = |rs: &[&Vec<String>], c: &str| {
            rs.iter().map(|r| t.f(r, c)).sum::<f64>() / rs.len() as f64
        };
        let series: Vec<Series> = [
            ("total", "total_s"),
            ("moments (reduce, centre, span, slices)", "moments_s"),
            ("tensor (Jennrich pencils)", "tensor_s"),
            ("exact step (units)", "units_s"),
            ("certificate", "certify_s"),
            ("faer matmul XᵀX", "gram_matmul_s"),
        ]
        .iter()
        .map(|(name, col)| {
            Series::data(
                *name,
                by.iter()
                    .map(|(&x, rs)| {
                        let v = if *col == "moments_s" {
                            mean(rs, "reduce_s") + mean(rs, col)
                        } else {
                            mean(rs, col)
                        };
                        (x as f64, v)
                    })
                    .collect(),
            )
        })
        .collect();
        line_chart(
            &dir.join(format!("time_vs_{scan}.svg")),
            &format!("Exact recovery time against {label}"),
            (label, Scale::Log),
            ("wall time (s)", Scale::Log),
            &series,
        )?;
        if let Some(slope) = loglog_slope(&series[0].points) {
            summary +=
                &format!("- total time against {label}: fitted log–log slope **{slope:.2}**\n");
        }
        if scan == "n" {
            summary += "\n| n | total (s) | moments (s) | faer XᵀX (s) | moments / matmul |\n|---|---|---|---|---|\n";
            for (&x, rs) in &by {
                let mom = mean(rs, "reduce_s") + mean(rs, "moments_s");
                let mm = mean(rs, "gram_matmul_s");
                summary += &format!(
                    "| {x} | {:.4} | {mom:.4} | {mm:.4} | {:.1} |\n",
                    mean(rs, "total_s"),
                    mom / mm
                );
            }
            summary += "\n";
        }
    }
    fs::write(dir.join("summary.md"), summary)?;
    Ok(())
}

/// Parameter and prediction error against n and σ, against the oracle least squares.
fn noise(dir: &Path, opts: &Options) -> Result<()> {
    let ((d, k, m), ns, sigmas, seeds): ((usize, usize, usize), Vec<usize>, Vec<f64>, u64) =
        if opts.quick {
            ((10, 3, 3), vec![2000, 8000, 32000], vec![0.01, 0.1], 2)
        } else {
            (
                (20, 5, 5),
                vec![5000, 20_000, 80_000, 320_000],
                vec![0.003, 0.01, 0.03, 0.1],
                4,
            )
        };
    let seeds = opts.seeds.unwrap_or(seeds);
    let test_n = 4000;
    let mut t = Table::open(
        dir,
        vec![
            "d",
            "k",
            "m",
            "n",
            "sigma",
            "seed",
            "param_err",
            "oracle_err",
            "ratio",
            "pred_err",
            "reference",
        ],
        6,
    )?;
    let cells: Vec<_> = ns
        .iter()
        .flat_map(|&n| {
            sigmas
                .iter()
                .flat_map(move |&sg| (0..seeds).map(move |s| (n, sg, s)))
        })
        .collect();
    let pb = bar(cells.len(), "noise");
    for (n, sigma, seed) in cells {
        let key = vec![s(d), s(k), s(m), s(n), s(sigma), s(seed)];
        if !t.has(&key) {
            // n training samples followed by test_n fresh ones from the same network.
            let inst = PlantedNetwork::new(d, k, m, n + test_n)
                .noise(sigma)
                .seed(seed)
                .generate()?;
            let (x, y) = (inst.x.subrows(0, n), inst.y.subrows(0, n));
            let (net, _) = Recovery::new().k(Some(k)).seed(seed).recover(x, y)?;
            let oracle = OracleLs::new(false).fit(x, y, &inst.network)?;
            let (ours, best) = (
                align(&net, &inst.network)?.parameter_error(),
                align(&oracle.network, &inst.network)?.parameter_error(),
            );
            let xtest = inst.x.subrows(n, test_n);
            let ytest = inst.network.predict(xtest)?;
            let pred = relative_prediction_error(&net, xtest, ytest.as_ref())?;
            let reference = sigma * ((k * d) as f64 / n as f64).sqrt();
            let mut row = key;
            row.extend(
                [ours, best, ours / best, pred, reference]
                    .iter()
                    .map(|v| format!("{v:.4e}")),
            );
            t.push(row)?;
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let mut err_series = Vec::new();
    let mut ratio_series = Vec::new();
    let mut summary = String::from(
        "# noise: parameter error against n and σ\n\nσ is the noise standard deviation relative to the label RMS. Parameter error √(‖ΔV‖_F² + (‖ΔU‖_F/‖U‖_F)²) after alignment; the oracle is least squares with the true sign patterns in the (L, D) parametrisation (k+1)·d·m coefficients; twolayer's final fit is least squares in the network's own k·(d+m) parameters, hence ratios below 1.\n\n| σ | n | error | oracle | ratio | prediction error (fresh samples) |\n|---|---|---|---|---|---|\n",
    );
    for &sigma in &sigmas {
        let mut by: BTreeMap<usize, Vec<&Vec<String>>> = BTreeMap::new();
        for r in t
            .rows
            .iter()
            .filter(|r| (t.f(r, "sigma") - sigma).abs() < 1e-15)
        {
            by.entry(t.f(r, "n") as usize).or_default().push(r);
        }
        let mean = |rs: &[&Vec<String>], c: &str| {
            rs.iter().map(|r| t.f(r, c)).sum::<f64>() / rs.len() as f64
        };
        let pts = |c: &str| {
            by.iter()
                .map(|(&n, rs)| (n as f64, mean(rs, c)))
                .collect::<Vec<_>>()
        };
        for (&n, rs) in &by {
            summary += &format!(
                "| {sigma} | {n} | {:.3e} | {:.3e} | {:.3} | {:.3e} |\n",
                mean(rs, "param_err"),
                mean(rs, "oracle_err"),
                mean(rs, "ratio"),
                mean(rs, "pred_err")
            );
        }
        err_series.push(Series::data(
            format!("twolayer, σ={sigma}"),
            pts("param_err"),
        ));
        err_series.push(Series::reference(
            format!("σ√(kd/n), σ={sigma}"),
            pts("reference"),
        ));
        ratio_series.push(Series::data(format!("σ={sigma}"), pts("ratio")));
    }
    line_chart(
        &dir.join("error_vs_n.svg"),
        "Parameter error against samples",
        ("samples n", Scale::Log),
        ("parameter error (relative)", Scale::Log),
        &err_series,
    )?;
    line_chart(
        &dir.join("ratio_to_oracle.svg"),
        "Error relative to the oracle least squares",
        ("samples n", Scale::Log),
        ("error / oracle error", Scale::Linear),
        &ratio_series,
    )?;
    fs::write(dir.join("summary.md"), summary)?;
    Ok(())
}

/// Success and error against the condition numbers of V* and U*.
fn conditioning(dir: &Path, opts: &Options) -> Result<()> {
    let ((d, k, m, n), kappas, seeds) = if opts.quick {
        ((20, 5, 5, 4000), vec![1.0, 10.0, 100.0], 2)
    } else {
        (
            (20, 5, 5, 8000),
            vec![1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0],
            5,
        )
    };
    let seeds = opts.seeds.unwrap_or(seeds);
    let mut t = Table::open(
        dir,
        vec![
            "matrix",
            "kappa",
            "d",
            "k",
            "m",
            "n",
            "seed",
            "success",
            "v_max",
            "u_max_rel",
        ],
        7,
    )?;
    let cells: Vec<_> = ["V", "U"]
        .iter()
        .flat_map(|&w| {
            kappas
                .iter()
                .flat_map(move |&kp| (0..seeds).map(move |s| (w, kp, s)))
        })
        .collect();
    let pb = bar(cells.len(), "conditioning");
    for (which, kappa, seed) in cells {
        let key = vec![s(which), s(kappa), s(d), s(k), s(m), s(n), s(seed)];
        if !t.has(&key) {
            let mut g = PlantedNetwork::new(d, k, m, n).seed(seed);
            g = if which == "V" {
                g.v_condition(Some(kappa))
            } else {
                g.u_condition(Some(kappa))
            };
            let inst = g.generate()?;
            let (ok, vm, um) = match Recovery::new()
                .k(Some(k))
                .noise(NoiseModel::None)
                .seed(seed)
                .recover(inst.x.as_ref(), inst.y.as_ref())
            {
                Ok((net, rep)) => {
                    let a = align(&net, &inst.network)?;
                    (rep.certified() && a.v_max <= 1e-8, a.v_max, a.u_max_rel)
                }
                Err(_) => (false, f64::NAN, f64::NAN),
            };
            let mut row = key;
            row.extend([s(u8::from(ok)), format!("{vm:.3e}"), format!("{um:.3e}")]);
            t.push(row)?;
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let mut summary = format!(
        "# conditioning: exact recovery at (d, k, m, n) = ({d}, {k}, {m}, {n}) against κ(V*) and κ(U*)\n\n| matrix | κ | success | worst v error |\n|---|---|---|---|\n"
    );
    let mut succ = Vec::new();
    let mut errs = Vec::new();
    for which in ["V", "U"] {
        let mut by: BTreeMap<u64, Vec<&Vec<String>>> = BTreeMap::new();
        for r in t.rows.iter().filter(|r| r[0] == which) {
            by.entry(t.f(r, "kappa").to_bits()).or_default().push(r);
        }
        let mut sp = Vec::new();
        let mut ep = Vec::new();
        for (bits, rs) in &by {
            let kappa = f64::from_bits(*bits);
            let rate = rs.iter().map(|r| t.f(r, "success")).sum::<f64>() / rs.len() as f64;
            let worst = rs.iter().map(|r| t.f(r, "v_max")).fold(0.0, f64::max);
            summary += &format!("| {which} | {kappa} | {rate:.2} | {worst:.1e} |\n");
            sp.push((kappa, rate));
            ep.push((kappa, worst.max(1e-16)));
        }
        succ.push(Series::data(format!("κ({which}*)"), sp));
        errs.push(Series::data(format!("κ({which}*)"), ep));
    }
    line_chart(
        &dir.join("success_vs_kappa.svg"),
        "Exact recovery against conditioning",
        ("condition number κ", Scale::Log),
        ("success probability", Scale::Linear),
        &succ,
    )?;
    line_chart(
        &dir.join("error_vs_kappa.svg"),
        "Worst aligned error against conditioning",
        ("condition number κ", Scale::Log),
        ("max row error of V", Scale::Log),
        &errs,
    )?;
    fs::write(dir.join("summary.md"), summary)?;
    Ok(())
}

/// twolayer against minibatch Adam (PyTorch defaults) on the same instances.
fn versus(dir: &Path, opts: &Options) -> Result<()> {
    let (configs, budget, seeds): (Vec<Shape4>, u64, u64) = if opts.quick {
        (vec![(20, 5, 5, 20_000)], 8, 1)
    } else {
        (vec![(20, 5, 5, 20_000), (50, 10, 10, 100_000)], 60, 2)
    };
    let seeds = opts.seeds.unwrap_or(seeds);
    let target = 1e-6;
    let mut t = Table::open(
        dir,
        vec![
            "d",
            "k",
            "m",
            "n",
            "seed",
            "ours_s",
            "ours_err",
            "adam_budget_s",
            "adam_time_to_1e-6_s",
            "adam_final_err",
            "adam_steps",
            "speedup",
        ],
        5,
    )?;
    let cells: Vec<_> = configs
        .iter()
        .flat_map(|&c| (0..seeds).map(move |s| (c, s)))
        .collect();
    let pb = bar(cells.len(), "versus");
    for ((d, k, m, n), seed) in cells {
        let key = vec![s(d), s(k), s(m), s(n), s(seed)];
        if !t.has(&key) {
            let inst = PlantedNetwork::new(d, k, m, n).seed(seed).generate()?;
            let start = Instant::now();
            let (net, _) = Recovery::new()
                .seed(seed)
                .recover(inst.x.as_ref(), inst.y.as_ref())?;
            let ours = start.elapsed().as_secs_f64();
            let ours_err = align(&net, &inst.network)?.parameter_error();
            let adam = Adam {
                time_budget: Duration::from_secs(budget),
                seed,
                ..Adam::default()
            }
            .fit(
                inst.x.as_ref(),
                inst.y.as_ref(),
                k,
                Activation::Relu,
                Some(&inst.network),
                target,
            )?;
            let last = *adam.log.last().expect("Adam logs its end");
            let adam_time = adam.time_to_target.unwrap_or(last.time_s);
            // Adam's error over time, kept beside the table for the plot.
            let mut log = String::from("time_s,steps,param_err\n");
            for p in &adam.log {
                log += &format!(
                    "{},{},{:.4e}\n",
                    p.time_s,
                    p.steps,
                    p.param_err.unwrap_or(f64::NAN)
                );
            }
            fs::write(
                dir.join(format!("adam_log_{d}_{k}_{m}_{n}_{seed}.csv")),
                log,
            )?;
            {
                let mut row = key;
                row.extend([
                    format!("{ours:.4}"),
                    format!("{ours_err:.3e}"),
                    s(budget),
                    adam.time_to_target
                        .map_or("not_reached".into(), |v| format!("{v:.3}")),
                    format!("{:.3e}", last.param_err.unwrap_or(f64::NAN)),
                    s(last.steps),
                    format!("{:.1}", adam_time / ours),
                ]);
                t.push(row)?;
            }
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let mut summary = String::from(
        "# versus: twolayer against minibatch Adam (lr 1e-3, batch 256, PyTorch defaults)\n\nTarget: aligned parameter error ≤ 1e-6, noiseless labels. Speed-up = Adam's time to the target over twolayer's time; when Adam never reaches it within its budget, its whole budget is used and the speed-up is a lower bound (marked ≥).\n\n| (d, k, m, n) | seed | twolayer time (s) | twolayer error | Adam time to 1e-6 | Adam final error | speed-up |\n|---|---|---|---|---|---|---|\n",
    );
    for r in &t.rows {
        summary += &format!(
            "| ({}, {}, {}, {}) | {} | {} | {} | {} | {} | **{}{}×** |\n",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            if r[8] == "not_reached" {
                format!("not reached in {} s", r[7])
            } else {
                format!("{} s", r[8])
            },
            r[9],
            if r[8] == "not_reached" { "≥ " } else { "" },
            r[11]
        );
    }
    let mut curves = Vec::new();
    for r in &t.rows {
        let name = format!("adam_log_{}_{}_{}_{}_{}.csv", r[0], r[1], r[2], r[3], r[4]);
        if let Ok(text) = fs::read_to_string(dir.join(&name)) {
            let pts = text
                .lines()
                .skip(1)
                .filter_map(|l| {
                    let f: Vec<f64> = l
                        .split(',')
                        .map(|v| v.parse().unwrap_or(f64::NAN))
                        .collect();
                    (f.len() == 3).then(|| (f[0].max(1e-4), f[2]))
                })
                .collect();
            curves.push(Series::data(
                format!("Adam, ({}, {}, {}, {})", r[0], r[1], r[2], r[3]),
                pts,
            ));
        }
        let (ours, err) = (t.f(r, "ours_s"), t.f(r, "ours_err"));
        curves.push(Series::data(
            format!("twolayer, ({}, {}, {}, {})", r[0], r[1], r[2], r[3]),
            vec![(ours.max(1e-4), err.max(1e-16))],
        ));
    }
    line_chart_with_legend(
        &dir.join("error_vs_time.svg"),
        "Parameter error against wall time",
        ("wall time (s)", Scale::Log),
        ("parameter error (relative)", Scale::Log),
        &curves,
        plotters::prelude::SeriesLabelPosition::LowerLeft,
    )?;
    fs::write(dir.join("summary.md"), summary)?;
    Ok(())
}
