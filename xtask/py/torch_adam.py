"""Minibatch Adam with PyTorch's defaults on the bar's files, timed to a parameter error.

Usage: python torch_adam.py DIR TARGET BUDGET_S
DIR holds X.npy (n, d), Y.npy (n, m), U_true.npy (m, k), V_true.npy (k, d). The network is
nn.Sequential(Linear(d, k, bias=False), ReLU(), Linear(k, m, bias=False)) in float64 with
nn.Linear's default initialisation; Adam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8), MSE loss,
batches of 256 reshuffled every epoch, one thread. After every epoch the parameter error is
measured as twolayer's `align` does: rows of V scaled to unit norm (U absorbing the scale),
units matched by the Hungarian assignment on |cos|, then sqrt(||dV||_F^2 + (||dU||_F/||U||_F)^2).
The evaluation is not counted in the time. Prints one JSON line.
"""
import json
import sys
import time

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment


def canonical(u, v):
    s = np.linalg.norm(v, axis=1)
    s[s == 0] = 1.0
    return u * s[None, :], v / s[:, None]


def parameter_error(u, v, u_true, v_true):
    (u, v), (ut, vt) = canonical(u, v), canonical(u_true, v_true)
    rows, cols = linear_sum_assignment(-np.abs(vt @ v.T))
    dv = np.linalg.norm(vt[rows] - v[cols], axis=1)
    du = np.linalg.norm(ut[:, rows] - u[:, cols], axis=0)
    return float(np.hypot(np.sqrt((dv**2).sum()), np.sqrt((du**2).sum()) / np.linalg.norm(ut)))


def main():
    folder, target, budget = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    torch.set_num_threads(1)
    torch.manual_seed(0)
    load = lambda name: np.load(f"{folder}/{name}.npy")
    x, y = torch.from_numpy(load("X")), torch.from_numpy(load("Y"))
    u_true, v_true = load("U_true"), load("V_true")
    (n, d), m, k = x.shape, y.shape[1], v_true.shape[0]
    model = torch.nn.Sequential(
        torch.nn.Linear(d, k, bias=False), torch.nn.ReLU(), torch.nn.Linear(k, m, bias=False)
    ).double()
    opt = torch.optim.Adam(model.parameters())
    loss_fn = torch.nn.MSELoss()
    trained, epochs, err, reached = 0.0, 0, float("inf"), False
    while trained < budget:
        start = time.perf_counter()
        for idx in torch.randperm(n).split(256):
            opt.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
        trained += time.perf_counter() - start
        epochs += 1
        with torch.no_grad():
            v = model[0].weight.numpy().copy()
            u = model[2].weight.numpy().copy()
        err = parameter_error(u, v, u_true, v_true)
        if err < target:
            reached = True
            break
    print(json.dumps({"time_s": trained, "epochs": epochs, "param_err": err, "reached": reached,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
