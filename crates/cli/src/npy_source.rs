//! `.npy` files as a [`SampleSource`]: samples read in chunks straight from the file, so a
//! pass over data larger than memory holds one chunk per thread.

use std::fs::File;
use std::io::BufReader;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use faer::{MatMut, MatRef};
use npyz::{NpyFile, Order};
use rayon::prelude::*;
use twolayer_moments::{CHUNK, MomentsError, SampleSource};

/// One 2-D (n, c) or 1-D (n,) little-endian float32/float64 `.npy` file, read by rows.
#[derive(Debug)]
pub struct NpyRows {
    file: File,
    path: PathBuf,
    /// Byte offset of the data.
    offset: u64,
    rows: usize,
    cols: usize,
    /// Bytes per value: 4 or 8.
    item: usize,
    fortran: bool,
}

impl NpyRows {
    /// Opens `path` and checks its header against the file size (a header claiming more
    /// data than the file holds is an error, and nothing is allocated for it).
    pub fn open(path: &Path) -> Result<Self> {
        let shown = path.display();
        let meta = std::fs::metadata(path).with_context(|| format!("cannot open {shown}"))?;
        if !meta.is_file() {
            bail!("{shown} is not a regular file; pass the path of a .npy file");
        }
        let file = File::open(path).with_context(|| format!("cannot open {shown}"))?;
        let npy = NpyFile::new(BufReader::new(file.try_clone()?)).with_context(|| {
            format!("{shown} is not a readable .npy file (bad magic or header)")
        })?;
        let shape = npy.shape().to_vec();
        let descr = npy.dtype().descr();
        let item = match descr.trim_matches(['\'', '"']) {
            "<f8" => 8,
            "<f4" => 4,
            _ => bail!(
                "{shown} has dtype {descr}; twolayer streams little-endian float32 or float64 \
                 arrays: convert it, e.g. np.save(path, a.astype('<f8'))"
            ),
        };
        let (rows, cols) = match shape[..] {
            [n] => (n, 1),
            [n, c] => (n, c),
            _ => bail!(
                "{shown} has shape {shape:?}; twolayer reads 1-D (n,) or 2-D (n, d) arrays \
                 with one sample per row"
            ),
        };
        let needed = rows
            .checked_mul(cols)
            .and_then(|c| c.checked_mul(item as u64))
            .unwrap_or(u64::MAX);
        if needed > meta.len() {
            bail!(
                "{shown} claims shape {shape:?} ({needed} bytes of data) but the file has only \
                 {} bytes: it is truncated or its header is corrupt",
                meta.len()
            );
        }
        Ok(Self {
            file,
            path: path.to_owned(),
            offset: meta.len() - needed,
            rows: rows as usize,
            cols: cols as usize,
            item,
            fortran: npy.order() == Order::Fortran && shape.len() == 2,
        })
    }

    /// Bytes of data as float64 in memory.
    pub fn bytes_f64(&self) -> u64 {
        (self.rows as u64) * (self.cols as u64) * 8
    }

    /// Writes rows `start .. start + out.ncols()` as the columns of `out` (cols×len),
    /// refusing non-finite values (the error names the row and column).
    pub fn read_rows(&self, start: usize, mut out: MatMut<'_, f64>) -> Result<(), MomentsError> {
        let len = out.ncols();
        let io = |e: std::io::Error| {
            MomentsError::Source(format!(
                "{}: cannot read the data: {e}",
                self.path.display()
            ))
        };
        let mut bytes = vec![0u8; len * self.cols * self.item];
        if self.fortran {
            // Column a holds all rows of feature a: one read per feature.
            let per = len * self.item;
            for (a, dst) in bytes.chunks_exact_mut(per).enumerate() {
                let at = self.offset + ((a * self.rows + start) * self.item) as u64;
                self.file.read_exact_at(dst, at).map_err(io)?;
            }
        } else {
            let at = self.offset + (start * self.cols * self.item) as u64;
            self.file.read_exact_at(&mut bytes, at).map_err(io)?;
        }
        let decode = |i: usize| -> f64 {
            if self.item == 8 {
                f64::from_le_bytes(bytes[8 * i..8 * i + 8].try_into().expect("8 bytes"))
            } else {
                f64::from(f32::from_le_bytes(
                    bytes[4 * i..4 * i + 4].try_into().expect("4 bytes"),
                ))
            }
        };
        let bad = |j: usize, a: usize| {
            MomentsError::Source(format!(
                "{} holds a non-finite value (NaN or ±inf) at row {}, column {a}; clean or \
                 drop that sample",
                self.path.display(),
                start + j
            ))
        };
        let cols = self.cols;
        for j in 0..len {
            let mut dst = out.as_mut().col_mut(j);
            match (self.fortran, dst.as_mut().try_as_col_major_mut()) {
                // The common case: a C-order file into a column-major chunk, row by row.
                (false, Some(dst)) => {
                    let dst = dst.as_slice_mut();
                    let row = &bytes[j * cols * self.item..(j + 1) * cols * self.item];
                    if self.item == 8 {
                        for (o, c) in dst.iter_mut().zip(row.chunks_exact(8)) {
                            *o = f64::from_le_bytes(c.try_into().expect("8 bytes"));
                        }
                    } else {
                        for (o, c) in dst.iter_mut().zip(row.chunks_exact(4)) {
                            *o = f64::from(f32::from_le_bytes(c.try_into().expect("4 bytes")));
                        }
                    }
                    if let Some(a) = dst.iter().position(|v| !v.is_finite()) {
                        return Err(bad(j, a));
                    }
                }
                _ => {
                    for a in 0..cols {
                        let i = if self.fortran {
                            a * len + j
                        } else {
                            j * cols + a
                        };
                        let v = decode(i);
                        if !v.is_finite() {
                            return Err(bad(j, a));
                        }
                        dst[a] = v;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Samples X.npy (n, d) and labels Y.npy (n, m) as a [`SampleSource`].
#[derive(Debug)]
pub struct NpySource {
    pub x: NpyRows,
    pub y: NpyRows,
}

impl NpySource {
    /// Opens both files and checks that they hold the same number of samples.
    pub fn open(x: &Path, y: &Path) -> Result<Self> {
        let (x, y) = (NpyRows::open(x)?, NpyRows::open(y)?);
        if x.rows != y.rows {
            bail!(
                "{} has {} samples (rows) but {} has {}: pass labels for the same samples",
                x.path.display(),
                x.rows,
                y.path.display(),
                y.rows
            );
        }
        Ok(Self { x, y })
    }

    /// Everything in memory, samples as columns (d×n and m×n): float64 C-order files are
    /// memory-mapped and used in place (no copy, no decoding); others are read in parallel
    /// chunks. Finiteness of mapped data is left to the caller (every `recovery` entry point
    /// checks it).
    pub fn load(&self) -> Result<Loaded> {
        Ok(Loaded {
            x: self.x.load()?,
            y: self.y.load()?,
            n: self.x.rows,
            d: self.x.cols,
            m: self.y.cols,
        })
    }
}

impl NpyRows {
    fn load(&self) -> Result<Array> {
        let (n, c) = (self.rows, self.cols);
        if self.item == 8 && !self.fortran && cfg!(target_endian = "little") {
            // SAFETY: the map is read-only and private to this process; the file being
            // truncated or rewritten by another process while we run is the one hazard, as
            // with numpy's mmap_mode.
            let map = unsafe { memmap2::Mmap::map(&self.file) }
                .with_context(|| format!("cannot map {}", self.path.display()))?;
            let offset = self.offset as usize;
            if (map.as_ptr() as usize + offset) % std::mem::align_of::<f64>() == 0
                && map.len() >= offset + n * c * 8
            {
                return Ok(Array::Mapped { map, offset });
            }
        }
        let mut v = vec![0.0; n * c];
        v.par_chunks_mut(CHUNK * c.max(1))
            .enumerate()
            .try_for_each(|(i, chunk)| {
                let len = chunk.len() / c.max(1);
                self.read_rows(
                    i * CHUNK,
                    MatMut::from_column_major_slice_mut(chunk, c, len),
                )
            })?;
        Ok(Array::Owned(v))
    }
}

/// One array's values in memory: a file mapped in place, or decoded into a vector.
enum Array {
    Mapped { map: memmap2::Mmap, offset: usize },
    Owned(Vec<f64>),
}

impl Array {
    fn values(&self, len: usize) -> &[f64] {
        match self {
            Array::Owned(v) => &v[..len],
            Array::Mapped { map, offset } => {
                let bytes = &map[*offset..*offset + len * 8];
                // SAFETY: the bytes are in bounds (checked at mapping), 8-aligned (checked),
                // little-endian f64 (the header's dtype, on a little-endian machine), and every
                // bit pattern is a valid f64.
                unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<f64>(), len) }
            }
        }
    }
}

impl SampleSource for NpySource {
    fn n(&self) -> usize {
        self.x.rows
    }
    fn d(&self) -> usize {
        self.x.cols
    }
    fn m(&self) -> usize {
        self.y.cols
    }
    fn read(
        &self,
        start: usize,
        x: MatMut<'_, f64>,
        y: MatMut<'_, f64>,
    ) -> Result<(), MomentsError> {
        self.x.read_rows(start, x)?;
        self.y.read_rows(start, y)
    }
}

/// Samples and labels in memory, samples as columns.
pub struct Loaded {
    x: Array,
    y: Array,
    n: usize,
    d: usize,
    m: usize,
}

impl Loaded {
    /// X as an n×d matrix (row-major: each sample contiguous).
    pub fn x(&self) -> MatRef<'_, f64> {
        MatRef::from_column_major_slice(self.x.values(self.n * self.d), self.d, self.n).transpose()
    }
    /// Y as an n×m matrix (row-major).
    pub fn y(&self) -> MatRef<'_, f64> {
        MatRef::from_column_major_slice(self.y.values(self.n * self.m), self.m, self.n).transpose()
    }
}
