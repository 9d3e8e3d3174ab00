"""Metadata of the tables bundled under ``lognet/datasets/data``."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["DatasetInfo"]


@dataclass(frozen=True)
class DatasetInfo:
    """Description, columns, units, known law and provenance of one bundled table.

    Attributes
    ----------
    name : str
        Name accepted by :func:`lognet.datasets.load`. The CSV file is
        ``data/<name>.csv``.
    description : str
        What each row measures.
    target : str
        Column that the known law predicts.
    features : tuple of str
        Columns that the known law takes as inputs, in CSV order.
    units : dict of str to str
        Unit of each numeric column (``target`` and every ``features`` entry).
    law : str
        Known relation between the features and the target, written with
        the column names.
    source : str
        Citation of the publication that the values come from.
    licence : str
        Short statement of the terms under which the values are shipped.
        ``docs/datasets.md`` gives the reasoning.
    n_rows : int
        Number of data rows in the CSV file, header excluded.
    label : str or None, default=None
        Non-numeric column that names each row, or ``None`` if there is none.
    """

    name: str
    description: str
    target: str
    features: tuple[str, ...]
    # A dict is unhashable, so hashing skips it, but equality still compares it.
    units: dict[str, str] = field(hash=False)
    law: str
    source: str
    licence: str
    n_rows: int
    label: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """Column names in CSV order: ``label`` (if any), then ``features``, then ``target``."""
        leading = (self.label,) if self.label is not None else ()
        return leading + self.features + (self.target,)


_R_DATASETS_LICENCE = (
    "Published measurements, treated as facts with no copyright claimed by lognet. "
    "The values match the copy in R's datasets package, which is distributed under "
    "GPL-2 | GPL-3. No R code or documentation text is included."
)

_DATASETS: dict[str, DatasetInfo] = {
    "planets": DatasetInfo(
        name="planets",
        description=(
            "Mean semi-major axis and sidereal orbital period of the eight planets, "
            "one row per planet from Mercury to Neptune."
        ),
        target="P",
        features=("a",),
        units={"a": "AU", "P": "Julian year (365.25 d)"},
        law="P = a**1.5 (Kepler's third law, with a in AU and P in years)",
        source=(
            "Standish, E. M. (1992), mean orbital elements at epoch J2000, JPL Solar "
            "System Dynamics, 'Keplerian Elements for Approximate Positions of the "
            "Major Planets' (planetary mean orbits table). a is the J2000 semi-major "
            "axis and P is 360 degrees divided by the mean-longitude rate, both "
            "rounded to 5 significant digits."
        ),
        licence=(
            "Public domain: numerical facts published by NASA/JPL, a work of the "
            "US government."
        ),
        n_rows=8,
        label="planet",
    ),
    "cars": DatasetInfo(
        name="cars",
        description=(
            "Speed of a car and the distance it needed to stop, recorded in the "
            "1920s, one row per trial."
        ),
        target="dist",
        features=("speed",),
        units={"speed": "mph", "dist": "ft"},
        law=(
            "dist = a*speed + b*speed**2 (reaction distance grows linearly with "
            "speed, braking distance with its square)"
        ),
        source=(
            "Ezekiel, M. (1930) Methods of Correlation Analysis. Wiley. Shipped as "
            "'cars' in R's datasets package."
        ),
        licence=_R_DATASETS_LICENCE,
        n_rows=50,
    ),
    "trees": DatasetInfo(
        name="trees",
        description=(
            "Diameter, height and timber volume of 31 felled black cherry trees. "
            "The column named Girth holds the diameter measured 4 ft 6 in above "
            "the ground, not the circumference."
        ),
        target="Volume",
        features=("Girth", "Height"),
        units={"Girth": "in", "Height": "ft", "Volume": "ft^3"},
        law=(
            "Volume = c * Girth**2 * Height (the volume of a cylinder or cone "
            "scales with diameter squared times height)"
        ),
        source=(
            "Ryan, T. A., Joiner, B. L. and Ryan, B. F. (1976) The Minitab Student "
            "Handbook. Duxbury Press. Shipped as 'trees' in R's datasets package."
        ),
        licence=_R_DATASETS_LICENCE,
        n_rows=31,
    ),
    "mammals": DatasetInfo(
        name="mammals",
        description=(
            "Average body mass and brain mass of 62 species of land mammals, one "
            "row per species. Species names are spelled as in the source, "
            "including 'Verbet' for the vervet monkey."
        ),
        target="brain",
        features=("body",),
        units={"body": "kg", "brain": "g"},
        law=(
            "brain = c * body**b with b close to 3/4 (brain-body allometry). A "
            "least-squares fit of log(brain) on log(body) over these rows gives "
            "b = 0.752 and c = 8.46 g/kg**b"
        ),
        source=(
            "Weisberg, S. (1985) Applied Linear Regression, 2nd ed. Wiley, "
            "selected from Allison, T. and Cicchetti, D. V. (1976) Sleep in "
            "mammals: ecological and constitutional correlates. Science 194, "
            "732-734. Shipped as 'mammals' in R's MASS package."
        ),
        licence=(
            "Published measurements, treated as facts with no copyright claimed by "
            "lognet. The values match the copy in R's MASS package, which is "
            "distributed under GPL-2 | GPL-3. No R code or documentation text is "
            "included."
        ),
        n_rows=62,
        label="species",
    ),
}
