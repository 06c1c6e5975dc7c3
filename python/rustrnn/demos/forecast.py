"""Air-passenger forecast: GRUs forecast the last 24 months from the 120 before.

The monthly series (:func:`rustrnn.datasets.air_passengers`, 1949-1960)
grows and its yearly swing grows with it. The models read and predict the
yearly growth ``log y[t] - log y[t-12]``, which is roughly stationary; the
forecast rebuilds the passengers from the last known year. The bar is the
seasonal naive forecast (each month as the same month of the last known
year). The held-out 24 months (1959-1960) are never used in training; the
forecast is made once from the end of 1958, with no peeking at 1959 to
forecast 1960. Five GRUs from different seeds are averaged (they take a
second each).
"""

from __future__ import annotations

import argparse
import os
from typing import Callable, Optional

import numpy as np

from . import _common

HELP = "air-passenger forecast with GRUs; the last 24 months against the seasonal naive forecast (table and PNG)"
EPOCHS = 100
HORIZON, SEASON, LOOKBACK, MODELS = 24, 12, 24, 5
DEFAULT_PLOT = "air_passengers_forecast.png"


def add_arguments(p: argparse.ArgumentParser) -> None:
    _common.add_common(p, EPOCHS)
    p.add_argument("--plot", default=DEFAULT_PLOT, metavar="PATH",
                   help=f"where to write the forecast plot when matplotlib is installed (default: {DEFAULT_PLOT})")
    p.add_argument("--no-plot", action="store_true", help="no plot")


def main(args: argparse.Namespace) -> dict:
    return run(epochs=args.epochs, seed=args.seed, quick=args.quick, plot=None if args.no_plot else args.plot, threads=args.threads)


def run(epochs: int = None, seed: int = 0, quick: bool = False, plot: Optional[str] = DEFAULT_PLOT, threads: int = 0,
        say: Callable = _common.say) -> dict:
    import rustrnn
    from rustrnn import layers, timeseries as ts

    clock = _common.Clock()
    epochs = _common.positive("epochs", epochs, 1 if quick else EPOCHS)
    _common.setup(threads, seed)
    dates, values = rustrnn.datasets.air_passengers()
    train, test = values[:-HORIZON], values[-HORIZON:]
    say(f"Forecast: monthly air passengers (thousands), {str(dates[0])} to {str(dates[-1])}; training on {len(train)} months, "
        f"forecasting the last {HORIZON} ({str(dates[-HORIZON])} to {str(dates[-1])}) in one go, never seen in training")

    logs = np.log(train)
    growth = logs[SEASON:] - logs[:-SEASON]
    scaler = ts.StandardScaler().fit(growth)
    z = scaler.transform(growth).astype(np.float32)
    x, y = ts.sliding_windows(z, LOOKBACK, HORIZON)
    say(f"model: GRU(32) -> Dense({HORIZON}) on windows of {LOOKBACK} months of yearly growth; {len(x)} training windows, "
        f"average of {1 if quick else MODELS} models")
    forecasts = []
    for k in range(1 if quick else MODELS):
        rustrnn.manual_seed(seed * 1000 + k)
        model = rustrnn.Sequential([layers.GRU(32), layers.Dense(HORIZON)])
        model.compile(optimizer=rustrnn.optimizers.Adam(3e-3), loss="mse")
        # A hundred epochs of eight batches: one progress line per model, not a bar per epoch.
        h = model.fit(x, y, batch_size=8, epochs=epochs, seed=seed * 1000 + k, verbose=0)
        _common.progress(f"model {k + 1}: {epochs} epochs, training loss {h.history['loss'][-1]:.3f}")
        g = scaler.inverse_transform(model.predict(z[None, -LOOKBACK:, None])[0].astype(np.float64))
        level = np.concatenate([logs, np.zeros(HORIZON)])
        for t in range(HORIZON):  # this month = the same month a year before, grown by the predicted rate
            level[len(logs) + t] = level[len(logs) + t - SEASON] + g[t]
        forecasts.append(np.exp(level[len(logs):]))
    forecast = np.mean(forecasts, axis=0)
    naive = ts.seasonal_naive_forecast(train, SEASON, HORIZON)

    say(f"{'month':<8} {'actual':>7} {'forecast':>9} {'naive':>7}")
    for d, a, f, n in zip(dates[-HORIZON:], test, forecast, naive):
        say(f"{str(d):<8} {a:>7.0f} {f:>9.1f} {n:>7.0f}")
    result = {"rmse": ts.rmse(test, forecast), "mae": ts.mae(test, forecast),
              "naive_rmse": ts.rmse(test, naive), "naive_mae": ts.mae(test, naive)}
    say(f"held-out RMSE: model {result['rmse']:.1f}, seasonal naive {result['naive_rmse']:.1f} "
        f"(MAE {result['mae']:.1f} vs {result['naive_mae']:.1f}; thousands of passengers)")
    result["plot"] = _plot(plot, dates, values, forecast, naive, say) if plot else None
    result["seconds"] = clock.seconds()
    result["forecast"] = forecast.tolist()
    say(f"time: {result['seconds']:.1f} s ({rustrnn.get_num_threads()} threads)")
    return result


def _plot(path: str, dates: np.ndarray, values: np.ndarray, forecast: np.ndarray, naive: np.ndarray, say: Callable) -> Optional[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only, no window
        import matplotlib.pyplot as plt
    except ImportError:
        say("plot: skipped (pip install matplotlib to get one)")
        return None
    from .._files import atomic_write
    import io

    t = dates.astype("datetime64[M]").astype("O")
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.plot(t, values, color="black", label="actual")
    ax.plot(t[-HORIZON:], naive, color="tab:gray", linestyle="--", label="seasonal naive")
    ax.plot(t[-HORIZON:], forecast, color="tab:red", label="GRU forecast")
    ax.axvline(t[-HORIZON], color="tab:gray", linewidth=0.8)
    ax.set_ylabel("passengers (thousands)")
    ax.set_title("Air passengers: the last 24 months, forecast from the 120 before")
    ax.legend(loc="upper left")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write(path, buf.getvalue())
    say(f"plot: {os.path.abspath(path)}")
    return os.path.abspath(path)
