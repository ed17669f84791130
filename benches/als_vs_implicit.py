"""ALS fit time: propensity (Rust, CG) against Python `implicit` (CPU, CG), same matrix, same run.

Writes a synthetic Ta-Feng-shaped matrix (32k customers x 24k items, ~700k nonzeros, Zipf item
popularity, skewed customer activity) as `user,item,value` triples, then times
`implicit.cpu.als.AlternatingLeastSquares(factors=128, iterations=15, use_cg=True,
num_threads=2)` and `examples/als_bench` with the same settings, three fits each, and prints
the medians. Confidence differs by the constant 1 (implicit: c = a*r, ours: c = 1 + a*r),
which does not change the work per sweep.

Usage: python benches/als_vs_implicit.py OUT_DIR  (see als_vs_implicit.sh)
"""
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np
import scipy.sparse as sp

N_USERS, N_ITEMS, DRAWS = 32_000, 24_000, 800_000
FACTORS, ITERATIONS, REG, ALPHA, THREADS, REPEATS = 128, 15, 0.01, 1.0, 2, 3


def synthetic_triples(seed=42):
    rng = np.random.default_rng(seed)
    item_p = 1.0 / np.arange(1, N_ITEMS + 1) ** 0.9
    item_p /= item_p.sum()
    user_w = rng.lognormal(0.0, 1.0, N_USERS)
    user_w /= user_w.sum()
    users = rng.choice(N_USERS, DRAWS, p=user_w)
    items = rng.permutation(N_ITEMS)[rng.choice(N_ITEMS, DRAWS, p=item_p)]
    m = sp.coo_matrix((np.ones(DRAWS, dtype=np.float32), (users, items)), shape=(N_USERS, N_ITEMS)).tocsr()
    m.sum_duplicates()
    return m


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "target/als-bench"
    os.makedirs(out, exist_ok=True)
    m = synthetic_triples()
    path = os.path.join(out, "triples.csv")
    coo = m.tocoo()
    np.savetxt(path, np.column_stack([coo.row, coo.col, coo.data]), fmt=["%d", "%d", "%g"],
               delimiter=",", header="user,item,value", comments="")
    print(f"matrix {m.shape[0]} x {m.shape[1]}, nnz {m.nnz} -> {path}")

    from implicit.cpu.als import AlternatingLeastSquares
    import implicit
    py_times, py_cpu = [], []
    for r in range(REPEATS):
        model = AlternatingLeastSquares(factors=FACTORS, iterations=ITERATIONS, regularization=REG,
                                        alpha=ALPHA, use_cg=True, num_threads=THREADS,
                                        random_state=r, calculate_training_loss=False)
        t, c = time.perf_counter(), time.process_time()
        model.fit(m, show_progress=False)
        py_times.append(time.perf_counter() - t)
        py_cpu.append(time.process_time() - c)
        print(f"implicit {implicit.__version__} fit_seconds {py_times[-1]:.3f} cpu_seconds {py_cpu[-1]:.2f} repeat {r}")

    res = subprocess.run(["target/release/examples/als_bench", path, "--factors", str(FACTORS),
                          "--iterations", str(ITERATIONS), "--regularization", str(REG),
                          "--alpha", str(ALPHA), "--threads", str(THREADS), "--repeats", str(REPEATS)],
                         check=True, capture_output=True, text=True)
    print(res.stdout, end="")
    rs_times = [float(x) for x in re.findall(r"fit_seconds ([0-9.]+)", res.stdout)]
    rs_cpu = [float(x) for x in re.findall(r"cpu_seconds ([0-9.]+)", res.stdout)]
    py, rs = statistics.median(py_times), statistics.median(rs_times)
    print(f"median fit wall seconds: implicit {py:.2f}, propensity {rs:.2f}, ratio {rs / py:.2f}")
    pyc, rsc = statistics.median(py_cpu), statistics.median(rs_cpu)
    print(f"median fit cpu seconds: implicit {pyc:.2f}, propensity {rsc:.2f}, ratio {rsc / pyc:.2f}")
    print(f"load average during the run: {os.getloadavg()}")


if __name__ == "__main__":
    main()
