//! Reading and writing the `.npy` files at the command line's boundary.
//!
//! Files hold samples as rows (X is (n, d), Y is (n, m) or (n,)), float32 or float64, C or
//! Fortran order. Everything is checked before a matrix is handed on: a bad file is an error
//! that names the file and says what to do, never a panic or a huge allocation.

use std::io::Cursor;
use std::path::Path;

use anyhow::{Context, Result, bail};
use faer::Mat;
use npyz::WriterBuilder;
use rayon::prelude::*;

/// Reads a float32/float64 array of any shape, C or Fortran order, as its shape and its
/// values in C (row-major) order, refusing non-finite values. The header's claimed size is
/// checked against the file before anything is allocated.
pub fn read_array(path: &Path) -> Result<(Vec<u64>, Vec<f64>)> {
    let shown = path.display();
    let meta = std::fs::metadata(path).with_context(|| format!("cannot open {shown}"))?;
    if !meta.is_file() {
        bail!("{shown} is not a regular file; pass the path of a .npy file");
    }
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {shown}"))?;
    // Mapped, not read: the values are decoded straight from the page cache into their one
    // buffer (a read would hold a second copy of the file).
    let map = if meta.len() == 0 {
        None
    } else {
        // SAFETY: the map is read-only and private to this process; the file being
        // truncated or rewritten by another process while we run is the one hazard, as with
        // numpy's mmap_mode.
        Some(unsafe { memmap2::Mmap::map(&file) }.with_context(|| format!("cannot map {shown}"))?)
    };
    let bytes: &[u8] = map.as_deref().unwrap_or_default();
    let header = crate::npy_header::parse(bytes).map_err(|e| {
        anyhow::anyhow!("{shown} is not a readable .npy file ({e}); write it with numpy.save")
    })?;
    let item = header
        .item_size()
        .map_err(|e| anyhow::anyhow!("{shown} {e}"))?;
    let needed = header
        .data_len(item, (bytes.len() - header.data_offset) as u64)
        .map_err(|e| anyhow::anyhow!("{shown} {e}"))? as usize;
    let (shape, fortran) = (header.shape.clone(), header.fortran);
    let data = &bytes[header.data_offset..header.data_offset + needed];
    let mut values = vec![0.0; needed / item];
    // In parallel blocks of 64 Ki values.
    values
        .par_chunks_mut(1 << 16)
        .zip(data.par_chunks(item << 16))
        .for_each(|(out, raw)| {
            if item == 8 {
                for (v, c) in out.iter_mut().zip(raw.chunks_exact(8)) {
                    *v = f64::from_le_bytes(c.try_into().expect("8 bytes"));
                }
            } else {
                for (v, c) in out.iter_mut().zip(raw.chunks_exact(4)) {
                    *v = f64::from(f32::from_le_bytes(c.try_into().expect("4 bytes")));
                }
            }
        });
    let dims: Vec<usize> = shape.iter().map(|&n| n as usize).collect();
    let values = if fortran && dims.len() > 1 {
        fortran_to_c(&values, &dims)
    } else {
        values
    };
    if let Some(flat) = values.iter().position(|v| !v.is_finite()) {
        let mut index = vec![0; dims.len()];
        let mut rest = flat;
        for (k, &n) in dims.iter().enumerate().rev() {
            index[k] = rest % n;
            rest /= n;
        }
        let place = match index[..] {
            [i, j] => format!("row {i}, column {j}"),
            [i] => format!("row {i}"),
            _ => format!("index {index:?}"),
        };
        bail!(
            "{shown} holds a non-finite value (NaN or ±inf) at {place}; clean or drop that sample"
        );
    }
    Ok((shape, values))
}

/// Reorders values stored first-index-fastest (Fortran) into last-index-fastest (C).
fn fortran_to_c(values: &[f64], dims: &[usize]) -> Vec<f64> {
    let mut strides = vec![0; dims.len()];
    let mut stride = 1;
    for k in (0..dims.len()).rev() {
        strides[k] = stride;
        stride *= dims[k];
    }
    let mut out = vec![0.0; values.len()];
    for (f, &v) in values.iter().enumerate() {
        // Fortran flat index → multi-index → C flat index.
        let mut rest = f;
        let mut c = 0;
        for (k, &n) in dims.iter().enumerate() {
            c += (rest % n) * strides[k];
            rest /= n;
        }
        out[c] = v;
    }
    out
}

/// Encodes any row-major array as a float64 C-order `.npy` file in memory.
pub fn encode_array(shape: &[u64], values: &[f64]) -> Result<Vec<u8>> {
    let mut buf = Cursor::new(Vec::new());
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(&mut buf)
        .begin_nd()?;
    writer.extend(values.iter().copied())?;
    writer.finish()?;
    Ok(buf.into_inner())
}

/// Encodes a matrix as a float64 C-order `.npy` file in memory.
pub fn encode_matrix(m: &Mat<f64>) -> Result<Vec<u8>> {
    let mut buf = Cursor::new(Vec::new());
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&[m.nrows() as u64, m.ncols() as u64])
        .writer(&mut buf)
        .begin_nd()?;
    for i in 0..m.nrows() {
        for j in 0..m.ncols() {
            writer.push(&m[(i, j)])?;
        }
    }
    writer.finish()?;
    Ok(buf.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fortran order against a reference written out by hand: element (i, j, l) of a
    /// 2×3×4 array sits at i + 2j + 6l in Fortran order and at 12i + 4j + l in C order.
    #[test]
    fn fortran_to_c_matches_the_index_formulas() {
        let value = |i: usize, j: usize, l: usize| (100 * i + 10 * j + l) as f64;
        let mut fortran = vec![0.0; 24];
        for i in 0..2 {
            for j in 0..3 {
                for l in 0..4 {
                    fortran[i + 2 * j + 6 * l] = value(i, j, l);
                }
            }
        }
        let c = fortran_to_c(&fortran, &[2, 3, 4]);
        for i in 0..2 {
            for j in 0..3 {
                for l in 0..4 {
                    assert_eq!(c[12 * i + 4 * j + l], value(i, j, l), "({i}, {j}, {l})");
                }
            }
        }
    }

    /// A float64 Fortran-order file reads to the same row-major values as its C-order twin.
    #[test]
    fn float64_fortran_files_read_in_row_major_order() {
        let dir = std::env::temp_dir().join(format!("twolayer-npy-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let rows: Vec<f64> = (0..6).map(|v| v as f64).collect(); // [[0, 1, 2], [3, 4, 5]]
        let path = dir.join("f.npy");
        let mut f = std::fs::File::create(&path).unwrap();
        let mut w = npyz::WriteOptions::new()
            .default_dtype()
            .shape(&[2, 3])
            .order(npyz::Order::Fortran)
            .writer(&mut f)
            .begin_nd()
            .unwrap();
        for v in [0.0, 3.0, 1.0, 4.0, 2.0, 5.0] {
            w.push(&v).unwrap();
        }
        w.finish().unwrap();
        let (shape, values) = read_array(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(shape, vec![2, 3]);
        assert_eq!(values, rows);
    }
}
