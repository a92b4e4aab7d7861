//! `cargo xtask pycheck`: model.safetensors in Python. Recovers a planted network from files,
//! loads model.safetensors with the Python `safetensors` and `numpy` packages, predicts
//! relu(X Vᵀ) Uᵀ there and compares with `twolayer eval`'s prediction error on the same
//! files (float64 weights: equal to rounding; float32: to float32 accuracy).

use std::process::Command;

use anyhow::{Context, Result, bail};

const SCRIPT: &str = r#"
import json, sys
import numpy as np
from safetensors.numpy import load_file
from safetensors import safe_open
x, y, model = sys.argv[1], sys.argv[2], sys.argv[3]
X, Y = np.load(x), np.load(y)
w = load_file(model)
V, U = w["0.weight"].astype(np.float64), w["2.weight"].astype(np.float64)
with safe_open(model, "np") as f:
    meta = f.metadata()
P = np.maximum(X @ V.T, 0) @ U.T
err = np.linalg.norm(P - Y) / np.linalg.norm(Y)
print(json.dumps({"prediction_error_rel": err, "dtype": str(w["0.weight"].dtype),
                  "shapes": [list(V.shape), list(U.shape)], "certified": meta["certified"]}))
"#;

pub fn run() -> Result<()> {
    if !crate::python_has(&["numpy", "safetensors"]) {
        return Ok(());
    }
    let dir = crate::root().join("target").join("xtask-pycheck");
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.join("data");
    let s = |p: &std::path::Path| p.to_str().unwrap().to_string();
    crate::run(&crate::args(&[
        "generate",
        "--d",
        "20",
        "--k",
        "10",
        "--m",
        "10",
        "--n",
        "3000",
        "--seed",
        "2",
        "--out",
        &s(&data),
    ]))?;
    let (x, y) = (data.join("X.npy"), data.join("Y.npy"));
    for dtype in ["f64", "f32"] {
        let fit = dir.join(format!("fit-{dtype}"));
        crate::run(&crate::args(&[
            "recover",
            "--x",
            &s(&x),
            "--y",
            &s(&y),
            "--dtype",
            dtype,
            "--out",
            &s(&fit),
        ]))?;
        let eval = crate::run(&crate::args(&[
            "eval",
            "--x",
            &s(&x),
            "--y",
            &s(&y),
            "--u",
            &s(&fit.join("U.npy")),
            "--v",
            &s(&fit.join("V.npy")),
        ]))?;
        let ours = crate::value(&eval, "prediction_error_rel");
        let out = Command::new(crate::python())
            .args(["-c", SCRIPT])
            .arg(&x)
            .arg(&y)
            .arg(fit.join("model.safetensors"))
            .output()
            .context("running python3")?;
        if !out.status.success() {
            bail!("python failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let py: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        let theirs = py["prediction_error_rel"].as_f64().unwrap_or(f64::NAN);
        // Predictions from float64 weights agree to rounding; float32 weights carry ~1e-7.
        let tol = if dtype == "f64" { 1e-12 } else { 1e-6 };
        println!(
            "{dtype}: python (safetensors {}, shapes {}) prediction_error_rel {theirs:.3e}; twolayer eval {ours:.3e}; certified {}",
            py["dtype"], py["shapes"], py["certified"]
        );
        if !(theirs.is_finite() && (theirs - ours).abs() <= tol) {
            bail!("{dtype}: python's predictions differ from twolayer eval's");
        }
    }
    println!("model.safetensors reproduces twolayer eval's predictions in Python");
    Ok(())
}
