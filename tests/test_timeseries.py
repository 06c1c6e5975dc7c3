"""rustrnn.timeseries: windows against an explicit loop, splits, scalers, baselines."""

import numpy as np
import pytest

import rustrnn
from rustrnn.timeseries import (
    MinMaxScaler, StandardScaler, mae, rmse, seasonal_naive_forecast, seasonal_naive_windows,
    sliding_windows, train_test_split_by_time,
)


def loop_windows(series, lookback, horizon, stride):
    xs, ys = [], []
    t = 0
    while t + lookback + horizon <= len(series):
        xs.append(series[t:t + lookback])
        ys.append(series[t + lookback:t + lookback + horizon])
        t += stride
    return np.array(xs), np.array(ys)


@pytest.mark.parametrize("lookback,horizon,stride", [(1, 1, 1), (5, 1, 1), (4, 3, 2), (7, 2, 5), (19, 1, 1)])
def test_sliding_windows_match_a_plain_loop(lookback, horizon, stride):
    series = np.random.default_rng(0).standard_normal(20).astype(np.float32)
    x, y = sliding_windows(series, lookback, horizon, stride)
    rx, ry = loop_windows(series, lookback, horizon, stride)
    assert x.shape == (len(rx), lookback, 1) and y.shape == (len(rx), horizon)
    assert x.dtype == np.float32 and y.dtype == np.float32
    np.testing.assert_array_equal(x[..., 0], rx)
    np.testing.assert_array_equal(y, ry)
    assert len(x) == (20 - lookback - horizon) // stride + 1


def test_sliding_windows_multivariate_and_target_column():
    series = np.arange(30, dtype=np.int64).reshape(10, 3)
    x, y = sliding_windows(series, lookback=4, horizon=2)
    assert x.dtype == np.float64 and x.shape == (5, 4, 3) and y.shape == (5, 2, 3)
    np.testing.assert_array_equal(x[1], series[1:5])
    np.testing.assert_array_equal(y[4], series[8:10])
    _, yt = sliding_windows(series, lookback=4, horizon=2, target=-1)
    np.testing.assert_array_equal(yt, y[..., 2])
    x[0, 0, 0] = 99  # a copy, not a view of the input
    assert series[0, 0] == 0


def test_sliding_windows_errors():
    with pytest.raises(rustrnn.ArgumentError, match=r"lookback \+ horizon: expected at most the series length 5, got 5 \+ 1 = 6"):
        sliding_windows(np.arange(5.0), lookback=5)
    with pytest.raises(rustrnn.ArgumentError, match="lookback: expected an integer >= 1, got 0"):
        sliding_windows(np.arange(5.0), lookback=0)
    with pytest.raises(rustrnn.ArgumentError, match=r"series: expected finite values, got nan at index 2"):
        sliding_windows([1.0, 2.0, np.nan, 4.0], lookback=1)
    with pytest.raises(rustrnn.ShapeError, match=r"series: expected a 1-D or 2-D array, got shape \(2, 2, 2\)"):
        sliding_windows(np.zeros((2, 2, 2)), lookback=1)
    with pytest.raises(rustrnn.DTypeError, match="series: expected numbers, got dtype <U1"):
        sliding_windows(["a", "b"], lookback=1)
    with pytest.raises(rustrnn.ArgumentError, match=r"target: expected a column index in \[-2, 2\), got 2"):
        sliding_windows(np.zeros((5, 2)), lookback=1, target=2)


def test_split_by_time_keeps_order():
    series = np.arange(10)
    train, test = train_test_split_by_time(series, test_size=3)
    np.testing.assert_array_equal(train, np.arange(7))
    np.testing.assert_array_equal(test, [7, 8, 9])
    x, y = sliding_windows(np.arange(50.0), lookback=5)
    x_tr, x_te, y_tr, y_te = train_test_split_by_time(x, y, test_size=0.25)
    assert len(x_te) == len(y_te) == 12 and len(x_tr) == 33  # ceil(0.25 * 45)
    assert y_tr.max() < y_te.min()
    np.testing.assert_array_equal(x_te[0, :, 0], np.arange(33, 38))


def test_split_by_time_errors():
    with pytest.raises(rustrnn.ShapeError, match=r"arrays\[1\]: expected 4 items like arrays\[0\], got 3"):
        train_test_split_by_time(np.zeros(4), np.zeros(3))
    with pytest.raises(rustrnn.ArgumentError, match="test_size: expected a fraction in"):
        train_test_split_by_time(np.zeros(4), test_size=1.5)
    with pytest.raises(rustrnn.ArgumentError, match="leave both parts non-empty, got 4 test items of 4"):
        train_test_split_by_time(np.zeros(4), test_size=4)
    with pytest.raises(rustrnn.ArgumentError, match="expected at least one array"):
        train_test_split_by_time()


def test_minmax_scaler_per_feature_constant_columns_and_round_trip():
    data = np.array([[1.0, 5.0, -2.0], [3.0, 5.0, 2.0], [2.0, 5.0, 0.0]])
    sc = MinMaxScaler(feature_range=(-1, 1))
    out = sc.fit_transform(data)
    np.testing.assert_allclose(out, [[-1, -1, -1], [1, -1, 1], [0, -1, 0]])
    np.testing.assert_allclose(sc.inverse_transform(out), data)
    windows = np.stack([data, data[::-1]])  # (N, T, F) scales per last axis
    np.testing.assert_allclose(sc.transform(windows)[1], out[::-1])
    one = MinMaxScaler().fit(np.array([10.0, 20.0, 30.0]))
    preds = np.array([[0.0, 0.5], [1.0, 0.25]], dtype=np.float32)  # (N, horizon) of a 1-D series
    back = one.inverse_transform(preds)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, [[10, 20], [30, 15]])


def test_standard_scaler_matches_numpy_and_handles_constants():
    rng = np.random.default_rng(0)
    data = np.column_stack([rng.normal(3, 2, 500), np.full(500, 7.0)]).astype(np.float32)
    sc = StandardScaler()
    out = sc.fit_transform(data)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0].mean(), 0, atol=1e-5)
    np.testing.assert_allclose(out[:, 0].std(), 1, atol=1e-5)
    np.testing.assert_array_equal(out[:, 1], 0)
    np.testing.assert_allclose(sc.mean_, data.astype(np.float64).mean(axis=0))
    np.testing.assert_allclose(sc.inverse_transform(out), data, rtol=1e-6, atol=1e-5)


def test_scaler_errors():
    with pytest.raises(rustrnn.StateError, match="StandardScaler: call fit before transform"):
        StandardScaler().transform([1.0])
    sc = MinMaxScaler().fit(np.zeros((4, 3)))
    with pytest.raises(rustrnn.ShapeError, match=r"x: expected 3 features on the last axis, got shape \(4, 2\)"):
        sc.transform(np.zeros((4, 2)))
    with pytest.raises(rustrnn.ArgumentError, match="feature_range: expected finite min < max"):
        MinMaxScaler(feature_range=(1, 0))
    with pytest.raises(rustrnn.ArgumentError, match="x: expected finite values, got inf"):
        StandardScaler().fit([1.0, np.inf])


def test_seasonal_naive_forecast_and_windows():
    series = np.array([1.0, 2, 3, 4, 10, 20, 30, 40])
    np.testing.assert_array_equal(seasonal_naive_forecast(series, season=4, horizon=6), [10, 20, 30, 40, 10, 20])
    np.testing.assert_array_equal(seasonal_naive_forecast(series, season=1, horizon=3), [40, 40, 40])
    two = np.column_stack([series, -series])
    np.testing.assert_array_equal(seasonal_naive_forecast(two, 2, 3), [[30, -30], [40, -40], [30, -30]])
    x, y = sliding_windows(np.tile([1.0, 5.0, 3.0], 6), lookback=6, horizon=4)
    pred = seasonal_naive_windows(x, season=3, horizon=4)
    assert pred.shape == y.shape
    np.testing.assert_array_equal(pred, y)  # a perfectly periodic series is forecast exactly
    for i in range(len(x)):
        np.testing.assert_array_equal(pred[i], seasonal_naive_forecast(x[i, :, 0], 3, 4))
    with pytest.raises(rustrnn.ArgumentError, match="season: expected at most the series length 8, got 9"):
        seasonal_naive_forecast(series, season=9, horizon=1)
    with pytest.raises(rustrnn.ArgumentError, match=r"season: expected at most the window length \(lookback\) 6, got 7"):
        seasonal_naive_windows(x, season=7, horizon=1)


def test_rmse_and_mae():
    t, p = np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 2.0, 1.0, 4.0])
    assert rmse(t, p) == pytest.approx(np.sqrt(5 / 4))
    assert mae(t, p) == pytest.approx(3 / 4)
    assert rmse(t, t) == 0.0
    with pytest.raises(rustrnn.ShapeError, match=r"y_pred: expected the shape of y_true \(4,\), got \(4, 1\)"):
        rmse(t, p[:, None])
    with pytest.raises(rustrnn.ShapeError, match="at least one value"):
        mae([], [])
