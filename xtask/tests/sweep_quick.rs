//! `cargo xtask sweep --quick` writes, for every sweep, a CSV with one row per cell, at least
//! one SVG and a summary; the versus summary states the speed-up over Adam; and the numbers
//! in the tables are the ones the method is known for (exact where certified, the noisy
//! error at the oracle's rate, the phase transition reached within the grid).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// The rows of `dir/data.csv`, each as column name → value.
fn table(dir: &Path) -> Vec<BTreeMap<String, String>> {
    let csv = std::fs::read_to_string(dir.join("data.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(str::to_string))
                .collect()
        })
        .collect()
}

fn num(row: &BTreeMap<String, String>, col: &str) -> f64 {
    row.get(col)
        .unwrap_or_else(|| panic!("no column {col} in {row:?}"))
        .parse()
        .unwrap_or_else(|_| panic!("{col} is not a number in {row:?}"))
}

/// What each sweep's numbers must say about the method.
fn check_values(out: &Path) {
    // Phase: every success is exact; at the largest n of each shape every seed succeeds.
    let phase = table(&out.join("phase"));
    let mut largest: BTreeMap<(String, String, String), f64> = BTreeMap::new();
    for r in &phase {
        let key = (r["d"].clone(), r["k"].clone(), r["m"].clone());
        let n = num(r, "n");
        let e = largest.entry(key).or_insert(n);
        *e = e.max(n);
    }
    assert!(largest.len() >= 2, "{largest:?}");
    for r in &phase {
        if num(r, "success") == 1.0 {
            assert!(
                num(r, "v_max") <= 1e-10,
                "phase: a success that is not exact: {r:?}"
            );
        } else {
            assert_eq!(num(r, "success"), 0.0, "{r:?}");
        }
        let key = (r["d"].clone(), r["k"].clone(), r["m"].clone());
        if num(r, "n") == largest[&key] {
            assert_eq!(num(r, "success"), 1.0, "phase: the largest n fails: {r:?}");
        }
    }
    // Runtime: every cell certified, stages no longer than the whole.
    for r in table(&out.join("runtime")) {
        assert_eq!(num(&r, "certified"), 1.0, "{r:?}");
        let total = num(&r, "total_s");
        for stage in ["moments_s", "tensor_s", "units_s", "certify_s"] {
            assert!(
                (0.0..=total + 1e-4).contains(&num(&r, stage)),
                "{stage}: {r:?}"
            );
        }
    }
    // Noise: the error sits at the oracle's rate and is proportional to σ.
    let noise = table(&out.join("noise"));
    assert!(!noise.is_empty());
    for r in &noise {
        let ratio = num(r, "ratio");
        assert!(
            (0.3..=3.0).contains(&ratio),
            "noise: ratio to the oracle {ratio}: {r:?}"
        );
        let per_sigma = num(r, "param_err") / num(r, "sigma");
        let rate = num(r, "reference") / num(r, "sigma");
        assert!(
            (0.3..=3.0).contains(&(per_sigma / rate)),
            "noise: error per σ {per_sigma:.3e} against σ√(p/n) per σ {rate:.3e}: {r:?}"
        );
    }
    // Conditioning: exact at every κ of the quick grid.
    for r in table(&out.join("conditioning")) {
        assert_eq!(num(&r, "success"), 1.0, "{r:?}");
        assert!(
            num(&r, "v_max") <= 1e-10 && num(&r, "u_max_rel") <= 1e-10,
            "{r:?}"
        );
    }
    // Versus: exact, and faster than Adam reaching 1e-6.
    for r in table(&out.join("versus")) {
        assert!(num(&r, "ours_err") <= 1e-10, "{r:?}");
        assert!(num(&r, "speedup") > 1.0, "{r:?}");
    }
}

#[test]
fn quick_sweep_writes_every_artefact() {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["sweep", "--quick", "--out"])
        .arg(out.path())
        .status()
        .unwrap();
    assert!(status.success());
    for name in ["phase", "runtime", "noise", "conditioning", "versus"] {
        let dir = out.path().join(name);
        let csv = std::fs::read_to_string(dir.join("data.csv")).unwrap();
        let header_cols = csv.lines().next().unwrap().split(',').count();
        assert!(csv.lines().count() > 1, "{name}: no cells");
        assert!(
            csv.lines().all(|l| l.split(',').count() == header_cols),
            "{name}: ragged CSV"
        );
        let svgs = std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "svg")
            })
            .count();
        assert!(svgs >= 1, "{name}: no plot");
        assert!(dir.join("summary.md").exists());
    }
    check_values(out.path());
    let versus = std::fs::read_to_string(out.path().join("versus/summary.md")).unwrap();
    assert!(
        versus.contains("speed-up") && versus.contains("×"),
        "{versus}"
    );

    // Resumable: a second run finds every cell done and leaves the tables as they were.
    let before = std::fs::read_to_string(out.path().join("phase/data.csv")).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["sweep", "phase", "--quick", "--out"])
        .arg(out.path())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        before,
        std::fs::read_to_string(out.path().join("phase/data.csv")).unwrap()
    );
}
