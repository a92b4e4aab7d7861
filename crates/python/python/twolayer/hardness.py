"""The NP-hardness of fitting two ReLU units exactly (docs/algorithms.md section 7).

A Partition instance s (positive integers) becomes samples ±e_i with label 1 and ±s with
label 0; a network with k = 2 units fits them exactly iff s splits into two halves of
equal sum, and the certificate U = (1, 1), V = (eps; -eps) computes |eps . x|.
"""

from typing import Iterable, Optional, TypedDict

import numpy as np

from ._twolayer import _partition


class PartitionGadget(TypedDict):
    X: np.ndarray
    Y: np.ndarray
    yes: bool
    signs: Optional[np.ndarray]
    U: Optional[np.ndarray]
    V: Optional[np.ndarray]


def partition(values: Iterable[int]) -> PartitionGadget:
    """The gadget of a Partition instance: X (2d + 2, d), Y (2d + 2, 1), whether it is a
    yes-instance, the split `signs` (+-1 per value, or None), and for a yes-instance the
    certificate network U (1, 2), V (2, d) that fits the gadget exactly.

    Raises ValueError for an empty list, a zero, or more values than the exact solver takes.
    """
    checked = []
    for v in values:
        # int() would truncate 1.5 to 1 and accept True: refuse anything but an integer.
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"Partition values must be positive integers, got {v!r}")
        if v < 0:
            raise ValueError(f"Partition values must be positive integers, got {v}")
        checked.append(int(v))
    return _partition(checked)
