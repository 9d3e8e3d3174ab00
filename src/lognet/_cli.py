"""The ``lognet`` command line: fit, predict, show and demo."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import tempfile
import traceback
import warnings
from pathlib import Path
from typing import Sequence

from ._cli_data import (
    DATA_ERROR,
    USAGE_ERROR,
    CommandError,
    UsageError,
    check_fit_data,
    check_numeric,
    drop_missing,
    is_numeric,
    plural,
    read_table,
    resolve_column,
    split_names,
)
from ._cli_report import formula_text, metadata_text, metrics_text, terms_text
from ._distributed import init_from_environment, is_main_process, leave_process_group

logger = logging.getLogger("lognet")

MODEL_SUFFIX = ".lognet"
CHECKPOINT_SUFFIX = ".ckpt"
DEFAULT_SEED = 0
DEFAULT_MAX_TERMS = 4
# The demo lets a simplification raise the held-out loss up to 11-fold: on the 8 planets the
# relative errors stay below 0.05% while the exponent snaps to 3/2.
DEMO_SIMPLIFY_TOL = 10.0
# Exit status after Ctrl-C, as shells report a process ended by SIGINT.
INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one ``lognet: error: ...`` line with status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(USAGE_ERROR, f"lognet: error: {message} (see '{self.prog} --help')\n")


def _int_at_least(text: str, minimum: int, message: str) -> int:
    """Parse ``text`` as an int >= ``minimum``, else raise argparse's error with ``message``."""
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise argparse.ArgumentTypeError(message)
    return value


def _terms(text: str):
    if text == "auto":
        return "auto"
    return _int_at_least(text, 1, f"invalid --terms value {text!r}; give a positive integer or 'auto'")


def _positive_int(text: str) -> int:
    return _int_at_least(text, 1, f"invalid value {text!r}; give a positive integer")


def _seed(text: str) -> int:
    return _int_at_least(text, 0, f"invalid --seed {text!r}; give a non-negative integer")


def _default_simplify_tol() -> float:
    import inspect

    from ._fit import fit

    return inspect.signature(fit).parameters["simplify_tol"].default


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of the ``lognet`` command and its subcommands."""
    from . import __version__, datasets

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--verbose", action="store_true", help="log progress to stderr; fit and demo also show a progress bar per stage"
    )
    common.add_argument("--debug", action="store_true", help="print the full traceback when the command fails")

    parser = _Parser(
        prog="lognet",
        description=(
            "Fit sums of power laws y = b + sum_k c_k * prod_i x_i^w_ki to tabular data and use the "
            "fitted models. Without a command, runs the demo."
        ),
        epilog="Run 'lognet COMMAND --help' for the options of each command.",
    )
    parser.add_argument("--version", action="version", version=f"lognet {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    fit = commands.add_parser(
        "fit",
        parents=[common],
        help="fit a model to a CSV or Parquet file or a bundled dataset and save it",
        description=(
            "Fit a sum of power laws to DATA, print the learned terms, the formula and the metrics, "
            "and save the model. A checkpoint is written after each number of terms tried, so an "
            "interrupted fit can continue with --resume."
        ),
    )
    fit.add_argument(
        "data",
        metavar="DATA",
        help="a CSV (.csv, .tsv) or Parquet (.parquet, .pq) file, or the name of a bundled dataset "
        f"({', '.join(datasets.available())})",
    )
    fit.add_argument(
        "--target", metavar="COL", help="column to predict; required for files, default for a bundled dataset: its target"
    )
    fit.add_argument(
        "--features",
        metavar="A,B,...",
        help="comma-separated input columns; default: the bundled dataset's features, or every other "
        "numeric column of a file",
    )
    fit.add_argument(
        "--terms",
        type=_terms,
        default="auto",
        metavar="N|auto",
        help="number of power-law terms, or 'auto' to choose 1 to --max-terms on held-out data (default: auto)",
    )
    fit.add_argument(
        "--max-terms",
        type=_positive_int,
        default=DEFAULT_MAX_TERMS,
        metavar="N",
        help=f"largest number of terms that --terms auto tries (default: {DEFAULT_MAX_TERMS})",
    )
    fit.add_argument(
        "--loss",
        choices=("spes", "mse", "msle"),
        default="spes",
        help="spes: squared relative error, mse: squared error in the target's units, msle: squared "
        "error of log(y) (default: spes)",
    )
    fit.add_argument(
        "--domain",
        choices=("positive", "signed", "abs"),
        default="positive",
        help="input domain: positive needs x > 0, signed allows x <= 0 with real powers, abs uses |x| "
        "(default: positive)",
    )
    fit.add_argument(
        "--seed",
        type=_seed,
        default=DEFAULT_SEED,
        metavar="N",
        help=f"random seed of the search and the validation split; equal seeds give equal models (default: {DEFAULT_SEED})",
    )
    fit.add_argument(
        "--out",
        metavar="MODEL",
        help=f"model file to write (default: <DATA name>{MODEL_SUFFIX} in the current directory)",
    )
    fit.add_argument(
        "--plot",
        metavar="FILE.png",
        help="also write a parity plot with a residual panel to this file (needs matplotlib; the format "
        "follows the suffix: .png, .svg, .pdf)",
    )
    fit.add_argument(
        "--dropna", action="store_true", help="leave out rows with missing or infinite values (default: such rows are an error)"
    )
    fit.add_argument(
        "--no-simplify",
        action="store_true",
        help="keep the raw fitted exponents (default: snap them to simple fractions such as 3/2 when the "
        f"held-out loss grows by at most {100 * _default_simplify_tol():g}%%)",
    )
    fit.add_argument(
        "--checkpoint",
        metavar="PATH",
        help=f"checkpoint file, rewritten after each number of terms and deleted when the fit ends "
        f"(default: MODEL{CHECKPOINT_SUFFIX}, next to the model file)",
    )
    fit.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted fit from its checkpoint; data and options must be the same as before",
    )
    fit.add_argument(
        "--data-parallel",
        action="store_true",
        help="under torchrun: each process reads only its shard of the rows (row i goes to rank i mod "
        "the number of processes) and the fit sums over all shards; without it every process reads all "
        "rows and the processes share the multi-start search. Only rank 0 prints and writes files",
    )
    fit.set_defaults(handler=run_fit)

    predict = commands.add_parser(
        "predict",
        parents=[common],
        help="predict the target of a saved model for new data",
        description=(
            "Predict the target for each row of DATA and write CSV: the model's feature columns and a "
            "<target>_pred column. Rows with a missing feature get an empty prediction."
        ),
    )
    predict.add_argument("model", metavar="MODEL", help=f"model file written by 'lognet fit' (usually *{MODEL_SUFFIX})")
    predict.add_argument(
        "data", metavar="DATA", help="CSV or Parquet file, or a bundled dataset name, with the model's feature columns"
    )
    predict.add_argument("--out", metavar="FILE", help="CSV file to write (default: standard output)")
    predict.set_defaults(handler=run_predict)

    show = commands.add_parser(
        "show",
        parents=[common],
        help="print a saved model's formula, terms, metrics and metadata",
        description="Print the formula, the terms table, the metrics and the metadata of a saved model.",
    )
    show.add_argument("model", metavar="MODEL", help=f"model file written by 'lognet fit' (usually *{MODEL_SUFFIX})")
    show.set_defaults(handler=run_show)

    demo = commands.add_parser(
        "demo",
        parents=[common],
        help="recover Kepler's third law from the bundled planets table (the default command)",
        description=(
            "Fit the bundled planets table (semi-major axis a in AU, period P in years) and print "
            "Kepler's third law P = a^1.5 with the fitted exponent. Writes no files."
        ),
    )
    demo.set_defaults(handler=run_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``lognet`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["demo"])
        print("Running the demo; 'lognet --help' lists the commands.\n")
    handler, level = _configure_logging(args.verbose)
    try:
        with warnings.catch_warnings(), _progress_aware_logging(args.verbose):
            warnings.showwarning = _show_warning
            args.handler(args)
        return 0
    except BrokenPipeError:
        # The reader of stdout (such as head) exited early. Point stdout at /dev/null so that
        # Python's final flush does not fail again, and exit without a message, as cat does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return DATA_ERROR
    except CommandError as error:
        return _fail(error, error.status, args.debug)
    except (ValueError, TypeError, RuntimeError, OSError) as error:
        return _fail(error, DATA_ERROR, args.debug)
    except KeyboardInterrupt as error:
        return _fail(error, INTERRUPTED, args.debug, "interrupted; an interrupted fit continues from its checkpoint when run again with --resume")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        leave_process_group()


def _fail(error: BaseException, status: int, debug: bool, text: str | None = None) -> int:
    if debug:
        traceback.print_exception(error)
    message = text or str(error) or type(error).__name__
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        message = f"{error.strerror}: {error.filename}"
    print(f"lognet: error: {message}", file=sys.stderr)
    return status


def _configure_logging(verbose: bool) -> tuple[logging.Handler, int]:
    """Send the ``lognet`` logger to stderr; return the handler and the level to restore."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("lognet: %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
    return handler, level


def _progress_aware_logging(verbose: bool):
    """Route log lines through tqdm while a progress bar may be shown, so they do not break it."""
    if not verbose:
        return contextlib.nullcontext()
    from tqdm.contrib.logging import logging_redirect_tqdm

    return logging_redirect_tqdm(loggers=[logger])


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"lognet: warning: {message}", file=sys.stderr)


def _note(text: str) -> None:
    print(f"lognet: {text}", file=sys.stderr)


def run_fit(args: argparse.Namespace) -> None:
    """Fit, report and save a model as ``lognet fit`` does."""
    from . import fit
    from ._io import save

    if args.plot:
        _require_matplotlib()
    shard = _join_process_group(args.data_parallel)
    table = read_table(args.data, shard)
    target, features = _fit_columns(table, args)
    check_numeric(table.frame, features + [target], table.name, target)
    frame, dropped = drop_missing(table.frame, features + [target], table.name, args.dropna)
    if dropped:
        _note(f"dropped {plural(dropped, 'row')} with missing or infinite values (--dropna)")
    check_fit_data(frame, features, target, args.loss, args.domain, table.name)

    out = Path(args.out) if args.out else Path(table.stem + MODEL_SUFFIX)
    checkpoint = Path(args.checkpoint) if args.checkpoint else Path(str(out) + CHECKPOINT_SUFFIX)
    for path in filter(None, [out, checkpoint, Path(args.plot) if args.plot else None]):
        _check_directory(path)
    _announce_checkpoint(checkpoint, args.resume)

    terms = "auto" if args.terms == "auto" else str(args.terms)
    limit = f" up to {args.max_terms}" if args.terms == "auto" else ""
    rows = f"{len(frame)} rows" if shard is None else f"{len(frame)} rows in shard {shard[0]} of {shard[1]}"
    print(
        f"Fitting {target} from {', '.join(features)}: {table.name}, {rows} "
        f"(terms {terms}{limit}, loss {args.loss}, domain {args.domain}, seed {args.seed})\n"
    )
    result = fit(
        frame[features],
        frame[target],
        n_terms=args.terms,
        max_terms=args.max_terms,
        loss=args.loss,
        domain=args.domain,
        random_state=args.seed,
        simplify=not args.no_simplify,
        checkpoint=checkpoint,
        resume=args.resume,
        data_parallel=args.data_parallel,
        verbose=args.verbose,
    )
    if not is_main_process():
        return
    print(_summary(result))
    save(result, out)
    print(f"\nModel saved to {out}")
    if args.plot:
        from ._plot import save_fit_figure

        units = table.info.units if table.info is not None else None
        save_fit_figure(result, frame[features], frame[target], args.plot, units=units)
        print(f"Plot saved to {args.plot}")


def _join_process_group(data_parallel: bool) -> tuple[int, int] | None:
    """Join torchrun's process group if there is one; return this rank's (rank, world size) shard.

    Every rank but 0 stops printing, so that the output appears once.
    """
    if not init_from_environment():
        if data_parallel:
            _note("--data-parallel has no effect outside torchrun; reading all rows")
        return None
    import torch.distributed as dist

    if not is_main_process():
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    return (dist.get_rank(), dist.get_world_size()) if data_parallel else None


def _fit_columns(table, args) -> tuple[str, list[str]]:
    frame, info = table.frame, table.info
    if args.target is not None:
        target = resolve_column(args.target, frame, "--target")
    elif info is not None:
        target = info.target
    else:
        raise UsageError(
            f"--target is required for a data file; name the column to predict, one of "
            f"{', '.join(map(str, frame.columns))}."
        )
    if args.features is not None:
        features = [resolve_column(name, frame, "--features") for name in split_names(args.features, "--features")]
    elif info is not None and target == info.target:
        features = list(info.features)
    else:
        others = [str(c) for c in frame.columns if str(c) != target]
        features = [c for c in others if is_numeric(frame[c]) and frame[c].notna().any()]
        skipped = [c for c in others if c not in features and not is_numeric(frame[c])]
        empty = [c for c in others if c not in features and is_numeric(frame[c])]
        if skipped:
            _note(f"leaving out non-numeric column(s) {', '.join(skipped)}; name the features with --features")
        if empty:
            _note(f"leaving out empty column(s) {', '.join(empty)}; name the features with --features")
        if not features:
            raise CommandError(f"{table.name} has no numeric column besides the target {target!r} to use as a feature.")
    if target in features:
        raise UsageError(f"--features includes the target {target!r}; a column cannot predict itself.")
    return target, features


def _check_directory(path: Path) -> None:
    """Raise a CommandError before any work when ``path`` cannot be written as a file."""
    if path.is_dir():
        raise CommandError(f"cannot write {path}: it is a directory; give a file name inside it.")
    directory = path.parent
    if directory.exists() and not directory.is_dir():
        raise CommandError(f"cannot write {path}: {directory} is a file, not a directory; choose another path.")
    if not directory.is_dir():
        raise CommandError(f"cannot write {path}: the directory {directory} does not exist.")
    # A new file needs a writable directory (for the temporary file of the atomic write).
    if not os.access(directory, os.W_OK | os.X_OK) or (path.exists() and path.is_file() and not os.access(path, os.W_OK)):
        raise CommandError(f"cannot write {path}: permission denied in {directory}; choose another path.")
    try:
        probe = tempfile.TemporaryFile(dir=directory)
    except OSError as error:
        raise CommandError(f"cannot write {path}: {error.strerror or error} in {directory}; choose another path.") from error
    probe.close()


def _announce_checkpoint(checkpoint: Path, resume: bool) -> None:
    if not is_main_process():
        return
    if resume and checkpoint.exists():
        _note(f"resuming from checkpoint {checkpoint}")
    elif resume:
        _note(f"no checkpoint at {checkpoint}; starting the fit from the first stage")
    elif checkpoint.exists():
        _note(f"overwriting the checkpoint {checkpoint} of an earlier fit; pass --resume to continue it instead")


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError as error:
        raise CommandError("--plot needs matplotlib: pip install 'lognet[plot]'") from error


def _summary(result) -> str:
    return "\n\n".join([terms_text(result), formula_text(result), metrics_text(result.metrics)])


def run_predict(args: argparse.Namespace) -> None:
    """Write the predictions of a saved model for DATA as CSV, as ``lognet predict`` does."""
    import numpy as np

    from ._io import load, write_atomic

    result = load(args.model)
    table = read_table(args.data)
    features = [resolve_column(name, table.frame, "DATA (a feature of the model)") for name in result.feature_names]
    check_numeric(table.frame, features, table.name, fix="fix those values in DATA, because the model needs that column")
    frame = table.frame[features].copy()
    values = frame.to_numpy(dtype=np.float64)
    complete = np.isfinite(values).all(axis=1)
    inside = complete & ((values > 0).all(axis=1) if result.domain == "positive" else True)
    predictions = np.full(len(frame), np.nan)
    if inside.any():
        predictions[inside] = result.predict(frame.loc[inside])
    if not complete.all():
        missing = int((~complete).sum())
        _note(f"{plural(missing, 'row')} with missing or infinite features got an empty prediction")
    outside = complete & ~inside
    if outside.any():
        columns = [c for c, bad in zip(features, (values[outside] <= 0).any(axis=0)) if bad]
        first = int(np.nonzero(outside)[0][0]) + 1
        _note(
            f"{plural(int(outside.sum()), 'row')} with a feature <= 0 (in {', '.join(columns)}; first data row "
            f"{first}) got an empty prediction, because the model was fitted with --domain positive"
        )
    frame[f"{result.target_name}_pred"] = predictions
    text = frame.to_csv(index=False)
    if args.out is None:
        sys.stdout.write(text)
        return
    out = Path(args.out)
    _check_directory(out)
    write_atomic(out, text.encode())
    _note(f"wrote {len(frame)} predictions to {out}")


def run_show(args: argparse.Namespace) -> None:
    """Print a saved model, as ``lognet show`` does."""
    from ._io import load

    result = load(args.model)
    print(formula_text(result))
    print()
    print(terms_text(result))
    print()
    print(metrics_text(result.metrics))
    print()
    print(metadata_text(result, args.model))


def run_demo(args: argparse.Namespace) -> None:
    """Fit the bundled planets table and print Kepler's third law, as ``lognet demo`` does."""
    from fractions import Fraction

    from . import datasets, fit

    info = datasets.info("planets")
    frame = datasets.load("planets")
    print(f"Kepler's third law from the bundled planets table ({len(frame)} planets, Mercury to Neptune)")
    print(f"  a: semi-major axis [{info.units['a']}], P: orbital period [{info.units['P']}]\n")
    result = fit(
        frame[["a"]], frame["P"], random_state=DEFAULT_SEED, simplify_tol=DEMO_SIMPLIFY_TOL, verbose=args.verbose
    )
    raw = result.raw if result.raw is not None else result
    exponent = float(raw.weight[0, 0])
    law = Fraction(exponent).limit_denominator(6)
    print(f"Fitted exponent of a: {exponent:.6g}{_interval_text(raw)}")
    print(f"Raw fit:              {raw.formula_string()}")
    print(f"Simplified law:       {result.formula_string()}  (snapped with simplify_tol={DEMO_SIMPLIFY_TOL:g})")
    print(
        f"Kepler's third law:   P is proportional to a^{float(law):g} (P^2 to a^3); the fitted "
        f"exponent differs from {law} by {100 * abs(exponent - float(law)) / float(law):.2g}%\n"
    )
    print(metrics_text(result.metrics).replace("Metrics", "Metrics of the simplified law", 1))


def _interval_text(result) -> str:
    """Return the 95% confidence interval of the first exponent, or '' without a Jacobian."""
    if result.jacobian is None:
        return ""
    low, high = result.confidence_intervals(0.95)["weight"][0, 0]
    return f"  (95% confidence interval {low:.6g} to {high:.6g})"
