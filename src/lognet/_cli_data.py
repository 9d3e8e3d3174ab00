"""Reading and checking the data tables given to the ``lognet`` command line."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

# Exit statuses: 1 when the data, the model file or the fit fails, 2 when the command line is wrong.
DATA_ERROR = 1
USAGE_ERROR = 2
PARQUET_SUFFIXES = (".parquet", ".pq")


class CommandError(Exception):
    """A failure reported as one ``lognet: error: ...`` line with exit status ``status``."""

    def __init__(self, message: str, status: int = DATA_ERROR) -> None:
        super().__init__(message)
        self.status = status


class UsageError(CommandError):
    """A wrong command line (unknown column, missing option); exits with status 2."""

    def __init__(self, message: str) -> None:
        super().__init__(message, USAGE_ERROR)


@dataclass
class Table:
    """A table read from a file or a bundled dataset, with the defaults that come with it."""

    frame: pd.DataFrame
    name: str
    stem: str
    info: object | None = None


def read_table(source: str, shard: tuple[int, int] | None = None) -> Table:
    """Read ``source``: a CSV or Parquet file, or else the name of a bundled dataset.

    With ``shard=(rank, world_size)`` only the data rows i with i % world_size == rank are
    kept; a CSV file's other rows are skipped by the reader, unparsed.
    """
    from . import datasets

    path = Path(source)
    if path.is_dir():
        raise CommandError(f"{source} is a directory; pass a CSV or Parquet file.")
    if path.is_file():
        return Table(_read_file(path, shard), str(path), _stem(path))
    if source in datasets.available():
        frame = datasets.load(source)
        if shard is not None:
            frame = frame.iloc[shard[0] :: shard[1]].reset_index(drop=True)
        return Table(frame, f"bundled dataset {source!r}", source, datasets.info(source))
    raise CommandError(
        f"no such file or bundled dataset: {source!r}; give the path of a CSV or Parquet file, or one of "
        f"the bundled datasets {', '.join(datasets.available())}."
    )


def _stem(path: Path) -> str:
    name = path.name
    for suffix in reversed(path.suffixes):
        name = name[: -len(suffix)] if name.endswith(suffix) and len(name) > len(suffix) else name
    return name


def _read_file(path: Path, shard: tuple[int, int] | None = None) -> pd.DataFrame:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in PARQUET_SUFFIXES:
        try:
            frame = pd.read_parquet(path)
            # NOTE: Parquet is read whole and then sliced; only CSV skips other ranks' rows.
            return frame if shard is None else frame.iloc[shard[0] :: shard[1]].reset_index(drop=True)
        except ImportError as error:
            raise CommandError(
                f"reading the Parquet file {path} needs pyarrow: pip install 'lognet[parquet]'."
            ) from error
        except (ValueError, OSError) as error:
            raise CommandError(f"cannot read {path} as Parquet: {_first_line(error)}") from error
    separator = "\t" if ".tsv" in suffixes else ","
    skip = None
    if shard is not None:
        rank, world_size = shard
        skip = lambda line: line > 0 and (line - 1) % world_size != rank  # noqa: E731 - line 0 is the header
    try:
        frame = pd.read_csv(path, sep=separator, skiprows=skip)
        header = pd.read_csv(path, sep=separator, header=None, nrows=1, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError as error:
        raise CommandError(f"cannot read {path} as CSV: the file is empty.") from error
    except ValueError as error:
        # pandas' ParserError and a UnicodeDecodeError from non-UTF-8 bytes are both ValueErrors.
        raise CommandError(f"cannot read {path} as CSV: {_first_line(error)}") from error
    # pandas renames a repeated column name to name.1, which would let a typo pick the wrong column.
    names = [str(name) for name in header.iloc[0].tolist()]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise CommandError(
            f"the header of {path} names {', '.join(map(repr, repeated))} more than once; give every column "
            f"a distinct name."
        )
    if frame.empty and shard is None:
        raise CommandError(f"{path} has a header but no data rows; add the data below the header line.")
    return frame


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def resolve_column(name: str, frame: pd.DataFrame, option: str) -> str:
    """Return the column called ``name``; an unknown name raises a UsageError with the nearest match."""
    columns = [str(c) for c in frame.columns]
    if name in columns:
        return name
    folded = [c for c in columns if c.casefold() == name.casefold()]
    nearest = folded or difflib.get_close_matches(name, columns, n=1, cutoff=0.5)
    hint = f"did you mean {nearest[0]!r}? The" if nearest else "the"
    separator = ""
    if len(columns) == 1 and any(mark in columns[0] for mark in (";", "\t", "|")):
        separator = (
            " The file seems to use another separator than a comma; lognet reads comma-separated .csv "
            "and tab-separated .tsv files, so convert it first."
        )
    raise UsageError(f"unknown column {name!r} in {option}; {hint} columns are {', '.join(columns)}.{separator}")


def split_names(text: str, option: str) -> list[str]:
    """Split a comma-separated list of column names, rejecting empty lists and duplicates."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise UsageError(f"{option} got {text!r}; give one or more column names separated by commas.")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UsageError(f"{option} names {', '.join(duplicates)} more than once; list each column once.")
    return names


def is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def check_numeric(
    frame: pd.DataFrame, columns: list[str], source: str, target: str | None = None, fix: str | None = None
) -> None:
    """Raise a CommandError naming the first column of ``columns`` that does not hold numbers.

    ``fix`` replaces the suggested fix (by default, about --target and --features).
    """
    for column in columns:
        series = frame[column]
        if is_numeric(series):
            continue
        example = ""
        parsed = pd.to_numeric(series, errors="coerce")
        bad = series[parsed.isna() & series.notna()]
        if len(bad):
            example = f", e.g. {bad.iloc[0]!r} in row {_row_number(frame, bad.index[0])}"
        advice = fix or ("fix those values or " + ("pick a numeric --target" if column == target else "leave the column out of --features"))
        raise CommandError(
            f"column {column!r} of {source} is not numeric (dtype {series.dtype}{example}); lognet fits "
            f"numbers only, so {advice}."
        )


def _row_number(frame: pd.DataFrame, label) -> int:
    # Data rows counted from 1, the way a spreadsheet or a text editor below the header shows them.
    return int(frame.index.get_loc(label)) + 1


def drop_missing(frame: pd.DataFrame, columns: list[str], source: str, dropna: bool) -> tuple[pd.DataFrame, int]:
    """Return the rows of ``frame`` without NaN or infinity in ``columns`` and how many were dropped.

    Without ``dropna`` any such row raises a CommandError that counts them and offers --dropna.
    """
    values = frame[columns].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    rows = bad.any(axis=1)
    if not rows.any():
        return frame, 0
    empty = [column for column, all_bad in zip(columns, bad.all(axis=0)) if all_bad]
    if empty:
        raise CommandError(
            f"column {empty[0]!r} of {source} has no finite value (every entry is missing or infinite), so "
            f"--dropna would drop every row; leave it out of --features, or pick another --target."
        )
    if not dropna:
        per_column = ", ".join(f"{c}: {int(n)}" for c, n in zip(columns, bad.sum(axis=0)) if n)
        first = [int(i) + 1 for i in np.nonzero(rows)[0][:5]]
        raise CommandError(
            f"{source} has {plural(int(rows.sum()), 'row')} with missing or infinite values (per column: "
            f"{per_column}; first data rows: {first}); pass --dropna to leave those rows out."
        )
    return frame.loc[~rows], int(rows.sum())


def check_fit_data(frame: pd.DataFrame, features: list[str], target: str, loss: str, domain: str, source: str) -> None:
    """Raise a CommandError, worded with the command's options, for data that ``fit`` cannot use."""
    y = frame[target].to_numpy(dtype=np.float64)
    if len(y) < 2:
        raise CommandError(f"{source} has {plural(len(y), 'usable row')}; a fit needs at least 2.")
    if np.ptp(y) == 0:
        raise CommandError(f"the target {target!r} is constant (every value is {y[0]:g}); there is nothing to fit.")
    if loss == "spes" and (y == 0).any():
        raise CommandError(
            f"the target {target!r} has {plural(int((y == 0).sum()), 'zero value')}, and the default loss spes divides "
            f"by the target; pass --loss mse, or shift the target away from zero."
        )
    if loss == "msle" and (y <= 0).any():
        raise CommandError(
            f"the target {target!r} has {plural(int((y <= 0).sum()), 'non-positive value')}, but --loss msle needs "
            f"positive targets; pass --loss mse (or --loss spes when no target is zero)."
        )
    if domain == "positive":
        counts = {c: int((frame[c] <= 0).sum()) for c in features}
        bad = {c: n for c, n in counts.items() if n}
        if bad:
            raise CommandError(
                f"features must be positive in the default domain, but {_count_list(bad)}; pass "
                f"--domain signed (or abs), or shift those columns above zero."
            )


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _count_list(counts: dict[str, int]) -> str:
    parts = [f"{column!r} has {plural(n, 'value')} <= 0" for column, n in counts.items()]
    return ", ".join(parts)
