//! The `.npy`, `.npz` and CSV readers on arbitrary bytes: errors are fine, panics, hangs and
//! huge allocations are not. Run with `cargo xtask fuzz --seconds N`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = twolayer_io::read_untrusted(data);
});
