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
use twolayer_cli::safetensors_out::{self, WeightDtype};
use twolayer_hardness::{PartitionInstance, PlantedNetwork, certificate, encode};
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

/// Reads `obj` as a matrix of samples (rows); a 1-D array is one column when `column_ok`.
fn matrix<'py>(obj: &Bound<'py, PyAny>, name: &str, column_ok: bool) -> PyResult<Matrix<'py>> {
    if let Ok(a) = obj.extract::<PyReadonlyArray2<'py, f64>>() {
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
        let p = py
            .detach(|| self.network.predict(view))
            .map_err(|e| value_error(&e))?;
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
        // Written beside the target and renamed over it: never a half-written file.
        let tmp = path.with_extension("safetensors.partial");
        std::fs::write(&tmp, &bytes)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                PyValueError::new_err(format!("cannot write {}: {e}", path.display()))
            })
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
#[pyo3(signature = (X, Y, k = None, activation = "relu", noise = "auto", seed = 0, restarts = 16, intercept = false))]
#[allow(non_snake_case, clippy::too_many_arguments)]
fn recover(
    py: Python<'_>,
    X: &Bound<'_, PyAny>,
    Y: &Bound<'_, PyAny>,
    k: Option<usize>,
    activation: &str,
    noise: &str,
    seed: u64,
    restarts: usize,
    intercept: bool,
) -> PyResult<Fit> {
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
#[pyo3(signature = (d, k, m, n, noise = 0.0, seed = 0))]
#[allow(clippy::type_complexity)]
fn generate<'py>(
    py: Python<'py>,
    d: usize,
    k: usize,
    m: usize,
    n: usize,
    noise: f64,
    seed: u64,
) -> PyResult<(
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray2<f64>>,
)> {
    let planted = PlantedNetwork::new(d, k, m, n).noise(noise).seed(seed);
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
