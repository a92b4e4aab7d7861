//! Drives the `twolayer` binary on files it writes: the happy paths and every bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use npyz::{Order, WriterBuilder};

fn twolayer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_twolayer"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Runs a command that must fail: exit code 2, one `error:` line, no panic, and no output
/// folder left behind.
fn fails(args: &[&str], out: &Path, expect: &str) {
    let o = twolayer(args);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(expect), "expected {expect:?} in {stderr}");
    assert!(
        !out.exists(),
        "{} was created by a failing run",
        out.display()
    );
}

/// Writes values (given in row-major order) as an npy array of the given shape and order.
fn write_npy<T: npyz::AutoSerialize + Copy>(
    path: &Path,
    shape: &[u64],
    rowmajor: &[T],
    order: Order,
) {
    let mut f = std::fs::File::create(path).unwrap();
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .order(order)
        .writer(&mut f)
        .begin_nd()
        .unwrap();
    match (order, shape) {
        (Order::Fortran, [r, c]) => {
            let (r, c) = (*r as usize, *c as usize);
            for j in 0..c {
                for i in 0..r {
                    w.push(&rowmajor[i * c + j]).unwrap();
                }
            }
        }
        _ => {
            for v in rowmajor {
                w.push(v).unwrap();
            }
        }
    }
    w.finish().unwrap();
}

fn read_f64(path: &Path) -> (Vec<u64>, Vec<f64>) {
    let bytes = std::fs::read(path).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = npy.shape().to_vec();
    (shape, npy.into_vec::<f64>().unwrap())
}

struct Planted {
    dir: tempfile::TempDir,
}

impl Planted {
    fn new(args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("data");
        let mut all = vec!["generate"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--out", p(&out)]);
        let o = twolayer(&all);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        Self { dir }
    }
    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join("data").join(name)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    /// `twolayer eval` of the network in `u` and `v` on this instance's samples, against its
    /// true weights when `truth` is set, printing JSON when `json` is.
    fn eval(&self, u: &Path, v: &Path, truth: bool, json: bool) -> std::process::Output {
        let (x, y) = (self.file("X.npy"), self.file("Y.npy"));
        let (ut, vt) = (self.file("U_true.npy"), self.file("V_true.npy"));
        let mut args = vec!["eval", "--x", p(&x), "--y", p(&y), "--u", p(u), "--v", p(v)];
        if truth {
            args.extend_from_slice(&["--u-true", p(&ut), "--v-true", p(&vt)]);
        }
        if json {
            args.push("--json");
        }
        let o = twolayer(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o
    }
}

#[test]
fn demo_certifies_quickly() {
    let o = twolayer(&["demo"]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("certified        yes"), "{stdout}");
}

#[test]
fn generate_recover_eval_round_trip() {
    let t = Planted::new(&[
        "--d", "12", "--k", "4", "--m", "6", "--n", "2000", "--seed", "3",
    ]);
    let out = t.path("fit");
    let o = twolayer(&[
        "recover",
        "--x",
        p(&t.file("X.npy")),
        "--y",
        p(&t.file("Y.npy")),
        "--out",
        p(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    for key in [
        "method",
        "certified",
        "residual_rel",
        "k",
        "n",
        "d",
        "m",
        "time_s",
    ] {
        assert!(report.get(key).is_some(), "report.json lacks {key}");
    }
    assert_eq!(report["certified"], true);
    assert_eq!(report["k"], 4);
    assert!(report["residual_rel"].as_f64().unwrap() < 1e-10);
    assert_eq!(read_f64(&out.join("U.npy")).0, vec![6, 4]);
    assert_eq!(read_f64(&out.join("V.npy")).0, vec![4, 12]);
    assert!(
        !std::fs::read_dir(&out)
            .unwrap()
            .any(|e| { e.unwrap().file_name().to_string_lossy().contains(".tmp") })
    );

    let o = t.eval(&out.join("U.npy"), &out.join("V.npy"), true, false);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let value = |key: &str| -> f64 {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("no {key} in {stdout}"));
        line.split_whitespace().last().unwrap().parse().unwrap()
    };
    for key in [
        "prediction_error_rel",
        "v_max_err",
        "u_max_rel_err",
        "param_err",
        "oracle_param_err",
    ] {
        assert!(value(key) < 1e-9, "{key}: {stdout}");
    }
}

/// `eval` says whether a network left structure in its residual, without the truth: the
/// true weights on noisy labels leave none, the same network without one unit leaves it.
#[test]
fn eval_measures_the_structure_left_in_the_residual() {
    let t = Planted::new(&[
        "--d", "20", "--k", "5", "--m", "5", "--n", "20000", "--seed", "6", "--noise", "0.05",
    ]);
    let structure = |u: &Path, v: &Path| -> (f64, f64) {
        let o = t.eval(u, v, false, true);
        let m: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        (
            m["residual_structure"].as_f64().unwrap(),
            m["residual_structure_limit"].as_f64().unwrap(),
        )
    };
    let (u_true, v_true) = (t.file("U_true.npy"), t.file("V_true.npy"));
    let (clean, limit) = structure(&u_true, &v_true);
    assert!(clean <= limit && clean > 0.8, "{clean} (limit {limit})");

    // Drop the last unit: the last column of U, the last row of V.
    let (us, uv) = read_f64(&u_true);
    let (vs, vv) = read_f64(&v_true);
    let (m, k, d) = (us[0] as usize, us[1] as usize, vs[1] as usize);
    let u4: Vec<f64> = (0..m)
        .flat_map(|o| uv[o * k..o * k + k - 1].to_vec())
        .collect();
    let v4 = vv[..(k - 1) * d].to_vec();
    let (u_path, v_path) = (t.path("U4.npy"), t.path("V4.npy"));
    write_npy(&u_path, &[m as u64, k as u64 - 1], &u4, Order::C);
    write_npy(&v_path, &[k as u64 - 1, d as u64], &v4, Order::C);
    let (dirty, limit) = structure(&u_path, &v_path);
    assert!(dirty > 10.0 * limit, "{dirty} (limit {limit})");
}

/// At (k+1)d = 10200 unknowns the oracle's normal equations would cost 2.1·10¹² flops on
/// 20 000 samples: `eval` says it skipped them instead of running for minutes (or, before
/// the partial sums were bounded, running out of memory), and still compares the weights.
#[test]
fn eval_skips_an_oracle_too_large_to_fit() {
    let t = Planted::new(&[
        "--d", "200", "--k", "50", "--m", "1", "--n", "20500", "--seed", "3",
    ]);
    let o = t.eval(&t.file("U_true.npy"), &t.file("V_true.npy"), true, true);
    let m: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let why = m["oracle_skipped"].as_str().expect("a reason");
    assert!(why.contains("10200 unknowns"), "{why}");
    assert!(m.get("oracle_param_err").is_none() && m.get("ratio_to_oracle").is_none());
    assert!(m["param_err"].as_f64().unwrap() < 1e-12, "{m}");
}

#[test]
fn reads_f32_fortran_and_one_dimensional_labels() {
    // k = m = 1: y = u relu(v·x), given as a 1-D (n,) array; X as float32 in Fortran order.
    let t = Planted::new(&[
        "--d", "6", "--k", "1", "--m", "1", "--n", "800", "--seed", "9",
    ]);
    let (xs, xv) = read_f64(&t.file("X.npy"));
    let (_, yv) = read_f64(&t.file("Y.npy"));
    let x32: Vec<f32> = xv.iter().map(|&v| v as f32).collect();
    // Labels recomputed from the rounded inputs, so the data stay exactly noiseless.
    let (_, u) = read_f64(&t.file("U_true.npy"));
    let (_, v) = read_f64(&t.file("V_true.npy"));
    let n = xs[0] as usize;
    let y1: Vec<f64> = (0..n)
        .map(|i| {
            u[0] * (0..6)
                .map(|j| v[j] * x32[i * 6 + j] as f64)
                .sum::<f64>()
                .max(0.0)
        })
        .collect();
    assert_eq!(yv.len(), n);
    let (xf, yf) = (t.path("x32f.npy"), t.path("y1d.npy"));
    write_npy(&xf, &xs, &x32, Order::Fortran);
    write_npy(&yf, &[n as u64], &y1, Order::C);
    let out = t.path("fit");
    let o = twolayer(&["recover", "--x", p(&xf), "--y", p(&yf), "--out", p(&out)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (vshape, vhat) = read_f64(&out.join("V.npy"));
    assert_eq!(vshape, vec![1, 6]);
    let err: f64 = (0..6).map(|j| (vhat[j] - v[j]).powi(2)).sum::<f64>().sqrt();
    assert!(err < 1e-9, "{err}");
}

#[test]
fn bad_inputs_fail_cleanly() {
    let t = Planted::new(&[
        "--d", "10", "--k", "3", "--m", "3", "--n", "600", "--seed", "1",
    ]);
    let (x, y) = (t.file("X.npy"), t.file("Y.npy"));
    let out = t.path("never");
    let recover = |xp: &Path, yp: &Path, extra: &[&str], expect: &str| {
        let mut args = vec!["recover", "--x", p(xp), "--y", p(yp), "--out", p(&out)];
        args.extend_from_slice(extra);
        fails(&args, &out, expect);
    };
    recover(&t.path("missing.npy"), &y, &[], "cannot open");
    recover(t.dir.path(), &y, &[], "not a regular file");

    let text = t.path("text.npy");
    std::fs::write(&text, "a,b\n1,2\n").unwrap();
    recover(&text, &y, &[], "not a readable .npy file");

    let ints = t.path("ints.npy");
    write_npy(&ints, &[600, 10], &vec![1i64; 6000], Order::C);
    recover(&ints, &y, &[], "float32 or float64");

    let (xs, mut xv) = read_f64(&x);
    xv[5 * 10 + 2] = f64::NAN;
    let nan = t.path("nan.npy");
    write_npy(&nan, &xs, &xv, Order::C);
    recover(&nan, &y, &[], "row 5, column 2");

    let (_, xv) = read_f64(&x);
    let short = t.path("short.npy");
    write_npy(&short, &[599, 10], &xv[..5990], Order::C);
    recover(&short, &y, &[], "has 599 samples (rows) but");

    let truncated = t.path("truncated.npy");
    let bytes = std::fs::read(&x).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    recover(&truncated, &y, &[], "truncated");

    let cube = t.path("cube.npy");
    write_npy(&cube, &[2, 3, 100], &xv[..600], Order::C);
    recover(&cube, &y, &[], "1-D (n,) or 2-D");

    recover(
        &x,
        &y,
        &["--k", "11"],
        "k = 11 hidden units but the inputs have d = 10",
    );
    recover(&x, &y, &["--k", "0"], "k = 0");

    let few = Planted::new(&[
        "--d", "10", "--k", "3", "--m", "3", "--n", "60", "--seed", "1",
    ]);
    recover(
        &few.file("X.npy"),
        &few.file("Y.npy"),
        &[],
        "pass more samples",
    );

    let blocker = t.path("a_file");
    std::fs::write(&blocker, "x").unwrap();
    let o = twolayer(&["recover", "--x", p(&x), "--y", p(&y), "--out", p(&blocker)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a folder"));

    fails(
        &[
            "generate",
            "--d",
            "0",
            "--k",
            "1",
            "--m",
            "1",
            "--n",
            "5",
            "--out",
            p(&out),
        ],
        &out,
        "d must be at least 1",
    );
    fails(&["recover", "--x", p(&x), "--out", p(&out)], &out, "--y");
}

fn report(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap()
}

#[test]
fn single_output_noisy_labels_and_declared_noise() {
    // m = 1 < k = 3: the exact method cannot apply; the sign-pattern path certifies.
    let t = Planted::new(&[
        "--d", "8", "--k", "3", "--m", "1", "--n", "1500", "--seed", "4",
    ]);
    let (x, y) = (t.file("X.npy"), t.file("Y.npy"));
    let out = t.path("m1");
    let o = twolayer(&[
        "recover",
        "--x",
        p(&x),
        "--y",
        p(&y),
        "--k",
        "3",
        "--out",
        p(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = report(&out);
    assert_eq!(r["method"], "sign-pattern");
    assert_eq!(r["certified"], true);
    assert!(r["restarts_used"].as_u64().is_some());
    assert_eq!(r["stopped"], "exact");

    // Noisy labels: auto falls back to least squares and does not claim exactness.
    let noisy = Planted::new(&[
        "--d",
        "8",
        "--k",
        "3",
        "--m",
        "4",
        "--n",
        "4000",
        "--seed",
        "5",
        "--noise",
        "0.05",
        "--noise-kind",
        "laplace",
        "--noise-mean",
        "-0.2",
    ]);
    let (x, y) = (noisy.file("X.npy"), noisy.file("Y.npy"));
    let out = noisy.path("fit");
    let o = twolayer(&[
        "recover",
        "--x",
        p(&x),
        "--y",
        p(&y),
        "--k",
        "3",
        "--noise",
        "huber",
        "--intercept",
        "--restarts",
        "4",
        "--out",
        p(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = report(&out);
    assert_eq!(r["method"], "sign-pattern");
    assert_eq!(r["certified"], false);
    assert_eq!(r["loss"], "huber");
    assert_eq!(r["intercept"].as_array().unwrap().len(), 4);
    let res = r["residual_rel"].as_f64().unwrap();
    assert!(res > 0.01 && res < 0.2, "{res}");
    // Laplace noise with an offset, fitted with an intercept: the residual check still
    // reads it as noise, and the search stops on it.
    assert_eq!(r["stopped"], "no-structure-left", "{r}");
    let s = &r["residual_structure"];
    assert!(
        s["statistic"].as_f64().unwrap() <= s["limit"].as_f64().unwrap(),
        "{s}"
    );

    // Declaring noiseless labels that are not: a clear error, no output.
    let never = noisy.path("never");
    fails(
        &[
            "recover",
            "--x",
            p(&x),
            "--y",
            p(&y),
            "--k",
            "3",
            "--noise",
            "none",
            "--out",
            p(&never),
        ],
        &never,
        "declared noiseless",
    );
}

#[test]
fn hardness_partition_certificate_fits_and_decodes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gadget");
    let o = twolayer(&[
        "hardness",
        "partition",
        "--values",
        "3,1,1,2,2,1",
        "--out",
        p(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The certificate fits the gadget exactly, as `eval` sees it.
    let o = twolayer(&[
        "eval",
        "--x",
        p(&out.join("X.npy")),
        "--y",
        p(&out.join("Y.npy")),
        "--u",
        p(&out.join("U.npy")),
        "--v",
        p(&out.join("V.npy")),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    let lines: Vec<Vec<&str>> = stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines,
        [
            ["prediction_error_rel", "0.000e0"],
            ["residual_structure", "0.000"],
            ["residual_structure_limit", "1.000"]
        ],
        "{stdout}"
    );
    // And it decodes to a valid partition.
    let o = twolayer(&[
        "hardness",
        "decode",
        "--u",
        p(&out.join("U.npy")),
        "--v",
        p(&out.join("V.npy")),
        "--values",
        "3,1,1,2,2,1",
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("both sum to 5"), "{stdout}");

    // A no-instance: gadget only, no certificate.
    let no = dir.path().join("no");
    let o = twolayer(&[
        "hardness",
        "partition",
        "--values",
        "2,4,8",
        "--out",
        p(&no),
    ]);
    assert!(o.status.success());
    assert!(no.join("X.npy").exists() && !no.join("U.npy").exists());
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(no.join("partition.json")).unwrap()).unwrap();
    assert_eq!(meta["yes_instance"], false);

    // Decoding against other values fails with a reason; bad values are refused.
    let never = dir.path().join("never");
    fails(
        &[
            "hardness",
            "decode",
            "--u",
            p(&out.join("U.npy")),
            "--v",
            p(&out.join("V.npy")),
            "--values",
            "3,1,1,2,2,2",
        ],
        &never,
        "does not fit the gadget",
    );
    fails(
        &[
            "hardness",
            "partition",
            "--values",
            "3,x",
            "--out",
            p(&never),
        ],
        &never,
        "positive integers",
    );
    fails(
        &[
            "hardness",
            "partition",
            "--values",
            "3,0",
            "--out",
            p(&never),
        ],
        &never,
        "positive integer",
    );
}

#[test]
fn generate_exposes_every_generator() {
    let t = Planted::new(&[
        "--d",
        "6",
        "--k",
        "3",
        "--m",
        "2",
        "--n",
        "50",
        "--input",
        "aniso:20",
        "--near-parallel",
        "10",
        "--u-condition",
        "5",
        "--small-output",
        "0.01",
        "--v-row-norms",
        "0.5,2",
    ]);
    assert_eq!(read_f64(&t.file("X.npy")).0, vec![50, 6]);
    let (_, v) = read_f64(&t.file("V_true.npy"));
    let norm = |i: usize| (0..6).map(|a| v[i * 6 + a].powi(2)).sum::<f64>().sqrt();
    let cos = (0..6).map(|a| v[a] * v[6 + a]).sum::<f64>() / (norm(0) * norm(1));
    assert!((cos - 10f64.to_radians().cos()).abs() < 1e-9, "{cos}");
    for input in ["sphere", "rademacher", "student3"] {
        let _ = Planted::new(&[
            "--d", "3", "--k", "2", "--m", "1", "--n", "10", "--input", input,
        ]);
    }
    let out = t.path("never");
    fails(
        &[
            "generate",
            "--d",
            "3",
            "--k",
            "2",
            "--m",
            "1",
            "--n",
            "5",
            "--input",
            "aniso:x",
            "--out",
            p(&out),
        ],
        &out,
        "aniso:KAPPA",
    );
    fails(
        &[
            "generate",
            "--d",
            "3",
            "--k",
            "2",
            "--m",
            "1",
            "--n",
            "5",
            "--v-row-norms",
            "1",
            "--out",
            p(&out),
        ],
        &out,
        "LO,HI",
    );
}

#[test]
fn activations_and_input_warnings_from_the_command_line() {
    let t = Planted::new(&[
        "--d",
        "12",
        "--k",
        "4",
        "--m",
        "4",
        "--n",
        "2000",
        "--activation",
        "relu2",
    ]);
    let (x, y) = (t.file("X.npy"), t.file("Y.npy"));
    let out = t.path("fit");
    let o = twolayer(&[
        "recover",
        "--x",
        p(&x),
        "--y",
        p(&y),
        "--activation",
        "relu2",
        "--out",
        p(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = report(&out);
    assert_eq!(
        (r["certified"].as_bool(), r["activation"].as_str()),
        (Some(true), Some("relu2"))
    );
    let o = twolayer(&[
        "eval",
        "--x",
        p(&x),
        "--y",
        p(&y),
        "--u",
        p(&out.join("U.npy")),
        "--v",
        p(&out.join("V.npy")),
        "--u-true",
        p(&t.file("U_true.npy")),
        "--v-true",
        p(&t.file("V_true.npy")),
        "--activation",
        "relu2",
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let param: f64 = stdout
        .lines()
        .find(|l| l.starts_with("param_err"))
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .parse()
        .unwrap();
    assert!(param < 1e-9, "{stdout}");
    let never = t.path("never");
    fails(
        &[
            "recover",
            "--x",
            p(&x),
            "--y",
            p(&y),
            "--activation",
            "tanh",
            "--out",
            p(&never),
        ],
        &never,
        "unknown activation",
    );

    let heavy = Planted::new(&[
        "--d", "8", "--k", "3", "--m", "3", "--n", "3000", "--input", "student3",
    ]);
    let out = heavy.path("fit");
    let o = twolayer(&[
        "recover",
        "--x",
        p(&heavy.file("X.npy")),
        "--y",
        p(&heavy.file("Y.npy")),
        "--out",
        p(&out),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: inputs do not look Gaussian"),
        "{stderr}"
    );
    assert!(
        !report(&out)["inputs"]["warnings"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn tensor_generate_and_decompose() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("t");
    let o = twolayer(&[
        "tensor",
        "generate",
        "--d",
        "12",
        "--rank",
        "4",
        "--order",
        "3",
        "--seed",
        "2",
        "--out",
        p(&data),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(read_f64(&data.join("T.npy")).0, vec![12, 12, 12]);
    let out = dir.path().join("fit");
    let o = twolayer(&[
        "tensor",
        "decompose",
        "--t",
        p(&data.join("T.npy")),
        "--rank",
        "4",
        "--out",
        p(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = report(&out);
    assert!(r["residual_rel"].as_f64().unwrap() < 1e-10, "{r}");
    assert_eq!(read_f64(&out.join("factors.npy")).0, vec![4, 12]);
    // The recovered weights are the planted ones up to order (magnitudes, both signs).
    let mut w: Vec<f64> = read_f64(&out.join("weights.npy"))
        .1
        .iter()
        .map(|v| v.abs())
        .collect();
    let mut t: Vec<f64> = read_f64(&data.join("weights_true.npy"))
        .1
        .iter()
        .map(|v| v.abs())
        .collect();
    w.sort_by(f64::total_cmp);
    t.sort_by(f64::total_cmp);
    assert!(
        w.iter().zip(&t).all(|(a, b)| (a - b).abs() < 1e-9),
        "{w:?} vs {t:?}"
    );

    let never = dir.path().join("never");
    fails(
        &[
            "tensor",
            "decompose",
            "--t",
            p(&data.join("factors_true.npy")),
            "--rank",
            "2",
            "--out",
            p(&never),
        ],
        &never,
        "(d, d, d)",
    );
    fails(
        &[
            "tensor",
            "decompose",
            "--t",
            p(&data.join("T.npy")),
            "--rank",
            "13",
            "--out",
            p(&never),
        ],
        &never,
        "rank 13",
    );
    // A 0-d array (a scalar) has no first dimension to read d from.
    let scalar = dir.path().join("scalar.npy");
    write_npy(&scalar, &[], &[3.0f64], Order::C);
    fails(
        &[
            "tensor",
            "decompose",
            "--t",
            p(&scalar),
            "--rank",
            "1",
            "--out",
            p(&never),
        ],
        &never,
        "(d, d, d)",
    );
}

/// Data larger than the memory budget are streamed: the answer is certified and the process
/// never holds the data (its peak resident memory stays below the size of X alone).
#[test]
fn data_larger_than_the_memory_budget_are_streamed() {
    let data = Planted::new(&[
        "--d", "20", "--k", "5", "--m", "5", "--n", "250000", "--seed", "4",
    ]);
    let x_bytes = std::fs::metadata(data.file("X.npy")).unwrap().len();
    assert!(x_bytes > 24 << 20);
    let out = data.path("streamed");
    let o = twolayer(&[
        "recover",
        "--x",
        p(&data.file("X.npy")),
        "--y",
        p(&data.file("Y.npy")),
        "--memory-budget",
        "24M",
        "--out",
        p(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["streamed"], true, "{report}");
    assert_eq!(report["certified"], true, "{report}");
    let peak = report["peak_memory_bytes"].as_u64().unwrap();
    assert!(peak < x_bytes, "peak {peak} bytes, X is {x_bytes} bytes");
    let e = twolayer(&[
        "eval",
        "--x",
        p(&data.file("X.npy")),
        "--y",
        p(&data.file("Y.npy")),
        "--u",
        p(&out.join("U.npy")),
        "--v",
        p(&out.join("V.npy")),
        "--u-true",
        p(&data.file("U_true.npy")),
        "--v-true",
        p(&data.file("V_true.npy")),
    ]);
    let text = String::from_utf8_lossy(&e.stdout);
    let value = |key: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(key)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    assert!(value("v_max_err") < 1e-9, "{text}");
    assert!(value("prediction_error_rel") < 1e-9, "{text}");
}

/// Moments of two shards merge into the moments of the whole; malformed parts are refused.
#[test]
fn moments_of_shards_merge_to_the_whole() {
    let a = Planted::new(&[
        "--d", "6", "--k", "3", "--m", "2", "--n", "5000", "--seed", "1",
    ]);
    let b = Planted::new(&[
        "--d", "6", "--k", "3", "--m", "2", "--n", "3000", "--seed", "2",
    ]);
    let part = |data: &Planted, name: &str| {
        let out = a.path(name);
        let o = twolayer(&[
            "moments",
            "--x",
            p(&data.file("X.npy")),
            "--y",
            p(&data.file("Y.npy")),
            "--out",
            p(&out),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        out
    };
    let (pa, pb) = (part(&a, "a.json"), part(&b, "b.json"));
    let all = a.path("all.json");
    let o = twolayer(&["moments", "merge", p(&pa), p(&pb), "--out", p(&all)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let read = |path: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let (ja, jb, jall) = (read(&pa), read(&pb), read(&all));
    assert_eq!(jall["n"], 8000);
    let sums = |j: &serde_json::Value| -> Vec<f64> {
        j["gram_lower"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    for ((x, y), z) in sums(&ja).iter().zip(sums(&jb)).zip(sums(&jall)) {
        assert_eq!((x + y).to_bits(), z.to_bits());
    }
    // A part of another shape, and a file that is not a moments file.
    let c = Planted::new(&["--d", "5", "--k", "2", "--m", "2", "--n", "2000"]);
    let pc = part(&c, "c.json");
    let bad = a.path("bad.json");
    fails(
        &["moments", "merge", p(&pa), p(&pc), "--out", p(&bad)],
        &bad,
        "merge only shards of the same data set",
    );
    fails(
        &["moments", "merge", p(&c.file("X.npy")), "--out", p(&bad)],
        &bad,
        "is not a moments file",
    );
}

/// model.safetensors holds V and U under PyTorch's nn.Sequential keys, in float32 by default
/// and float64 on request, with the certificate in its metadata.
#[test]
fn safetensors_output_holds_the_weights_under_pytorch_keys() {
    use safetensors::SafeTensors;
    use safetensors::tensor::Dtype;
    let t = Planted::new(&[
        "--d", "8", "--k", "3", "--m", "5", "--n", "2000", "--seed", "6",
    ]);
    for (flag, dtype, width) in [("f32", Dtype::F32, 4usize), ("f64", Dtype::F64, 8)] {
        let out = t.path(&format!("fit-{flag}"));
        let o = twolayer(&[
            "recover",
            "--x",
            p(&t.file("X.npy")),
            "--y",
            p(&t.file("Y.npy")),
            "--dtype",
            flag,
            "--out",
            p(&out),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let bytes = std::fs::read(out.join("model.safetensors")).unwrap();
        let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
        let info = meta.metadata().as_ref().expect("metadata");
        assert_eq!(info["certified"], "true");
        assert_eq!(info["activation"], "relu");
        let st = SafeTensors::deserialize(&bytes).unwrap();
        for (key, file, shape) in [
            ("0.weight", "V.npy", vec![3usize, 8]),
            ("2.weight", "U.npy", vec![5, 3]),
        ] {
            let tensor = st.tensor(key).unwrap();
            assert_eq!(tensor.dtype(), dtype);
            assert_eq!(tensor.shape(), &shape[..]);
            let (_, want) = read_f64(&out.join(file));
            let got: Vec<f64> = tensor
                .data()
                .chunks_exact(width)
                .map(|c| match width {
                    4 => f64::from(f32::from_le_bytes(c.try_into().unwrap())),
                    _ => f64::from_le_bytes(c.try_into().unwrap()),
                })
                .collect();
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                let tol = if width == 4 {
                    1e-6 * w.abs().max(1e-30)
                } else {
                    0.0
                };
                assert!((g - w).abs() <= tol, "{key}: {g} vs {w}");
            }
        }
    }
}

/// Inputs that claim more than they hold, hold nothing, or describe degenerate data: one
/// line, exit code 2, nothing written.
#[test]
fn malformed_and_degenerate_inputs_fail_cleanly() {
    let t = Planted::new(&[
        "--d", "6", "--k", "2", "--m", "2", "--n", "800", "--seed", "1",
    ]);
    let (x, y) = (t.file("X.npy"), t.file("Y.npy"));
    let out = t.path("never");
    let recover = |xp: &Path, yp: &Path, expect: &str| {
        fails(
            &["recover", "--x", p(xp), "--y", p(yp), "--out", p(&out)],
            &out,
            expect,
        );
    };
    // A valid header that claims 10^12 rows over a few bytes: refused before any allocation.
    let huge = t.path("huge.npy");
    let mut bytes = Vec::new();
    let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000, 6), }";
    let pad = 64 - (10 + dict.len() + 1) % 64;
    bytes.extend_from_slice(b"\x93NUMPY\x01\x00");
    bytes.extend_from_slice(&((dict.len() + pad + 1) as u16).to_le_bytes());
    bytes.extend_from_slice(dict.as_bytes());
    bytes.extend(std::iter::repeat_n(b' ', pad));
    bytes.push(b'\n');
    bytes.extend_from_slice(&[0u8; 48]);
    std::fs::write(&huge, &bytes).unwrap();
    recover(&huge, &y, "claims shape [1000000000000, 6]");
    // With --stream too (the streaming path opens files the same way).
    fails(
        &[
            "recover",
            "--x",
            p(&huge),
            "--y",
            p(&y),
            "--stream",
            "--out",
            p(&out),
        ],
        &out,
        "truncated or its header is corrupt",
    );
    // A header whose dictionary is garbage, and an empty file.
    let corrupt = t.path("corrupt.npy");
    let mut c = std::fs::read(&x).unwrap();
    for b in &mut c[12..40] {
        *b = b'#';
    }
    std::fs::write(&corrupt, &c).unwrap();
    recover(&corrupt, &y, "not a readable .npy file");
    let empty = t.path("empty.npy");
    std::fs::write(&empty, b"").unwrap();
    recover(&empty, &y, "not a readable .npy file");
    // A constant input column, and every sample the same: singular covariance.
    let (xs, xv) = read_f64(&x);
    let mut constant = xv.clone();
    for j in 0..800 {
        constant[j * 6 + 4] = 0.5;
    }
    let cpath = t.path("constant.npy");
    write_npy(&cpath, &xs, &constant, Order::C);
    recover(&cpath, &y, "covariance is singular");
    let same: Vec<f64> = (0..800 * 6).map(|i| xv[i % 6]).collect();
    let spath = t.path("same.npy");
    write_npy(&spath, &xs, &same, Order::C);
    recover(&spath, &y, "covariance is singular");
    // Labels without rank (all zero): no hidden unit to recover.
    let zeros = t.path("zeros.npy");
    write_npy(&zeros, &[800, 2], &vec![0.0f64; 1600], Order::C);
    recover(&x, &zeros, "rank");
    // An output folder that cannot be created.
    let blocker = t.path("plain_file");
    std::fs::write(&blocker, "x").unwrap();
    let nested = blocker.join("sub");
    fails(
        &["recover", "--x", p(&x), "--y", p(&y), "--out", p(&nested)],
        &nested,
        "cannot create the output folder",
    );
}

/// --json prints the report (recover) or the metrics (eval) as JSON on stdout; --quiet prints
/// nothing on success.
#[test]
fn json_and_quiet_output() {
    let t = Planted::new(&[
        "--d", "8", "--k", "3", "--m", "3", "--n", "1500", "--seed", "2",
    ]);
    let (x, y) = (t.file("X.npy"), t.file("Y.npy"));
    let out = t.path("fit");
    let o = twolayer(&[
        "recover",
        "--x",
        p(&x),
        "--y",
        p(&y),
        "--out",
        p(&out),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    assert_eq!(report["certified"], true);
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report, written);

    let o = twolayer(&[
        "--quiet",
        "recover",
        "--x",
        p(&x),
        "--y",
        p(&y),
        "--out",
        p(&out),
    ]);
    assert!(o.status.success());
    assert!(o.stdout.is_empty() && o.stderr.is_empty(), "{o:?}");

    let o = twolayer(&[
        "eval",
        "--json",
        "--x",
        p(&x),
        "--y",
        p(&y),
        "--u",
        p(&out.join("U.npy")),
        "--v",
        p(&out.join("V.npy")),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let metrics: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    assert!(metrics["prediction_error_rel"].as_f64().unwrap() < 1e-10);
}

/// report.json follows docs/report.schema.json: the committed schema is the one the binary
/// generates (so it changes only on purpose), and real reports of both methods carry exactly
/// the properties of one variant plus the command line's own, with every required one.
#[test]
fn report_json_follows_the_committed_schema() {
    let o = twolayer(&["report-schema"]);
    assert!(o.status.success());
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/report.schema.json"),
    )
    .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        committed,
        "regenerate with: twolayer report-schema > docs/report.schema.json"
    );
    let schema: serde_json::Value = serde_json::from_str(&committed).unwrap();
    let keys = |v: &serde_json::Value, field: &str| -> Vec<String> {
        match &v[field] {
            serde_json::Value::Object(m) => m.keys().cloned().collect(),
            serde_json::Value::Array(a) => {
                a.iter().map(|s| s.as_str().unwrap().to_string()).collect()
            }
            _ => Vec::new(),
        }
    };
    let check = |report: &serde_json::Value, variant: &str| {
        let def = &schema["$defs"][variant];
        let mut allowed = keys(&schema, "properties");
        allowed.extend(keys(def, "properties"));
        let obj = report.as_object().unwrap();
        for key in obj.keys() {
            assert!(
                allowed.contains(key),
                "{variant}: {key} is not in the schema"
            );
        }
        let mut required = keys(&schema, "required");
        required.extend(keys(def, "required"));
        for key in required {
            assert!(obj.contains_key(&key), "{variant}: required {key} missing");
        }
    };
    let t = Planted::new(&[
        "--d", "6", "--k", "2", "--m", "2", "--n", "1500", "--seed", "3",
    ]);
    let (x, y) = (t.file("X.npy"), t.file("Y.npy"));
    let run = |extra: &[&str], name: &str| -> serde_json::Value {
        let out = t.path(name);
        let mut args = vec!["recover", "--x", p(&x), "--y", p(&y), "--out", p(&out)];
        args.extend_from_slice(extra);
        let o = twolayer(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap()
    };
    check(&run(&[], "exact"), "ExactReport");
    check(
        &run(&["--noise", "gaussian", "--k", "2"], "noisy"),
        "NoisyReport",
    );
}

/// Writes an .npz archive of existing .npy files (stored or deflated, as np.savez and
/// np.savez_compressed do).
fn write_npz(path: &Path, members: &[(&str, &Path)], deflate: bool) {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    for (name, file) in members {
        zip.start_file(
            format!("{name}.npy"),
            zip::write::SimpleFileOptions::default().compression_method(method),
        )
        .unwrap();
        zip.write_all(&std::fs::read(file).unwrap()).unwrap();
    }
    zip.finish().unwrap();
}

/// .npz archives (stored and compressed) and CSV files (with a header and --y-cols, or two
/// headerless files) give the same certified answer as the .npy files; their malformed
/// variants fail cleanly.
#[test]
fn npz_and_csv_inputs() {
    let t = Planted::new(&[
        "--d", "6", "--k", "3", "--m", "3", "--n", "1500", "--seed", "4",
    ]);
    let (x, y) = (t.file("X.npy"), t.file("Y.npy"));
    let certified = |args: &[&str], name: &str| {
        let out = t.path(name);
        let mut all = vec!["recover", "--json", "--out", p(&out)];
        all.extend_from_slice(args);
        let o = twolayer(&all);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(r["certified"], true, "{args:?}");
        read_f64(&out.join("V.npy")).1
    };
    let v_npy = certified(&["--x", p(&x), "--y", p(&y)], "npy");
    for deflate in [false, true] {
        let npz = t.path(&format!("data-{deflate}.npz"));
        write_npz(&npz, &[("X", &x), ("Y", &y)], deflate);
        let (xs, ys) = (format!("{}:X", p(&npz)), format!("{}:Y", p(&npz)));
        let v = certified(&["--x", &xs, "--y", &ys], &format!("npz-{deflate}"));
        assert_eq!(v, v_npy, "same data, same bits");
    }
    // One CSV with a header, labels picked by name; and two headerless CSVs.
    let (_, xv) = read_f64(&x);
    let (_, yv) = read_f64(&y);
    let mut both = String::from("a,b,c,d,e,f,out0,out1,out2\n");
    let (mut xcsv, mut ycsv) = (String::new(), String::new());
    for j in 0..1500 {
        let xr: Vec<String> = (0..6).map(|a| format!("{:e}", xv[j * 6 + a])).collect();
        let yr: Vec<String> = (0..3).map(|o| format!("{:e}", yv[j * 3 + o])).collect();
        both += &format!("{},{}\n", xr.join(","), yr.join(","));
        xcsv += &(xr.join(",") + "\n");
        ycsv += &(yr.join(",") + "\n");
    }
    let (bp, xp, yp) = (t.path("both.csv"), t.path("x.csv"), t.path("y.csv"));
    std::fs::write(&bp, &both).unwrap();
    std::fs::write(&xp, &xcsv).unwrap();
    std::fs::write(&yp, &ycsv).unwrap();
    assert_eq!(
        certified(&["--x", p(&bp), "--y-cols", "out0,out1,out2"], "csv1"),
        v_npy
    );
    assert_eq!(
        certified(&["--x", p(&bp), "--y-cols", "6,7,8"], "csv2"),
        v_npy
    );
    assert_eq!(certified(&["--x", p(&xp), "--y", p(&yp)], "csv3"), v_npy);

    let out = t.path("never");
    let bad = |args: &[&str], expect: &str| {
        let mut all = vec!["recover", "--out", p(&out)];
        all.extend_from_slice(args);
        fails(&all, &out, expect);
    };
    let npz = t.path("data-false.npz");
    bad(
        &["--x", p(&npz), "--y", p(&y)],
        "holds 2 arrays (X, Y); name one",
    );
    let missing = format!("{}:Z", p(&npz));
    bad(&["--x", &missing, "--y", p(&y)], "has no array named \"Z\"");
    let notzip = t.path("fake.npz");
    std::fs::write(&notzip, b"PK\x03\x04 not really").unwrap();
    let notzip_x = format!("{}:X", p(&notzip));
    bad(
        &["--x", &notzip_x, "--y", p(&y)],
        "not a readable .npz archive",
    );
    let ragged = t.path("ragged.csv");
    std::fs::write(&ragged, "1,2,3\n4,5\n").unwrap();
    bad(&["--x", p(&ragged), "--y", p(&yp)], "row 2 has 2 fields");
    let words = t.path("words.csv");
    std::fs::write(&words, "a,b\n1,2\n3,x\n").unwrap();
    bad(
        &["--x", p(&words), "--y", p(&yp)],
        "row 3, column 1 (\"x\") is not a number",
    );
    let nan = t.path("nan.csv");
    std::fs::write(&nan, "1,2\nNaN,3\n").unwrap();
    bad(
        &["--x", p(&nan), "--y", p(&yp)],
        "non-finite value (NaN or ±inf) at row 2, column 0",
    );
    bad(
        &["--x", p(&bp), "--y-cols", "nope"],
        "has no column of that name",
    );
    bad(
        &["--x", p(&x), "--y-cols", "1"],
        "--y-cols splits a CSV file",
    );
    let empty = t.path("empty.csv");
    std::fs::write(&empty, "").unwrap();
    bad(&["--x", p(&empty), "--y", p(&yp)], "holds no samples");
}

/// Every input the fuzzer kept (fuzz/corpus/readers, regressions included) still goes
/// through the readers without a panic; the seeds that are valid files are accepted.
#[test]
fn fuzz_corpus_reads_without_panicking() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/readers");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let accepted = twolayer_io::read_untrusted(&bytes);
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("seed_") {
            assert!(
                accepted >= 1,
                "{name} is a valid input but no reader accepted it"
            );
        }
        seen += 1;
    }
    assert!(seen >= 9, "the corpus is missing ({seen} files)");
}

/// An empty array (here Fortran-ordered with 0 rows, found by the fuzzer) is a clear error.
#[test]
fn empty_arrays_are_refused() {
    let t = Planted::new(&[
        "--d", "3", "--k", "1", "--m", "1", "--n", "200", "--seed", "1",
    ]);
    let empty = t.path("empty_f.npy");
    write_npy(&empty, &[0, 3], &Vec::<f64>::new(), Order::Fortran);
    let out = t.path("never");
    fails(
        &[
            "recover",
            "--x",
            p(&empty),
            "--y",
            p(&t.file("Y.npy")),
            "--out",
            p(&out),
        ],
        &out,
        "is empty (shape [0, 3])",
    );
    fails(
        &[
            "eval",
            "--x",
            p(&empty),
            "--y",
            p(&t.file("Y.npy")),
            "--u",
            p(&t.file("U_true.npy")),
            "--v",
            p(&t.file("V_true.npy")),
        ],
        &out,
        "is empty",
    );
}

/// Streamed noisy labels: the exact method does not certify, so least squares runs on an
/// in-memory subset the budget allows, and the report says so; declared noiseless (--noise
/// none), the exact method's failure is the answer.
#[test]
fn streamed_noisy_labels_fall_back_to_a_subset() {
    let data = Planted::new(&[
        "--d", "10", "--k", "3", "--m", "3", "--n", "120000", "--noise", "0.01", "--seed", "5",
    ]);
    let (x, y) = (data.file("X.npy"), data.file("Y.npy"));
    let out = data.path("fit");
    let o = twolayer(&[
        "recover",
        "--x",
        p(&x),
        "--y",
        p(&y),
        "--stream",
        "--memory-budget",
        "4M",
        "--out",
        p(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["streamed"], true);
    assert_eq!(report["method"], "sign-pattern");
    let warnings = report["warnings"].to_string();
    assert!(warnings.contains("evenly spread subset"), "{warnings}");
    assert!(report["n"].as_u64().unwrap() < 120_000);
    let e = twolayer(&[
        "eval",
        "--json",
        "--x",
        p(&x),
        "--y",
        p(&y),
        "--u",
        p(&out.join("U.npy")),
        "--v",
        p(&out.join("V.npy")),
        "--u-true",
        p(&data.file("U_true.npy")),
        "--v-true",
        p(&data.file("V_true.npy")),
    ]);
    let metrics: serde_json::Value = serde_json::from_slice(&e.stdout).unwrap();
    assert!(metrics["param_err"].as_f64().unwrap() < 0.02, "{metrics}");

    let never = data.path("never");
    fails(
        &[
            "recover",
            "--x",
            p(&x),
            "--y",
            p(&y),
            "--stream",
            "--noise",
            "none",
            "--out",
            p(&never),
        ],
        &never,
        "the labels are likely not exact",
    );
}
