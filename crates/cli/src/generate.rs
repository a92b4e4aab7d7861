//! `twolayer generate`: every instance generator of the `hardness` crate, from the command
//! line.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use twolayer_hardness::{Inputs, NoiseKind, PlantedNetwork};
use twolayer_recovery::Activation;

/// Settings of a planted instance.
#[derive(Args)]
pub struct GenerateArgs {
    /// Input dimension.
    #[arg(long)]
    pub d: usize,
    /// Hidden units.
    #[arg(long)]
    pub k: usize,
    /// Outputs.
    #[arg(long)]
    pub m: usize,
    /// Samples.
    #[arg(long)]
    pub n: usize,
    /// Label noise standard deviation, as a fraction of the RMS of the clean labels.
    #[arg(long, default_value_t = 0.0)]
    pub noise: f64,
    /// Distribution of the label noise (scaled to the --noise standard deviation).
    #[arg(long, value_enum, default_value_t = NoiseKindArg::Gaussian)]
    pub noise_kind: NoiseKindArg,
    /// Constant added to every label, as a fraction of the RMS of the clean labels
    /// (noise independent of x but not mean-zero).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub noise_mean: f64,
    /// Input distribution: gaussian, aniso:KAPPA (N(0, Σ) with condition number KAPPA),
    /// sphere (uniform on the sphere of radius √d), rademacher, student3.
    #[arg(long, default_value = "gaussian")]
    pub input: String,
    /// Hidden activation: relu, relu2, relupow:P (0 < P ≤ 8) or logrelu.
    #[arg(long, default_value = "relu")]
    pub activation: String,
    /// Condition number of V (rows no longer unit); needs k ≤ d.
    #[arg(long)]
    pub v_condition: Option<f64>,
    /// Row norms of V drawn log-uniformly from LO,HI.
    #[arg(long, value_name = "LO,HI")]
    pub v_row_norms: Option<String>,
    /// Angle in degrees between units 0 and 1 (nearly parallel units).
    #[arg(long, value_name = "DEGREES")]
    pub near_parallel: Option<f64>,
    /// Make unit 1 a copy of unit 0 (a degenerate network).
    #[arg(long)]
    pub duplicate_unit: bool,
    /// Condition number of U.
    #[arg(long)]
    pub u_condition: Option<f64>,
    /// Scale the output weights of the last unit by this factor.
    #[arg(long)]
    pub small_output: Option<f64>,
    /// Seed of every random draw.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum NoiseKindArg {
    Gaussian,
    Laplace,
    Student3,
    Uniform,
}

impl GenerateArgs {
    /// The generator these settings describe.
    pub fn planted(&self) -> Result<PlantedNetwork> {
        let kind = match self.noise_kind {
            NoiseKindArg::Gaussian => NoiseKind::Gaussian,
            NoiseKindArg::Laplace => NoiseKind::Laplace,
            NoiseKindArg::Student3 => NoiseKind::Student3,
            NoiseKindArg::Uniform => NoiseKind::Uniform,
        };
        let row_norms = match &self.v_row_norms {
            None => None,
            Some(text) => match text
                .split_once(',')
                .map(|(a, b)| (a.trim().parse(), b.trim().parse()))
            {
                Some((Ok(lo), Ok(hi))) => Some((lo, hi)),
                _ => bail!("--v-row-norms takes two numbers LO,HI (e.g. 0.5,2), got {text:?}"),
            },
        };
        Ok(PlantedNetwork::new(self.d, self.k, self.m, self.n)
            .noise(self.noise)
            .noise_kind(kind)
            .noise_mean(self.noise_mean)
            .inputs(parse_inputs(&self.input)?)
            .activation(Activation::parse(&self.activation)?)
            .v_condition(self.v_condition)
            .v_row_norms(row_norms)
            .near_parallel(self.near_parallel)
            .duplicate_unit(self.duplicate_unit)
            .u_condition(self.u_condition)
            .small_output(self.small_output)
            .seed(self.seed))
    }
}

fn parse_inputs(text: &str) -> Result<Inputs> {
    Ok(match text {
        "gaussian" => Inputs::Gaussian,
        "sphere" => Inputs::Sphere,
        "rademacher" => Inputs::Rademacher,
        "student3" => Inputs::Student3,
        _ => match text.strip_prefix("aniso:").map(str::parse::<f64>) {
            Some(Ok(kappa)) => Inputs::Anisotropic { kappa },
            _ => bail!(
                "--input {text:?} is not one of gaussian, aniso:KAPPA (e.g. aniso:100), sphere, \
                 rademacher, student3"
            ),
        },
    })
}
