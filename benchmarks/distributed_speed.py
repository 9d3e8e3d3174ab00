"""Wall time of lognet.fit in one process against two processes under torchrun (gloo, 127.0.0.1).

Run from the repository root:

    .venv/bin/python -m benchmarks.distributed_speed [--rows 20000] [--population 512]

Three configurations fit the same 3-term law: one process; two processes splitting the
multi-start population (every rank has all rows); two processes with the rows sharded
(data_parallel=True). Each configuration runs in fresh processes, so import and process-group
start-up are included and reported separately from the fit itself.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORKER = r'''
import json, sys, time
import numpy as np
import lognet
from lognet._distributed import init_from_environment, leave_process_group, rank
import torch.distributed as dist

mode, rows, population, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
started = time.perf_counter()
distributed = init_from_environment()
world = dist.get_world_size() if distributed else 1
rng = np.random.default_rng(0)
X = rng.uniform(1, 10, (rows, 3))
y = 2 * X[:, 0] ** 1.5 - 0.5 * X[:, 1] ** 2 * X[:, 2] ** -1 + 3 * X[:, 2] ** 0.5
mine = np.arange(rows)[rank()::world] if mode == "data" else np.arange(rows)
options = lognet.EngineOptions(population=population, max_search_samples=rows)
fit_start = time.perf_counter()
result = lognet.fit(X[mine], y[mine], loss="mse", random_state=0, options=options, data_parallel=(mode == "data"))
fit_seconds = time.perf_counter() - fit_start
if rank() == 0:
    json.dump({"fit_seconds": fit_seconds, "total_seconds": time.perf_counter() - started,
               "formula": result.formula_string(), "world": world}, open(out, "w"))
leave_process_group()
'''


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(mode: str, processes: int, rows: int, population: int, workdir: Path) -> dict:
    script = workdir / "worker.py"
    script.write_text(WORKER)
    out = workdir / f"{mode}-{processes}.json"
    env = dict(os.environ, GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS=str(max(1, 2 // processes)))
    if processes == 1:
        command = [sys.executable, str(script), mode, str(rows), str(population), str(out)]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", str(processes),
                   "--master-addr", "127.0.0.1", "--master-port", str(free_port()), str(script), mode, str(rows), str(population), str(out)]
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    record = json.loads(out.read_text())
    record["wall_seconds"] = time.perf_counter() - started
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000, help="samples in the generated data set")
    parser.add_argument("--population", type=int, default=512, help="multi-start population per stage")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        runs = [("single", 1), ("population", 2), ("data", 2)]
        results = {(mode, n): run(mode, n, args.rows, args.population, workdir) for mode, n in runs}
    base = results[("single", 1)]["fit_seconds"]
    print(f"rows {args.rows}, population {args.population}, {os.cpu_count()} cores, {platform.processor() or platform.machine()}")
    print("| configuration | processes | fit time (s) | speed-up | wall time with start-up (s) | formula |")
    print("|---|---|---|---|---|---|")
    for (mode, n), record in results.items():
        label = {"single": "one process", "population": "population split", "data": "data parallel"}[mode]
        print(f"| {label} | {n} | {record['fit_seconds']:.2f} | {base / record['fit_seconds']:.2f}x | {record['wall_seconds']:.1f} | `{record['formula']}` |")


if __name__ == "__main__":
    main()
