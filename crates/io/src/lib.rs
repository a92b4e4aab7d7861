//! twolayer's files, shared by the command line, the Python package and xtask: `.npy` files
//! (read by rows, streamed or mapped), arrays of `.npz` archives and CSV files; `.npy` and
//! `model.safetensors` writers; and the all-or-nothing output folder (`output`) with the
//! memory and disk checks (`resources`) that keep a run within its budget. Every reader
//! checks what it is given before it allocates for it and reports a malformed input as an
//! error, never a panic; the fuzz target (`fuzz/`, `cargo xtask fuzz`) holds them to that.
//!
//! # Example
//! ```
//! use std::path::Path;
//! use twolayer_io::{csv_input, npy_source::NpyRows};
//!
//! // A CSV table with a header; the last column as labels.
//! let table = csv_input::read_csv_from(&b"x0,x1,y\n1,2,3\n4,5,6\n"[..], Path::new("t.csv")).unwrap();
//! let (x, y) = table.split("y", Path::new("t.csv")).unwrap();
//! assert_eq!((x.rows, x.cols, y.cols), (2, 2, 1));
//! assert_eq!(y.values, vec![3.0, 6.0]);
//!
//! // A .npy header claiming far more data than the bytes hold is an error, not an allocation.
//! let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000, 3), }";
//! let mut npy = b"\x93NUMPY\x01\x00".to_vec();
//! npy.extend_from_slice(&(dict.len() as u16).to_le_bytes());
//! npy.extend_from_slice(dict.as_bytes());
//! let err = NpyRows::from_bytes(npy, "huge.npy".into()).unwrap_err();
//! assert!(err.to_string().contains("truncated or its header is corrupt"));
//! ```

#![warn(missing_docs)]

pub mod csv_input;
pub mod npy;
pub mod npy_header;
pub mod npy_source;
pub mod output;
pub mod resources;
pub mod safetensors_out;

/// Runs every reader on untrusted bytes, as a `.npy` file, an `.npz` archive and a CSV file,
/// reading all the values each one accepts. Returns how many readers accepted the bytes. For
/// the fuzz target: it must never panic, whatever the bytes.
pub fn read_untrusted(bytes: &[u8]) -> usize {
    let mut accepted = 0;
    if let Ok(rows) = npy_source::NpyRows::from_bytes(bytes.to_vec(), "fuzz.npy".into())
        && rows.read_all().is_ok()
    {
        accepted += 1;
    }
    if let Ok(names) = npy_source::npz_array_names(std::io::Cursor::new(bytes)) {
        let mut all = !names.is_empty();
        for name in names {
            let cursor = std::io::Cursor::new(bytes);
            all &= npy_source::read_npz_member_from(cursor, Some(&name), "fuzz.npz")
                .and_then(|(member, label)| npy_source::NpyRows::from_bytes(member, label.into()))
                .and_then(|rows| rows.read_all())
                .is_ok();
        }
        accepted += usize::from(all);
    }
    if csv_input::read_csv_from(bytes, std::path::Path::new("fuzz.csv")).is_ok() {
        accepted += 1;
    }
    accepted
}

// The README's example runs as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
