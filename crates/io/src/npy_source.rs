//! `.npy` files as a [`SampleSource`]: samples read in chunks straight from the file, so a
//! pass over data larger than memory holds one chunk per thread.

use std::fs::File;
use std::io::BufReader;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use faer::{MatMut, MatRef};
use rayon::prelude::*;
use twolayer_moments::{CHUNK, MomentsError, SampleSource};

use crate::csv_input::{is_csv, read_csv};
use crate::npy_header;

/// Where an array's bytes live: a file (read with positioned reads, or mapped), or a buffer
/// (an array decompressed from an `.npz` archive).
#[derive(Debug)]
enum Backing {
    File(File),
    Bytes(Vec<u8>),
}

impl Backing {
    fn read_exact_at(&self, buf: &mut [u8], at: u64) -> std::io::Result<()> {
        match self {
            Backing::File(f) => f.read_exact_at(buf, at),
            Backing::Bytes(b) => {
                let start = usize::try_from(at).unwrap_or(usize::MAX);
                let src = start
                    .checked_add(buf.len())
                    .and_then(|end| b.get(start..end))
                    .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))?;
                buf.copy_from_slice(src);
                Ok(())
            }
        }
    }
}

/// One 2-D (n, c) or 1-D (n,) little-endian float32/float64 array, read by rows: a `.npy`
/// file, or a member of an `.npz` archive (`path.npz:name`).
#[derive(Debug)]
pub struct NpyRows {
    backing: Backing,
    path: PathBuf,
    /// Byte offset of the data.
    offset: u64,
    rows: usize,
    cols: usize,
    /// Bytes per value: 4 or 8.
    item: usize,
    fortran: bool,
}

/// Splits `archive.npz:name` into the archive and the array name (`None`: not an npz spec).
fn npz_spec(spec: &Path) -> Option<(PathBuf, Option<String>)> {
    let text = spec.to_str()?;
    if let Some((file, name)) = text.rsplit_once(".npz:") {
        return Some((PathBuf::from(format!("{file}.npz")), Some(name.to_string())));
    }
    text.ends_with(".npz").then(|| (spec.to_owned(), None))
}

impl NpyRows {
    /// Opens a `.npy` file or an `.npz` member (`archive.npz:name`; the name may be left out
    /// when the archive holds one array) and checks its header against the data present (a
    /// header claiming more data than there is is an error, and nothing is allocated for it).
    pub fn open(path: &Path) -> Result<Self> {
        let shown = path.display();
        if let Some((archive, name)) = npz_spec(path) {
            let (file, label, len) = spill_npz_member(&archive, name.as_deref())?;
            let prefix = (len as usize).min(12 + npy_header::MAX_HEADER);
            let mut head = vec![0u8; prefix];
            file.read_exact_at(&mut head, 0)
                .with_context(|| format!("cannot read back {label}"))?;
            let header = npy_header::parse(&head).map_err(|e| {
                anyhow::anyhow!(
                    "{label} is not a readable .npy array ({e}); write it with numpy.savez"
                )
            })?;
            return Self::with_header(Backing::File(file), PathBuf::from(label), len, header);
        }
        let meta = std::fs::metadata(path).with_context(|| format!("cannot open {shown}"))?;
        if !meta.is_file() {
            bail!("{shown} is not a regular file; pass the path of a .npy file");
        }
        let file = File::open(path).with_context(|| format!("cannot open {shown}"))?;
        let prefix = (meta.len() as usize).min(12 + npy_header::MAX_HEADER);
        let mut head = vec![0u8; prefix];
        file.read_exact_at(&mut head, 0)
            .with_context(|| format!("cannot read {shown}"))?;
        let header = npy_header::parse(&head).map_err(|e| {
            anyhow::anyhow!("{shown} is not a readable .npy file ({e}); write it with numpy.save")
        })?;
        Self::with_header(Backing::File(file), path.to_owned(), meta.len(), header)
    }

    /// An array held in memory (an `.npz` member, or untrusted bytes): the same checks as a
    /// file. `label` names it in errors.
    pub fn from_bytes(bytes: Vec<u8>, label: PathBuf) -> Result<Self> {
        let len = bytes.len() as u64;
        let header = npy_header::parse(&bytes).map_err(|e| {
            anyhow::anyhow!(
                "{} is not a readable .npy array ({e}); write it with numpy.savez",
                label.display()
            )
        })?;
        Self::with_header(Backing::Bytes(bytes), label, len, header)
    }

    /// Every row, as a cols×rows matrix (samples as columns).
    pub fn read_all(&self) -> Result<faer::Mat<f64>> {
        let mut m = faer::Mat::<f64>::zeros(self.cols, self.rows);
        self.read_rows(0, m.as_mut())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(m)
    }

    fn with_header(
        backing: Backing,
        path: PathBuf,
        len: u64,
        header: npy_header::Header,
    ) -> Result<Self> {
        let shown = path.display();
        let item = header
            .item_size()
            .map_err(|e| anyhow::anyhow!("{shown} {e}"))?;
        let shape = &header.shape;
        let (rows, cols) = match shape[..] {
            [n] => (n, 1),
            [n, c] => (n, c),
            _ => bail!(
                "{shown} has shape {shape:?}; twolayer reads 1-D (n,) or 2-D (n, d) arrays \
                 with one sample per row"
            ),
        };
        if rows == 0 || cols == 0 {
            bail!("{shown} is empty (shape {shape:?}); pass at least one sample and one column");
        }
        header
            .data_len(item, len.saturating_sub(header.data_offset as u64))
            .map_err(|e| anyhow::anyhow!("{shown} {e}"))?;
        Ok(Self {
            backing,
            offset: header.data_offset as u64,
            rows: rows as usize,
            cols: cols as usize,
            item,
            fortran: header.fortran && shape.len() == 2,
            path,
        })
    }

    /// Rows (samples).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns (features).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Bytes of data as float64 in memory.
    pub fn bytes_f64(&self) -> u64 {
        (self.rows as u64) * (self.cols as u64) * 8
    }

    /// Writes rows `start .. start + out.ncols()` as the columns of `out` (cols×len),
    /// refusing non-finite values (the error names the row and column).
    pub fn read_rows(&self, start: usize, mut out: MatMut<'_, f64>) -> Result<(), MomentsError> {
        let len = out.ncols();
        if len == 0 || self.cols == 0 {
            return Ok(());
        }
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
                self.backing.read_exact_at(dst, at).map_err(io)?;
            }
        } else {
            let at = self.offset + (start * self.cols * self.item) as u64;
            self.backing.read_exact_at(&mut bytes, at).map_err(io)?;
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
    /// The samples, (n, d).
    pub x: NpyRows,
    /// The labels, (n, m) or (n,).
    pub y: NpyRows,
}

impl NpySource {
    /// Opens both files and checks that they hold the same number of samples.
    pub fn open(x: &Path, y: &Path) -> Result<Self> {
        let (x, y) = (NpyRows::open(x)?, NpyRows::open(y)?);
        Self::pair(x, y)
    }

    /// Samples and labels already opened; checks that they hold the same number of samples.
    fn pair(x: NpyRows, y: NpyRows) -> Result<Self> {
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
        if let (Backing::File(file), 8, false, true) = (
            &self.backing,
            self.item,
            self.fortran,
            cfg!(target_endian = "little"),
        ) {
            // Pages are mapped on first touch by whichever thread reads them: populating
            // the map up front is serial kernel work (20 ms at 160 MB) that the passes
            // would otherwise share across the threads.
            // SAFETY: the map is read-only; the file being truncated or rewritten by another
            // process while we run is the one hazard, as with numpy's mmap_mode.
            let map = unsafe { memmap2::MmapOptions::new().map(file) }
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

impl Drop for Array {
    /// Releases a mapping's page tables on every thread before the unmap. Tearing down the
    /// page-table entries of a large mapping is serial kernel work inside `munmap` (14 ms of a
    /// 75 ms `recover` at 160 MB, and the process exit would pay it too); `MADV_DONTNEED` on
    /// disjoint ranges runs under the shared memory-map lock, so the threads split it.
    fn drop(&mut self) {
        const PIECE: usize = 8 << 20;
        if let Array::Mapped { map, .. } = self
            && map.len() > 2 * PIECE
        {
            let pieces = map.len().div_ceil(PIECE);
            (0..pieces).into_par_iter().for_each(|i| {
                let start = i * PIECE;
                // SAFETY: `&mut self` in drop: no borrow of the map's bytes is alive, and the
                // map is read-only and shared, so dropping its pages loses nothing (the file
                // keeps them). A refused advice only leaves the work to the unmap.
                let _ = unsafe {
                    map.unchecked_advise_range(
                        memmap2::UncheckedAdvice::DontNeed,
                        start,
                        PIECE.min(map.len() - start),
                    )
                };
            });
        }
    }
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
    /// Samples and labels given row-major (one sample per row): X (n, d), Y (n, m).
    pub fn from_rows(x: Vec<f64>, y: Vec<f64>, n: usize, d: usize, m: usize) -> Self {
        Self {
            x: Array::Owned(x),
            y: Array::Owned(y),
            n,
            d,
            m,
        }
    }

    /// X as an n×d matrix (row-major: each sample contiguous).
    pub fn x(&self) -> MatRef<'_, f64> {
        MatRef::from_column_major_slice(self.x.values(self.n * self.d), self.d, self.n).transpose()
    }
    /// Y as an n×m matrix (row-major).
    pub fn y(&self) -> MatRef<'_, f64> {
        MatRef::from_column_major_slice(self.y.values(self.n * self.m), self.m, self.n).transpose()
    }
}

/// The most header bytes read from an archive member before its header must have ended.
const NPY_HEADER_MAX: u64 = 1 << 20;

/// Decompresses one array of an `.npz` archive into an unlinked temporary file (in the
/// system's temporary folder, `TMPDIR`), so that it is read, mapped or streamed like a
/// `.npy` file and never held in memory; the file has no name, so nothing is left behind
/// whatever happens to the process. Returns the file, a label naming the archive and the
/// array, and the file's length. The disk must hold the size the header declares.
fn spill_npz_member(archive: &Path, name: Option<&str>) -> Result<(File, String, u64)> {
    let shown = archive.display().to_string();
    let meta = std::fs::metadata(archive).with_context(|| format!("cannot open {shown}"))?;
    if !meta.is_file() {
        bail!("{shown} is not a regular file; pass the path of an .npz archive");
    }
    let source = File::open(archive).with_context(|| format!("cannot open {shown}"))?;
    let dir = std::env::temp_dir();
    let path = dir.join(format!(
        ".twolayer-npz-{}-{}",
        std::process::id(),
        SPILLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| {
            format!(
                "cannot create a temporary file in {} to decompress {shown} into; set TMPDIR \
                 to a writable folder",
                dir.display()
            )
        })?;
    let _ = std::fs::remove_file(&path);
    let room = |total: Option<u64>| -> Result<()> {
        let Some(total) = total else {
            bail!("{shown}: an array's header claims more bytes than any disk holds");
        };
        match crate::resources::fits_on_disk(total, crate::resources::available_disk(&dir)) {
            Err(free) => bail!(
                "decompressing {shown} needs {} in {} but {} is free; set TMPDIR to a folder \
                 with room, or save the arrays as .npy files",
                crate::resources::show_bytes(total),
                dir.display(),
                crate::resources::show_bytes(free)
            ),
            Ok(()) => Ok(()),
        }
    };
    let label = extract_npz_member(BufReader::new(source), name, &shown, &mut file, room)?;
    let len = file
        .metadata()
        .with_context(|| format!("cannot read back {label}"))?
        .len();
    Ok((file, label, len))
}

/// Numbers the temporary files of one process.
static SPILLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The names of the arrays in an `.npz` archive.
pub fn npz_array_names<R: std::io::Read + std::io::Seek>(reader: R) -> Result<Vec<String>> {
    let zip = zip::ZipArchive::new(reader).context("not a readable .npz archive (zip)")?;
    Ok(zip
        .file_names()
        .filter_map(|f| f.strip_suffix(".npy").map(str::to_string))
        .collect())
}

/// Reads one array of an `.npz` archive from any reader into memory, checking the size its
/// header declares against the memory there is; `shown` names the archive in errors.
/// Returns the member's bytes and a label naming the archive and the array.
pub fn read_npz_member_from<R: std::io::Read + std::io::Seek>(
    reader: R,
    name: Option<&str>,
    shown: &str,
) -> Result<(Vec<u8>, String)> {
    let mut bytes = Vec::new();
    let label = extract_npz_member(reader, name, shown, &mut bytes, |total| {
        crate::resources::check_memory(
            total,
            &format!("reading an array of {shown}"),
            "save the arrays as .npy files, which twolayer can stream",
        )
    })?;
    Ok((bytes, label))
}

/// Copies one array of an `.npz` archive into `sink`: first its header (npy headers are
/// small), then exactly the bytes that header declares, after `room` has approved that
/// total. A member that decompresses past its header's size (a zip bomb whose header lies)
/// is refused at that point, whatever it would expand to.
fn extract_npz_member<R: std::io::Read + std::io::Seek, W: std::io::Write>(
    reader: R,
    name: Option<&str>,
    shown: &str,
    sink: &mut W,
    room: impl Fn(Option<u64>) -> Result<()>,
) -> Result<String> {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(reader)
        .with_context(|| format!("{shown} is not a readable .npz archive (zip)"))?;
    let names: Vec<String> = zip
        .file_names()
        .filter_map(|f| f.strip_suffix(".npy").map(str::to_string))
        .collect();
    let name = match name {
        Some(n) => n.to_string(),
        None if names.len() == 1 => names[0].clone(),
        None => bail!(
            "{shown} holds {} arrays ({}); name one, e.g. --x {shown}:{}",
            names.len(),
            names.join(", "),
            names.first().map_or("X", String::as_str)
        ),
    };
    let label = format!("{shown}:{name}");
    let mut member = zip.by_name(&format!("{name}.npy")).map_err(|e| match e {
        zip::result::ZipError::UnsupportedArchive(why) => anyhow::anyhow!(
            "{label} is stored in a way twolayer does not read ({why}); save it with \
             numpy.savez or numpy.savez_compressed"
        ),
        zip::result::ZipError::CompressionMethodNotSupported(method) => anyhow::anyhow!(
            "{label} is stored in a way twolayer does not read (compression method {method}: \
             only stored and deflate are read); save it with numpy.savez or \
             numpy.savez_compressed"
        ),
        zip::result::ZipError::FileNotFound => anyhow::anyhow!(
            "{shown} has no array named {name:?} (it holds: {}); pass archive.npz:NAME",
            names.join(", ")
        ),
        other => anyhow::anyhow!("{label}: the archive is corrupt ({other})"),
    })?;
    let corrupt = || format!("{label}: the archive is corrupt");
    let mut head = Vec::new();
    (&mut member)
        .take(NPY_HEADER_MAX)
        .read_to_end(&mut head)
        .with_context(corrupt)?;
    let header = npy_header::parse(&head).map_err(|e| {
        anyhow::anyhow!("{label} is not a readable .npy array ({e}); write it with numpy.savez")
    })?;
    let item = header
        .item_size()
        .map_err(|e| anyhow::anyhow!("{label} {e}"))?;
    let total = header
        .shape
        .iter()
        .try_fold(item as u64, |acc, &n| acc.checked_mul(n))
        .and_then(|data| data.checked_add(header.data_offset as u64));
    room(total)?;
    let total = total.unwrap_or(u64::MAX);
    let bomb = || {
        anyhow::anyhow!(
            "{label} decompresses to more bytes than its header declares (shape {:?}); the \
             archive is corrupt or built to exhaust memory",
            header.shape
        )
    };
    let held = head.len() as u64;
    if held > total {
        return Err(bomb());
    }
    let write = |e: std::io::Error| anyhow::anyhow!("cannot decompress {label}: {e}");
    sink.write_all(&head).map_err(write)?;
    let copied = std::io::copy(&mut (&mut member).take(total - held + 1), sink).map_err(|e| {
        if e.kind() == std::io::ErrorKind::InvalidData {
            anyhow::anyhow!("{}", corrupt())
        } else {
            write(e)
        }
    })?;
    if held + copied > total {
        return Err(bomb());
    }
    Ok(label)
}

/// The samples and labels named on the command line: .npy files and .npz members stay on
/// disk until read (so they can be streamed); CSV inputs are read into memory.
pub enum Inputs {
    /// .npy files (or .npz members decompressed to temporary files), opened.
    Files(NpySource),
    /// CSV inputs read into memory, with whether each file's first row was a header.
    Memory(Loaded, CsvHeaders),
}

/// For CSV inputs: whether the first row of the samples' and of the labels' file was read as
/// a header (names only) rather than a sample (`None`: not a CSV file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CsvHeaders {
    /// The samples' file.
    pub x: Option<bool>,
    /// The labels' file (the samples' own with `--y-cols`).
    pub y: Option<bool>,
}

/// Opens the samples `x` and the labels (a file `y`, or the `y_cols` columns of a CSV `x`),
/// checking that they describe the same samples.
pub fn open_inputs(x: &Path, y: Option<&Path>, y_cols: Option<&str>) -> Result<Inputs> {
    // .npz members are decompressed into unlinked temporary files: they stream like .npy.
    let in_memory = |p: &Path| is_csv(p);
    match (y, y_cols) {
        (None, Some(spec)) => {
            if !is_csv(x) {
                bail!("--y-cols splits a CSV file; with .npy or .npz samples pass --y");
            }
            let table = read_csv(x)?;
            let header = Some(table.names.is_some());
            let (xt, yt) = table.split(spec, x)?;
            Ok(Inputs::Memory(
                Loaded::from_rows(xt.values, yt.values, xt.rows, xt.cols, yt.cols),
                CsvHeaders {
                    x: header,
                    y: header,
                },
            ))
        }
        (Some(y), None) if in_memory(x) || in_memory(y) => {
            let (xr, xc, xv, xh) = read_table(x)?;
            let (yr, yc, yv, yh) = read_table(y)?;
            if xr != yr {
                bail!(
                    "{} has {xr} samples (rows) but {} has {yr}: pass labels for the same samples",
                    x.display(),
                    y.display()
                );
            }
            Ok(Inputs::Memory(
                Loaded::from_rows(xv, yv, xr, xc, yc),
                CsvHeaders { x: xh, y: yh },
            ))
        }
        (Some(y), None) => Ok(Inputs::Files(NpySource::open(x, y)?)),
        _ => bail!("pass the labels: --y FILE, or --y-cols COLUMNS for a CSV holding both"),
    }
}

/// Any supported array file as (rows, columns, row-major values).
pub fn read_rows(path: &Path) -> Result<(usize, usize, Vec<f64>)> {
    read_table(path).map(|(rows, cols, values, _)| (rows, cols, values))
}

/// [`read_rows`], with whether a CSV file's first row was a header (`None`: not CSV).
fn read_table(path: &Path) -> Result<(usize, usize, Vec<f64>, Option<bool>)> {
    if is_csv(path) {
        let t = read_csv(path)?;
        return Ok((t.rows, t.cols, t.values, Some(t.names.is_some())));
    }
    let a = NpyRows::open(path)?;
    let (rows, cols) = (a.rows(), a.cols());
    let mut m = faer::Mat::<f64>::zeros(cols, rows);
    a.read_rows(0, m.as_mut())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let values = (0..rows)
        .flat_map(|j| (0..cols).map(move |c| (c, j)))
        .map(|(c, j)| m[(c, j)])
        .collect();
    Ok((rows, cols, values, None))
}

/// Any supported array file (.npy, ARCHIVE.npz:NAME, .csv) as an n×c matrix.
pub fn read_any(path: &Path) -> Result<faer::Mat<f64>> {
    let (rows, cols, v) = read_rows(path)?;
    Ok(faer::Mat::from_fn(rows, cols, |i, j| v[i * cols + j]))
}
