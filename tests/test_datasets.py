"""Tests for the bundled datasets in lognet.datasets."""

from __future__ import annotations

import ast
import dataclasses
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lognet import datasets
from lognet.datasets import DatasetInfo

EXPECTED_SHAPES = {
    "cars": (50, ["speed", "dist"]),
    "mammals": (62, ["species", "body", "brain"]),
    "planets": (8, ["planet", "a", "P"]),
    "trees": (31, ["Girth", "Height", "Volume"]),
}

# Values of JPL's J2000 mean-orbit table after rounding, in the published row order.
PLANETS = [
    ("Mercury", 0.3871, 0.24085),
    ("Venus", 0.7233, 0.61520),
    ("Earth", 1.0000, 1.00002),
    ("Mars", 1.5237, 1.88085),
    ("Jupiter", 5.2034, 11.8626),
    ("Saturn", 9.5371, 29.447),
    ("Uranus", 19.1913, 84.017),
    ("Neptune", 30.0690, 164.79),
]

NAMES = sorted(EXPECTED_SHAPES)


def test_available_lists_sorted_names():
    assert datasets.available() == NAMES


def test_module_all_exports():
    assert datasets.__all__ == ["load", "available", "info", "DatasetInfo"]


@pytest.mark.parametrize("name", NAMES)
def test_load_row_count_and_columns(name):
    n_rows, columns = EXPECTED_SHAPES[name]

    frame = datasets.load(name)

    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == n_rows
    assert list(frame.columns) == columns


@pytest.mark.parametrize("name", NAMES)
def test_load_numeric_columns_float64(name):
    frame = datasets.load(name)
    meta = datasets.info(name)

    for column in meta.features + (meta.target,):
        assert frame[column].dtype == np.float64, column


@pytest.mark.parametrize("name", NAMES)
def test_load_values_finite_and_positive(name):
    frame = datasets.load(name)
    meta = datasets.info(name)
    values = frame[list(meta.features + (meta.target,))].to_numpy()

    assert np.isfinite(values).all()
    assert (values > 0).all()


@pytest.mark.parametrize(("name", "label"), [("mammals", "species"), ("planets", "planet")])
def test_load_label_column_unique_strings(name, label):
    assert datasets.info(name).label == label

    labels = datasets.load(name)[label]

    assert labels.map(type).eq(str).all()
    assert labels.is_unique


@pytest.mark.parametrize("name", NAMES)
def test_load_returns_independent_copies(name):
    first = datasets.load(name)
    column = datasets.info(name).target
    first[column] = -1.0

    second = datasets.load(name)

    assert (second[column] > 0).all()


def test_planets_exact_values():
    frame = datasets.load("planets")

    assert list(frame["planet"]) == [row[0] for row in PLANETS]
    assert frame["a"].tolist() == [row[1] for row in PLANETS]
    assert frame["P"].tolist() == [row[2] for row in PLANETS]


def test_planets_earth_row():
    frame = datasets.load("planets").set_index("planet")

    assert frame.loc["Earth", "a"] == 1.0
    assert frame.loc["Earth", "P"] == 1.00002


def test_planets_follow_kepler_third_law():
    frame = datasets.load("planets")
    predicted = frame["a"] ** 1.5

    # The largest relative deviation is 0.067 % (Uranus). The ideal law
    # ignores the planets' own masses and their mutual perturbations.
    np.testing.assert_allclose(frame["P"], predicted, rtol=1e-3)


def test_cars_first_and_last_rows():
    frame = datasets.load("cars")

    assert frame.iloc[0].tolist() == [4.0, 2.0]
    assert frame.iloc[1].tolist() == [4.0, 10.0]
    assert frame.iloc[-2].tolist() == [24.0, 120.0]
    assert frame.iloc[-1].tolist() == [25.0, 85.0]


def test_cars_column_sums():
    frame = datasets.load("cars")

    assert frame["speed"].sum() == 770.0
    assert frame["dist"].sum() == 2149.0


def test_cars_speed_sorted_ascending():
    frame = datasets.load("cars")

    assert frame["speed"].is_monotonic_increasing


def test_trees_first_and_last_rows():
    frame = datasets.load("trees")

    assert frame.iloc[0].tolist() == [8.3, 70.0, 10.3]
    assert frame.iloc[1].tolist() == [8.6, 65.0, 10.3]
    assert frame.iloc[-1].tolist() == [20.6, 87.0, 77.0]


def test_trees_girth_sorted_ascending():
    frame = datasets.load("trees")

    assert frame["Girth"].is_monotonic_increasing


def test_trees_column_sums():
    frame = datasets.load("trees")

    np.testing.assert_allclose(frame["Girth"].sum(), 410.7)
    np.testing.assert_allclose(frame["Height"].sum(), 2356.0)
    np.testing.assert_allclose(frame["Volume"].sum(), 935.3)


def test_trees_volume_log_log_exponents():
    frame = datasets.load("trees")
    design = np.column_stack(
        [np.ones(len(frame)), np.log(frame["Girth"]), np.log(frame["Height"])]
    )

    coef, *_ = np.linalg.lstsq(design, np.log(frame["Volume"]), rcond=None)

    # The cylinder law predicts exponents 2 and 1. The fit on these 31
    # trees gives 1.98 and 1.12.
    assert coef[1] == pytest.approx(1.983, abs=5e-3)
    assert coef[2] == pytest.approx(1.117, abs=5e-3)


def test_mammals_first_and_last_rows():
    frame = datasets.load("mammals")

    assert frame.iloc[0].tolist() == ["Arctic fox", 3.385, 44.5]
    assert frame.iloc[-1].tolist() == ["Red fox", 4.235, 50.4]


def test_mammals_human_and_elephant_rows():
    frame = datasets.load("mammals").set_index("species")

    assert frame.loc["Human"].tolist() == [62.0, 1320.0]
    assert frame.loc["African elephant"].tolist() == [6654.0, 5712.0]
    assert frame.loc["Lesser short-tailed shrew"].tolist() == [0.005, 0.14]


def test_mammals_allometric_exponent():
    frame = datasets.load("mammals")

    slope, intercept = np.polyfit(np.log(frame["body"]), np.log(frame["brain"]), 1)

    assert slope == pytest.approx(0.752, abs=5e-4)
    assert np.exp(intercept) == pytest.approx(8.46, abs=5e-3)


@pytest.mark.parametrize("name", NAMES)
def test_info_fields_non_empty(name):
    meta = datasets.info(name)

    assert isinstance(meta, DatasetInfo)
    assert meta.name == name
    assert meta.description
    assert meta.target
    assert meta.features
    assert meta.law
    assert meta.source
    assert meta.licence
    assert meta.n_rows > 0


@pytest.mark.parametrize("name", NAMES)
def test_info_matches_loaded_frame(name):
    meta = datasets.info(name)
    frame = datasets.load(name)

    assert list(frame.columns) == list(meta.columns)
    assert len(frame) == meta.n_rows
    assert set(meta.units) == set(meta.features + (meta.target,))


@pytest.mark.parametrize("name", NAMES)
def test_info_column_names_are_identifiers(name):
    for column in datasets.info(name).columns:
        assert column.isidentifier(), column


def test_info_is_frozen():
    meta = datasets.info("planets")

    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'law'"):
        meta.law = "P = a"


def test_info_units_copy_leaves_registry_unchanged():
    meta = datasets.info("planets")
    meta.units["a"] = "km"

    assert datasets.info("planets").units["a"] == "AU"


def test_info_label_none_without_names():
    assert datasets.info("cars").label is None
    assert datasets.info("trees").label is None


def test_info_is_hashable():
    assert hash(datasets.info("cars")) == hash(datasets.info("cars"))


def test_info_planets_units_and_law():
    meta = datasets.info("planets")

    assert meta.units == {"a": "AU", "P": "Julian year (365.25 d)"}
    assert meta.target == "P"
    assert meta.features == ("a",)
    assert meta.label == "planet"
    assert meta.law.startswith("P = a**1.5")


@pytest.mark.parametrize("function", [datasets.load, datasets.info])
def test_unknown_name_suggests_nearest(function):
    expected = (
        r"unknown dataset 'planet'; valid names are "
        r"\['cars', 'mammals', 'planets', 'trees'\]\. Did you mean 'planets'\?"
    )

    with pytest.raises(ValueError, match=expected):
        function("planet")


def test_unknown_name_capitalised_suggestion():
    with pytest.raises(ValueError, match=r"unknown dataset 'Cars'.*Did you mean 'cars'\?"):
        datasets.load("Cars")


def test_unknown_name_without_close_match():
    expected = (
        r"^unknown dataset 'iris'; valid names are "
        r"\['cars', 'mammals', 'planets', 'trees'\]\.$"
    )

    with pytest.raises(ValueError, match=expected):
        datasets.load("iris")


def test_non_string_name_raises_type_error():
    expected = r"dataset name must be a str, got int \(3\); pass one of \['cars'"

    with pytest.raises(TypeError, match=expected):
        datasets.load(3)


def test_bundled_csv_files_match_registry():
    data = resources.files("lognet.datasets").joinpath("data")
    shipped = sorted(
        entry.name.removesuffix(".csv") for entry in data.iterdir() if entry.name.endswith(".csv")
    )

    assert shipped == NAMES


def test_datasets_modules_do_not_import_torch():
    package_dir = Path(datasets.__file__).parent
    imported = set()
    for path in package_dir.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported.add(node.module.split(".")[0])

    assert "torch" not in imported
