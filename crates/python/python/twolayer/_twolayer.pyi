from os import PathLike
from typing import Any, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

ArrayLike = npt.NDArray[Union[np.float64, np.float32]]

class Result:
    """A recovered network y = U f(V x) and the report of the method that found it."""

    @property
    def U(self) -> npt.NDArray[np.float64]:
        """Output weights, shape (m, k)."""
    @property
    def V(self) -> npt.NDArray[np.float64]:
        """Hidden weights, shape (k, d): one unit per row."""
    @property
    def report(self) -> dict[str, Any]:
        """The fields of report.json: method, certified, residual_rel, k, singular values,
        conditioning diagnostics, warnings, times, assumptions."""
    @property
    def certified(self) -> bool:
        """Whether the relative residual over every sample is below 1e-10 (exact)."""
    def predict(self, X: ArrayLike) -> npt.NDArray[np.float64]:
        """U f(V x) for every row x of X (n, d): an array (n, m)."""
    def to_safetensors(self, path: Union[str, PathLike[str]], dtype: str = "float32") -> None:
        """Writes "0.weight" = V and "2.weight" = U (float32 or float64) with the
        certificate in the metadata, for nn.Sequential(Linear(d, k), ReLU(), Linear(k, m))."""

def recover(
    X: ArrayLike,
    Y: ArrayLike,
    k: Optional[int] = None,
    activation: str = "relu",
    noise: str = "auto",
    seed: int = 0,
    restarts: int = 16,
    intercept: bool = False,
) -> Result:
    """Recovers U (m, k) and V (k, d) from samples X (n, d) and labels Y (n, m) or (n,).

    k: hidden units (default: the numerical rank of Y, or estimated for m < k).
    activation: "relu", "relu2", "relupow:P" or "logrelu".
    noise: "auto" (exact if it certifies, else least squares), "none" (an uncertified
    answer is an error), "gaussian" or "huber".
    Float64 arrays are read in place (C or Fortran order); float32 ones are copied once.
    Raises ValueError on bad inputs, with the command line's message.
    """

def generate(
    d: int, k: int, m: int, n: int, noise: float = 0.0, seed: int = 0
) -> Tuple[
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
]:
    """A planted instance (X, Y, U_true, V_true): Gaussian samples, a random network with
    unit rows of V_true, and Gaussian label noise of `noise` times the label RMS."""

def residual_structure(
    X: ArrayLike, Y: ArrayLike, U: ArrayLike, V: ArrayLike, activation: str = "relu"
) -> dict[str, Any]:
    """The second-order structure the network U f(V x) leaves in its residual on X (n, d)
    and Y (n, m) or (n,): {"statistic", "limit", "clean"}. The statistic is 1 in expectation
    when the residual is noise independent of the inputs; a fit in a wrong basin, or one
    short of units, is well above the limit. Needs no true weights, so it checks any
    network, one trained by gradient descent included. Raises ValueError on bad inputs."""

def _partition(values: list[int]) -> dict[str, Any]: ...
