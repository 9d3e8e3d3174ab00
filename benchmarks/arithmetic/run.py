"""Run the arithmetic extrapolation benchmark and write raw results and markdown tables.

From the repository root:

    python -m benchmarks.arithmetic.run --budget full --seeds 25

writes ``benchmarks/arithmetic/results/<budget>.json`` and ``.csv`` (one row per run) and
replaces the results block of ``docs/benchmarks.md``.
``--from-results results/full.json --doc docs/benchmarks.md`` rebuilds that block
from saved results without running anything.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import torch

from .budgets import BUDGETS, TASK_SETS, Budget
from .lognet_engine import LognetBudget, fit_lognet, free_exponent_budget
from .recipes import BASELINES, recipe_for
from .report import goal_lines, results_markdown
from .stats import summarise
from .tasks import Task, find_task, success_threshold
from .train_baselines import evaluation_sets, per_model_mse, train_baseline

MODELS = ("lognet",) + BASELINES
# Run only when named: lognet without exponent templates (see lognet_engine.free_exponent_budget).
EXTRA_MODELS = ("lognet-free",)
RESULTS_DIR = Path(__file__).resolve().parent / "results"
DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"
BLOCK_START = "<!-- arithmetic-results:start -->"
BLOCK_END = "<!-- arithmetic-results:end -->"


def cpu_model() -> str:
    """Return the CPU's model name from /proc/cpuinfo (as ``lscpu`` shows it), or platform's guess."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_lognet(
    task: Task, seeds: list[int], budget: Budget, threshold: float, lognet_budget: LognetBudget | None = None, name: str = "lognet"
) -> list[dict]:
    """Fit lognet once per seed and score it like the baselines (same evaluation sets)."""
    lognet_budget = lognet_budget or budget.lognet
    valid_x, test_x = evaluation_sets(task, budget.n_valid, budget.n_test)
    records = []
    for seed in seeds:
        fit = fit_lognet(task, seed, lognet_budget)
        a_mask, b_mask = task.layout(seed)
        with torch.no_grad():
            output_test = fit.model(test_x)[None]
            output_valid = fit.model(valid_x)[None]
        extrapolation = float(per_model_mse(output_test, task.target(test_x, a_mask, b_mask)[None])[0])
        interpolation = float(per_model_mse(output_valid, task.target(valid_x, a_mask, b_mask)[None])[0])
        records.append(
            {
                "model": name,
                "task": task.name,
                "seed": seed,
                "extrapolation_mse": extrapolation,
                "interpolation_mse": interpolation,
                "threshold": threshold,
                "success": bool(extrapolation < threshold),
                "seconds": fit.seconds,
                "train_loss": fit.train_loss,
                "exponents": fit.exponents,
                **{f"fit_{key}": value for key, value in fit.details.items()},
            }
        )
    return records


def group_tasks(tasks: list[Task]) -> list[list[Task]]:
    """Group tasks that one batched baseline run can share: same family and operation."""
    groups: dict[tuple[str, str], list[Task]] = {}
    for task in tasks:
        groups.setdefault((task.family, task.operation), []).append(task)
    return list(groups.values())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="full", help="compute budget (default: full)")
    parser.add_argument("--seeds", type=int, default=25, help="number of seeds, 0..N-1 (default: 25)")
    parser.add_argument(
        "--tasks",
        default=None,
        help="task set (" + ", ".join(TASK_SETS) + ") or task names separated by ';', because names contain "
        "commas (default: the task set named like the budget)",
    )
    parser.add_argument("--models", default="all", help="'all' or comma-separated models from: " + ", ".join(MODELS + EXTRA_MODELS))
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1, the machine is shared)")
    parser.add_argument("--out", type=Path, default=None, help="stem of the .json/.csv results (default: results/<budget>)")
    parser.add_argument(
        "--from-results",
        type=Path,
        default=None,
        help="rebuild the tables from this results .json instead of running (add --doc to write them)",
    )
    parser.add_argument(
        "--doc",
        type=Path,
        default=None,
        help="markdown file whose results block is replaced (default: none, but the full budget writes "
        "docs/benchmarks.md)",
    )
    parser.add_argument(
        "--steps",
        default=None,
        help="override the baselines' steps per family, e.g. 'static=50000' or 'static=50000,nalm=20000'",
    )
    parser.add_argument(
        "--block",
        default=None,
        help="name of the results block in --doc, for a second block next to the main one "
        "(markers <!-- arithmetic-results-NAME:start/end -->; default: the main block)",
    )
    return parser.parse_args(argv)


def parse_steps(spec: str | None, budget: Budget) -> Budget:
    """Return ``budget`` with the baseline steps that ``spec`` ('family=steps,...') overrides."""
    if not spec:
        return budget
    steps = dict(budget.baseline_steps)
    for item in spec.split(","):
        family, _, value = item.partition("=")
        family = family.strip()
        if family not in steps or not value.strip().isdigit() or int(value) < 1:
            raise SystemExit(
                f"--steps entry {item!r} must look like 'static=50000' with a family from {sorted(steps)} "
                f"and a positive step count."
            )
        steps[family] = int(value)
    return dataclasses.replace(budget, baseline_steps=steps)


def resolve_tasks(spec: str) -> list[Task]:
    if spec in TASK_SETS:
        return list(TASK_SETS[spec])
    return [find_task(name.strip()) for name in spec.split(";") if name.strip()]


def resolve_models(spec: str) -> list[str]:
    if spec == "all":
        return list(MODELS)
    models = [name.strip() for name in spec.split(",") if name.strip()]
    unknown = [name for name in models if name not in MODELS + EXTRA_MODELS]
    if unknown:
        raise SystemExit(f"unknown models {unknown}; choose from {', '.join(MODELS + EXTRA_MODELS)}.")
    return models


def write_results(path_stem: Path, metadata: dict, records: list[dict]) -> None:
    """Write all runs to ``<stem>.json`` (with metadata) and ``<stem>.csv``."""
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    with open(path_stem.with_suffix(".json"), "w", encoding="utf-8") as handle:
        json.dump({"metadata": metadata, "runs": records}, handle, separators=(",", ":"), default=str)
    columns = ["model", "task", "seed", "success", "extrapolation_mse", "interpolation_mse", "threshold", "seconds"]
    with open(path_stem.with_suffix(".csv"), "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(records)


def replace_block(doc: Path, block: str, name: str | None = None) -> None:
    """Put ``block`` between the results markers of ``doc`` (the main ones, or those of the
    block ``name``), creating the file if needed."""
    start, end = (BLOCK_START, BLOCK_END) if not name else (f"<!-- arithmetic-results-{name}:start -->", f"<!-- arithmetic-results-{name}:end -->")
    wrapped = f"{start}\n{block}{end}\n"
    if doc.exists():
        text = doc.read_text(encoding="utf-8")
        if start in text and end in text:
            head, rest = text.split(start, 1)
            tail = rest.split(end, 1)[1].lstrip("\n")
            doc.write_text(head + wrapped + tail, encoding="utf-8")
            return
        doc.write_text(text.rstrip("\n") + "\n\n" + wrapped, encoding="utf-8")
        return
    doc.write_text(wrapped, encoding="utf-8")


def render_report(metadata: dict, records: list[dict]) -> str:
    """Return the markdown results block: run facts, the goal check and the tables."""
    tasks = [find_task(name) for name in metadata["tasks"]]
    models = metadata["models"]
    summary = summarise(records)
    lines = [
        f"- Command: `{metadata['command']}`, from the repository root ({metadata['seeds']} seeds, "
        f"{metadata['elapsed_seconds'] / 60:.1f} min wall time, run on {metadata['date']}).",
        f"- Machine: {metadata['cpu']}, {metadata['cpu_count']} CPU cores shared with other jobs, "
        f"{metadata['torch_threads']} torch thread(s), torch {metadata['torch']}, Python {metadata['python']}.",
        f"- Baselines: {metadata['baseline_budget']}.",
        "- lognet: " + ", ".join(f"{key}={value}" for key, value in metadata["lognet_budget"].items()) + ".",
    ]
    if "lognet-free" in models and "lognet_free_budget" in metadata:
        lines.append(
            "- lognet-free: " + ", ".join(f"{key}={value}" for key, value in metadata["lognet_free_budget"].items()) + "."
        )
    lines.append("")
    if "lognet" in models:
        lines += goal_lines(summary, tasks, [model for model in models if not model.startswith("lognet")]) + [""]
    return "\n".join(lines) + "\n" + results_markdown(summary, tasks, models, metadata["thresholds"])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_results is not None:
        payload = json.loads(args.from_results.read_text(encoding="utf-8"))
        block = render_report(payload["metadata"], payload["runs"])
        print(block)
        if args.doc is not None:
            replace_block(args.doc, block)
        return 0

    torch.set_num_threads(args.threads)
    budget = parse_steps(args.steps, BUDGETS[args.budget])
    tasks = resolve_tasks(args.tasks or budget.name)
    models = resolve_models(args.models)
    seeds = list(range(args.seeds))
    out = args.out or RESULTS_DIR / budget.name
    doc = args.doc or (DOC_PATH if budget.name == "full" else None)
    command = "python -m benchmarks.arithmetic.run " + " ".join(shlex.quote(arg) for arg in (argv if argv is not None else sys.argv[1:]))

    metadata = {
        "command": command,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": args.threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "budget": budget.name,
        "baseline_budget": budget.describe(),
        "lognet_budget": budget.lognet.as_dict(),
        "lognet_free_budget": free_exponent_budget(budget.lognet).as_dict(),
        "seeds": len(seeds),
        "tasks": [task.name for task in tasks],
        "models": models,
        "recipes": {},
        "thresholds": {},
    }
    records: list[dict] = []
    start = time.perf_counter()
    for group in group_tasks(tasks):
        for task in group:
            metadata["thresholds"][task.name] = success_threshold(task, n_samples=budget.threshold_samples)
        thresholds = {task.name: metadata["thresholds"][task.name] for task in group}
        for model in models:
            began = time.perf_counter()
            if model in ("lognet", "lognet-free"):
                variant = budget.lognet if model == "lognet" else free_exponent_budget(budget.lognet)
                new = [
                    record
                    for task in group
                    for record in run_lognet(task, seeds, budget, thresholds[task.name], variant, model)
                ]
            else:
                metadata["recipes"][f"{model} | {group[0].family} | {group[0].operation}"] = recipe_for(model, group[0]).notes
                new = train_baseline(
                    model,
                    group,
                    seeds,
                    budget.steps_for(group[0]),
                    thresholds=thresholds,
                    n_valid=budget.n_valid,
                    n_test=budget.n_test,
                    n_checkpoints=budget.n_checkpoints,
                )
            records += new
            for task in group:
                successes = sum(record["success"] for record in new if record["task"] == task.name)
                print(f"[{time.perf_counter() - start:6.0f}s] {task.name:26s} {model:8s} {successes:2d}/{len(seeds)}", flush=True)
            print(f"         {model} on {len(group)} task(s) took {time.perf_counter() - began:.1f}s", flush=True)
        metadata["elapsed_seconds"] = time.perf_counter() - start
        write_results(out, metadata, records)

    block = render_report(metadata, records)
    print(block)
    print(f"Results: {out.with_suffix('.json')} and {out.with_suffix('.csv')}", flush=True)
    if doc is not None:
        replace_block(doc, block, args.block)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
