//! The front door: picks exact recovery when it certifies, sign-pattern least squares
//! otherwise.

use faer::{Mat, MatRef};
use serde::Serialize;
use twolayer_moments::{InMemory, SampleMoments, SampleSource, spread_indices};

use crate::activation::Activation;
use crate::data::analysis::{InputDiagnostics, MappedInputs, analyse_inputs};
use crate::data::checks::{check_samples, check_source, moments_for_recovery, moments_of_source};
use crate::error::RecoveryError;
use crate::exact::{ExactRecovery, ExactReport};
use crate::local::sign_pattern::Loss;
use crate::network::Network;
use crate::noisy::{NoisyRecovery, NoisyReport};

/// What the user says about the label noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoiseModel {
    /// Try exact recovery; if it does not certify, fall back to least squares.
    Auto,
    /// Labels are noiseless: an answer that does not certify exact is an error.
    None,
    /// Mean-zero noise with light tails: least squares.
    Gaussian,
    /// Heavy-tailed noise: Huber loss by IRLS.
    Huber,
}

impl NoiseModel {
    /// The model named `text`: "auto", "none", "gaussian" or "huber" (the command line's
    /// `--noise` values).
    pub fn parse(text: &str) -> Result<Self, RecoveryError> {
        match text {
            "auto" => Ok(Self::Auto),
            "none" => Ok(Self::None),
            "gaussian" => Ok(Self::Gaussian),
            "huber" => Ok(Self::Huber),
            _ => Err(RecoveryError::BadNoise {
                given: text.to_string(),
            }),
        }
    }
}

/// The report of whichever method produced the answer.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Report {
    /// From [`ExactRecovery`].
    Exact(ExactReport),
    /// From [`NoisyRecovery`].
    SignPattern(NoisyReport),
}

impl Report {
    /// `"exact"`, `"sign-pattern"` (ReLU) or `"gauss-newton"` (other activations).
    pub fn method(&self) -> &'static str {
        match self {
            Report::Exact(r) => r.method,
            Report::SignPattern(r) => r.method,
        }
    }

    /// Whether the fit is certified exact.
    pub fn certified(&self) -> bool {
        match self {
            Report::Exact(r) => r.certified,
            Report::SignPattern(r) => r.certified,
        }
    }

    /// Relative residual over all samples.
    pub fn residual_rel(&self) -> f64 {
        match self {
            Report::Exact(r) => r.residual_rel,
            Report::SignPattern(r) => r.residual_rel,
        }
    }

    /// Hidden units.
    pub fn k(&self) -> usize {
        match self {
            Report::Exact(r) => r.k,
            Report::SignPattern(r) => r.k,
        }
    }

    /// Random restarts used (0 for exact recovery).
    pub fn restarts_used(&self) -> usize {
        match self {
            Report::Exact(_) => 0,
            Report::SignPattern(r) => r.restarts_used,
        }
    }

    /// Why the least-squares search over starts stopped (`None` for exact recovery, which
    /// has no such search).
    pub fn stopped(&self) -> Option<crate::noisy::Stopped> {
        match self {
            Report::Exact(_) => None,
            Report::SignPattern(r) => Some(r.stopped),
        }
    }

    /// The second-order structure left in the residual (least squares only; always
    /// measured for an uncertified answer).
    pub fn residual_structure(&self) -> Option<crate::ResidualStructure> {
        match self {
            Report::Exact(_) => None,
            Report::SignPattern(r) => r.residual_structure,
        }
    }

    /// For an uncertified answer: the structure left and its most likely cause, with the
    /// option that addresses it.
    pub fn diagnosis(&self) -> Option<&str> {
        match self {
            Report::Exact(_) => None,
            Report::SignPattern(r) => r.diagnosis.as_deref(),
        }
    }

    /// Input diagnostics, when the front door analysed the inputs.
    pub fn inputs(&self) -> Option<&crate::data::analysis::InputDiagnostics> {
        match self {
            Report::Exact(r) => r.inputs.as_ref(),
            Report::SignPattern(r) => r.inputs.as_ref(),
        }
    }

    /// What the front door adds to either report: the input diagnostics, the wall time of
    /// the whole recovery and, optionally, one more warning.
    fn finish(&mut self, inputs: InputDiagnostics, time_s: f64, warning: Option<String>) {
        let (slot, time, warnings) = match self {
            Report::Exact(r) => (&mut r.inputs, &mut r.time_s, &mut r.warnings),
            Report::SignPattern(r) => (&mut r.inputs, &mut r.time_s, &mut r.warnings),
        };
        *slot = Some(inputs);
        *time = time_s;
        warnings.extend(warning);
    }

    /// The exact method's moments phase also covers the pass the front door ran before it.
    fn add_moments_time(&mut self, moments_s: f64) {
        if let Report::Exact(r) = self {
            r.phase_time_s.moments += moments_s;
        }
    }

    /// Numerical guards that fired (see the reports' `warnings`).
    pub fn warnings(&self) -> &[String] {
        match self {
            Report::Exact(r) => &r.warnings,
            Report::SignPattern(r) => &r.warnings,
        }
    }

    /// Wall time of the whole recovery in seconds.
    pub fn time_s(&self) -> f64 {
        match self {
            Report::Exact(r) => r.time_s,
            Report::SignPattern(r) => r.time_s,
        }
    }
}

/// Recovery that picks its method: [`ExactRecovery`] when its certificate is reachable,
/// [`NoisyRecovery`] otherwise (noisy labels, or fewer outputs than hidden units).
#[derive(Debug, Clone, PartialEq)]
pub struct Recovery {
    k: Option<usize>,
    activation: Activation,
    noise: NoiseModel,
    restarts: usize,
    seed: u64,
    intercept: bool,
}

impl Default for Recovery {
    fn default() -> Self {
        Self::new()
    }
}

impl Recovery {
    /// Defaults: k detected, noise `Auto`, 16 restarts, seed 0, no intercept.
    pub fn new() -> Self {
        Self {
            k: None,
            activation: Activation::Relu,
            noise: NoiseModel::Auto,
            restarts: 16,
            seed: 0,
            intercept: false,
        }
    }

    /// Number of hidden units; `None` takes the numerical rank of Y.
    pub fn k(mut self, k: Option<usize>) -> Self {
        self.k = k;
        self
    }

    /// The hidden activation (default ReLU).
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// What to assume about the label noise.
    pub fn noise(mut self, noise: NoiseModel) -> Self {
        self.noise = noise;
        self
    }

    /// Most random restarts of the sign-pattern solver.
    pub fn restarts(mut self, restarts: usize) -> Self {
        self.restarts = restarts;
        self
    }

    /// Seed of every random draw.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Fit an intercept (noise independent of x but not mean-zero); sign-pattern path only.
    pub fn intercept(mut self, intercept: bool) -> Self {
        self.intercept = intercept;
        self
    }

    /// The noise model (what the front door assumes of the labels).
    pub fn noise_model(&self) -> NoiseModel {
        self.noise
    }

    /// Recovers the network from X (n×d) and Y (n×m), with the report of the method used.
    ///
    /// The inputs are checked first: a significantly nonzero mean is refused (it is a bias in
    /// disguise), anisotropic inputs (covariance condition number above 2) are whitened and
    /// V mapped back, and the report carries Gaussianity diagnostics with warnings.
    pub fn recover(
        &self,
        x: MatRef<'_, f64>,
        y: MatRef<'_, f64>,
    ) -> Result<(Network, Report), RecoveryError> {
        let start = std::time::Instant::now();
        let moments = moments_for_recovery(x, y)?;
        let moments_s = start.elapsed().as_secs_f64();
        let (analysis, found) = analyse_inputs(&moments, |whitening| match whitening {
            Some(w) => {
                if moments.n < x.nrows() as u64 {
                    // The whitened copy would hide which entry of X was bad.
                    check_samples(x, y)?;
                }
                let xw = x * w;
                let mw = moments.map_inputs(w.as_ref());
                self.recover_prepared(xw.as_ref(), y, &mw, start)
            }
            None => self.recover_prepared(x, y, &moments, start),
        })?;
        let (net, mut report) = found?;
        let net = unwhiten(net, analysis.whitening.as_ref());
        // The whole recovery: the input analysis's pass over the data included.
        report.finish(analysis.diagnostics, start.elapsed().as_secs_f64(), None);
        report.add_moments_time(moments_s);
        Ok((net, report))
    }

    /// Recovery from a [`SampleSource`] too large to hold in memory: the input analysis and
    /// whitening as in [`Recovery::recover`], then [`ExactRecovery::recover_source`]
    /// (moments and certificate streamed, the search on a subset). When the labels are not
    /// fit exactly (or noise is declared, or an intercept asked for), least squares runs on an
    /// evenly spread subset of at most `subset` samples (default 2^20) read into memory, and
    /// the report says so. Memory: O((d + m)² + subset · (d + m)).
    pub fn recover_source(
        &self,
        source: &dyn SampleSource,
        subset: Option<usize>,
    ) -> Result<(Network, Report), RecoveryError> {
        let start = std::time::Instant::now();
        if source.n() == 0 || source.d() == 0 || source.m() == 0 {
            return Err(RecoveryError::Empty {
                what: if source.d() == 0 { "X" } else { "Y" },
                rows: source.n(),
                cols: if source.d() == 0 { 0 } else { source.m() },
            });
        }
        // The moments of the same spread chunks as the in-memory front door's, so both give
        // the same bits; the certificate's pass (or, for least squares, the check of the
        // subset and of every sample below) covers the samples outside them.
        let moments = moments_of_source(source)?;
        let moments_s = start.elapsed().as_secs_f64();
        let (analysis, found) = analyse_inputs(&moments, |whitening| match whitening {
            Some(w) => {
                let mapped = MappedInputs {
                    inner: source,
                    w: w.as_ref(),
                };
                self.recover_analysed(&mapped, &moments.map_inputs(w.as_ref()), subset)
            }
            None => self.recover_analysed(source, &moments, subset),
        })?;
        let (net, mut report, note) = found?;
        report.finish(analysis.diagnostics, start.elapsed().as_secs_f64(), note);
        report.add_moments_time(moments_s);
        Ok((unwhiten(net, analysis.whitening.as_ref()), report))
    }

    /// [`Recovery::recover_source`] after the input analysis, on the inputs as they are to
    /// be used (whitened or not) with their moments: the network, its report, and the note
    /// that says least squares ran on a subset when it did.
    fn recover_analysed(
        &self,
        source: &dyn SampleSource,
        moments: &SampleMoments,
        subset: Option<usize>,
    ) -> Result<(Network, Report, Option<String>), RecoveryError> {
        let try_exact =
            matches!(self.noise, NoiseModel::Auto | NoiseModel::None) && !self.intercept;
        let mut why_not_exact = String::from("noise was declared");
        if try_exact {
            let exact = ExactRecovery::new()
                .k(self.k)
                .activation(self.activation.clone())
                .seed(self.seed)
                .subset(subset);
            match exact.recover_with(source, Some(moments)) {
                Ok(found) if found.report.certified => {
                    return Ok((found.network, Report::Exact(found.report), None));
                }
                Ok(found) if self.noise == NoiseModel::None => {
                    return Err(RecoveryError::StreamedNotExact {
                        residual_rel: found.report.residual_rel,
                    });
                }
                Ok(found) => {
                    why_not_exact = format!(
                        "the exact method left a relative residual of {:.2e}",
                        found.report.residual_rel
                    );
                }
                Err(
                    e @ (RecoveryError::Empty { .. }
                    | RecoveryError::Shape { .. }
                    | RecoveryError::NotFinite { .. }
                    | RecoveryError::ZeroK
                    | RecoveryError::ZeroLabels
                    | RecoveryError::Moments(_)),
                ) => return Err(e),
                Err(e) if self.noise == NoiseModel::None => return Err(e),
                Err(e) => why_not_exact = format!("the exact method failed ({e})"),
            }
        }
        // Least squares on a subset held in memory (the passes of the noisy methods are not
        // streamed). The moments saw a subsample and the certificate's pass may not have
        // run: every sample is checked first, as the in-memory front door does.
        if moments.n < source.n() as u64 {
            check_source(source)?;
        }
        let n = source.n();
        let idx = spread_indices(n, subset.unwrap_or(1 << 20).max(1));
        let mut xs = Mat::zeros(source.d(), idx.len());
        let mut ys = Mat::zeros(source.m(), idx.len());
        source.read_indices(&idx, xs.as_mut(), ys.as_mut())?;
        let noise = match self.noise {
            NoiseModel::Auto | NoiseModel::None => NoiseModel::Gaussian,
            other => other,
        };
        let (net, report) = self
            .clone()
            .noise(noise)
            .recover(xs.transpose(), ys.transpose())?;
        let note = format!(
            "streamed data: {why_not_exact}, so least squares ran on an evenly spread subset of \
             {} of the {n} samples held in memory; raise --memory-budget to use more",
            idx.len()
        );
        Ok((net, report, Some(note)))
    }

    fn recover_prepared(
        &self,
        x: MatRef<'_, f64>,
        y: MatRef<'_, f64>,
        moments: &SampleMoments,
        start: std::time::Instant,
    ) -> Result<(Network, Report), RecoveryError> {
        let try_exact =
            matches!(self.noise, NoiseModel::Auto | NoiseModel::None) && !self.intercept;
        let mut exact_error = None;
        if try_exact {
            match ExactRecovery::new()
                .k(self.k)
                .activation(self.activation.clone())
                .seed(self.seed)
                .recover_with(&InMemory::new(x.transpose(), y.transpose())?, Some(moments))
            {
                Ok(r) if r.report.certified => return Ok((r.network, Report::Exact(r.report))),
                Ok(_) => {}
                // Input errors are final; failures of the exact method's assumptions are not.
                Err(
                    e @ (RecoveryError::Empty { .. }
                    | RecoveryError::Shape { .. }
                    | RecoveryError::NotFinite { .. }
                    | RecoveryError::ZeroK
                    | RecoveryError::ZeroLabels
                    | RecoveryError::Moments(_)),
                ) => return Err(e),
                Err(e) => exact_error = Some(e),
            }
        }
        if moments.n < x.nrows() as u64 {
            // The moments saw a subsample only: check every sample before least squares.
            check_samples(x, y)?;
        }
        let loss = if self.noise == NoiseModel::Huber {
            Loss::Huber
        } else {
            Loss::Squared
        };
        let noisy = NoisyRecovery::new()
            .k(self.k)
            .activation(self.activation.clone())
            .restarts(self.restarts)
            .seed(self.seed)
            .loss(loss)
            .intercept(self.intercept)
            .recover(x, y);
        let noisy = match (noisy, exact_error) {
            (Ok(r), _) => r,
            // The exact method's complaint is usually the more telling one.
            (Err(_), Some(e)) => return Err(e),
            (Err(e), None) => return Err(e),
        };
        if self.noise == NoiseModel::None && !noisy.report.certified {
            return Err(RecoveryError::NotCertified {
                residual_rel: noisy.report.residual_rel,
            });
        }
        let mut report = noisy.report;
        // The whole recovery, a failed exact attempt included.
        report.time_s = start.elapsed().as_secs_f64();
        Ok((noisy.network, Report::SignPattern(report)))
    }
}

/// The network for the original inputs x of one found for whitened inputs W x: W = Σ̂^{-1/2}
/// is symmetric, so v·x = (v W⁻¹)·(W x) and V = V_w W.
fn unwhiten(net: Network, whitening: Option<&Mat<f64>>) -> Network {
    match whitening {
        Some(w) => Network {
            v: &net.v * w,
            u: net.u,
            activation: net.activation,
        }
        .canonical(),
        None => net,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_models_parse_by_their_command_line_names() {
        for (text, model) in [
            ("auto", NoiseModel::Auto),
            ("none", NoiseModel::None),
            ("gaussian", NoiseModel::Gaussian),
            ("huber", NoiseModel::Huber),
        ] {
            assert_eq!(NoiseModel::parse(text).unwrap(), model);
        }
        let err = NoiseModel::parse("Gaussian").unwrap_err();
        assert!(
            err.to_string()
                .contains("use auto, none, gaussian or huber")
        );
    }
}
