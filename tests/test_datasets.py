"""rustrnn.datasets: contents, copies, missing values, and provenance (the packaged
files decompress to their recorded digests; `scripts/check_against_shared.py` compares them with their sources)."""

import hashlib
import importlib.util
import lzma
import re
from importlib import resources

import numpy as np
import pytest

from rustrnn import datasets
from rustrnn.text import load_word_vectors
from conftest import REPO_ROOT


def build_script():
    spec = importlib.util.spec_from_file_location("build_datasets", REPO_ROOT / "scripts" / "build_datasets.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def recorded_digests():
    """sha256 of every source, as listed in the packaged data/README.md."""
    readme = resources.files("rustrnn.datasets").joinpath("data", "README.md").read_text(encoding="utf-8")
    digests = dict(
        (name, digest) for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", readme, flags=re.M))
    return digests


def test_packaged_files_decompress_to_their_recorded_digests_and_carry_their_licences():
    # Self-contained: the digests recorded in the package, no file outside the repository.
    data = resources.files("rustrnn.datasets").joinpath("data")
    script = build_script()
    digests = recorded_digests()
    assert len(digests) == len(script.SOURCES)
    for name, rel in script.SOURCES.items():
        packaged = lzma.decompress(data.joinpath(name).read_bytes())
        assert hashlib.sha256(packaged).hexdigest() == digests[rel.split("/")[-1]], name
    for rel in script.LICENSES:
        text = data.joinpath(rel.split("/")[-1]).read_text(encoding="utf-8")
        assert "Copyright" in text or "copyright" in text, rel
    readme = data.joinpath("README.md").read_text(encoding="utf-8")
    for name in script.SOURCES:
        assert name in readme


@pytest.mark.parametrize("loader,n,positives,first", [
    (datasets.movie_reviews, 8454, 4173, "For the future, one hopes Mr. Plympton"),
    (datasets.tweets, 4196, 2897, "Somehow I was blessed with some really amazing friends"),
    (datasets.amazon_reviews, 3610, 2128, "troubleshooting ad-2500 and ad-2600"),
])
def test_sentiment_sets(loader, n, positives, first):
    texts, labels = loader()
    assert isinstance(texts, list) and len(texts) == n and all(isinstance(t, str) and t for t in texts)
    assert isinstance(labels, np.ndarray) and labels.dtype == np.int64 and labels.shape == (n,)
    assert set(np.unique(labels)) == {0, 1} and labels.sum() == positives
    assert texts[0].startswith(first)
    assert not any("\t" in t or "\n" in t for t in texts)
    texts.append("mine")
    labels[:] = 7
    again_texts, again_labels = loader()
    assert len(again_texts) == n and again_labels.sum() == positives
    # The human ratings behind the labels, on request.
    texts, labels, scores = loader(scores=True)
    assert scores.dtype == np.float64 and scores.shape == (n,) and np.all(np.abs(scores) <= 4)
    np.testing.assert_array_equal(labels, (scores > 0).astype(np.int64))
    with pytest.raises(TypeError, match="scores: expected True or False"):
        loader(scores="yes")


def test_shakespeare():
    text = datasets.shakespeare()
    assert isinstance(text, str) and len(text) == 1_036_483
    assert text.startswith("HAMLET, PRINCE OF DENMARK")
    for phrase in ("To be, or not to be", "Double, double", "O Romeo, Romeo! wherefore art thou Romeo?"):
        assert phrase in text


def test_time_series():
    dates, values = datasets.air_passengers()
    assert dates.dtype == np.dtype("datetime64[M]") and values.dtype == np.float64 and len(values) == 144
    assert str(dates[0]) == "1949-01" and str(dates[-1]) == "1960-12"
    assert values[:3].tolist() == [112, 118, 132] and values[-1] == 432
    years, spots = datasets.sunspots()
    assert years.dtype == np.dtype("datetime64[Y]") and len(spots) == 309
    assert str(years[0]) == "1700" and str(years[-1]) == "2008" and spots[0] == 5 and spots[-1] == 2.9
    values[:] = 0
    assert datasets.air_passengers()[1][0] == 112


def test_co2_missing_weeks():
    full_dates, full = datasets.co2(dropna=False)
    assert len(full) == 2284 and np.isnan(full).sum() == 59
    assert full_dates.dtype == np.dtype("datetime64[D]") and str(full_dates[0]) == "1958-03-29"
    assert np.all(np.diff(full_dates).astype(int) == 7)
    dates, kept = datasets.co2()
    assert len(kept) == 2225 and not np.isnan(kept).any()
    np.testing.assert_array_equal(kept, full[~np.isnan(full)])
    filled_dates, filled = datasets.co2(interpolate=True)
    np.testing.assert_array_equal(filled_dates, full_dates)
    assert not np.isnan(filled).any()
    np.testing.assert_array_equal(filled[~np.isnan(full)], kept)
    # 1958-05-10 is missing between 316.9 (05-03) and 317.5 (05-17): the midpoint.
    i = int(np.nonzero(full_dates == np.datetime64("1958-05-10"))[0][0])
    assert np.isnan(full[i]) and filled[i] == pytest.approx((full[i - 1] + full[i + 1]) / 2)


def test_cmudict_variants_comments_and_stress():
    d = datasets.cmudict()
    assert len(d) == 126_052 and sum(len(p) for p in d.values()) == 135_166
    assert d["read"] == [["R", "EH1", "D"], ["R", "IY1", "D"]]
    assert d["aalborg"] == [["AO1", "L", "B", "AO0", "R", "G"], ["AA1", "L", "B", "AO0", "R", "G"]]
    assert d["dail"] == [["D", "EY1", "L"], ["D", "OY1", "L"]]  # "dail(2) D OY1 L # org, irish"
    assert not any("(" in w or "#" in w for w in d)
    d["read"].append(["X"])
    assert len(datasets.cmudict()["read"]) == 2
    plain = datasets.cmudict(stress=False)
    assert plain["read"] == [["R", "EH", "D"], ["R", "IY", "D"]]
    assert not any(ch.isdigit() for p in plain["aalborg"] for ph in p for ch in ph)


def test_glove_50d_matches_the_glove_text_file(glove_text_file):
    wv = datasets.glove_50d()
    assert len(wv) == 20_000 and wv.dim == 50 and wv.words[:3] == ["the", ",", "."]
    assert hashlib.sha256(glove_text_file.read_bytes()).hexdigest() == recorded_digests()["glove.6B.50d.top20k.txt"]
    ref = load_word_vectors(glove_text_file)
    assert wv.words == ref.words
    np.testing.assert_array_equal(wv.vectors, ref.vectors)
    wv.vectors[0] = 0
    assert datasets.glove_50d().vectors[0].any()


def test_describe_lists_every_loader():
    table = datasets.describe()
    for name in datasets.__all__:
        if name != "describe":
            assert f"{name}()" in table
