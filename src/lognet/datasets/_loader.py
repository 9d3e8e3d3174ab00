"""Name lookup and CSV loading for the bundled datasets."""

from __future__ import annotations

import dataclasses
import difflib
from importlib import resources

import pandas as pd

from ._registry import _DATASETS, DatasetInfo

__all__ = ["available", "info", "load"]


def available() -> list[str]:
    """List the names of the bundled datasets.

    Returns
    -------
    list of str
        Names accepted by :func:`load` and :func:`info`, sorted alphabetically.
    """
    return sorted(_DATASETS)


def _lookup(name: str) -> DatasetInfo:
    """Return the registry entry for ``name`` or raise with the valid names."""
    if not isinstance(name, str):
        raise TypeError(
            f"dataset name must be a str, got {type(name).__name__} ({name!r}); "
            f"pass one of {available()}"
        )

    entry = _DATASETS.get(name)
    if entry is not None:
        return entry

    names = available()
    # Matching on the lowercased name also catches capitalised spellings
    # such as "Cars".
    close = difflib.get_close_matches(name.lower(), names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"unknown dataset {name!r}; valid names are {names}.{hint}")


def info(name: str) -> DatasetInfo:
    """Describe a bundled dataset without reading its CSV file.

    Parameters
    ----------
    name : str
        One of :func:`available`.

    Returns
    -------
    DatasetInfo
        Columns, units, known law, source and licence of the dataset. The
        ``units`` dict is a fresh copy, so changing it leaves the registry
        unchanged.

    Raises
    ------
    TypeError
        If ``name`` is not a str.
    ValueError
        If ``name`` is not a bundled dataset. The message lists the valid
        names and the closest one.
    """
    entry = _lookup(name)
    return dataclasses.replace(entry, units=dict(entry.units))


def load(name: str) -> pd.DataFrame:
    """Read a bundled dataset into a new DataFrame.

    The CSV file ships inside the package and is read through
    :mod:`importlib.resources`, so loading works offline.

    Parameters
    ----------
    name : str
        One of :func:`available`.

    Returns
    -------
    pandas.DataFrame
        One row per record in the published order, with the columns of
        ``info(name).columns``. Numeric columns are ``float64``, including
        those whose published values are whole numbers.

    Raises
    ------
    TypeError
        If ``name`` is not a str.
    ValueError
        If ``name`` is not a bundled dataset. The message lists the valid
        names and the closest one.
    FileNotFoundError
        If the CSV file is missing from the installed package.

    Examples
    --------
    >>> from lognet import datasets
    >>> planets = datasets.load("planets")
    >>> planets.loc[planets["planet"] == "Earth", "a"].item()
    1.0
    """
    entry = _lookup(name)
    numeric = {column: "float64" for column in entry.features + (entry.target,)}
    resource = resources.files(__package__).joinpath("data", f"{entry.name}.csv")

    try:
        with resource.open("r", encoding="utf-8") as handle:
            return pd.read_csv(handle, dtype=numeric)
    except FileNotFoundError as error:
        raise FileNotFoundError(
            f"bundled file data/{entry.name}.csv for dataset {entry.name!r} is "
            "missing from the installed lognet package; reinstall lognet so that "
            "its package data is included"
        ) from error
