//! `cargo xtask tensorly`: issue 9's bar. NumPy writes a symmetric order-3 tensor (d = 150,
//! R = 30, unit Gaussian factors, weights of both signs, symmetric Gaussian noise of relative
//! size 1e-3); TensorLy's `parafac` (rank R, default settings) decomposes it in-process and
//! `twolayer tensor decompose` from the file (whole process, reading included), timed in the
//! same run. Both reconstructions are compared with the noiseless tensor.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

const GENERATE: &str = r#"
import sys, numpy as np
d, R, noise, seed, out = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rng = np.random.default_rng(seed)
A = rng.standard_normal((R, d)); A /= np.linalg.norm(A, axis=1, keepdims=True)
w = rng.uniform(1, 2, R) * np.where(np.arange(R) % 2 == 0, 1.0, -1.0)
clean = np.einsum("r,ri,rj,rk->ijk", w, A, A, A)
N = rng.standard_normal((d, d, d))
N = sum(N.transpose(p) for p in [(0,1,2),(0,2,1),(1,0,2),(1,2,0),(2,0,1),(2,1,0)]) / 6
T = clean + noise * np.linalg.norm(clean) / np.linalg.norm(N) * N
np.save(out + "/T.npy", T); np.save(out + "/clean.npy", clean)
print('{"written": true}')
"#;

const TENSORLY: &str = r#"
import json, sys, time, numpy as np, tensorly as tl
from tensorly.decomposition import parafac
T, clean, R = np.load(sys.argv[1]), np.load(sys.argv[2]), int(sys.argv[3])
t0 = time.perf_counter()
cp = parafac(T, rank=R)
secs = time.perf_counter() - t0
err = np.linalg.norm(tl.cp_to_tensor(cp) - clean) / np.linalg.norm(clean)
print(json.dumps({"seconds": secs, "error": float(err), "version": tl.__version__}))
"#;

const OURS: &str = r#"
import json, sys, numpy as np
w, A, clean = np.load(sys.argv[1]), np.load(sys.argv[2]), np.load(sys.argv[3])
err = np.linalg.norm(np.einsum("r,ri,rj,rk->ijk", w, A, A, A) - clean) / np.linalg.norm(clean)
print(json.dumps({"error": float(err)}))
"#;

fn python(script: &str, args: &[&str]) -> Result<serde_json::Value> {
    let out = Command::new(crate::python())
        .args(["-c", script])
        .args(args)
        .output()
        .context("running python3")?;
    if !out.status.success() {
        bail!("python failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line).with_context(|| format!("python printed {text:?}"))
}

pub fn run() -> Result<()> {
    if !crate::python_has(&["numpy", "tensorly"]) {
        return Ok(());
    }
    let (d, rank) = (150, 30);
    let dir = crate::root().join("target").join("xtask-tensorly");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let s = |p: &std::path::Path| p.to_str().unwrap_or_default().to_string();
    let (t, clean, fit) = (dir.join("T.npy"), dir.join("clean.npy"), dir.join("fit"));
    python(
        GENERATE,
        &[&d.to_string(), &rank.to_string(), "1e-3", "0", &s(&dir)],
    )?;

    let start = Instant::now();
    let line = crate::run(&crate::args(&[
        "tensor",
        "decompose",
        "--t",
        &s(&t),
        "--rank",
        &rank.to_string(),
        "--out",
        &s(&fit),
    ]))?;
    let ours_s = start.elapsed().as_secs_f64();
    let ours = python(
        OURS,
        &[
            &s(&fit.join("weights.npy")),
            &s(&fit.join("factors.npy")),
            &s(&clean),
        ],
    )?;
    let theirs = python(TENSORLY, &[&s(&t), &s(&clean), &rank.to_string()])?;
    let (ours_err, theirs_err) = (
        ours["error"].as_f64().unwrap_or(f64::NAN),
        theirs["error"].as_f64().unwrap_or(f64::NAN),
    );
    let theirs_s = theirs["seconds"].as_f64().unwrap_or(f64::NAN);
    println!("twolayer: {}", line.trim());
    println!(
        "d = {d}, R = {rank}, noise 1e-3: twolayer tensor decompose {ours_s:.3} s (whole process), error {ours_err:.3e}; TensorLy {} parafac {theirs_s:.3} s (in-process), error {theirs_err:.3e}; speed-up {:.1}x",
        theirs["version"],
        theirs_s / ours_s
    );
    if ours_err.is_nan() || ours_err > theirs_err {
        bail!("twolayer's reconstruction is less accurate than TensorLy's");
    }
    if theirs_s < 10.0 * ours_s {
        bail!("twolayer is less than 10x faster than TensorLy");
    }
    println!("bar met: at least as accurate and at least 10x faster");
    Ok(())
}
