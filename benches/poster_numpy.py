#!/usr/bin/env python3
"""The peer for the engine benchmark: poster.json's computation in numpy, and numpy's matmul.

Prints lines `numpy poster N ticks/s X` and `numpy matmul N gflops X` that benches/engine.rs parses,
and one `blas ...` line: the BLAS library numpy used and its kernel (OpenBLAS's core type), from
threadpoolctl when it is installed, else the library mapped into this process.
One poster "tick" does what the patch's tick does once its pipeline is full: the down-stroke copies
(eight image-sized weighted sums with weight 1), softmax of the rows of one picture and of the
columns of the other (max subtracted), three min-max normalisations and one matrix product.
"""
import sys
import time

import numpy as np


def softmax_rows(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_cols(x):
    e = np.exp(x - x.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def normalize(x):
    lo, hi = x.min(), x.max()
    r = hi - lo
    return (x - lo) / r if r > 0 else np.zeros_like(x)


def tick(state, left, right):
    # Down stroke: each input is 1.0 * the previous output (as the engine computes it).
    sr_x, sc_x = 1.0 * left, 1.0 * right
    nl_x, nr_x = 1.0 * state["sr"], 1.0 * state["sc"]
    a, b = 1.0 * state["nl"], 1.0 * state["nr"]
    np_x, show = 1.0 * state["prod"], 1.0 * state["np"]
    # Up stroke.
    state["sr"], state["sc"] = softmax_rows(sr_x), softmax_cols(sc_x)
    state["nl"], state["nr"] = normalize(nl_x), normalize(nr_x)
    state["prod"] = a @ b
    state["np"] = normalize(np_x)
    return show


def rate(f, min_seconds=3.0):
    for _ in range(3):
        f()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < min_seconds or n < 5:
        f()
        n += 1
    return n / (time.perf_counter() - t0)


def blas():
    """Which BLAS numpy ran, and (OpenBLAS) the kernel it picked for this CPU."""
    try:
        from threadpoolctl import threadpool_info

        libs = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if libs:
            i = libs[0]
            return (f"{i.get('internal_api')} {i.get('version')}, kernel {i.get('architecture')}, "
                    f"{i.get('num_threads')} threads")
    except ImportError:
        pass
    try:
        with open("/proc/self/maps") as f:
            paths = sorted({l.split()[-1] for l in f if "blas" in l.lower()})
        return ", ".join(paths) or "unknown"
    except OSError:
        return "unknown"


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [256, 512]
    rng = np.random.default_rng(0)
    for n in sizes:
        left = rng.random((n, n), dtype=np.float32)
        right = rng.random((n, n), dtype=np.float32)
        z = np.zeros((n, n), dtype=np.float32)
        state = {k: z.copy() for k in ["sr", "sc", "nl", "nr", "prod", "np"]}
        print(f"numpy poster {n} ticks/s {rate(lambda: tick(state, left, right)):.1f}", flush=True)
    for n in [128, 256, 512]:
        a = rng.random((n, n), dtype=np.float32)
        b = rng.random((n, n), dtype=np.float32)
        print(f"numpy matmul {n} gflops {2 * n**3 * rate(lambda: a @ b, 1.0) / 1e9:.2f}", flush=True)
    print(f"blas {blas()}", flush=True)


if __name__ == "__main__":
    main()
