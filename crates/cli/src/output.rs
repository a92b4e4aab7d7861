//! All-or-nothing output: every file is rendered in memory first, written beside its final
//! name, and renamed into place only when all writes succeeded.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Files to write into one output folder.
#[derive(Default)]
pub struct Outputs {
    files: Vec<(String, Vec<u8>)>,
}

impl Outputs {
    /// Adds a file (name inside the folder, full contents).
    pub fn add(&mut self, name: &str, bytes: Vec<u8>) {
        self.files.push((name.to_string(), bytes));
    }

    /// Writes every file into `dir` (created if missing). On any failure no final file is
    /// created or replaced and the temporary files are removed.
    pub fn commit(self, dir: &Path) -> Result<Vec<PathBuf>> {
        if dir.exists() && !dir.is_dir() {
            bail!(
                "--out {} exists and is not a folder; pass a folder path",
                dir.display()
            );
        }
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the output folder {}", dir.display()))?;
        let pid = std::process::id();
        let mut staged: Vec<(PathBuf, PathBuf)> = Vec::new();
        let result = (|| -> Result<()> {
            for (name, bytes) in &self.files {
                let tmp = dir.join(format!(".{name}.tmp-{pid}"));
                staged.push((tmp.clone(), dir.join(name)));
                fs::write(&tmp, bytes)
                    .with_context(|| format!("cannot write into {}", dir.display()))?;
            }
            Ok(())
        })();
        if let Err(e) = result {
            for (tmp, _) in &staged {
                let _ = fs::remove_file(tmp);
            }
            return Err(e);
        }
        let mut written = Vec::new();
        for (tmp, fin) in staged {
            fs::rename(&tmp, &fin)
                .with_context(|| format!("cannot move {} into place", fin.display()))?;
            written.push(fin);
        }
        Ok(written)
    }
}

/// Writes one file all-or-nothing: into a temporary file beside it, then renamed into place.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if path.is_dir() {
        bail!("{} is a folder; pass a file path", path.display());
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("{} has no file name", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    if let Err(e) = fs::write(&tmp, bytes) {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    fs::rename(&tmp, path).with_context(|| format!("cannot move {} into place", path.display()))
}
