"""Physics and engineering laws for the symbolic-recovery benchmark: monomials and short sums.

Each law is a sum of 1-4 monomials in positive variables, written with its textbook source
(book, chapter) and the ranges its variables are sampled from. Physical constants are folded
into the coefficient, in units chosen so the coefficient is neither tiny nor huge (the
exact-recovery rule rounds floats to 3 decimals, which would erase G = 6.674e-11).

NOTE: the chapter numbers follow the editions named in ``BOOKS`` as the author recalls their
tables of contents. They were not re-checked against the printed books.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy

BOOKS = {
    "HRW": "Halliday, Resnick & Walker, Fundamentals of Physics, 10th ed.",
    "Incropera": "Incropera, DeWitt, Bergman & Lavine, Fundamentals of Heat and Mass Transfer, 7th ed.",
    "White": "White, Fluid Mechanics, 7th ed.",
    "Gere": "Gere & Goodno, Mechanics of Materials, 8th ed.",
    "Kittel": "Kittel, Introduction to Solid State Physics, 8th ed.",
    "Atkins": "Atkins & de Paula, Physical Chemistry, 9th ed.",
    "Taylor": "Taylor, Classical Mechanics, 2005",
}


@dataclass(frozen=True)
class Law:
    """One law y = sum_k c_k prod_i x_i^{w_ki}.

    Attributes:
        name: short identifier.
        target: name of y, with its unit.
        ranges: sampling range (low, high) of each variable, in the law's units.
        terms: (coefficient, {variable: exponent}) per monomial; coefficients and exponents
            are SymPy-readable constant strings such as "1/2", "2*pi" or "0.023".
        source: book key from ``BOOKS`` and chapter.
        log_uniform: variables sampled uniformly in log space (ranges over a decade or more).
    """

    name: str
    target: str
    ranges: dict[str, tuple[float, float]]
    terms: tuple[tuple[str, dict[str, str]], ...]
    source: str
    log_uniform: tuple[str, ...] = field(default=())

    @property
    def variables(self) -> list[str]:
        return list(self.ranges)

    @property
    def n_terms(self) -> int:
        return len(self.terms)

    def symbols(self) -> list[sympy.Symbol]:
        return [sympy.Symbol(name, positive=True) for name in self.variables]

    def expression(self) -> sympy.Expr:
        """Return the law as a SymPy expression with exact Rational exponents."""
        symbols = dict(zip(self.variables, self.symbols()))
        total = sympy.Integer(0)
        for coefficient, exponents in self.terms:
            term = sympy.sympify(coefficient)
            for name, exponent in exponents.items():
                term *= symbols[name] ** sympy.Rational(exponent)
            total += term
        return total

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        y = np.zeros(X.shape[0])
        for coefficient, exponents in self.terms:
            term = np.full(X.shape[0], float(sympy.sympify(coefficient)))
            for name, exponent in exponents.items():
                term = term * X[:, self.variables.index(name)] ** float(sympy.Rational(exponent))
            y += term
        return y

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        columns = []
        for name, (low, high) in self.ranges.items():
            if name in self.log_uniform:
                columns.append(np.exp(rng.uniform(np.log(low), np.log(high), n)))
            else:
                columns.append(rng.uniform(low, high, n))
        return np.column_stack(columns)

    @property
    def citation(self) -> str:
        book, _, chapter = self.source.partition(",")
        return f"{BOOKS[book]},{chapter}"


def _law(name, target, ranges, terms, source, log_uniform=()) -> Law:
    return Law(name, target, ranges, tuple(terms), source, tuple(log_uniform))


MONOMIALS = [
    _law("gravitation", "F [N]", {"m1": (1, 10), "m2": (1, 10), "r": (1, 10)},
         [("66.74", {"m1": "1", "m2": "1", "r": "-2"})], "HRW, ch. 13 (masses in 1000 t)"),
    _law("kepler_third", "T [yr]", {"a": (0.3, 40), "M": (0.5, 3)},
         [("1", {"a": "3/2", "M": "-1/2"})], "HRW, ch. 13 (a in AU, M in solar masses)", ["a"]),
    _law("orbital_speed", "v [km/s]", {"M": (0.5, 3), "r": (0.3, 40)},
         [("29.78", {"M": "1/2", "r": "-1/2"})], "HRW, ch. 13 (r in AU, M in solar masses)", ["r"]),
    _law("escape_speed", "v [km/s]", {"M": (0.1, 10), "R": (0.5, 3)},
         [("11.19", {"M": "1/2", "R": "-1/2"})], "HRW, ch. 13 (Earth masses and radii)", ["M"]),
    _law("kinetic_energy", "K [J]", {"m": (1, 10), "v": (1, 10)},
         [("1/2", {"m": "1", "v": "2"})], "HRW, ch. 7"),
    _law("centripetal_force", "F [N]", {"m": (1, 10), "v": (1, 10), "r": (0.5, 5)},
         [("1", {"m": "1", "v": "2", "r": "-1"})], "HRW, ch. 6"),
    _law("pendulum_period", "T [s]", {"L": (0.1, 2), "g": (1, 25)},
         [("2*pi", {"L": "1/2", "g": "-1/2"})], "HRW, ch. 15"),
    _law("spring_period", "T [s]", {"m": (0.1, 5), "k": (1, 100)},
         [("2*pi", {"m": "1/2", "k": "-1/2"})], "HRW, ch. 15", ["k"]),
    _law("spring_energy", "U [J]", {"k": (10, 100), "x": (0.1, 1)},
         [("1/2", {"k": "1", "x": "2"})], "HRW, ch. 8"),
    _law("buoyant_force", "F [N]", {"rho": (500, 2000), "V": (0.001, 0.1)},
         [("9.81", {"rho": "1", "V": "1"})], "HRW, ch. 14", ["V"]),
    _law("drag_force", "F [N]", {"C": (0.2, 1.5), "rho": (0.5, 2), "A": (0.1, 2), "v": (1, 30)},
         [("1/2", {"C": "1", "rho": "1", "A": "1", "v": "2"})], "HRW, ch. 6"),
    _law("string_wave_speed", "v [m/s]", {"tau": (10, 200), "mu": (0.001, 0.05)},
         [("1", {"tau": "1/2", "mu": "-1/2"})], "HRW, ch. 16", ["mu"]),
    _law("sound_speed_gas", "v [m/s]", {"gamma": (1.1, 1.7), "T": (200, 600), "M": (0.002, 0.2)},
         [("sqrt(8.314)", {"gamma": "1/2", "T": "1/2", "M": "-1/2"})],
         "HRW, ch. 17 (v = sqrt(B / rho) with B = gamma p of an ideal gas)", ["M"]),
    _law("spherical_intensity", "I [W/m^2]", {"P": (1, 100), "r": (0.5, 5)},
         [("1/(4*pi)", {"P": "1", "r": "-2"})], "HRW, ch. 17"),
    _law("ideal_gas", "p [kPa]", {"n": (0.5, 5), "T": (200, 600), "V": (5, 50)},
         [("8.314", {"n": "1", "T": "1", "V": "-1"})], "HRW, ch. 19 (V in litres)"),
    _law("coulomb", "F [N]", {"q1": (1, 10), "q2": (1, 10), "r": (1, 10)},
         [("89.88", {"q1": "1", "q2": "1", "r": "-2"})], "HRW, ch. 21 (charges in uC, r in cm)"),
    _law("plate_capacitance", "C [pF]", {"kappa": (1, 10), "A": (1, 100), "d": (0.1, 2)},
         [("0.8854", {"kappa": "1", "A": "1", "d": "-1"})], "HRW, ch. 25 (A in cm^2, d in mm)", ["A"]),
    _law("joule_heating", "P [W]", {"I": (0.1, 5), "R": (1, 100)},
         [("1", {"I": "2", "R": "1"})], "HRW, ch. 26", ["R"]),
    _law("wire_resistance", "R [ohm]", {"rho": (1, 10), "L": (1, 100), "A": (0.1, 5)},
         [("1", {"rho": "1", "L": "1", "A": "-1"})], "HRW, ch. 26", ["L"]),
    _law("wire_field", "B [uT]", {"I": (0.5, 20), "r": (0.5, 10)},
         [("20", {"I": "1", "r": "-1"})], "HRW, ch. 29 (r in cm)"),
    _law("cyclotron_radius", "r [m]", {"m": (1, 10), "v": (1, 10), "q": (1, 5), "B": (0.5, 3)},
         [("1", {"m": "1", "v": "1", "q": "-1", "B": "-1"})], "HRW, ch. 28"),
    _law("lc_frequency", "f [Hz]", {"L": (0.01, 1), "C": (0.0001, 0.01)},
         [("1/(2*pi)", {"L": "-1/2", "C": "-1/2"})], "HRW, ch. 31", ["L", "C"]),
    _law("stefan_boltzmann", "P [W]", {"eps": (0.1, 1), "A": (0.1, 2), "T": (2, 10)},
         [("5.670", {"eps": "1", "A": "1", "T": "4"})], "Incropera, ch. 1 (T in 100 K)"),
    _law("wien_displacement", "lambda [um]", {"T": (300, 6000)},
         [("2898", {"T": "-1"})], "Incropera, ch. 12", ["T"]),
    _law("fourier_conduction", "q [W]", {"k": (0.1, 50), "A": (0.1, 2), "dT": (5, 100), "L": (0.01, 0.5)},
         [("1", {"k": "1", "A": "1", "dT": "1", "L": "-1"})], "Incropera, ch. 1", ["k", "L"]),
    _law("dittus_boelter", "Nu", {"Re": (1e4, 1e5), "Pr": (0.7, 100)},
         [("0.023", {"Re": "4/5", "Pr": "2/5"})], "Incropera, ch. 8", ["Re", "Pr"]),
    _law("sieder_tate", "Nu", {"Re": (1e4, 1e5), "Pr": (0.7, 100), "mu_ratio": (0.5, 3)},
         [("0.027", {"Re": "4/5", "Pr": "1/3", "mu_ratio": "7/50"})], "Incropera, ch. 8", ["Re", "Pr"]),
    _law("flat_plate_nusselt", "Nu", {"Re": (1e3, 5e5), "Pr": (0.6, 50)},
         [("0.664", {"Re": "1/2", "Pr": "1/3"})], "Incropera, ch. 7", ["Re", "Pr"]),
    _law("hagen_poiseuille", "Q [m^3/s]", {"r": (0.5, 2), "dp": (10, 1000), "mu": (0.5, 5), "L": (1, 10)},
         [("pi/8", {"r": "4", "dp": "1", "mu": "-1", "L": "-1"})], "White, ch. 6", ["dp"]),
    _law("stokes_drag", "F [N]", {"mu": (0.5, 5), "R": (0.1, 1), "v": (0.1, 2)},
         [("6*pi", {"mu": "1", "R": "1", "v": "1"})], "White, ch. 7"),
    _law("blasius_friction", "f", {"Re": (4e3, 1e5)},
         [("0.3164", {"Re": "-1/4"})], "White, ch. 6", ["Re"]),
    _law("boundary_layer", "delta [mm]", {"nu": (1, 20), "x": (0.1, 2), "U": (1, 30)},
         [("5", {"nu": "1/2", "x": "1/2", "U": "-1/2"})], "White, ch. 7 (laminar, nu in mm^2/s, x in m)"),
    _law("manning", "V [m/s]", {"n": (0.01, 0.05), "R": (0.2, 3), "S": (1e-4, 1e-2)},
         [("1", {"n": "-1", "R": "2/3", "S": "1/2"})], "White, ch. 10 (SI units)", ["S"]),
    _law("cantilever_deflection", "delta [mm]", {"P": (1, 10), "L": (1, 5), "E": (50, 300), "I": (1, 10)},
         [("1/3", {"P": "1", "L": "3", "E": "-1", "I": "-1"})], "Gere, ch. 9"),
    _law("euler_buckling", "P [kN]", {"E": (50, 300), "I": (1, 10), "L": (1, 5)},
         [("pi**2", {"E": "1", "I": "1", "L": "-2"})], "Gere, ch. 11"),
    _law("debye_heat_capacity", "C [J/(mol K)]", {"T": (2, 20), "theta": (100, 400)},
         [("1944", {"T": "3", "theta": "-3"})], "Kittel, ch. 5 (low-temperature Debye law)"),
]

SUMS = [
    _law("mechanical_energy", "E [J]", {"m": (1, 10), "v": (1, 10), "h": (1, 10)},
         [("1/2", {"m": "1", "v": "2"}), ("9.81", {"m": "1", "h": "1"})], "HRW, ch. 8"),
    _law("rolling_energy", "K [J]", {"m": (1, 10), "v": (1, 10), "I": (0.1, 2), "omega": (1, 20)},
         [("1/2", {"m": "1", "v": "2"}), ("1/2", {"I": "1", "omega": "2"})], "HRW, ch. 11"),
    _law("constant_acceleration", "x [m]", {"v0": (1, 10), "t": (0.5, 5), "a": (0.5, 5)},
         [("1", {"v0": "1", "t": "1"}), ("1/2", {"a": "1", "t": "2"})], "HRW, ch. 2"),
    _law("speed_squared", "v^2 [m^2/s^2]", {"v0": (1, 10), "a": (0.5, 5), "d": (1, 20)},
         [("1", {"v0": "2"}), ("2", {"a": "1", "d": "1"})], "HRW, ch. 2"),
    _law("constant_jerk", "x [m]", {"x0": (1, 10), "v0": (1, 10), "a": (0.5, 5), "j": (0.5, 5), "t": (0.5, 3)},
         [("1", {"x0": "1"}), ("1", {"v0": "1", "t": "1"}), ("1/2", {"a": "1", "t": "2"}), ("1/6", {"j": "1", "t": "3"})],
         "HRW, ch. 2 (integrating a(t) = a + j t twice)"),
    _law("hydrostatic_pressure", "p [kPa]", {"rho": (500, 2000), "h": (1, 50)},
         [("101.325", {}), ("0.00981", {"rho": "1", "h": "1"})], "HRW, ch. 14"),
    _law("bernoulli_total", "p0 [Pa]", {"p": (1000, 5000), "rho": (500, 1500), "v": (0.5, 3), "z": (0.1, 1)},
         [("1", {"p": "1"}), ("1/2", {"rho": "1", "v": "2"}), ("9.81", {"rho": "1", "z": "1"})], "White, ch. 3"),
    _law("lc_energy", "U [J]", {"C": (0.1, 2), "V": (1, 10), "L": (0.1, 2), "I": (1, 10)},
         [("1/2", {"C": "1", "V": "2"}), ("1/2", {"L": "1", "I": "2"})], "HRW, ch. 31"),
    _law("spring_gravity_energy", "E [J]", {"m": (1, 10), "v": (1, 5), "h": (0.1, 2), "k": (10, 100), "x": (0.1, 1)},
         [("1/2", {"m": "1", "v": "2"}), ("9.81", {"m": "1", "h": "1"}), ("1/2", {"k": "1", "x": "2"})], "HRW, ch. 8"),
    _law("parallel_conductance", "G [S]", {"R1": (1, 10), "R2": (1, 10), "R3": (1, 10), "R4": (1, 10)},
         [("1", {"R1": "-1"}), ("1", {"R2": "-1"}), ("1", {"R3": "-1"}), ("1", {"R4": "-1"})], "HRW, ch. 27"),
    _law("thin_lens_power", "1/f [1/m]", {"do": (0.2, 5), "di": (0.2, 5)},
         [("1", {"do": "-1"}), ("1", {"di": "-1"})], "HRW, ch. 34"),
    _law("carnot_efficiency", "eta", {"Tc": (250, 400), "Th": (500, 1500)},
         [("1", {}), ("-1", {"Tc": "1", "Th": "-1"})], "HRW, ch. 20"),
    _law("metal_heat_capacity", "C [mJ/(mol K)]", {"T": (0.3, 2)},
         [("2.08", {"T": "1"}), ("2.57", {"T": "3"})], "Kittel, ch. 6 (potassium)"),
    _law("virial_pressure", "p [kPa]", {"T": (250, 400), "Vm": (1, 10)},
         [("8.314", {"T": "1", "Vm": "-1"}), ("-0.998", {"T": "1", "Vm": "-2"})],
         "Atkins, ch. 1 (second virial coefficient B = -0.12 L/mol, Vm in L/mol)"),
    _law("net_radiation", "q [W]", {"eps": (0.1, 1), "A": (0.1, 2), "Ts": (3, 6), "Tsur": (1, 2.5)},
         [("5.670", {"eps": "1", "A": "1", "Ts": "4"}), ("-5.670", {"eps": "1", "A": "1", "Tsur": "4"})],
         "Incropera, ch. 1 (T in 100 K)"),
    _law("photoelectric", "K [eV]", {"f": (6, 15)},
         [("0.41357", {"f": "1"}), ("-2.28", {})], "HRW, ch. 38 (f in 1e14 Hz, sodium)"),
    _law("linear_quadratic_drag", "F [uN]", {"D": (0.1, 10), "v": (0.1, 5)},
         [("0.16", {"D": "1", "v": "1"}), ("0.25", {"D": "2", "v": "2"})], "Taylor, ch. 2 (air, D in mm)", ["D", "v"]),
]

LAWS = MONOMIALS + SUMS
