//! The `twolayer` Python module: the recovery, the instance generator and the hardness gadget
//! of the Rust crates, with NumPy arrays in and out. The crates stay the one implementation;
//! this file only converts arguments, releases the GIL while the algorithms run, and maps
//! every error to `ValueError` with the message the command line prints.

use std::path::PathBuf;

use faer::{Mat, MatRef};
use numpy::ndarray::{Array1, Array2};
use numpy::{IntoPyArray, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use twolayer_hardness::{PartitionInstance, PlantedNetwork, certificate, encode};
use twolayer_io::safetensors_out::{self, WeightDtype};
use twolayer_recovery::{Activation, Network, NoiseModel, Recovery, Report, ResidualStructure};

/// An error as the command line prints it: the message and its causes, joined by ": ".
fn value_error(e: &dyn std::error::Error) -> PyErr {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    PyValueError::new_err(text)
}

/// A matrix argument: a float64 NumPy array borrowed in place (any order or strides), or a
/// float64 copy of a float32 one.
enum Matrix<'py> {
    Borrowed(PyReadonlyArray2<'py, f64>),
    Column(PyReadonlyArray1<'py, f64>),
    Owned(Mat<f64>),
}

impl Matrix<'_> {
    /// The n×c view (one sample per row), without copying.
    fn view(&self) -> MatRef<'_, f64> {
        match self {
            Matrix::Borrowed(a) => {
                let v = a.as_array();
                let s = v.strides();
                // SAFETY: the pointer, shape and element strides are those of a live NumPy
                // array that the read-only borrow keeps alive and unmodified while the view
                // exists.
                unsafe { MatRef::from_raw_parts(v.as_ptr(), v.nrows(), v.ncols(), s[0], s[1]) }
            }
            Matrix::Column(a) => {
                let v = a.as_array();
                // SAFETY: as above, for one column (its column stride is never used).
                unsafe { MatRef::from_raw_parts(v.as_ptr(), v.len(), 1, v.strides()[0], 0) }
            }
            Matrix::Owned(m) => m.as_ref(),
        }
    }
}

/// A whole-number argument in `min..=max`, as a `ValueError` otherwise (Python's own
/// conversion would raise `OverflowError` for -1 and `TypeError` for 2.5).
fn whole(obj: &Bound<'_, PyAny>, name: &str, min: u64, max: u64) -> PyResult<u64> {
    let bad = || {
        let shown = obj
            .repr()
            .map_or_else(|_| "?".to_string(), |r| r.to_string());
        PyValueError::new_err(format!(
            "{name} must be a whole number from {min} to {max}, got {shown}"
        ))
    };
    if obj.is_instance_of::<pyo3::types::PyBool>() {
        return Err(bad());
    }
    let v: i128 = obj.extract().map_err(|_| bad())?;
    u64::try_from(v)
        .ok()
        .filter(|&v| (min..=max).contains(&v))
        .ok_or_else(bad)
}

/// `whole` for a size (`usize`).
fn size(obj: &Bound<'_, PyAny>, name: &str, min: u64) -> PyResult<usize> {
    Ok(whole(obj, name, min, usize::MAX as u64)? as usize)
}

/// Reads `obj` as a matrix of samples (rows); a 1-D array is one column when `column_ok`.
/// A float64 array is borrowed in place only when it is read-only: the algorithms run
/// without the GIL, so another Python thread could otherwise rewrite a writeable array
/// under them; a writeable one is copied.
fn matrix<'py>(obj: &Bound<'py, PyAny>, name: &str, column_ok: bool) -> PyResult<Matrix<'py>> {
    let writeable = obj
        .getattr("flags")
        .and_then(|f| f.getattr("writeable"))
        .and_then(|w| w.extract::<bool>())
        .unwrap_or(true);
    if let Ok(a) = obj.extract::<PyReadonlyArray2<'py, f64>>() {
        if writeable {
            let v = a.as_array();
            return Ok(Matrix::Owned(Mat::from_fn(v.nrows(), v.ncols(), |i, j| {
                v[[i, j]]
            })));
        }
        return Ok(Matrix::Borrowed(a));
    }
    if let Ok(a) = obj.extract::<PyReadonlyArray2<'py, f32>>() {
        let v = a.as_array();
        return Ok(Matrix::Owned(Mat::from_fn(v.nrows(), v.ncols(), |i, j| {
            f64::from(v[[i, j]])
        })));
    }
    if column_ok {
        if let Ok(a) = obj.extract::<PyReadonlyArray1<'py, f64>>() {
            if writeable {
                let v = a.as_array();
                return Ok(Matrix::Owned(Mat::from_fn(v.len(), 1, |i, _| v[i])));
            }
            return Ok(Matrix::Column(a));
        }
        if let Ok(a) = obj.extract::<PyReadonlyArray1<'py, f32>>() {
            let v = a.as_array();
            return Ok(Matrix::Owned(Mat::from_fn(v.len(), 1, |i, _| {
                f64::from(v[i])
            })));
        }
    }
    let shape = if column_ok { "1-D or 2-D" } else { "2-D" };
    let found = match (obj.getattr("ndim"), obj.getattr("dtype")) {
        (Ok(ndim), Ok(dtype)) => format!("a {ndim}-D array of dtype {dtype}"),
        _ => format!("a {}", obj.get_type().name()?),
    };
    Err(PyValueError::new_err(format!(
        "{name} is {found}; pass a {shape} numpy array of float64 or float32 with one sample \
         per row (e.g. np.asarray({name}, dtype=np.float64))"
    )))
}

/// Row-major copy of a faer matrix as a NumPy array.
fn to_numpy<'py>(py: Python<'py>, m: &Mat<f64>) -> Bound<'py, PyArray2<f64>> {
    Array2::from_shape_fn((m.nrows(), m.ncols()), |(i, j)| m[(i, j)]).into_pyarray(py)
}

/// A recovered network: weights as PyTorch's `nn.Linear` stores them, and the report.
#[pyclass(module = "twolayer", name = "Result", frozen)]
struct Fit {
    network: Network,
    report: Report,
    /// The report as JSON, with what report.json adds about the inputs.
    report_json: String,
}

#[pymethods]
impl Fit {
    /// Output weights U, shape (m, k).
    #[getter(U)]
    fn u<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        to_numpy(py, &self.network.u)
    }

    /// Hidden weights V, shape (k, d): one unit per row.
    #[getter(V)]
    fn v<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray2<f64>> {
        to_numpy(py, &self.network.v)
    }

    /// The report as a dict, with the fields of report.json.
    #[getter]
    fn report<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.import("json")?
            .call_method1("loads", (&self.report_json,))
    }

    /// Whether the fit is certified exact (relative residual below 1e-10 on every sample).
    #[getter]
    fn certified(&self) -> bool {
        self.report.certified()
    }

    /// U f(V x) for every row x of `X` (n, d): an array (n, m).
    #[pyo3(signature = (X))]
    #[allow(non_snake_case)]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        X: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let x = matrix(X, "X", false)?;
        let view = x.view();
        // f(NaN) would read as 0: a non-finite input row is an error, as everywhere else.
        for j in 0..view.ncols() {
            if let Some(i) = (0..view.nrows()).find(|&i| !view[(i, j)].is_finite()) {
                return Err(PyValueError::new_err(format!(
                    "X holds a non-finite value (NaN or ±inf) at row {i}, column {j}; clean \
                     or drop that sample"
                )));
            }
        }
        let p = py
            .detach(|| self.network.predict(view))
            .map_err(|e| value_error(&e))?;
        if p.col_iter().any(|c| c.iter().any(|v| !v.is_finite())) {
            return Err(PyValueError::new_err(
                "the predictions overflow float64 (the weights or inputs are too large); \
                 rescale them",
            ));
        }
        Ok(to_numpy(py, &p))
    }

    /// Writes model.safetensors: "0.weight" = V (k, d) and "2.weight" = U (m, k), loadable
    /// into `nn.Sequential(nn.Linear(d, k, bias=False), nn.ReLU(), nn.Linear(k, m,
    /// bias=False))`, with the certificate in the metadata. `dtype` is "float32" (default)
    /// or "float64". The file appears whole or not at all.
    #[pyo3(signature = (path, dtype = "float32"))]
    fn to_safetensors(&self, path: PathBuf, dtype: &str) -> PyResult<()> {
        let dtype = match dtype {
            "float32" | "f32" => WeightDtype::F32,
            "float64" | "f64" => WeightDtype::F64,
            other => {
                return Err(PyValueError::new_err(format!(
                    "dtype {other:?} is not float32 or float64"
                )));
            }
        };
        let metadata = safetensors_out::metadata(&self.network, &self.report);
        let bytes = safetensors_out::encode(&self.network, dtype, metadata)
            .map_err(|e| PyValueError::new_err(format!("{e:#}")))?;
        // Written beside the target and renamed over it, never through a device or FIFO.
        twolayer_io::output::write_file(&path, &bytes)
            .map_err(|e| PyValueError::new_err(format!("{e:#}")))
    }

    fn __repr__(&self) -> String {
        format!(
            "twolayer.Result(method={:?}, d={}, k={}, m={}, certified={}, residual_rel={:.3e})",
            self.report.method(),
            self.network.d(),
            self.network.k(),
            self.network.m(),
            if self.report.certified() {
                "True"
            } else {
                "False"
            },
            self.report.residual_rel()
        )
    }
}

/// Describes an input array for the report, where report.json names a file.
fn describe(name: &str, m: MatRef<'_, f64>) -> String {
    format!("numpy array {name} ({}, {})", m.nrows(), m.ncols())
}

/// Recovers U (m, k) and V (k, d) of y = U f(V x) from samples X (n, d) and labels Y (n, m)
/// (or (n,) for one output). See the module documentation.
#[pyfunction]
#[pyo3(signature = (X, Y, k = None, activation = "relu", noise = "auto", seed = None, restarts = None, intercept = false))]
#[allow(non_snake_case, clippy::too_many_arguments)]
fn recover(
    py: Python<'_>,
    X: &Bound<'_, PyAny>,
    Y: &Bound<'_, PyAny>,
    k: Option<&Bound<'_, PyAny>>,
    activation: &str,
    noise: &str,
    seed: Option<&Bound<'_, PyAny>>,
    restarts: Option<&Bound<'_, PyAny>>,
    intercept: bool,
) -> PyResult<Fit> {
    // Taken as Python objects, so that -1 or 2.5 is a ValueError like every other bad input
    // (pyo3's own conversion raises OverflowError or TypeError). Defaults: seed 0, 16 restarts.
    let k = k.map(|k| size(k, "k", 0)).transpose()?;
    let seed = seed.map_or(Ok(0), |s| whole(s, "seed", 0, u64::MAX))?;
    let restarts = restarts.map_or(Ok(16), |r| size(r, "restarts", 0))?;
    let activation = Activation::parse(activation).map_err(|e| value_error(&e))?;
    let noise = NoiseModel::parse(noise).map_err(|e| value_error(&e))?;
    let (x, y) = (matrix(X, "X", false)?, matrix(Y, "Y", true)?);
    let (xv, yv) = (x.view(), y.view());
    let method = Recovery::new()
        .k(k)
        .activation(activation)
        .noise(noise)
        .restarts(restarts)
        .intercept(intercept)
        .seed(seed);
    let (network, report) = py
        .detach(|| method.recover(xv, yv))
        .map_err(|e| value_error(&e))?;
    let mut json =
        serde_json::to_value(&report).map_err(|e| PyValueError::new_err(format!("report: {e}")))?;
    if let Some(map) = json.as_object_mut() {
        map.insert("read_time_s".into(), 0.0.into());
        map.insert("streamed".into(), false.into());
        map.insert("x".into(), describe("X", xv).into());
        map.insert("y".into(), describe("Y", yv).into());
    }
    Ok(Fit {
        network,
        report,
        report_json: json.to_string(),
    })
}

/// The second-order structure the network U f(V x) leaves in its residual on samples X
/// (n, d) and labels Y (n, m) or (n,): a dict with "statistic" (1 in expectation when the
/// residual is noise independent of the inputs), "limit" (1 plus one standard deviation of
/// it under noise, for Gaussian inputs) and "clean" (statistic ≤ limit). A fit in a wrong
/// basin, or one short of units, is well above its limit. Needs no true weights.
#[pyfunction]
#[pyo3(signature = (X, Y, U, V, activation = "relu"))]
#[allow(non_snake_case)]
fn residual_structure<'py>(
    py: Python<'py>,
    X: &Bound<'py, PyAny>,
    Y: &Bound<'py, PyAny>,
    U: &Bound<'py, PyAny>,
    V: &Bound<'py, PyAny>,
    activation: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let activation = Activation::parse(activation).map_err(|e| value_error(&e))?;
    let (x, y) = (matrix(X, "X", false)?, matrix(Y, "Y", true)?);
    let (u, v) = (matrix(U, "U", false)?, matrix(V, "V", false)?);
    let network = Network::new(u.view().to_owned(), v.view().to_owned(), activation)
        .map_err(|e| value_error(&e))?;
    let (xv, yv) = (x.view(), y.view());
    let s = py
        .detach(|| ResidualStructure::measure(&network, xv, yv))
        .map_err(|e| value_error(&e))?;
    let out = PyDict::new(py);
    out.set_item("statistic", s.statistic)?;
    out.set_item("limit", s.limit)?;
    out.set_item("clean", s.clean())?;
    Ok(out)
}

/// A planted instance: n Gaussian samples X (n, d), labels Y (n, m) of a random network with
/// unit rows of V_true (k, d) and Gaussian U_true (m, k), plus Gaussian label noise of
/// `noise` times the label RMS. Returns (X, Y, U_true, V_true).
#[pyfunction]
#[pyo3(signature = (d, k, m, n, noise = 0.0, seed = None))]
#[allow(clippy::type_complexity)]
fn generate<'py>(
    py: Python<'py>,
    d: &Bound<'py, PyAny>,
    k: &Bound<'py, PyAny>,
    m: &Bound<'py, PyAny>,
    n: &Bound<'py, PyAny>,
    noise: f64,
    seed: Option<&Bound<'py, PyAny>>,
) -> PyResult<(
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray2<f64>>,
)> {
    let (d, k, m, n) = (
        size(d, "d", 0)?,
        size(k, "k", 0)?,
        size(m, "m", 0)?,
        size(n, "n", 0)?,
    );
    let seed = seed.map_or(Ok(0), |s| whole(s, "seed", 0, u64::MAX))?;
    let planted = PlantedNetwork::new(d, k, m, n).noise(noise).seed(seed);
    // The instance and its NumPy copies.
    let bytes = planted.bytes().and_then(|b| b.checked_mul(2));
    twolayer_io::resources::check_memory(bytes, "this instance", "pass a smaller n (or d, m)")
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let inst = py
        .detach(|| planted.generate())
        .map_err(|e| value_error(&e))?;
    Ok((
        to_numpy(py, &inst.x),
        to_numpy(py, &inst.y),
        to_numpy(py, &inst.network.u),
        to_numpy(py, &inst.network.v),
    ))
}

/// The NP-hardness gadget of a Partition instance (positive integers): a dict with "X"
/// (2d + 2, d), "Y" (2d + 2, 1), "yes" (whether the values split into two equal halves),
/// "signs" (the split, or None) and, for a yes-instance, the certificate "U" (1, 2), "V"
/// (2, d) that fits the gadget exactly (None otherwise).
#[pyfunction]
fn _partition<'py>(py: Python<'py>, values: Vec<u64>) -> PyResult<Bound<'py, PyDict>> {
    let inst = PartitionInstance::new(values).map_err(|e| value_error(&e))?;
    let signs = py.detach(|| inst.solve()).map_err(|e| value_error(&e))?;
    let (x, y) = encode(&inst);
    let out = PyDict::new(py);
    out.set_item("X", to_numpy(py, &x))?;
    out.set_item("Y", to_numpy(py, &y))?;
    out.set_item("yes", signs.is_some())?;
    match &signs {
        Some(s) => {
            let net = certificate(&inst, s).map_err(|e| value_error(&e))?;
            let list: Vec<i64> = s.iter().map(|&v| i64::from(v)).collect();
            out.set_item("signs", Array1::from(list).into_pyarray(py))?;
            out.set_item("U", to_numpy(py, &net.u))?;
            out.set_item("V", to_numpy(py, &net.v))?;
        }
        None => {
            out.set_item("signs", py.None())?;
            out.set_item("U", py.None())?;
            out.set_item("V", py.None())?;
        }
    }
    Ok(out)
}

#[pymodule]
fn _twolayer(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(recover, m)?)?;
    m.add_function(wrap_pyfunction!(generate, m)?)?;
    m.add_function(wrap_pyfunction!(residual_structure, m)?)?;
    m.add_function(wrap_pyfunction!(_partition, m)?)?;
    m.add_class::<Fit>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
