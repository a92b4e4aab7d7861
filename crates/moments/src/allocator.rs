//! The allocator setting the passes want, for binaries to apply.

/// Keeps freed memory in the process for reuse: raises glibc malloc's mmap threshold to its
/// maximum (32 MiB) and its trim threshold to 1 GiB. Call it once at the start of a binary
/// (`twolayer` and `xtask` do); library code never calls it, since it changes the whole
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
