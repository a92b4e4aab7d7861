//! `cargo xtask sweep --quick` writes, for every sweep, a CSV with one row per cell, at least
//! one SVG and a summary; the versus summary states the speed-up over Adam.

use std::process::Command;

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
