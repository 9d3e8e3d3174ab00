"""Worker for test_distributed.py, launched by torchrun: fits one problem and writes its result.

Usage: python -m torch.distributed.run ... tests/distributed_worker.py MODE OUT_DIR
where MODE is "population" (every rank gets all rows) or "data" (rank r gets rows r::world).
"""

import json
import sys

import numpy as np
import torch.distributed as dist

import lognet
from lognet._distributed import init_from_environment, leave_process_group


def make_problem():
    rng = np.random.default_rng(11)
    X = rng.uniform(1, 10, (600, 2))
    y = 2.5 * X[:, 0] ** 1.5 - 0.5 * X[:, 1] ** 2 * X[:, 0] ** -1
    return X, y


def main() -> None:
    mode, out_dir = sys.argv[1], sys.argv[2]
    init_from_environment()
    rank, world = dist.get_rank(), dist.get_world_size()
    X, y = make_problem()
    rows = np.arange(X.shape[0])
    if mode == "data":
        rows = rows[rank::world]
    result = lognet.fit(X[rows], y[rows], random_state=0, data_parallel=(mode == "data"), simplify=False)
    record = {
        "rank": rank,
        "world_size": world,
        "rows": rows.tolist(),
        "weight": result.weight.tolist(),
        "coef": result.coef.tolist(),
        "n_terms": result.n_terms,
        "loss_history": result.loss_history,
        "n_train": result.extra["n_train"],
    }
    with open(f"{out_dir}/rank{rank}.json", "w") as stream:
        json.dump(record, stream)
    leave_process_group()


if __name__ == "__main__":
    main()
