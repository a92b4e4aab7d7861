"""Learn the true weights of a two-layer rectified network y = U f(V x) from samples.

The provable algorithms of Bakshi, Jayaram and Woodruff, "Learning Two Layer Rectified
Neural Networks in Polynomial Time" (COLT 2019), from the Rust crates of twolayer:
exact recovery with a certificate when labels are clean, least squares over sign
patterns when they are noisy or when there are fewer outputs than hidden units.

Arrays follow the ecosystem: samples as rows, X (n, d), Y (n, m); weights as PyTorch's
``nn.Linear`` stores them, V (k, d) and U (m, k)::

    import numpy as np, twolayer
    X, Y, U_true, V_true = twolayer.generate(d=20, k=10, m=10, n=3000, seed=0)
    fit = twolayer.recover(X, Y)
    fit.certified            # True: the residual over every sample is below 1e-10
    fit.U, fit.V             # numpy arrays (m, k), (k, d)
    fit.predict(X)           # (n, m)
    fit.to_safetensors("model.safetensors")   # loads into nn.Sequential
    twolayer.residual_structure(X, Y, fit.U, fit.V)   # any network: structure left?

Every error in the inputs is a ``ValueError`` with the message the ``twolayer`` command
line prints. The GIL is released while the algorithms run.
"""

from ._twolayer import Result, __version__, generate, recover, residual_structure
from . import hardness

__all__ = ["Result", "generate", "hardness", "recover", "residual_structure", "__version__"]
