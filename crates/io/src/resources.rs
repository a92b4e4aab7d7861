//! What this machine can hold: checked before a command allocates or writes for sizes a
//! user named, so that too large a request is a clear error instead of an allocation failure
//! (an abort) or a full disk.

use std::path::Path;

use anyhow::{Result, bail};

/// Memory the kernel reports available (`MemAvailable`), in bytes; `None` off Linux.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// Free space for an unprivileged writer on the filesystem holding `path`, in bytes.
pub fn available_disk(path: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
        let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
        // SAFETY: a NUL-terminated path and a buffer of the right type for statvfs to fill.
        if unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) } != 0 {
            return None;
        }
        // SAFETY: statvfs returned 0, so it filled the buffer.
        let st = unsafe { st.assume_init() };
        #[allow(clippy::unnecessary_cast)] // the field types differ across platforms
        Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Whether `needed` bytes fit in `free` (None: unknown, which never blocks a run); the free
/// count when they do not.
pub fn fits_on_disk(needed: u64, free: Option<u64>) -> Result<(), u64> {
    match free {
        Some(free) if needed > free => Err(free),
        _ => Ok(()),
    }
}

/// Errors when `bytes` (None: beyond any count) exceed the memory available; `what` names
/// the request and `advice` says what to pass instead.
pub fn check_memory(bytes: Option<u64>, what: &str, advice: &str) -> Result<()> {
    let available = available_memory();
    match (bytes, available) {
        (None, _) => bail!("{what} would need more memory than any machine has; {advice}"),
        (Some(b), Some(a)) if b > a => bail!(
            "{what} would need {} of memory but {} is available; {advice}",
            show_bytes(b),
            show_bytes(a)
        ),
        _ => Ok(()),
    }
}

/// A byte count for people: 1.5 GB, 320 MB, 12 kB.
pub fn show_bytes(b: u64) -> String {
    let b = b as f64;
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.0} MB", b / 1e6)
    } else {
        format!("{:.0} kB", (b / 1e3).max(1.0))
    }
}

/// Keeps freed memory in the process for reuse: raises glibc malloc's mmap threshold to its
/// maximum (32 MiB) and its trim threshold to 1 GiB. Call it once at the start of a binary
/// (`twolayer` and `xtask` do); library code, the Python module included, never calls it, since it changes the whole
/// process's allocator.
///
/// Why: every chunk of a pass allocates a few buffers of a few hundred KB. With glibc's
/// defaults, blocks that size are mapped and unmapped (or trimmed) each time, so each chunk
/// pays page faults and the kernel's zeroing afresh: measured 0.45 s of a 2.4 s
/// sign-pattern iteration at n = 10⁶. The same effect without code:
/// `GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824`.
///
/// A no-op off glibc. Cost: two `mallopt` calls.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes malloc's parameters; it is called before any thread of
    // ours allocates in parallel, and a rejected value leaves the default in place.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exactly the free space fits; one byte more does not; an unknown free space never
    /// blocks.
    #[test]
    fn the_disk_check_is_exact() {
        assert_eq!(fits_on_disk(4096, Some(4096)), Ok(()));
        assert_eq!(fits_on_disk(4097, Some(4096)), Err(4096));
        assert_eq!(fits_on_disk(0, Some(0)), Ok(()));
        assert_eq!(fits_on_disk(u64::MAX, None), Ok(()));
    }
}
