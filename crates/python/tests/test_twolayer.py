"""The Python package against its contract: numpy in, numpy out, exact answers certified,
every bad input a ValueError with the command line's message."""

import os
import stat
import threading
import time

import numpy as np
import pytest

import twolayer


def planted(d=20, k=10, m=10, n=3000, seed=0):
    """A network and samples drawn by numpy itself (not by the package)."""
    rng = np.random.default_rng(seed)
    V = rng.standard_normal((k, d))
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    U = rng.standard_normal((m, k))
    X = rng.standard_normal((n, d))
    Y = np.maximum(X @ V.T, 0) @ U.T
    return X, Y, U, V


def aligned_error(V_hat, V):
    """Largest distance between matched unit rows (rows of V are unit vectors)."""
    Vn = V_hat / np.linalg.norm(V_hat, axis=1, keepdims=True)
    cos = np.abs(Vn @ V.T)
    match = cos.argmax(axis=0)
    assert len(set(match.tolist())) == V.shape[0], "units are not matched one to one"
    return max(np.linalg.norm(Vn[match[j]] - V[j]) for j in range(V.shape[0]))


def test_exact_recovery_from_numpy_data():
    X, Y, U, V = planted()
    fit = twolayer.recover(X, Y)
    assert fit.certified and fit.report["certified"] is True
    assert fit.report["method"] == "exact" and fit.report["k"] == 10
    assert fit.U.shape == (10, 10) and fit.V.shape == (10, 20)
    assert aligned_error(fit.V, V) <= 1e-9
    assert np.linalg.norm(fit.predict(X) - Y) / np.linalg.norm(Y) <= 1e-10
    assert "certified=True" in repr(fit)


@pytest.mark.parametrize(
    "convert",
    [
        lambda a: a.astype(np.float32),
        np.asfortranarray,
        lambda a: np.asfortranarray(a.astype(np.float32)),
    ],
    ids=["float32", "fortran", "fortran-float32"],
)
def test_layouts_and_dtypes(convert):
    X, Y, U, V = planted(seed=1)
    Xc, Yc = convert(X), convert(Y)
    fit = twolayer.recover(Xc, Yc)
    # float32 data are a slightly different (still exact) problem: the same units to ~1e-6.
    tol = 1e-9 if Xc.dtype == np.float64 else 1e-5
    assert aligned_error(fit.V, V) <= tol
    if Xc.dtype == np.float64:
        assert fit.certified


def test_non_contiguous_views():
    X, Y, U, V = planted(seed=2)
    wide = np.zeros((X.shape[0], 2 * X.shape[1]))
    wide[:, ::2] = X
    fit = twolayer.recover(wide[:, ::2], Y)  # a strided view, not a copy
    assert fit.certified and aligned_error(fit.V, V) <= 1e-9
    fit = twolayer.recover(X[::-1], Y[::-1])  # negative strides
    assert fit.certified and aligned_error(fit.V, V) <= 1e-9
    ro = wide[:, ::2]
    ro.setflags(write=False)  # read-only: borrowed in place, not copied
    fit = twolayer.recover(ro, Y)
    assert fit.certified and aligned_error(fit.V, V) <= 1e-9


def test_scalar_outputs_as_a_vector():
    X, Y, U, V = planted(d=10, k=3, m=1, n=1500, seed=3)
    fit = twolayer.recover(X, Y[:, 0], k=3)  # one output: k is not the rank of Y
    assert fit.U.shape == (1, 3)
    assert np.linalg.norm(fit.predict(X)[:, 0] - Y[:, 0]) / np.linalg.norm(Y) < 1e-8


def test_generate_matches_its_own_network():
    X, Y, U, V = twolayer.generate(d=8, k=3, m=2, n=500, seed=4)
    assert X.shape == (500, 8) and Y.shape == (500, 2) and U.shape == (2, 3) and V.shape == (3, 8)
    assert np.allclose(np.maximum(X @ V.T, 0) @ U.T, Y, rtol=0, atol=1e-12)
    X2, *_ = twolayer.generate(d=8, k=3, m=2, n=500, seed=4)
    assert np.array_equal(X, X2)


def test_noisy_labels_fall_back_to_least_squares():
    X, Y, U, V = twolayer.generate(d=10, k=4, m=4, n=20000, noise=0.01, seed=5)
    fit = twolayer.recover(X, Y)
    assert not fit.certified and fit.report["method"] == "sign-pattern"
    assert aligned_error(fit.V, V / np.linalg.norm(V, axis=1, keepdims=True)) < 0.05


def test_residual_structure_tells_a_fit_from_a_network_short_of_a_unit():
    X, Y, U, V = planted(d=20, k=5, m=5, n=20000, seed=3)
    noisy = Y + 0.05 * Y.std() * np.random.default_rng(1).standard_normal(Y.shape)
    truth = twolayer.residual_structure(X, noisy, U, V)
    assert truth["clean"] and 0.8 < truth["statistic"] <= truth["limit"], truth
    short = twolayer.residual_structure(X, noisy, U[:, :-1], V[:-1])
    assert not short["clean"] and short["statistic"] > 10 * short["limit"], short
    fit = twolayer.recover(X, noisy)
    assert twolayer.residual_structure(X, noisy, fit.U, fit.V)["clean"]
    # A certified exact fit leaves nothing, though its residual is rounding, not zero.
    exact = twolayer.recover(X, Y)
    assert exact.certified
    assert twolayer.residual_structure(X, Y, exact.U, exact.V)["statistic"] == 0.0


def test_hardness_partition():
    yes = twolayer.hardness.partition([3, 1, 1, 2, 2, 1])
    assert yes["yes"] and yes["X"].shape == (14, 6) and yes["Y"].shape == (14, 1)
    assert int(yes["signs"] @ np.array([3, 1, 1, 2, 2, 1])) == 0
    fit = np.maximum(yes["X"] @ yes["V"].T, 0) @ yes["U"].T
    assert np.array_equal(fit, yes["Y"])
    no = twolayer.hardness.partition([1, 1, 3])
    assert not no["yes"] and no["U"] is None and no["signs"] is None


def test_safetensors_round_trip_predicts_the_same(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    from safetensors import safe_open

    X, Y, U, V = planted(seed=6)
    fit = twolayer.recover(X, Y)
    for dtype, tol in [("float64", 1e-14), ("float32", 1e-6)]:
        path = tmp_path / f"model-{dtype}.safetensors"
        fit.to_safetensors(path, dtype=dtype)
        w = st.load_file(str(path))
        assert w["0.weight"].dtype == np.dtype(dtype) and w["0.weight"].shape == (10, 20)
        V_, U_ = w["0.weight"].astype(np.float64), w["2.weight"].astype(np.float64)
        P = np.maximum(X @ V_.T, 0) @ U_.T
        assert np.linalg.norm(P - fit.predict(X)) / np.linalg.norm(Y) <= tol
        with safe_open(str(path), "np") as f:
            assert f.metadata()["certified"] == "true"
    with pytest.raises(ValueError, match="not float32 or float64"):
        fit.to_safetensors(tmp_path / "x.safetensors", dtype="int8")
    with pytest.raises(ValueError, match="cannot write"):
        fit.to_safetensors(tmp_path / "no" / "such" / "dir.safetensors")
    assert not (tmp_path / "no").exists()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="is a FIFO"):
        fit.to_safetensors(fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def _message(fn):
    with pytest.raises(ValueError) as e:
        fn()
    return str(e.value)


def test_every_bad_input_is_a_value_error():
    X, Y, U, V = planted(seed=7)
    bad_nan = X.copy()
    bad_nan[5, 3] = np.nan
    noisy = Y + 0.01 * np.random.default_rng(0).standard_normal(Y.shape)
    fit = twolayer.recover(X, Y)
    cases = [
        (lambda: twolayer.recover(bad_nan, Y), "non-finite value (NaN or ±inf) at row 5, column 3"),
        (lambda: twolayer.recover(X, Y[:-1]), "expected 3000, got 2999"),
        (lambda: twolayer.recover(X.astype(np.int64), Y), "dtype int64"),
        (lambda: twolayer.recover(X.tolist(), Y), "X is a list"),
        (lambda: twolayer.recover(X[:, :, None], Y), "3-D array"),
        (lambda: twolayer.recover(X[:50], Y[:50]), "only 50 samples"),
        (lambda: twolayer.recover(X, Y, activation="tanh"), 'unknown activation "tanh"'),
        (lambda: twolayer.recover(X, Y, noise="loud"), 'unknown noise model "loud"'),
        (lambda: twolayer.recover(X, Y, k=0), "k = 0 hidden units"),
        (lambda: twolayer.recover(X, Y, k=21), "k ≤ d"),
        (lambda: twolayer.recover(np.zeros((0, 20)), np.zeros((0, 10))), "X is empty"),
        (lambda: twolayer.recover(np.ones((3000, 20)), Y), "covariance is singular"),
        (lambda: twolayer.recover(X, noisy, noise="none"), "declared noiseless"),
        (lambda: twolayer.generate(d=0, k=1, m=1, n=10), "d must be at least 1"),
        (lambda: fit.predict(X[:, :5]), "expected 20, got 5"),
        (lambda: twolayer.residual_structure(X[:, :5], Y, U, V), "expected 20, got 5"),
        (lambda: twolayer.hardness.partition([1, 0]), "positive integer"),
        (lambda: twolayer.hardness.partition([]), ""),
        (lambda: twolayer.hardness.partition([1.5, 2]), "got 1.5"),
        (lambda: twolayer.recover(X, Y, k=-1), "k must be a whole number"),
        (lambda: twolayer.recover(X, Y, seed=-1), "seed must be a whole number"),
        (lambda: twolayer.recover(X, Y, restarts=-1), "restarts must be a whole number"),
        (lambda: twolayer.recover(X, Y, k=2.5), "k must be a whole number"),
        (lambda: twolayer.generate(d=-1, k=1, m=1, n=10), "d must be a whole number"),
        (lambda: twolayer.generate(d=100, k=20, m=20, n=10**12), "memory"),
        (lambda: twolayer.recover(X, Y, activation="relupow:1000"), "unknown activation"),
        (lambda: fit.predict(bad_nan), "non-finite value (NaN or ±inf) at row 5, column 3"),
    ]
    for call, text in cases:
        with pytest.raises(ValueError) as e:
            call()
        assert text in str(e.value), (text, str(e.value))


def test_the_gil_is_released_during_recovery():
    X, Y, U, V = planted(d=60, k=20, m=20, n=40000, seed=8)
    ticks = []
    done = threading.Event()

    def count():
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    # Recover for at least 0.2 s, whatever one recovery takes on this machine.
    start = time.perf_counter()
    calls = 0
    while calls == 0 or time.perf_counter() - start < 0.2:
        twolayer.recover(X, Y)
        calls += 1
    end = time.perf_counter()
    done.set()
    t.join()
    during = [s for s in ticks if start < s < end]
    # Rust code holding the GIL would run no Python bytecode and so never hand it over: the
    # other thread could tick only between calls, a few times each. Released, it ticks about
    # once a millisecond throughout.
    assert len(during) >= max(20, 250 * (end - start)), (len(during), calls, end - start)


def test_a_thread_rewriting_X_cannot_break_recovery():
    # The algorithms run without the GIL: a writeable X is copied first, so another thread
    # rewriting it (with NaN, say) gives a fit or a ValueError, never a panic.
    X, Y, U, V = planted(seed=9)
    clean = X.copy()
    stop = threading.Event()

    def vandal():
        while not stop.is_set():
            X[:] = np.nan
            X[:] = clean

    t = threading.Thread(target=vandal)
    t.start()
    outcomes = []
    try:
        for _ in range(10):
            try:
                fit = twolayer.recover(X, Y)
                outcomes.append("fit" if np.isfinite(fit.V).all() else "non-finite")
            except ValueError as e:
                outcomes.append("nan" if "non-finite" in str(e) else str(e))
    finally:
        stop.set()
        t.join()
    assert set(outcomes) <= {"fit", "nan"}, outcomes
