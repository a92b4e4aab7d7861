//! `model.safetensors`: the recovered weights as PyTorch loads them.
//!
//! Keys and shapes are those of
//! `torch.nn.Sequential(nn.Linear(d, k, bias=False), nn.ReLU(), nn.Linear(k, m, bias=False))`:
//! "0.weight" (k, d) = V and "2.weight" (m, k) = U, so
//! `model.load_state_dict(safetensors.torch.load_file(path))` works as is (for ReLU; other
//! activations replace the middle module). Metadata (strings, as the format requires) carries
//! the activation and the certificate.

use std::collections::HashMap;

use anyhow::{Context, Result};
use faer::Mat;
use safetensors::tensor::{Dtype, TensorView};
use twolayer_recovery::{Network, Report};

/// Float type of the stored weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
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
/// certificate (strings, as the format requires).
pub fn metadata(network: &Network, report: &Report) -> HashMap<String, String> {
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

/// Renders the network as a safetensors file in memory.
pub fn encode(
    network: &Network,
    dtype: WeightDtype,
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let st = match dtype {
        WeightDtype::F32 => Dtype::F32,
        WeightDtype::F64 => Dtype::F64,
    };
    let (v, u) = (bytes(&network.v, dtype), bytes(&network.u, dtype));
    let tensors = [
        (
            "0.weight",
            TensorView::new(st, vec![network.v.nrows(), network.v.ncols()], &v)
                .context("V as a tensor")?,
        ),
        (
            "2.weight",
            TensorView::new(st, vec![network.u.nrows(), network.u.ncols()], &u)
                .context("U as a tensor")?,
        ),
    ];
    safetensors::serialize(tensors, Some(metadata)).context("encoding model.safetensors")
}
