"""Classic time series for forecasting, as ``(dates, values)`` NumPy arrays."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .._checks import as_bool
from ._files import read_text

__all__ = ["air_passengers", "sunspots", "co2"]


@lru_cache(maxsize=None)
def _csv(name: str, date_format: str) -> tuple[np.ndarray, np.ndarray]:
    lines = read_text(name).strip().split("\n")[1:]
    dates, values = [], []
    for line in lines:
        d, v = line.split(",")
        d = d.strip('"')
        if date_format == "D":  # 19580329
            d = f"{d[:4]}-{d[4:6]}-{d[6:]}"
        dates.append(d)
        values.append(float(v) if v.strip() else np.nan)
    out = np.array(dates, dtype=f"datetime64[{date_format}]"), np.array(values, dtype=np.float64)
    for a in out:
        a.setflags(write=False)
    return out


def _copy(name: str, unit: str) -> tuple[np.ndarray, np.ndarray]:
    dates, values = _csv(name, unit)
    return dates.copy(), values.copy()


def air_passengers() -> tuple[np.ndarray, np.ndarray]:
    """Monthly international airline passengers in thousands, 1949-01 to 1960-12
    (144 months; Box & Jenkins). Trend plus multiplicative yearly season (12).

    Returns ``(dates, values)``: ``datetime64[M]`` and float64 arrays.
    """
    return _copy("air_passengers_monthly.csv.xz", "M")


def sunspots() -> tuple[np.ndarray, np.ndarray]:
    """Yearly mean sunspot numbers, 1700 to 2008 (309 years; statsmodels,
    public domain). A roughly 11-year cycle.

    Returns ``(years, values)``: ``datetime64[Y]`` and float64 arrays.
    """
    return _copy("sunspots_yearly.csv.xz", "Y")


def co2(dropna: bool = True, interpolate: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Weekly atmospheric CO2 at Mauna Loa in ppm, 1958-03-29 to 2001-12-29
    (2,284 weeks; statsmodels, public domain). Trend plus a yearly cycle (~52 weeks).

    59 weeks have no measurement. By default (``dropna=True``) they are left
    out, which leaves 2,225 unevenly spaced rows; ``dropna=False`` keeps them
    as NaN; ``interpolate=True`` fills them linearly in time instead (for
    windowing, which needs evenly spaced steps).

    Returns ``(dates, values)``: ``datetime64[D]`` and float64 arrays.
    """
    dropna, interpolate = as_bool("dropna", dropna), as_bool("interpolate", interpolate)
    dates, values = _copy("co2_weekly.csv.xz", "D")
    missing = np.isnan(values)
    if interpolate:
        t = dates.astype(np.int64)
        values[missing] = np.interp(t[missing], t[~missing], values[~missing])
    elif dropna:
        dates, values = dates[~missing], values[~missing]
    return dates, values
