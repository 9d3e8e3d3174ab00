"""Markdown tables of the benchmark results and the check against lognet's goals."""

from __future__ import annotations

import statistics

from .recipes import BASELINES as BASELINE_NAMES
from .tasks import Task, format_ranges

GOAL_OPERATIONS = ("mul", "div", "sqrt", "square")
GOAL_RATE = 0.99


def _success_cell(cell: dict | None) -> str:
    if cell is None:
        return "-"
    return f"{cell['successes']}/{cell['runs']} [{cell['low']:.0%}-{cell['high']:.0%}]"


def _mse_cell(cell: dict | None) -> str:
    if cell is None:
        return "-"
    return f"{cell['median_mse']:.1e}"


def _task_label(task: Task) -> str:
    if task.family == "static":
        return f"static {task.operation}"
    return f"{task.operation} {format_ranges(task.interpolation)} → {format_ranges(task.extrapolation)}"


def _table(title: str, tasks: list[Task], models: list[str], summary: dict, thresholds: dict, cell) -> list[str]:
    header = ["Task", "threshold"] + models
    lines = [f"**{title}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for task in tasks:
        row = [_task_label(task), f"{thresholds[task.name]:.1e}"]
        row += [cell(summary.get((model, task.name))) for model in models]
        lines.append("| " + " | ".join(row) + " |")
    return lines + [""]


def results_markdown(summary: dict, tasks: list[Task], models: list[str], thresholds: dict) -> str:
    """Return the success-rate, median-error and time tables as markdown."""
    lines = []
    families = [("static", "Static task (Madsen & Johansen)"), ("nalm", "NALM two-input task (Mistry et al.)")]
    for family, name in families:
        family_tasks = [task for task in tasks if task.family == family]
        if not family_tasks:
            continue
        lines += _table(
            f"{name}: successes / runs [95% Wilson interval]", family_tasks, models, summary, thresholds, _success_cell
        )
        lines += _table(f"{name}: median extrapolation MSE", family_tasks, models, summary, thresholds, _mse_cell)

    lines += ["**Mean wall time per run (seconds)**", "", "| Family | " + " | ".join(models) + " |", "|" + "---|" * (len(models) + 1)]
    for family, _ in families:
        names = {task.name for task in tasks if task.family == family}
        if not names:
            continue
        row = [family]
        for model in models:
            times = [cell["seconds"] for (m, t), cell in summary.items() if m == model and t in names]
            row.append(f"{statistics.fmean(times):.2f}" if times else "-")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def goal_lines(summary: dict, tasks: list[Task], baselines: list[str], model: str = "lognet") -> list[str]:
    """Check ``model`` against the two goals and return one markdown bullet per finding.

    Goal 1: at least 99% success on multiplication, division, square root and square wherever
    the inputs are positive. Goal 2: a higher success rate than every baseline on each task
    whose ranges contain negative numbers.
    """
    lines = []
    positive = [task for task in tasks if not task.signed and task.operation in GOAL_OPERATIONS]
    short = [task for task in positive if (model, task.name) in summary and summary[(model, task.name)]["rate"] < GOAL_RATE]
    counted = [task for task in positive if (model, task.name) in summary]
    total = sum(summary[(model, task.name)]["successes"] for task in counted)
    runs = sum(summary[(model, task.name)]["runs"] for task in counted)
    if counted:
        covered = sorted({task.operation for task in counted})
        missing = sorted(set(GOAL_OPERATIONS) - set(covered))
        verdict = "met" if not short else "not met"
        if missing and not short:
            # A run that leaves operations out cannot show the goal is met, only that it was not missed.
            verdict = f"not missed on the operations run ({', '.join(covered)}; not run: {', '.join(missing)})"
        lines.append(
            f"- Goal 1 ({GOAL_RATE:.0%} success on ×, ÷, √, x² with positive inputs) is {verdict}: "
            f"{total}/{runs} runs over {len(counted)} tasks succeed."
        )
        for task in short:
            cell = summary[(model, task.name)]
            lines.append(f"  - short of it: {_task_label(task)}: {_success_cell(cell)}.")

    signed = [task for task in tasks if task.signed and (model, task.name) in summary]
    if signed:
        not_higher = []
        for task in signed:
            own = summary[(model, task.name)]["rate"]
            rates = {name: summary[(name, task.name)]["rate"] for name in baselines if (name, task.name) in summary}
            best = max(rates.values(), default=0.0)
            if not own > best:
                leaders = ", ".join(name for name, rate in rates.items() if rate == best)
                not_higher.append((task, own, best, leaders))
        verdict = "met" if not not_higher else "not met"
        missing = [name for name in BASELINE_NAMES if name not in baselines]
        if missing and not not_higher:
            verdict = f"not missed against the baselines run ({', '.join(baselines) or 'none'}; not run: {', '.join(missing)})"
        lines.append(
            f"- Goal 2 (a higher success rate than every baseline on the {len(signed)} task(s) with negative inputs) "
            f"is {verdict}: {len(signed) - len(not_higher)}/{len(signed)} task(s)."
        )
        for task, own, best, leaders in not_higher:
            lines.append(f"  - not higher: {_task_label(task)}: {model} {own:.0%}, {leaders} {best:.0%}.")
    return lines
