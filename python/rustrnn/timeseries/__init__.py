"""Forecasting helpers: windows, time-ordered splits, scalers and baselines.

>>> import numpy as np
>>> from rustrnn.timeseries import sliding_windows, train_test_split_by_time
>>> X, y = sliding_windows(np.arange(10.0), lookback=3, horizon=2)
>>> X.shape, y.shape
((6, 3, 1), (6, 2))
>>> X_train, X_test, y_train, y_test = train_test_split_by_time(X, y, test_size=2)
>>> y_test[-1]
array([8., 9.])
"""

from .baselines import mae, rmse, seasonal_naive_forecast, seasonal_naive_windows
from .scalers import MinMaxScaler, StandardScaler
from .windows import sliding_windows, train_test_split_by_time

__all__ = [
    "sliding_windows",
    "train_test_split_by_time",
    "MinMaxScaler",
    "StandardScaler",
    "seasonal_naive_forecast",
    "seasonal_naive_windows",
    "rmse",
    "mae",
]
