//! The binary under hostile conditions: special files at the output path, a folder in the
//! way, a crash at every step of the commit, two writers at once, a full disk, a corpus of
//! hostile arguments, and byte-identical outputs for the same input.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_twolayer"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("the binary runs")
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Every file of a folder (name → bytes), hidden ones included.
fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let bytes = std::fs::read(e.path()).unwrap_or_default();
            (e.file_name().to_string_lossy().into_owned(), bytes)
        })
        .collect()
}

/// The report.json of an output folder.
fn report_of(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap()
}

/// Names in a folder that look like a twolayer staging folder or temporary file.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".twolayer-") || n.contains(".tmp-"))
        .collect()
}

/// Runs `recover --quiet` on X, Y into `out` with `extra` arguments and `env`, which must
/// succeed: its report, and every other output file (name → bytes). The report holds times
/// and memory, which vary; the other files must not.
fn recover_outputs(
    x: &Path,
    y: &Path,
    out: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (serde_json::Value, BTreeMap<String, Vec<u8>>) {
    let o = bin()
        .args([
            "recover",
            "--x",
            p(x),
            "--y",
            p(y),
            "--quiet",
            "--out",
            p(out),
        ])
        .args(extra)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut files = contents(out);
    let report = serde_json::from_slice(&files.remove("report.json").unwrap()).unwrap();
    (report, files)
}

/// Asserts that no staging folder or temporary file is left in `dir`.
fn assert_no_leftovers(dir: &Path) {
    let left = leftovers(dir);
    assert!(left.is_empty(), "leftovers in {}: {left:?}", dir.display());
}

/// Asserts a failure as the README promises it: exit 2, one `error:` line, no panic.
fn assert_refused(o: &Output, expect: &str) {
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr:?}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains(expect), "expected {expect:?} in {stderr}");
}

/// The magic, version and header of a float64 C-order .npy file of `shape` (e.g. "(3, 2)").
fn npy_prefix(shape: &str) -> Vec<u8> {
    let dict = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
    let mut header = dict.into_bytes();
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(&header);
    bytes
}

/// Writes a float64 C-order .npy file.
fn write_npy(path: &Path, rows: usize, cols: usize, values: &[f64]) {
    let mut bytes = npy_prefix(&format!("({rows}, {cols})"));
    for v in values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

fn generate(out: &Path, seed: &str) -> Command {
    let mut c = bin();
    c.args([
        "generate", "--d", "8", "--k", "3", "--m", "3", "--n", "300", "--seed", seed, "--out",
    ])
    .arg(out);
    c
}

#[test]
fn special_files_at_the_output_path_are_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(generate(&data, "1").status().unwrap().success());
    let (x, y) = (data.join("X.npy"), data.join("Y.npy"));

    let fifo = dir.path().join("fifo");
    let c = std::ffi::CString::new(p(&fifo)).unwrap();
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let o = run(&["moments", "--x", p(&x), "--y", p(&y), "--out", p(&fifo)]);
    assert_refused(&o, "is a FIFO");
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    // A FIFO as a part to merge is refused, not read (which would block forever): the
    // child is given 20 s before it counts as hung.
    let mut child = bin()
        .args([
            "moments",
            "merge",
            p(&fifo),
            "--out",
            p(&dir.path().join("m.json")),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("moments merge blocked on a FIFO");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_refused(&child.wait_with_output().unwrap(), "is not a regular file");

    // A character device (root only, as in CI): a copy of /dev/null's numbers.
    let node = dir.path().join("mynull");
    let c = std::ffi::CString::new(p(&node)).unwrap();
    // SAFETY: a NUL-terminated path; makedev(1, 3) is /dev/null.
    let made = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
    if made == 0 {
        let o = run(&["moments", "--x", p(&x), "--y", p(&y), "--out", p(&node)]);
        assert_refused(&o, "is a character device");
        let t = std::fs::symlink_metadata(&node).unwrap().file_type();
        assert!(t.is_char_device());
        let o = run(&["recover", "--x", p(&x), "--y", p(&y), "--out", p(&node)]);
        assert_refused(&o, "not a folder");
    }

    // A link is written through to the regular file it names; a dangling one is refused.
    let target = dir.path().join("target.json");
    std::fs::write(&target, b"old").unwrap();
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let o = run(&["moments", "--x", p(&x), "--y", p(&y), "--out", p(&link)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(std::fs::read(&target).unwrap().starts_with(b"{\"format\""));
    let dangling = dir.path().join("dangling");
    std::os::unix::fs::symlink(dir.path().join("missing"), &dangling).unwrap();
    let o = run(&["moments", "--x", p(&x), "--y", p(&y), "--out", p(&dangling)]);
    assert_refused(&o, "symbolic link to a missing file");
    let o = run(&["recover", "--x", p(&x), "--y", p(&y), "--out", p(&dangling)]);
    assert_refused(&o, "symbolic link to a missing folder");
    // An output folder given as a link: the set lands in the folder it names and the link
    // stays a link; a link to a regular file is refused and the file kept.
    let real = dir.path().join("real-out");
    std::fs::create_dir(&real).unwrap();
    let folder_link = dir.path().join("out-link");
    std::os::unix::fs::symlink(&real, &folder_link).unwrap();
    let o = run(&[
        "recover",
        "--x",
        p(&x),
        "--y",
        p(&y),
        "--out",
        p(&folder_link),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        std::fs::symlink_metadata(&folder_link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(real.join("V.npy").is_file() && real.join("report.json").is_file());
    let o = run(&["recover", "--x", p(&x), "--y", p(&y), "--out", p(&link)]);
    assert_refused(&o, "is a link to a regular file, not to a folder");
    assert!(std::fs::read(&target).unwrap().starts_with(b"{\"format\""));

    // A regular file is replaced.
    let plain = dir.path().join("plain.json");
    std::fs::write(&plain, b"old").unwrap();
    let o = run(&["moments", "--x", p(&x), "--y", p(&y), "--out", p(&plain)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read(&plain).unwrap().starts_with(b"{\"format\""));
    // A link to a folder is not a file to replace; a file's folder must exist and be one.
    let o = run(&[
        "moments",
        "--x",
        p(&x),
        "--y",
        p(&y),
        "--out",
        p(&folder_link),
    ]);
    assert_refused(&o, "is a link to a folder");
    let under_file = plain.join("m.json");
    let o = run(&[
        "moments",
        "--x",
        p(&x),
        "--y",
        p(&y),
        "--out",
        p(&under_file),
    ]);
    assert_refused(&o, "is a regular file, not a folder");
    let under_missing = dir.path().join("missing").join("m.json");
    let o = run(&[
        "moments",
        "--x",
        p(&x),
        "--y",
        p(&y),
        "--out",
        p(&under_missing),
    ]);
    assert_refused(&o, "its folder does not exist");
    // A bare file name is in the working folder.
    let o = bin()
        .current_dir(dir.path())
        .args(["moments", "--x", p(&x), "--y", p(&y), "--out", "bare.json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(dir.path().join("bare.json").is_file());
    // `-` is standard output.
    let o = run(&["moments", "--x", p(&x), "--y", p(&y), "--out", "-"]);
    assert!(o.status.success());
    assert!(o.stdout.starts_with(b"{\"format\""));
    assert!(!Path::new("-").exists());
    assert_no_leftovers(dir.path());
}

use std::os::unix::fs::FileTypeExt;

#[test]
fn a_folder_in_the_way_leaves_the_old_set_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    assert!(generate(&out, "1").status().unwrap().success());
    let (x, y) = (out.join("X.npy"), out.join("Y.npy"));
    let o = run(&["recover", "--x", p(&x), "--y", p(&y), "--out", p(&out)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let before = contents(&out);
    assert!(before.contains_key("U.npy") && before.contains_key("X.npy"));

    for blocker in ["report.json", "V.npy"] {
        std::fs::remove_file(out.join(blocker)).unwrap();
        std::fs::create_dir(out.join(blocker)).unwrap();
        let mut expected = before.clone();
        expected.insert(blocker.to_string(), Vec::new());
        let o = run(&[
            "recover",
            "--x",
            p(&x),
            "--y",
            p(&y),
            "--seed",
            "3",
            "--out",
            p(&out),
        ]);
        assert_refused(&o, "in the way of an output file");
        assert_eq!(contents(&out), expected, "{blocker}");
        assert_no_leftovers(dir.path());
        std::fs::remove_dir(out.join(blocker)).unwrap();
        std::fs::write(out.join(blocker), &before[blocker]).unwrap();
    }
    // A generate into a folder holding other files keeps them (carried over, same bytes).
    std::fs::write(out.join("notes.txt"), b"mine").unwrap();
    assert!(generate(&out, "2").status().unwrap().success());
    assert_eq!(std::fs::read(out.join("notes.txt")).unwrap(), b"mine");
    assert!(
        out.join("U.npy").exists(),
        "recover's files stay beside generate's"
    );
    // A foreign sub-folder is refused rather than moved.
    std::fs::create_dir(out.join("plots")).unwrap();
    let o = generate(&out, "3").output().unwrap();
    assert_refused(&o, "holds a folder \"plots\"");
}

/// A writer killed with SIGKILL at each step of the commit leaves the old complete set or
/// the new complete set, never a mixture; the next run removes its leftovers.
/// A file another process writes into the output folder while the run stages its set is
/// not lost when the folders trade places; and a folder whose name is too long for a staging
/// sibling is still written (one file at a time, with a warning that says why).
#[test]
fn late_files_are_kept_and_long_names_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let (old_dir, new_dir) = (dir.path().join("old"), dir.path().join("new"));
    assert!(generate(&old_dir, "1").status().unwrap().success());
    assert!(generate(&new_dir, "2").status().unwrap().success());
    let out = dir.path().join("o");
    assert!(generate(&out, "1").status().unwrap().success());
    // A rewrite of `out` with a test hook set; late.txt stays whatever the hook.
    let rewrite = |seed: &str, hook: &str, value: &str, reference: &Path| {
        let o = generate(&out, seed).env(hook, value).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mut want = contents(reference);
        want.insert("late.txt".to_string(), b"late".to_vec());
        assert_eq!(contents(&out), want, "{hook}");
        assert_no_leftovers(dir.path());
    };
    rewrite("2", "TWOLAYER_TEST_LATE_FILE", "late.txt", &new_dir);
    // Where the file system has no exchange, two renames replace the set.
    rewrite("1", "TWOLAYER_TEST_NO_EXCHANGE", "1", &old_dir);

    // Any other failure of the exchange is an error, and the old set stays.
    let before = contents(&out);
    let o = generate(&out, "2")
        .env("TWOLAYER_TEST_NO_EXCHANGE", "EIO")
        .output()
        .unwrap();
    assert_refused(&o, "cannot replace the contents");
    assert_eq!(contents(&out), before);
    assert_no_leftovers(dir.path());

    // 240 bytes: a valid name, but ".<name>.twolayer-staging-PID" is not.
    let long = dir.path().join("n".repeat(240));
    assert!(generate(&long, "1").status().unwrap().success());
    let o = generate(&long, "2").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("its name is too long"), "{stderr}");
    assert_eq!(contents(&long), contents(&new_dir));
    assert_no_leftovers(dir.path());
}

#[test]
fn a_writer_killed_at_any_step_leaves_a_complete_set() {
    let dir = tempfile::tempdir().unwrap();
    let (old_dir, new_dir) = (dir.path().join("old"), dir.path().join("new"));
    assert!(generate(&old_dir, "1").status().unwrap().success());
    assert!(generate(&new_dir, "2").status().unwrap().success());
    let (old, new) = (contents(&old_dir), contents(&new_dir));
    assert_ne!(old, new);
    for step in 1..=5 {
        let out = dir.path().join(format!("o{step}"));
        assert!(generate(&out, "1").status().unwrap().success());
        let status = generate(&out, "2")
            .env("TWOLAYER_TEST_KILL_AT", step.to_string())
            .status()
            .unwrap();
        assert!(
            !status.success(),
            "step {step}: the hook must kill the writer"
        );
        let now = contents(&out);
        assert!(
            now == old || now == new,
            "step {step}: a mixture {:?}",
            now.keys()
        );
        assert_eq!(now == new, step == 5, "step {step}");
        assert!(
            generate(&out, "2").status().unwrap().success(),
            "step {step}"
        );
        assert_eq!(contents(&out), new, "step {step}");
        assert_no_leftovers(dir.path());
    }
    // A single output file: the temporary is never visible as the target, and the next run
    // removes it.
    let target = dir.path().join("m.json");
    let (x, y) = (old_dir.join("X.npy"), old_dir.join("Y.npy"));
    let o = bin()
        .args(["moments", "--x", p(&x), "--y", p(&y), "--out", p(&target)])
        .env("TWOLAYER_TEST_KILL_AT", "1")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(!target.exists());
    assert_eq!(leftovers(dir.path()).len(), 1);
    let o = run(&["moments", "--x", p(&x), "--y", p(&y), "--out", p(&target)]);
    assert!(o.status.success());
    assert_no_leftovers(dir.path());
}

#[test]
fn a_second_writer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    assert!(generate(&out, "1").status().unwrap().success());
    let before = contents(&out);
    // Hold the lock as a running writer does.
    let held = std::fs::File::open(&out).unwrap();
    use std::os::fd::AsRawFd;
    // SAFETY: flock on an open descriptor.
    assert_eq!(
        unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) },
        0
    );
    let o = generate(&out, "2").output().unwrap();
    assert_refused(&o, "another twolayer run is writing to");
    assert_eq!(contents(&out), before);
    drop(held);

    // Two real writers at once: each exits 0 or is refused, and the folder holds one
    // run's complete set.
    let runs: Vec<_> = ["2", "3"]
        .iter()
        .map(|seed| {
            generate(&out, seed)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outcomes: Vec<Output> = runs
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for o in &outcomes {
        if !o.status.success() {
            assert_refused(o, "another twolayer run is writing to");
        }
    }
    assert!(outcomes.iter().any(|o| o.status.success()));
    let now = contents(&out);
    let mut matched = false;
    for seed in ["2", "3"] {
        let reference = dir.path().join(format!("ref{seed}"));
        assert!(generate(&reference, seed).status().unwrap().success());
        matched |= contents(&reference) == now;
    }
    assert!(matched, "the folder mixes two runs");
}

#[test]
fn a_full_disk_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    assert!(generate(&out, "1").status().unwrap().success());
    let before = contents(&out);
    let mut c = generate(&out, "2");
    // SAFETY: between fork and exec only async-signal-safe calls: setrlimit and signal. The
    // file-size limit makes every write past 4 kB fail as on a full disk (EFBIG), with
    // SIGXFSZ ignored so the write returns an error instead of killing the process.
    unsafe {
        c.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 4096,
                rlim_max: 4096,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &limit);
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    let o = c.output().unwrap();
    assert_refused(&o, "cannot write");
    assert_eq!(contents(&out), before);
    assert_no_leftovers(dir.path());
}

/// Hostile argument sets: each is refused with exit 2 and one line, never a panic, and
/// writes nothing.
#[test]
fn hostile_arguments_are_refused_on_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(generate(&data, "1").status().unwrap().success());
    let (x, y) = (
        p(&data.join("X.npy")).to_string(),
        p(&data.join("Y.npy")).to_string(),
    );
    // A mistyped option gets clap's suggestion and the subcommand's help, on one line.
    let typo = run(&[
        "recover",
        "--x",
        &x,
        "--y",
        &y,
        "--restart",
        "3",
        "--out",
        "r",
    ]);
    assert_refused(&typo, "a similar argument exists: '--restarts'");
    assert_refused(&typo, "see 'twolayer recover --help'");
    let typo = run(&["tensor", "decompose", "--rnk", "3"]);
    assert_refused(&typo, "see 'twolayer tensor decompose --help'");
    // meta.json's generator settings are JSON, not a debug string.
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["settings"]["seed"], 1);
    assert_eq!(meta["settings"]["inputs"], "gaussian");
    let out = dir.path().join("out");
    let o = p(&out).to_string();
    let bad_descr = dir.path().join("bad\nname.npy");
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    let dict = "{'descr': '<f8\nINJECTED \x1b[31m\0', 'fortran_order': False, 'shape': (2, 2), }";
    npy.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    npy.extend_from_slice(dict.as_bytes());
    std::fs::write(&bad_descr, &npy).unwrap();
    let bad = p(&bad_descr).to_string();
    // Weights so large that every prediction overflows.
    let (big_u, big_v) = (dir.path().join("U.npy"), dir.path().join("V.npy"));
    write_npy(&big_u, 3, 3, &[1e200; 9]);
    write_npy(&big_v, 3, 8, &[1e200; 24]);
    let (big_u, big_v) = (p(&big_u).to_string(), p(&big_v).to_string());
    let zero_y = dir.path().join("zeroY.npy");
    write_npy(&zero_y, 300, 3, &[0.0; 900]);
    let zero_y = p(&zero_y).to_string();
    let empty_t = dir.path().join("empty.npy");
    std::fs::write(&empty_t, npy_prefix("(0, 0, 0)")).unwrap();
    let empty_t = p(&empty_t).to_string();
    let tensor = dir.path().join("tensor");
    let made = run(&[
        "tensor",
        "generate",
        "--d",
        "4",
        "--rank",
        "2",
        "--out",
        p(&tensor),
    ]);
    assert!(made.status.success());
    let tensor = p(&tensor.join("T.npy")).to_string();
    let planted = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = ["generate", "--d", "5", "--k", "2", "--m", "2", "--n", "50"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a.extend(["--out".to_string(), o.clone()]);
        a
    };
    let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // An archive whose member uses a compression method the reader lacks (bzip2's number,
    // 12, patched into a stored archive's headers).
    let bzip = dir.path().join("bzip.npz");
    {
        use std::io::Write;
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        zip.start_file("X.npy", options).unwrap();
        zip.write_all(&npy_prefix("(2, 2)")).unwrap();
        zip.write_all(&[0u8; 32]).unwrap();
        let mut bytes = zip.finish().unwrap().into_inner();
        for (signature, at) in [(b"PK\x03\x04", 8), (b"PK\x01\x02", 10)] {
            let start = bytes.windows(4).position(|w| w == signature).unwrap();
            bytes[start + at] = 12;
        }
        std::fs::write(&bzip, bytes).unwrap();
    }
    let bzip = format!("{}:X", p(&bzip));
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            own(&["recover", "--x", &bzip, "--y", &y, "--out", &o]),
            "is stored in a way twolayer does not read",
        ),
        (
            own(&[
                "recover",
                "--x",
                &x,
                "--y",
                &y,
                "--activation",
                "relupow:1000",
                "--out",
                &o,
            ]),
            "unknown activation",
        ),
        (
            own(&[
                "recover",
                "--x",
                &x,
                "--y",
                &y,
                "--activation",
                "relupow:1e308",
                "--out",
                &o,
            ]),
            "unknown activation",
        ),
        (
            planted(&["--activation", "relupow:1000"]),
            "unknown activation",
        ),
        (
            own(&[
                "generate",
                "--d",
                "100",
                "--k",
                "20",
                "--m",
                "20",
                "--n",
                "1000000000000",
                "--out",
                &o,
            ]),
            "memory",
        ),
        (
            own(&[
                "generate",
                "--d",
                "18446744073709551615",
                "--k",
                "2",
                "--m",
                "2",
                "--n",
                "10",
                "--out",
                &o,
            ]),
            "memory",
        ),
        (
            own(&[
                "generate",
                "--d",
                "5",
                "--k",
                "2",
                "--m",
                "1000000000000000",
                "--n",
                "10",
                "--out",
                &o,
            ]),
            "memory",
        ),
        (
            planted(&["--v-row-norms", "1e-300,1e300"]),
            "not all finite",
        ),
        (planted(&["--noise", "1e308"]), "not all finite"),
        (
            own(&[
                "tensor", "generate", "--d", "100000", "--rank", "3", "--out", &o,
            ]),
            "",
        ),
        (
            own(&[
                "tensor",
                "generate",
                "--d",
                "18446744073709551615",
                "--rank",
                "3",
                "--out",
                &o,
            ]),
            "",
        ),
        (own(&["recover", "--x", &bad, "--y", &y, "--out", &o]), ""),
        (
            own(&[
                "recover",
                "--x",
                &x,
                "--y",
                &y,
                "--restart",
                "3",
                "--out",
                &o,
            ]),
            "",
        ),
        (
            own(&["eval", "--x", &x, "--y", &y, "--u", &big_u, "--v", &big_v]),
            "not finite",
        ),
        (
            own(&[
                "hardness", "decode", "--u", &big_u, "--v", &big_v, "--values", "1,1", "--tol",
                "NaN",
            ]),
            "tolerance",
        ),
        (
            own(&["tensor", "generate", "--d", "5", "--rank", "0", "--out", &o]),
            "rank 0",
        ),
        (
            own(&["tensor", "generate", "--d", "5", "--rank", "6", "--out", &o]),
            "rank 6",
        ),
        (
            own(&["tensor", "generate", "--d", "0", "--rank", "1", "--out", &o]),
            "rank 1",
        ),
        (
            own(&[
                "tensor",
                "generate",
                "--d",
                "5",
                "--rank",
                "2",
                "--noise=-1",
                "--out",
                &o,
            ]),
            "noise",
        ),
        (
            own(&["moments", "merge", &x, "--out", &o]),
            "not a moments file",
        ),
        (
            own(&["recover", "--x", &x, "--y", &zero_y, "--out", &o]),
            "labels Y are all zero",
        ),
        (
            own(&[
                "tensor",
                "decompose",
                "--t",
                &empty_t,
                "--rank",
                "1",
                "--out",
                &o,
            ]),
            "empty tensor",
        ),
        (
            own(&[
                "tensor",
                "decompose",
                "--t",
                &tensor,
                "--rank",
                "2",
                "--tol",
                "NaN",
                "--out",
                &o,
            ]),
            "tolerance",
        ),
        (
            own(&[
                "tensor",
                "decompose",
                "--t",
                &tensor,
                "--rank",
                "2",
                "--tol=-1",
                "--out",
                &o,
            ]),
            "tolerance",
        ),
    ];
    for (args, expect) in &cases {
        let r = bin().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr:?}");
        assert!(
            !stderr.contains('\u{1b}') && !stderr.contains('\0'),
            "{stderr:?}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(
            stderr.contains(expect),
            "{args:?}: expected {expect:?} in {stderr}"
        );
        assert!(!out.exists(), "{args:?} wrote {o}");
    }
}

/// The same inputs and seed give the same bytes in every output file, whatever the thread
/// count.
#[test]
fn same_input_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(generate(&data, "4").status().unwrap().success());
    let (x, y) = (data.join("X.npy"), data.join("Y.npy"));
    let mut sets = Vec::new();
    for (i, threads) in ["1", "2", "3", "1"].iter().enumerate() {
        let out = dir.path().join(format!("r{i}"));
        let (report, files) = recover_outputs(&x, &y, &out, &[], &[("RAYON_NUM_THREADS", threads)]);
        assert_eq!(report["certified"], true);
        sets.push(files);
    }
    assert!(sets.iter().all(|s| s == &sets[0]));
    assert!(sets[0].contains_key("model.safetensors"));
    // The safetensors file is one the reference implementation reads.
    let st = safetensors::SafeTensors::deserialize(&sets[0]["model.safetensors"]).unwrap();
    assert_eq!(st.tensor("0.weight").unwrap().shape(), &[3, 8]);
    let regenerated = dir.path().join("again");
    assert!(generate(&regenerated, "4").status().unwrap().success());
    assert_eq!(contents(&regenerated), contents(&data));
}

/// Writes an .npz archive with one deflated member `X.npy`: a float64 header of `shape`
/// followed by `zeros` zero bytes.
fn write_npz(path: &Path, shape: &str, zeros: usize) {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(zeros > u32::MAX as usize / 2);
    zip.start_file("X.npy", options).unwrap();
    zip.write_all(&npy_prefix(shape)).unwrap();
    let block = vec![0u8; 1 << 20];
    let mut left = zeros;
    while left > 0 {
        let take = left.min(block.len());
        zip.write_all(&block[..take]).unwrap();
        left -= take;
    }
    zip.finish().unwrap();
}

/// Peak resident memory of the children waited for so far, in bytes.
fn children_peak() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage fills the buffer it is given.
    unsafe {
        libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr());
        usage.assume_init().ru_maxrss as u64 * 1024
    }
}

/// An .npz member whose header lies about its size is cut off where the header says it
/// ends, with memory far below what it would expand to; one whose honest header claims more
/// than the machine holds is refused before reading.
#[test]
fn an_npz_bomb_is_refused_within_memory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(generate(&data, "1").status().unwrap().success());
    let y = data.join("Y.npy");
    let out = dir.path().join("out");
    let bomb = dir.path().join("bomb.npz");
    let expands_to = 512 << 20;
    write_npz(&bomb, "(300, 8)", expands_to);
    let spec = format!("{}:X", p(&bomb));
    let o = run(&["recover", "--x", &spec, "--y", p(&y), "--out", p(&out)]);
    assert_refused(&o, "decompresses to more bytes than its header declares");
    let peak = children_peak();
    assert!(
        peak < 256 << 20,
        "peak {peak} bytes for a {expands_to}-byte member"
    );
    let honest = dir.path().join("honest.npz");
    write_npz(&honest, "(1099511627776, 8)", 1 << 20);
    let spec = format!("{}:X", p(&honest));
    let o = run(&["recover", "--x", &spec, "--y", p(&y), "--out", p(&out)]);
    assert_refused(&o, "needs");
    assert!(!out.exists());
}

/// Every subcommand that accepts --json prints one line of JSON on stdout.
#[test]
fn every_subcommand_prints_json() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| p(&dir.path().join(name)).to_string();
    let (x, y) = (format!("{}/X.npy", d("g")), format!("{}/Y.npy", d("g")));
    let runs: Vec<Vec<String>> = vec![
        vec![
            "generate",
            "--d",
            "6",
            "--k",
            "2",
            "--m",
            "2",
            "--n",
            "400",
            "--out",
            &d("g"),
        ],
        vec!["demo"],
        vec!["recover", "--x", &x, "--y", &y, "--out", &d("r")],
        vec!["moments", "--x", &x, "--y", &y, "--out", &d("m.json")],
        vec![
            "moments",
            "merge",
            &d("m.json"),
            &d("m.json"),
            "--out",
            &d("mm.json"),
        ],
        vec![
            "tensor",
            "generate",
            "--d",
            "6",
            "--rank",
            "2",
            "--out",
            &d("t"),
        ],
        vec![
            "tensor",
            "decompose",
            "--t",
            &format!("{}/T.npy", d("t")),
            "--rank",
            "2",
            "--out",
            &d("td"),
        ],
        vec![
            "hardness",
            "partition",
            "--values",
            "3,1,1,2,2,1",
            "--out",
            &d("h"),
        ],
        vec![
            "hardness",
            "decode",
            "--u",
            &format!("{}/U.npy", d("h")),
            "--v",
            &format!("{}/V.npy", d("h")),
            "--values",
            "3,1,1,2,2,1",
        ],
        vec![
            "eval",
            "--x",
            &x,
            "--y",
            &y,
            "--u",
            &format!("{}/U.npy", d("r")),
            "--v",
            &format!("{}/V.npy", d("r")),
        ],
    ]
    .into_iter()
    .map(|v| v.into_iter().map(str::to_string).collect())
    .collect();
    for args in runs {
        let o = bin().args(&args).arg("--json").output().unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let text = String::from_utf8(o.stdout).unwrap();
        assert_eq!(text.trim_end().lines().count(), 1, "{args:?}: {text}");
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(
            value.is_object() && !value.as_object().unwrap().is_empty(),
            "{args:?}"
        );
    }
}

/// Streamed and in-memory recovery give the same bytes, exact and noisy, on data with more
/// samples than the front door's moments read (so both must pick the same spread chunks).
#[test]
fn streamed_and_in_memory_give_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    for (noise, name) in [("0", "exact"), ("0.05", "noisy")] {
        let data = dir.path().join(name);
        let o = bin()
            .args([
                "generate", "--d", "8", "--k", "3", "--m", "3", "--n", "80000",
            ])
            .args(["--noise", noise, "--seed", "5", "--out", p(&data)])
            .output()
            .unwrap();
        assert!(o.status.success());
        let (x, y) = (data.join("X.npy"), data.join("Y.npy"));
        let mut sets = Vec::new();
        for stream in [false, true] {
            let out = dir.path().join(format!("{name}-{stream}"));
            let extra: &[&str] = if stream { &["--stream"] } else { &[] };
            let (report, files) = recover_outputs(&x, &y, &out, extra, &[]);
            assert_eq!(report["streamed"], stream);
            assert_eq!(report["certified"], noise == "0", "{name}");
            sets.push(files);
        }
        assert_eq!(
            sets[0], sets[1],
            "{name}: streamed and in-memory bytes differ"
        );
    }
}

/// Under noise, least squares needs about twice the data in memory: with a budget below
/// that, the data are streamed and least squares runs on a subset, and the peak stays
/// within the budget (as report.json states).
#[test]
fn noisy_recovery_stays_within_the_memory_budget() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let o = bin()
        .args([
            "generate", "--d", "20", "--k", "5", "--m", "5", "--n", "200000",
        ])
        .args(["--noise", "0.02", "--seed", "2", "--out", p(&data)])
        .output()
        .unwrap();
    assert!(o.status.success());
    let (x, y) = (data.join("X.npy"), data.join("Y.npy"));
    let out = dir.path().join("r");
    let budget: u64 = 64 << 20; // the data are 40 MB
    let o = run(&[
        "recover",
        "--x",
        p(&x),
        "--y",
        p(&y),
        "--memory-budget",
        "64M",
        "--quiet",
        "--out",
        p(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report = report_of(&out);
    assert_eq!(report["streamed"], true);
    assert_eq!(report["memory_budget_bytes"], budget);
    let peak = report["peak_memory_bytes"].as_u64().unwrap();
    assert!(peak <= budget, "peak {peak} above the budget {budget}");
    assert!(report["residual_rel"].as_f64().unwrap() < 0.03);

    // The same arrays in an .npz archive: decompressed to a temporary file and streamed,
    // within the same budget, to the same bytes.
    let archive = dir.path().join("data.npz");
    {
        use std::io::Write;
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&archive).unwrap());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, path) in [("X.npy", &x), ("Y.npy", &y)] {
            zip.start_file(name, options).unwrap();
            zip.write_all(&std::fs::read(path).unwrap()).unwrap();
        }
        zip.finish().unwrap();
    }
    let from_npz = dir.path().join("r-npz");
    let (ax, ay) = (format!("{}:X", p(&archive)), format!("{}:Y", p(&archive)));
    let o = run(&[
        "recover",
        "--x",
        &ax,
        "--y",
        &ay,
        "--memory-budget",
        "64M",
        "--quiet",
        "--out",
        p(&from_npz),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report = report_of(&from_npz);
    assert_eq!(report["streamed"], true);
    let peak = report["peak_memory_bytes"].as_u64().unwrap();
    assert!(
        peak <= budget,
        ".npz: peak {peak} above the budget {budget}"
    );
    for file in ["U.npy", "V.npy"] {
        assert_eq!(
            std::fs::read(out.join(file)).unwrap(),
            std::fs::read(from_npz.join(file)).unwrap(),
            "{file}"
        );
    }
}

/// A tensor's scale does not change its decomposition: T·1e300 (whose products overflow) and
/// T·1e-300 give the factors of T and its weights scaled.
#[test]
fn a_tensor_at_any_scale_decomposes() {
    let dir = tempfile::tempdir().unwrap();
    let made = dir.path().join("t");
    let o = run(&[
        "tensor",
        "generate",
        "--d",
        "6",
        "--rank",
        "3",
        "--seed",
        "4",
        "--out",
        p(&made),
    ]);
    assert!(o.status.success());
    let bytes = std::fs::read(made.join("T.npy")).unwrap();
    let offset = bytes.len() - 216 * 8;
    let mut weights = Vec::new();
    for (i, scale) in [1.0, 1e300, 1e-300].iter().enumerate() {
        let mut scaled = bytes[..offset].to_vec();
        for c in bytes[offset..].chunks_exact(8) {
            let v = f64::from_le_bytes(c.try_into().unwrap()) * scale;
            scaled.extend_from_slice(&v.to_le_bytes());
        }
        let t = dir.path().join(format!("T{i}.npy"));
        std::fs::write(&t, scaled).unwrap();
        let out = dir.path().join(format!("d{i}"));
        let o = run(&[
            "tensor",
            "decompose",
            "--t",
            p(&t),
            "--rank",
            "3",
            "--json",
            "--out",
            p(&out),
        ]);
        assert!(
            o.status.success(),
            "scale {scale}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(
            report["residual_rel"].as_f64().unwrap() < 1e-8,
            "scale {scale}"
        );
        let w = std::fs::read(out.join("weights.npy")).unwrap();
        let w: Vec<f64> = w[w.len() - 24..]
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()) / scale)
            .collect();
        weights.push(w);
    }
    for w in &weights[1..] {
        for (a, b) in w.iter().zip(&weights[0]) {
            assert!(
                (a - b).abs() <= 1e-9 * b.abs(),
                "{w:?} against {:?}",
                weights[0]
            );
        }
    }
}

/// Data held at float32 precision: the true network's residual is the rounding of X and Y,
/// which `eval` must not read as structure (it did: 5.28 against a limit of 1.035).
#[test]
fn float32_data_at_their_precision_show_no_structure() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let o = run(&[
        "generate",
        "--d",
        "10",
        "--k",
        "3",
        "--m",
        "3",
        "--n",
        "5000",
        "--seed",
        "6",
        "--out",
        p(&data),
    ]);
    assert!(o.status.success());
    // X.npy and Y.npy rewritten as float32: the same header with '<f4' for '<f8'.
    for name in ["X.npy", "Y.npy"] {
        let bytes = std::fs::read(data.join(name)).unwrap();
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize + 10;
        let mut out = bytes[..header_len].to_vec();
        let at = out.windows(3).position(|w| w == b"<f8").unwrap();
        out[at + 2] = b'4';
        for c in bytes[header_len..].chunks_exact(8) {
            let v = f64::from_le_bytes(c.try_into().unwrap()) as f32;
            out.extend_from_slice(&v.to_le_bytes());
        }
        std::fs::write(dir.path().join(name), out).unwrap();
    }
    let o = run(&[
        "eval",
        "--x",
        p(&dir.path().join("X.npy")),
        "--y",
        p(&dir.path().join("Y.npy")),
        "--u",
        p(&data.join("U_true.npy")),
        "--v",
        p(&data.join("V_true.npy")),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let err = m["prediction_error_rel"].as_f64().unwrap();
    assert!(err > 0.0 && err < 1e-6, "float32 rounding only: {err}");
    let (t, limit) = (
        m["residual_structure"].as_f64().unwrap(),
        m["residual_structure_limit"].as_f64().unwrap(),
    );
    assert!(
        t <= limit,
        "structure {t} above {limit} at float32 precision"
    );
}

/// The values of a float64 C-order .npy file written by `generate`: (rows, cols, values).
fn read_npy(path: &Path) -> (usize, usize, Vec<f64>) {
    let bytes = std::fs::read(path).unwrap();
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize + 10;
    let header = String::from_utf8_lossy(&bytes[..header_len]).to_string();
    let shape = &header[header.find("'shape': (").unwrap() + 10..];
    let dims: Vec<usize> = shape[..shape.find(')').unwrap()]
        .split(',')
        .filter_map(|t| t.trim().parse().ok())
        .collect();
    let values: Vec<f64> = bytes[header_len..]
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    (dims[0], dims.get(1).copied().unwrap_or(1), values)
}

/// report.json says how each CSV file's first row was read: a header of names, or a sample.
#[test]
fn the_report_says_whether_a_csv_had_a_header() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(generate(&data, "3").status().unwrap().success());
    let (n, d, xv) = read_npy(&data.join("X.npy"));
    let (_, m, yv) = read_npy(&data.join("Y.npy"));
    let row = |j: usize| {
        let cells: Vec<String> = (0..d)
            .map(|c| format!("{:e}", xv[j * d + c]))
            .chain((0..m).map(|c| format!("{:e}", yv[j * m + c])))
            .collect();
        cells.join(",")
    };
    let body: Vec<String> = (0..n).map(row).collect();
    let names: Vec<String> = (0..d)
        .map(|c| format!("x{c}"))
        .chain((0..m).map(|c| format!("y{c}")))
        .collect();
    let with = dir.path().join("with.csv");
    std::fs::write(&with, format!("{}\n{}\n", names.join(","), body.join("\n"))).unwrap();
    let without = dir.path().join("without.csv");
    std::fs::write(&without, body.join("\n") + "\n").unwrap();
    for (file, cols, header) in [(&with, "y0,y1,y2", true), (&without, "8,9,10", false)] {
        let out = dir.path().join(format!("r-{header}"));
        let o = run(&[
            "recover",
            "--x",
            p(file),
            "--y-cols",
            cols,
            "--quiet",
            "--out",
            p(&out),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let report = report_of(&out);
        assert_eq!(report["x_csv_header"], header);
        assert_eq!(report["y_csv_header"], header);
        assert_eq!(report["n"], n, "no sample lost to the header");
    }
}

/// A mapped input that shrinks under a run raises SIGBUS at the next read past its new end:
/// the process says so on one line and exits 2 instead of dying silently. (The signal is
/// sent directly: the real truncation races with the run's own reads.)
#[test]
fn a_bus_error_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let o = bin()
        .args([
            "generate", "--d", "50", "--k", "10", "--m", "10", "--n", "200000",
        ])
        .args(["--noise", "0.05", "--out", p(&data)])
        .output()
        .unwrap();
    assert!(o.status.success());
    let child = bin()
        .args([
            "recover",
            "--x",
            p(&data.join("X.npy")),
            "--y",
            p(&data.join("Y.npy")),
        ])
        .args(["--noise", "gaussian", "--out", p(&dir.path().join("r"))])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    // SAFETY: a signal to our own child, which has not been waited for.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGBUS) }, 0);
    let o = child.wait_with_output().unwrap();
    assert_refused(&o, "shrank while twolayer was reading it");
}

/// Where the output folder's parent is not writable (no sibling to stage in), the files are
/// still written, each whole, one by one, with a warning; leftovers are still removed.
/// Needs root to run a child as another user; elsewhere it says so and checks nothing.
#[test]
fn an_output_folder_in_a_read_only_parent_is_still_written() {
    // SAFETY: geteuid only reads this process's credentials.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to run a child as another user");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = dir.path().join("o");
    std::fs::create_dir(&out).unwrap();
    let c = std::ffi::CString::new(p(&out)).unwrap();
    // SAFETY: a NUL-terminated path; 65534 is the conventional `nobody`.
    assert_eq!(unsafe { libc::chown(c.as_ptr(), 65534, 65534) }, 0);
    for seed in ["1", "2"] {
        let mut cmd = generate(&out, seed);
        // SAFETY: between fork and exec only setgid/setuid, which are async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setgid(65534) != 0 || libc::setuid(65534) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let o = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{stderr}");
        assert!(stderr.contains("replaced one by one"), "{stderr}");
    }
    let reference = dir.path().join("ref");
    assert!(generate(&reference, "2").status().unwrap().success());
    assert_eq!(contents(&out), contents(&reference));
    assert_no_leftovers(&out);
    assert_no_leftovers(dir.path());
}

/// The same samples stored in Fortran order (float64) give the same bytes as in C order,
/// loaded or streamed: the readers transpose them, not the algorithms.
#[test]
fn fortran_order_samples_give_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(generate(&data, "8").status().unwrap().success());
    let (n, d, xv) = read_npy(&data.join("X.npy"));
    let mut bytes = npy_prefix(&format!("({n}, {d})"));
    // Same header length: "True, " where "False," stood.
    let at = bytes.windows(6).position(|w| w == b"False,").unwrap();
    bytes[at..at + 6].copy_from_slice(b"True, ");
    for c in 0..d {
        for j in 0..n {
            bytes.extend_from_slice(&xv[j * d + c].to_le_bytes());
        }
    }
    let fortran = dir.path().join("XF.npy");
    std::fs::write(&fortran, bytes).unwrap();
    let y = data.join("Y.npy");
    let mut sets = Vec::new();
    for (x, stream) in [
        (&data.join("X.npy"), false),
        (&fortran, false),
        (&fortran, true),
    ] {
        let out = dir.path().join(format!("r{}", sets.len()));
        let extra: &[&str] = if stream { &["--stream"] } else { &[] };
        let (report, files) = recover_outputs(x, &y, &out, extra, &[]);
        assert_eq!(report["certified"], true);
        sets.push(files);
    }
    assert_eq!(sets[0], sets[1], "Fortran order in memory");
    assert_eq!(sets[0], sets[2], "Fortran order streamed");
}

/// `twolayer recover` on labels just below and just above the certificate's threshold:
/// certified, then not, then an error when declared noiseless.
#[test]
fn the_certificate_threshold_at_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    for (noise, certified) in [("5e-11", true), ("3e-10", false)] {
        let data = dir.path().join(format!("d{noise}"));
        let o = bin()
            .args([
                "generate", "--d", "10", "--k", "3", "--m", "3", "--n", "3000",
            ])
            .args(["--seed", "2", "--noise", noise, "--out", p(&data)])
            .output()
            .unwrap();
        assert!(o.status.success());
        let (x, y) = (data.join("X.npy"), data.join("Y.npy"));
        let out = dir.path().join(format!("r{noise}"));
        let o = run(&[
            "recover",
            "--x",
            p(&x),
            "--y",
            p(&y),
            "--quiet",
            "--out",
            p(&out),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let report = report_of(&out);
        assert_eq!(report["certified"], certified, "{noise}");
        assert_eq!(
            report["stopped"],
            if certified {
                "exact"
            } else {
                "no-structure-left"
            }
        );
        let strict = dir.path().join(format!("s{noise}"));
        let o = run(&[
            "recover",
            "--x",
            p(&x),
            "--y",
            p(&y),
            "--noise",
            "none",
            "--out",
            p(&strict),
        ]);
        if certified {
            assert!(o.status.success());
        } else {
            assert_refused(&o, "exact needs < 1e-10");
            assert!(!strict.exists());
        }
    }
}
