//! The k = 2 NP-hardness reduction (docs/algorithms.md section 7): certificates fit exactly and
//! decode; the project's own local search never fits a no-instance, while it does fit some
//! yes-instances.

use faer::Mat;
use proptest::prelude::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use twolayer_hardness::{PartitionInstance, certificate, decode, encode};
use twolayer_recovery::{Activation, LevenbergMarquardt, Network};

proptest! {
    // A fixed seed: every CI run checks the same cases (failures reproduce exactly).
        #![proptest_config(ProptestConfig {
            cases: 64,
            rng_seed: proptest::test_runner::RngSeed::Fixed(3),
            ..ProptestConfig::default()
        })]
    #[test]
    fn certificates_of_yes_instances_fit_exactly_and_decode(
        d in 2usize..=16,
        max in 1u64..=1_000_000,
        seed in any::<u64>(),
    ) {
        let (inst, signs) = PartitionInstance::planted_yes(d, max, seed).unwrap();
        let net = certificate(&inst, &signs).unwrap();
        let (x, y) = encode(&inst);
        let residual = (&net.predict(x.as_ref()).unwrap() - &y).norm_l2();
        prop_assert_eq!(residual, 0.0);
        let back = decode(&net, &inst, 0.0).unwrap();
        prop_assert_eq!(inst.imbalance(&back), 0);

        // A certificate perturbed so that its residual stays within the tolerance (every
        // weight moved by up to 1e-7 / Σs, which moves the labels at ±s by up to 1e-7)
        // still decodes.
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let scale = 1e-7 / inst.values().iter().sum::<u64>() as f64;
        let mut jitter = |t: f64| t + scale * (2.0 * rng.random::<f64>() - 1.0);
        let noisy = Network::new(
            Mat::from_fn(1, 2, |_, j| jitter(net.u[(0, j)])),
            Mat::from_fn(2, d, |i, j| jitter(net.v[(i, j)])),
            Activation::Relu,
        ).unwrap();
        let back = decode(&noisy, &inst, 1e-6).unwrap();
        prop_assert_eq!(inst.imbalance(&back), 0);
    }
}

/// Best fit of Levenberg–Marquardt from `restarts` random starts on the gadget, with its
/// relative residual.
fn best_local_fit(inst: &PartitionInstance, restarts: u64) -> (f64, Network) {
    let (x, y) = encode(inst);
    let d = inst.len();
    let mut best = (f64::INFINITY, None);
    for r in 0..restarts {
        let mut rng = ChaCha8Rng::seed_from_u64(1000 + r);
        let mut g = || 2.0 * rng.random::<f64>() - 1.0;
        let start = Network::new(
            Mat::from_fn(1, 2, |_, _| g()),
            Mat::from_fn(2, d, |_, _| g()),
            Activation::Relu,
        )
        .unwrap();
        let fit = LevenbergMarquardt::new()
            .fit(x.as_ref(), y.as_ref(), &start)
            .unwrap();
        if fit.residual_rel < best.0 {
            best = (fit.residual_rel, Some(fit.network));
        }
    }
    (best.0, best.1.expect("at least one restart"))
}

#[test]
fn local_search_fits_some_yes_instances_and_no_no_instance() {
    const TOL: f64 = 1e-6;
    let mut fitted_yes = 0;
    for seed in 0..6 {
        let (yes, _) = PartitionInstance::planted_yes(5, 20, seed).unwrap();
        let (r, net) = best_local_fit(&yes, 40);
        eprintln!("yes {:?}: best residual {r:.2e}", yes.values());
        if r < TOL {
            fitted_yes += 1;
            // Whatever fit the search found, it encodes a partition.
            let signs = decode(&net, &yes, TOL).unwrap();
            assert_eq!(yes.imbalance(&signs), 0);
        }
        let no = PartitionInstance::planted_no(5, 1 << 16, seed).unwrap();
        let (r, _) = best_local_fit(&no, 40);
        eprintln!("no  {:?}: best residual {r:.2e}", no.values());
        assert!(
            r >= TOL,
            "a no-instance was fitted to {r:.2e}: {:?}",
            no.values()
        );
    }
    assert!(fitted_yes >= 1, "the local search fitted no yes-instance");
    eprintln!("local search fitted {fitted_yes}/6 yes-instances, 0/6 no-instances");
}
