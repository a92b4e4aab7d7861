//! `model.safetensors`: the recovered weights as PyTorch loads them.
//!
//! Keys and shapes are those of
//! `torch.nn.Sequential(nn.Linear(d, k, bias=False), nn.ReLU(), nn.Linear(k, m, bias=False))`:
//! "0.weight" (k, d) = V and "2.weight" (m, k) = U, so
//! `model.load_state_dict(safetensors.torch.load_file(path))` works as is (for ReLU; other
//! activations replace the middle module). Metadata (strings, as the format requires) carries
//! the activation and the certificate.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use faer::Mat;
use twolayer_recovery::{Network, Report};

/// Float type of the stored weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightDtype {
    /// float32 (PyTorch's default).
    F32,
    /// float64 (no rounding of the recovered weights).
    F64,
}

/// Row-major little-endian bytes of `a` in `dtype`.
fn bytes(a: &Mat<f64>, dtype: WeightDtype) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.nrows() * a.ncols() * 8);
    for i in 0..a.nrows() {
        for j in 0..a.ncols() {
            match dtype {
                WeightDtype::F32 => out.extend_from_slice(&(a[(i, j)] as f32).to_le_bytes()),
                WeightDtype::F64 => out.extend_from_slice(&a[(i, j)].to_le_bytes()),
            }
        }
    }
    out
}

/// The metadata stored beside the weights: format, layout, activation, and the method's
/// certificate (strings, as the format requires). Ordered, so the file's bytes are too.
pub fn metadata(network: &Network, report: &Report) -> BTreeMap<String, String> {
    [
        ("format", "pt".to_string()),
        (
            "layout",
            "torch.nn.Sequential(nn.Linear(d, k, bias=False), activation, nn.Linear(k, m, bias=False))"
                .to_string(),
        ),
        ("activation", network.activation.name()),
        ("method", report.method().to_string()),
        ("certified", report.certified().to_string()),
        ("residual_rel", format!("{:e}", report.residual_rel())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Renders the network as a safetensors file in memory: an 8-byte little-endian header
/// length, the JSON header (keys sorted, padded with spaces to a multiple of 8 bytes), then
/// V's and U's bytes. Written here rather than by the `safetensors` crate, whose header
/// order follows a `HashMap` and so differs from run to run; the format is the same (the
/// tests read it back with that crate). Non-finite weights are an error.
pub fn encode(
    network: &Network,
    dtype: WeightDtype,
    metadata: BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    if network
        .v
        .col_iter()
        .any(|c| c.iter().any(|x| !x.is_finite()))
        || network
            .u
            .col_iter()
            .any(|c| c.iter().any(|x| !x.is_finite()))
    {
        bail!("the weights are not all finite numbers; nothing to write");
    }
    let name = match dtype {
        WeightDtype::F32 => "F32",
        WeightDtype::F64 => "F64",
    };
    let (v, u) = (bytes(&network.v, dtype), bytes(&network.u, dtype));
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), serde_json::json!(metadata));
    header.insert(
        "0.weight".into(),
        serde_json::json!({
            "dtype": name,
            "shape": [network.v.nrows(), network.v.ncols()],
            "data_offsets": [0, v.len()],
        }),
    );
    header.insert(
        "2.weight".into(),
        serde_json::json!({
            "dtype": name,
            "shape": [network.u.nrows(), network.u.ncols()],
            "data_offsets": [v.len(), v.len() + u.len()],
        }),
    );
    // `Map` keeps insertion order or sorts, by serde_json's features; either way the order
    // above is fixed, and the metadata map is sorted.
    let mut text = serde_json::to_vec(&header)?;
    while text.len() % 8 != 0 {
        text.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + text.len() + v.len() + u.len());
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(&text);
    out.extend_from_slice(&v);
    out.extend_from_slice(&u);
    Ok(out)
}
