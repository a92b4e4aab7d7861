//! Reading and writing the `.npy` files at the command line's boundary.
//!
//! Files hold samples as rows (X is (n, d), Y is (n, m) or (n,)), float32 or float64, C or
//! Fortran order. Everything is checked before a matrix is handed on: a bad file is an error
//! that names the file and says what to do, never a panic or a huge allocation.

use std::fs::File;
use std::io::{BufReader, Cursor};
use std::path::Path;

use anyhow::{Context, Result, bail};
use faer::Mat;
use npyz::{NpyFile, Order, WriterBuilder};

/// Reads a 1-D (n,) or 2-D (n, c) float32/float64 array as an n×c matrix (1-D: one column),
/// refusing non-finite values.
pub fn read_matrix(path: &Path) -> Result<Mat<f64>> {
    let shown = path.display();
    let meta = std::fs::metadata(path).with_context(|| format!("cannot open {shown}"))?;
    if !meta.is_file() {
        bail!("{shown} is not a regular file; pass the path of a .npy file");
    }
    let file = File::open(path).with_context(|| format!("cannot open {shown}"))?;
    let npy = NpyFile::new(BufReader::new(file))
        .with_context(|| format!("{shown} is not a readable .npy file (bad magic or header)"))?;
    let shape = npy.shape().to_vec();
    let (rows, cols) = match shape[..] {
        [n] => (n, 1),
        [n, c] => (n, c),
        _ => bail!(
            "{shown} has shape {shape:?}; twolayer reads 1-D (n,) or 2-D (n, d) arrays with one \
             sample per row"
        ),
    };
    let fortran = npy.order() == Order::Fortran;
    let descr = npy.dtype().descr();
    let item = npy.dtype().num_bytes().unwrap_or(8) as u64;
    let needed = rows
        .checked_mul(cols)
        .and_then(|c| c.checked_mul(item))
        .unwrap_or(u64::MAX);
    if needed > meta.len() {
        bail!(
            "{shown} claims shape {shape:?} ({needed} bytes of data) but the file has only {} \
             bytes: it is truncated or its header is corrupt",
            meta.len()
        );
    }
    let (rows, cols) = (rows as usize, cols as usize);
    let values: Vec<f64> = match npy.try_data::<f64>() {
        Ok(reader) => reader
            .into_iter()
            .collect::<std::io::Result<_>>()
            .with_context(|| format!("{shown}: the data ends early or cannot be read"))?,
        Err(npy) => match npy.try_data::<f32>() {
            Ok(reader) => reader
                .into_iter()
                .map(|v| v.map(f64::from))
                .collect::<std::io::Result<_>>()
                .with_context(|| format!("{shown}: the data ends early or cannot be read"))?,
            Err(_) => bail!(
                "{shown} has dtype {descr}; twolayer reads float32 or float64 arrays: convert \
                 it, e.g. np.save(path, a.astype(np.float64))"
            ),
        },
    };
    if values.len() != rows * cols {
        bail!(
            "{shown}: expected {} values for shape {shape:?}, read {}",
            rows * cols,
            values.len()
        );
    }
    let m = if fortran {
        Mat::from_fn(rows, cols, |i, j| values[j * rows + i])
    } else {
        Mat::from_fn(rows, cols, |i, j| values[i * cols + j])
    };
    if let Some((i, j)) = first_non_finite(&m) {
        bail!(
            "{shown} holds a non-finite value (NaN or ±inf) at row {i}, column {j}; clean or drop \
             that sample"
        );
    }
    Ok(m)
}

fn first_non_finite(m: &Mat<f64>) -> Option<(usize, usize)> {
    if m.is_all_finite() {
        return None;
    }
    (0..m.nrows())
        .flat_map(|i| (0..m.ncols()).map(move |j| (i, j)))
        .find(|&(i, j)| !m[(i, j)].is_finite())
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
