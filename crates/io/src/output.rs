//! Output that never destroys what is at the target and appears whole or not at all.
//!
//! - An output *folder* ([`OutputDir`]) is reserved before any work: created if missing and
//!   locked (`flock`), so a second writer is refused at once instead of mixing its files with
//!   the first's. Its new contents are built in a hidden sibling folder, which then trades
//!   places with the output folder in one `renameat2(RENAME_EXCHANGE)`: a reader sees the old
//!   complete set or the new complete set, never a mixture. Files in the folder that this run
//!   does not write are carried over by hard links (same inodes, never copied or deleted).
//! - An output *file* ([`write_file`]) is written beside its target and renamed over it; `-`
//!   means standard output, and a symbolic link is written through to the file it names.
//!
//! Only regular files are ever replaced: a device node, a FIFO, a socket, a folder or a link
//! in the way is an error that names it. Leftovers of a killed run (its hidden staging folder
//! or temporary file) are removed by the next run that writes to the same place.
//!
//! Cost: one write of every byte, plus a few metadata operations and `fsync`s.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Prefix of the hidden siblings an output folder's commit stages in (`.<name>` + this).
const STAGING: &str = ".twolayer-staging-";
/// Prefix of the temporary file a single output file is written to (`.<name>` + this).
const TEMPORARY: &str = ".twolayer-tmp-";

/// Test hook: `TWOLAYER_TEST_KILL_AT=N` makes the process kill itself with SIGKILL at step
/// N of a commit (1: staging folder made, 2: first file written, 3: all files written,
/// 4: foreign files linked, 5: folders exchanged; for a single file, 1: temporary written),
/// so that tests can check what a crash at each step leaves behind.
fn test_kill_at(step: u32) {
    if let Ok(at) = std::env::var("TWOLAYER_TEST_KILL_AT")
        && at.parse::<u32>() == Ok(step)
    {
        #[cfg(unix)]
        // SAFETY: sending a signal to this process; no memory is touched.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
        std::process::abort();
    }
}

/// Test hook: `TWOLAYER_TEST_LATE_FILE=NAME` creates the file NAME in the output folder
/// after the new set is written and before it replaces the old one, as another process
/// writing into the folder during the run would.
fn test_late_file(dir: &Path) {
    if let Ok(name) = std::env::var("TWOLAYER_TEST_LATE_FILE") {
        let _ = fs::write(dir.join(name), b"late");
    }
}

/// What kind of thing stands at a path, in words, for errors.
fn kind(meta: &fs::Metadata) -> &'static str {
    let t = meta.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a folder"
    } else if t.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

/// Whether commits may print a warning on stderr (the binary turns it off with --quiet).
pub static WARNINGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Files to write into one output folder, held in memory until [`OutputDir::commit`].
#[derive(Default)]
pub struct Outputs {
    files: Vec<(String, Vec<u8>)>,
}

impl Outputs {
    /// Adds a file (name inside the folder, full contents).
    pub fn add(&mut self, name: &str, bytes: Vec<u8>) {
        self.files.push((name.to_string(), bytes));
    }
}

/// An output folder reserved for this run: it exists, is locked against other twolayer
/// writers, and holds nothing in the way of the files to be written. Dropped without a
/// commit, it removes the folder again if it created it and it is still empty.
pub struct OutputDir {
    /// The folder, with symbolic links resolved.
    path: PathBuf,
    /// The open folder, holding the lock.
    lock_file: File,
    /// Whether this run created the folder.
    created: bool,
    committed: bool,
}

impl OutputDir {
    /// Reserves `dir` for this run's outputs, before any work is done: checks that it is a
    /// folder (or missing: then creates it), takes its lock, and removes the leftovers of
    /// killed runs. Errors when another twolayer run holds the lock.
    pub fn reserve(dir: &Path) -> Result<OutputDir> {
        let shown = dir.display();
        let mut created = false;
        match fs::symlink_metadata(dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(meta) if meta.file_type().is_symlink() => match fs::metadata(dir) {
                Ok(target) if target.is_dir() => {}
                Ok(target) => bail!(
                    "--out {shown} is a link to {}, not to a folder; pass a folder path",
                    kind(&target)
                ),
                Err(_) => bail!(
                    "--out {shown} is a symbolic link to a missing folder; remove the link or \
                     pass another path"
                ),
            },
            Ok(meta) => bail!(
                "--out {shown} is {}, not a folder; pass a folder path",
                kind(&meta)
            ),
            // Missing: created. Unreadable (no permission, a file as a parent): creating it
            // fails with the same reason, which the error then gives.
            Err(_) => {
                fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create the output folder {shown}"))?;
                created = true;
            }
        }
        let path = fs::canonicalize(dir).with_context(|| format!("cannot resolve {shown}"))?;
        let mut reserved = OutputDir {
            lock_file: lock(&path)?,
            path,
            created,
            committed: false,
        };
        // The lock may have been taken on a folder that a finishing run had just exchanged
        // away; it counts only if it is still the folder at the path.
        for _ in 0..8 {
            if same_file(&reserved.lock_file, &reserved.path)? {
                reserved.remove_leftovers();
                return Ok(reserved);
            }
            reserved.lock_file = lock(&reserved.path)?;
        }
        bail!(
            "the output folder {shown} keeps being replaced by another process; choose another \
             --out"
        )
    }

    /// The folder's `name` and parent, where staging folders live.
    fn parent_and_name(&self) -> Result<(PathBuf, String)> {
        let name = self
            .path
            .file_name()
            .with_context(|| format!("--out {} has no folder name", self.path.display()))?;
        let parent = self
            .path
            .parent()
            .with_context(|| format!("--out {} has no parent folder", self.path.display()))?;
        Ok((parent.to_owned(), name.to_string_lossy().into_owned()))
    }

    /// The commit where the folder's parent is not writable, so no sibling can be staged
    /// and exchanged: the files are written and flushed in a hidden folder inside, then each
    /// is renamed over its target. Each file is whole, but the set changes file by file, and
    /// a warning says so.
    /// `why` completes "the files in DIR were replaced one by one because …".
    fn commit_file_by_file(mut self, files: Outputs, why: &str) -> Result<Vec<PathBuf>> {
        let shown = self.path.display().to_string();
        let inside = self.path.join(format!("{STAGING}{}", std::process::id()));
        let _ = fs::remove_dir_all(&inside);
        fs::create_dir(&inside).with_context(|| format!("cannot write into {shown}"))?;
        let staged = (|| -> Result<()> {
            for (file, bytes) in &files.files {
                let mut f = File::create(inside.join(file))
                    .with_context(|| format!("cannot write into {shown}"))?;
                f.write_all(bytes)
                    .and_then(|()| f.sync_all())
                    .with_context(|| format!("cannot write {file} into {shown}"))?;
            }
            for (file, _) in &files.files {
                fs::rename(inside.join(file), self.path.join(file))
                    .with_context(|| format!("cannot move {file} into {shown}"))?;
            }
            Ok(())
        })();
        let _ = fs::remove_dir_all(&inside);
        staged?;
        sync_dir(&self.path);
        self.committed = true;
        if WARNINGS.load(std::sync::atomic::Ordering::Relaxed) {
            eprintln!(
                "warning: the files in {shown} were replaced one by one rather than as one set, \
                 because {why}"
            );
        }
        Ok(files.files.iter().map(|(n, _)| self.path.join(n)).collect())
    }

    /// Removes staging folders that killed runs left beside this one. Holding the lock, no
    /// other run is staging for this folder, except one already past its exchange that is
    /// removing its old folder, which it names by its own process id: those are skipped
    /// while that process lives.
    fn remove_leftovers(&self) {
        let Ok((parent, name)) = self.parent_and_name() else {
            return;
        };
        let prefix = format!(".{name}{STAGING}");
        remove_dead(&parent, &prefix, |p| {
            let _ = fs::remove_dir_all(p);
        });
        // And those of the file-by-file commit, inside the folder.
        remove_dead(&self.path, STAGING, |p| {
            let _ = fs::remove_dir_all(p);
        });
    }

    /// Writes `files` into the folder, all or nothing: the folder trades places with a
    /// complete staged copy in one step. Returns the paths written.
    pub fn commit(mut self, files: Outputs) -> Result<Vec<PathBuf>> {
        let shown = self.path.display().to_string();
        let (parent, name) = self.parent_and_name()?;
        let mut names: Vec<&str> = Vec::new();
        for (file, _) in &files.files {
            if names.contains(&file.as_str()) {
                bail!("internal: two outputs named {file}");
            }
            names.push(file);
        }
        // Everything in the folder now: ours are replaced, the rest carried over.
        let mut foreign = Vec::new();
        for entry in fs::read_dir(&self.path).with_context(|| format!("cannot read {shown}"))? {
            let entry = entry.with_context(|| format!("cannot read {shown}"))?;
            let meta = fs::symlink_metadata(entry.path())
                .with_context(|| format!("cannot read {}", entry.path().display()))?;
            let entry_name = entry.file_name().to_string_lossy().into_owned();
            if names.contains(&entry_name.as_str()) {
                if !meta.is_file() {
                    bail!(
                        "{} is {}, in the way of an output file; twolayer replaces only \
                         regular files: move it away or choose another --out",
                        entry.path().display(),
                        kind(&meta)
                    );
                }
            } else if meta.is_dir() {
                bail!(
                    "--out {shown} holds a folder {entry_name:?} that this run does not write; \
                     twolayer replaces the output folder as a whole and carries over only files: \
                     move that folder away or choose another --out"
                );
            } else {
                foreign.push(entry.file_name());
            }
        }
        let needed: u64 = files.files.iter().map(|(_, b)| b.len() as u64).sum();
        if let Err(free) =
            crate::resources::fits_on_disk(needed, crate::resources::available_disk(&parent))
        {
            bail!(
                "the outputs take {} but the disk holding {shown} has {} free; free some space \
                 or choose another --out",
                crate::resources::show_bytes(needed),
                crate::resources::show_bytes(free)
            );
        }
        let staging = parent.join(format!(".{name}{STAGING}{}", std::process::id()));
        let _ = fs::remove_dir_all(&staging);
        if let Err(e) = fs::create_dir(&staging) {
            // No sibling can be made: a parent not writable, or a folder name so long that
            // the staging name would pass the file system's limit.
            if e.kind() == std::io::ErrorKind::PermissionDenied
                || matches!(e.raw_os_error(), Some(libc::EROFS | libc::ENAMETOOLONG))
            {
                drop(names);
                let why = if e.raw_os_error() == Some(libc::ENAMETOOLONG) {
                    "its name is too long to stage the new set beside it; use a shorter name \
                     for one-step replacement"
                } else {
                    "the folder that holds it is not writable"
                };
                return self.commit_file_by_file(files, why);
            }
            return Err(e).with_context(|| {
                format!("cannot create a staging folder beside {shown} (in its parent folder)")
            });
        }
        let staged = (|| -> Result<()> {
            if let Ok(meta) = fs::metadata(&self.path) {
                let _ = fs::set_permissions(&staging, meta.permissions());
            }
            test_kill_at(1);
            for (file, bytes) in &files.files {
                let path = staging.join(file);
                let mut f =
                    File::create(&path).with_context(|| format!("cannot write into {shown}"))?;
                f.write_all(bytes)
                    .and_then(|()| f.sync_all())
                    .with_context(|| format!("cannot write {file} into {shown}"))?;
                test_kill_at(2);
            }
            test_kill_at(3);
            test_late_file(&self.path);
            for entry in &foreign {
                fs::hard_link(self.path.join(entry), staging.join(entry)).with_context(|| {
                    format!(
                        "cannot carry {} over into the new output folder; move it out of \
                         {shown} or choose another --out",
                        self.path.join(entry).display()
                    )
                })?;
            }
            sync_dir(&staging);
            test_kill_at(4);
            exchange(&staging, &self.path)
                .with_context(|| format!("cannot replace the contents of {shown} in one step"))
        })();
        if let Err(e) = staged {
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
        sync_dir(&parent);
        self.committed = true;
        test_kill_at(5);
        // `staging` is now the old folder. Anything that appeared in it after it was listed
        // belongs to someone else: give it back before removing the old set.
        // (What was listed is in the new set already, written or carried over: only a name
        // the new set lacks is someone else's.)
        if let Ok(entries) = fs::read_dir(&staging) {
            for entry in entries.flatten() {
                let back = self.path.join(entry.file_name());
                if fs::symlink_metadata(&back).is_err() {
                    let _ = fs::rename(entry.path(), back);
                }
            }
        }
        let _ = fs::remove_dir_all(&staging);
        Ok(names.iter().map(|n| self.path.join(n)).collect())
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        if self.created && !self.committed {
            // Only an empty folder: fails harmlessly otherwise.
            let _ = fs::remove_dir(&self.path);
        }
    }
}

/// Opens `dir` and takes its exclusive lock without waiting.
fn lock(dir: &Path) -> Result<File> {
    let f = File::open(dir).with_context(|| format!("cannot open {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a file descriptor this function owns.
        let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                bail!(
                    "another twolayer run is writing to {}; wait for it to finish or choose \
                     another --out",
                    dir.display()
                );
            }
            return Err(e).with_context(|| format!("cannot lock {}", dir.display()));
        }
    }
    Ok(f)
}

/// Whether the open file `f` is the one at `path` now.
fn same_file(f: &File, path: &Path) -> Result<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let open = f.metadata()?;
        let Ok(now) = fs::metadata(path) else {
            return Ok(false);
        };
        Ok(open.dev() == now.dev() && open.ino() == now.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = (f, path);
        Ok(true)
    }
}

/// Makes `staging` the folder at `target` and `target`'s old contents the folder at
/// `staging`, in one step where the system can (Linux), else in two renames.
fn exchange(staging: &Path, target: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let a = CString::new(staging.as_os_str().as_bytes())?;
        let b = CString::new(target.as_os_str().as_bytes())?;
        // Test hook: `TWOLAYER_TEST_NO_EXCHANGE=1` answers as a file system without the
        // exchange does (EINVAL), so that tests run the fallback below; `=EIO` fails as a
        // broken disk would.
        let rc = if let Some(hook) = std::env::var_os("TWOLAYER_TEST_NO_EXCHANGE") {
            let errno = if hook == "EIO" {
                libc::EIO
            } else {
                libc::EINVAL
            };
            Err(std::io::Error::from_raw_os_error(errno))
        } else {
            // SAFETY: two NUL-terminated paths that live across the call.
            let rc = unsafe {
                libc::renameat2(
                    libc::AT_FDCWD,
                    a.as_ptr(),
                    libc::AT_FDCWD,
                    b.as_ptr(),
                    libc::RENAME_EXCHANGE,
                )
            };
            if rc == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        };
        match rc {
            Ok(()) => return Ok(()),
            Err(e) if !exchange_unsupported(&e) => return Err(e),
            Err(_) => {}
        }
    }
    let aside = staging.with_extension("old");
    fs::rename(target, &aside)?;
    if let Err(e) = fs::rename(staging, target) {
        let _ = fs::rename(&aside, target);
        return Err(e);
    }
    fs::rename(&aside, staging)
}

/// Whether renameat2's error says the file system (or kernel) lacks the exchange, which two
/// renames then replace.
#[cfg(target_os = "linux")]
fn exchange_unsupported(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS))
}

/// Flushes a folder's entries to disk (best effort: some systems refuse it for folders).
fn sync_dir(dir: &Path) {
    if let Ok(f) = File::open(dir) {
        let _ = f.sync_all();
    }
}

/// Removes the entries of `dir` whose names are `prefix` followed by the id of a process
/// that no longer runs.
fn remove_dead(dir: &Path, prefix: &str, remove: impl Fn(&Path)) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        if !alive(pid) {
            remove(&entry.path());
        }
    }
}

/// Whether a process with this id runs (its own id counts as dead: this process is not
/// staging yet when it cleans up).
fn alive(pid: i32) -> bool {
    if pid == std::process::id() as i32 {
        return false;
    }
    #[cfg(unix)]
    {
        // SAFETY: signal 0 only checks that the process exists.
        let rc = unsafe { libc::kill(pid, 0) };
        rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        true
    }
}

/// Where a single output file goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileTarget {
    /// Standard output (`-`).
    Stdout,
    /// A regular file (existing or not), links resolved.
    File(PathBuf),
}

/// Checks a single output file's path before any work: `-` is standard output; an existing
/// target must be a regular file (a link is followed to one); a missing one needs an
/// existing parent folder.
pub fn file_target(path: &Path) -> Result<FileTarget> {
    if path.as_os_str() == "-" {
        return Ok(FileTarget::Stdout);
    }
    let shown = path.display();
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => Ok(FileTarget::File(path.to_owned())),
        Ok(meta) if meta.file_type().is_symlink() => match fs::metadata(path) {
            Ok(target) if target.is_file() => Ok(FileTarget::File(
                fs::canonicalize(path).with_context(|| format!("cannot resolve {shown}"))?,
            )),
            Ok(target) => bail!(
                "{shown} is a link to {}; twolayer replaces only regular files: pass a file \
                 path (or - for standard output)",
                kind(&target)
            ),
            Err(_) => bail!(
                "{shown} is a symbolic link to a missing file; remove the link or pass another \
                 path"
            ),
        },
        Ok(meta) => bail!(
            "{shown} is {}; twolayer replaces only regular files: pass a file path (or - for \
             standard output)",
            kind(&meta)
        ),
        // Missing (or unreadable, which writing will then report): its folder must exist.
        Err(_) => {
            let parent = folder_of(path);
            match fs::metadata(parent) {
                Ok(meta) if meta.is_dir() => Ok(FileTarget::File(path.to_owned())),
                Ok(meta) => bail!(
                    "cannot write {shown}: {} is {}, not a folder; pass another path",
                    parent.display(),
                    kind(&meta)
                ),
                Err(_) => bail!(
                    "cannot write {shown}: its folder does not exist; create it or pass another \
                     path"
                ),
            }
        }
    }
}

/// The folder a file path names its file in: its parent, or the working folder for a bare
/// name.
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Writes one file all-or-nothing: into a temporary file beside it, then renamed over it.
/// The target is checked as [`file_target`] does; `-` writes to standard output.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let target = match file_target(path)? {
        FileTarget::Stdout => {
            let mut out = std::io::stdout().lock();
            return out
                .write_all(bytes)
                .and_then(|()| out.flush())
                .context("cannot write to standard output");
        }
        FileTarget::File(p) => p,
    };
    let dir = folder_of(&target);
    let name = target
        .file_name()
        .with_context(|| format!("{} has no file name", path.display()))?
        .to_string_lossy()
        .into_owned();
    let prefix = format!(".{name}{TEMPORARY}");
    remove_dead(dir, &prefix, |p| {
        let _ = fs::remove_file(p);
    });
    let tmp = dir.join(format!("{prefix}{}", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        test_kill_at(1);
        fs::rename(&tmp, &target)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    sync_dir(dir);
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// Only "not supported here" falls back to two renames; any other failure of the
    /// exchange is an error.
    #[test]
    fn only_a_missing_exchange_falls_back() {
        for (errno, fallback) in [
            (libc::EINVAL, true),
            (libc::ENOSYS, true),
            (libc::EACCES, false),
            (libc::ENOENT, false),
            (libc::EXDEV, false),
        ] {
            let e = std::io::Error::from_raw_os_error(errno);
            assert_eq!(exchange_unsupported(&e), fallback, "errno {errno}");
        }
    }
}
