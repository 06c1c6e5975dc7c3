"""rustrnn.text against a pure-Python reference of the Keras semantics (written
out below from keras_preprocessing.text / sequence), plus word-vector files and
embedding matrices."""

import bz2
import gzip
import json
import lzma
import os
import pickle
import random
import struct
from collections import OrderedDict, defaultdict

import numpy as np
import pytest

import rustrnn
from rustrnn.text import (
    KERAS_FILTERS, RaggedSequences, Tokenizer, WordVectors, embedding_matrix, load_word_vectors,
    pad_sequences, text_to_word_sequence, tokenizer_from_json,
)
from rustrnn.text import vectors as vectors_module


# ----------------------------------------------------------------------------------
# the reference: Keras 2's Tokenizer and pad_sequences, in plain Python
# ----------------------------------------------------------------------------------

def ref_text_to_word_sequence(text, filters=KERAS_FILTERS, lower=True, split=" "):
    if lower:
        text = text.lower()
    text = text.translate(str.maketrans({c: split for c in filters}))
    return [t for t in text.split(split) if t]


class RefTokenizer:
    def __init__(self, num_words=None, filters=KERAS_FILTERS, lower=True, split=" ", char_level=False,
                 oov_token=None):
        self.word_counts = OrderedDict()
        self.word_docs = defaultdict(int)
        self.filters, self.split, self.lower = filters, split, lower
        self.num_words, self.char_level, self.oov_token = num_words, char_level, oov_token
        self.document_count = 0
        self.word_index, self.index_word = {}, {}

    def _seq(self, text):
        if self.char_level or isinstance(text, list):
            if self.lower:
                text = [t.lower() for t in text] if isinstance(text, list) else text.lower()
            return text
        return ref_text_to_word_sequence(text, self.filters, self.lower, self.split)

    def fit_on_texts(self, texts):
        for text in texts:
            self.document_count += 1
            seq = self._seq(text)
            for w in seq:
                self.word_counts[w] = self.word_counts.get(w, 0) + 1
            for w in set(seq):
                self.word_docs[w] += 1
        wcounts = sorted(self.word_counts.items(), key=lambda x: x[1], reverse=True)
        sorted_voc = [] if self.oov_token is None else [self.oov_token]
        sorted_voc.extend(wc[0] for wc in wcounts)
        self.word_index = dict(zip(sorted_voc, range(1, len(sorted_voc) + 1)))
        self.index_word = {c: w for w, c in self.word_index.items()}

    def texts_to_sequences(self, texts):
        oov = self.word_index.get(self.oov_token)
        out = []
        for text in texts:
            vect = []
            for w in self._seq(text):
                i = self.word_index.get(w)
                if i is not None:
                    if self.num_words and i >= self.num_words:
                        if oov is not None:
                            vect.append(oov)
                    else:
                        vect.append(i)
                elif self.oov_token is not None:
                    vect.append(oov)
            out.append(vect)
        return out

    def sequences_to_texts(self, sequences):
        oov = self.word_index.get(self.oov_token)
        out = []
        for seq in sequences:
            vect = []
            for num in seq:
                word = self.index_word.get(num)
                if word is not None:
                    if self.num_words and num >= self.num_words:
                        if oov is not None:
                            vect.append(self.index_word[oov])
                    else:
                        vect.append(word)
                elif self.oov_token is not None:
                    vect.append(self.index_word[oov])
            out.append(" ".join(vect))
        return out


def ref_pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    lengths = [len(x) for x in sequences]
    sample_shape = ()
    for x in sequences:
        if len(x):
            sample_shape = np.asarray(x).shape[1:]
            break
    if maxlen is None:
        maxlen = np.max(lengths)
    x = np.full((len(sequences), maxlen) + sample_shape, value, dtype=dtype)
    for idx, s in enumerate(sequences):
        if not len(s):
            continue
        trunc = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        trunc = np.asarray(trunc, dtype=dtype)
        if padding == "post":
            x[idx, :len(trunc)] = trunc
        else:
            x[idx, -len(trunc):] = trunc
    return x


# ----------------------------------------------------------------------------------
# corpora
# ----------------------------------------------------------------------------------

WORDS = ["the", "The", "cat", "CAT", "sat", "on", "mat", "a", "dog", "don't", "e-mail", "U.S.A.",
         "Straße", "STRASSE", "ΟΔΟΣ", "σας", "İstanbul", "café", "CAFÉ", "naïve", "日本語", "東京",
         "👍", "x«y»", "—", "tab\there", "new\nline", "mañana", "Ωmega", "ǅemal", "x1", "42"]
SEPS = [" ", "  ", ", ", ". ", "! ", "\t", "\n", " - ", "?", " «", "» ", "·", ""]


def corpus(n, seed=0):
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        k = rng.randint(0, 12)
        texts.append("".join(rng.choice(WORDS) + rng.choice(SEPS) for _ in range(k)))
    return texts


OPTIONS = [
    dict(),
    dict(lower=False),
    dict(oov_token="<unk>"),
    dict(num_words=8),
    dict(num_words=8, oov_token="<OOV>"),
    dict(num_words=1, oov_token="<OOV>"),
    dict(char_level=True),
    dict(char_level=True, lower=False, oov_token="?"),
    dict(filters=""),
    dict(filters="«»·—!", lower=False),
    dict(split="·"),
    dict(split="--", filters=",. "),
    dict(split=" ", filters="aeiou"),
]


def both(**opts):
    return Tokenizer(**opts), RefTokenizer(**opts)


def assert_same_state(tok, ref):
    assert list(tok.word_counts.items()) == list(ref.word_counts.items())
    assert dict(tok.word_docs) == dict(ref.word_docs)
    assert list(tok.word_index.items()) == list(ref.word_index.items())
    assert tok.index_word == ref.index_word
    assert tok.document_count == ref.document_count


@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: ",".join(f"{k}={v!r}" for k, v in o.items()) or "defaults")
def test_tokenizer_matches_keras_reference(opts):
    train, test = corpus(400, seed=1), corpus(100, seed=2) + ["", "   ", "unseen words only"]
    tok, ref = both(**opts)
    tok.fit_on_texts(train)
    ref.fit_on_texts(train)
    assert_same_state(tok, ref)
    seqs = tok.texts_to_sequences(test)
    assert seqs == ref.texts_to_sequences(test)
    assert tok.texts_to_ragged(test).tolist() == seqs
    all_ids = [list(range(-1, len(tok.word_index) + 3))] + seqs
    assert tok.sequences_to_texts(all_ids) == ref.sequences_to_texts(all_ids)


def test_word_sequence_matches_python_on_unicode_and_separators():
    for text in corpus(300, seed=3):
        for filters, lower, split in [(KERAS_FILTERS, True, " "), ("", False, " "), ("«»", True, "»"),
                                      ("a", True, "aa"), (KERAS_FILTERS, True, "\n")]:
            assert text_to_word_sequence(text, filters, lower, split) == ref_text_to_word_sequence(text, filters, lower, split)


def test_final_sigma_and_special_lowercasing_follow_python():
    text = "ΟΔΟΣ ΣΑΣ Σ. ΑΣ' İ ẞ Ǆ"
    assert text_to_word_sequence(text) == ref_text_to_word_sequence(text)
    assert text_to_word_sequence("ΟΔΟΣ")[0].endswith("ς")


def test_many_documents_merge_across_threads_exactly():
    # Enough documents for several parallel runs; rare words appear first late.
    train = corpus(6000, seed=4) + [f"late{i} the" for i in range(50)]
    tok, ref = both(oov_token="<unk>")
    tok.fit_on_texts(train)
    ref.fit_on_texts(train)
    assert_same_state(tok, ref)
    assert tok.texts_to_sequences(train) == ref.texts_to_sequences(train)


def test_fit_accumulates_over_calls_and_accepts_generators_and_token_lists():
    a, b = corpus(50, seed=5), corpus(50, seed=6)
    lists = [["Hello", "WORLD, again"], [], ["the", "ΣΑΣ"]]
    tok, ref = both()
    tok.fit_on_texts(iter(a))
    tok.fit_on_texts(b + lists)
    ref.fit_on_texts(a)
    ref.fit_on_texts(b + lists)
    assert_same_state(tok, ref)
    assert tok.texts_to_sequences(lists + b[:5]) == ref.texts_to_sequences(lists + b[:5])


def test_num_words_set_after_fitting_applies_to_conversions():
    tok, ref = both(oov_token="<unk>")
    texts = corpus(100, seed=7)
    tok.fit_on_texts(texts)
    ref.fit_on_texts(texts)
    tok.num_words = ref.num_words = 5
    assert tok.texts_to_sequences(texts) == ref.texts_to_sequences(texts)
    assert max(max(s, default=0) for s in tok.texts_to_sequences(texts)) < 5


def test_hand_edits_of_word_index_take_effect():
    tok = Tokenizer()
    tok.fit_on_texts(["a b b"])
    assert tok.texts_to_sequences(["a b zebra"]) == [[2, 1]]
    tok.word_index["zebra"] = 7
    assert tok.texts_to_sequences(["a b zebra"]) == [[2, 1, 7]]
    del tok.word_index["a"]
    assert tok.texts_to_sequences(["a b zebra"]) == [[1, 7]]
    tok.word_index = {"a": 3}
    assert tok.texts_to_sequences(["a b zebra"]) == [[3]]


def test_json_round_trip_save_load_and_pickle(tmp_path):
    tok = Tokenizer(num_words=20, oov_token="<unk>", filters="!?", split=" ")
    tok.fit_on_texts(corpus(200, seed=8))
    probe = corpus(30, seed=9)
    expected = tok.texts_to_sequences(probe)
    for clone in (tokenizer_from_json(tok.to_json()), pickle.loads(pickle.dumps(tok))):
        assert clone.texts_to_sequences(probe) == expected
        assert clone.get_config() == tok.get_config()
    path = tmp_path / "tok.json"
    path.write_text("old contents")
    tok.save(path)
    assert Tokenizer.load(path).texts_to_sequences(probe) == expected
    assert json.loads(path.read_text(encoding="utf-8"))["class_name"] == "Tokenizer"
    assert sorted(os.listdir(tmp_path)) == ["tok.json"]


def test_save_is_atomic_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "tok.json"
    path.write_text("previous")
    tok = Tokenizer()
    tok.fit_on_texts(["x y"])

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        tok.save(path)
    assert path.read_text() == "previous"
    assert os.listdir(tmp_path) == ["tok.json"]


def test_loads_a_keras_config_json():
    # The exact structure keras.preprocessing.text.Tokenizer.to_json() writes.
    ref = RefTokenizer(oov_token="<unk>")
    ref.fit_on_texts(["the cat", "the dog"])
    keras_json = json.dumps({"class_name": "Tokenizer", "config": {
        "num_words": None, "filters": KERAS_FILTERS, "lower": True, "split": " ", "char_level": False,
        "oov_token": "<unk>", "document_count": 2, "word_counts": json.dumps(ref.word_counts),
        "word_docs": json.dumps(ref.word_docs), "index_docs": json.dumps({"2": 2, "3": 1, "4": 1}),
        "index_word": json.dumps(ref.index_word), "word_index": json.dumps(ref.word_index)}})
    tok = tokenizer_from_json(keras_json)
    assert tok.texts_to_sequences(["the bird cat"]) == [[2, 1, 3]]
    assert tok.index_word[3] == "cat" and tok.index_docs[2] == 2


def test_tokenizer_errors_name_the_argument():
    tok = Tokenizer()
    with pytest.raises(rustrnn.DTypeError, match="texts: expected a list of str, got a single str"):
        tok.fit_on_texts("just one string")
    with pytest.raises(rustrnn.DTypeError, match=r"texts\[1\]: expected str or a list of str, got int"):
        tok.fit_on_texts(["ok", 3])
    with pytest.raises(rustrnn.DTypeError, match=r"texts\[0\]\[1\]: expected str, got NoneType"):
        tok.fit_on_texts([["ok", None]])
    with pytest.raises(rustrnn.ArgumentError, match="num_words: expected an integer >= 1, got 0"):
        Tokenizer(num_words=0)
    with pytest.raises(rustrnn.ArgumentError, match="split: expected a non-empty separator"):
        Tokenizer(split="")
    with pytest.raises(rustrnn.DTypeError, match="lower"):
        Tokenizer(lower="yes")
    with pytest.raises(rustrnn.StateError, match="oov_token '<unk>' is not in word_index"):
        Tokenizer(oov_token="<unk>").texts_to_sequences(["a"])
    with pytest.raises(rustrnn.ArgumentError, match=r"texts\[0\]"):
        tok.fit_on_texts(["bad \ud800 surrogate"])


# ----------------------------------------------------------------------------------
# pad_sequences
# ----------------------------------------------------------------------------------

def random_sequences(n, seed, max_len=9, vector=None):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        length = int(rng.integers(0, max_len))
        shape = (length,) if vector is None else (length, vector)
        out.append(rng.integers(1, 100, size=shape).tolist())
    return out


@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
@pytest.mark.parametrize("maxlen", [None, 1, 4, 12])
def test_pad_sequences_matches_keras(padding, truncating, maxlen):
    seqs = random_sequences(60, seed=maxlen or 0)
    kw = dict(maxlen=maxlen, padding=padding, truncating=truncating)
    got = pad_sequences(seqs, **kw)
    ref = ref_pad_sequences(seqs, **kw)
    assert got.dtype == np.int32 and np.array_equal(got, ref)
    ragged = RaggedSequences(np.concatenate([np.asarray(s, np.int64) for s in seqs]),
                             np.cumsum([0] + [len(s) for s in seqs]))
    assert np.array_equal(pad_sequences(ragged, **kw), ref)
    as_arrays = [np.asarray(s, dtype=np.int64) for s in seqs]
    assert np.array_equal(pad_sequences(as_arrays, **kw), ref)


def test_pad_sequences_dtypes_values_and_vector_elements():
    seqs = [[1.5, 2.5, 3.5], [], [4.25]]
    for dtype, value in [("float32", -1.0), ("int64", 7), ("float64", np.nan)]:
        np.testing.assert_array_equal(pad_sequences(seqs, maxlen=2, dtype=dtype, value=value),
                                      ref_pad_sequences(seqs, maxlen=2, dtype=dtype, value=value))
    vecs = random_sequences(20, seed=3, vector=3)
    got = pad_sequences(vecs, maxlen=5, padding="post", dtype="float32")
    assert got.shape == (20, 5, 3)
    np.testing.assert_array_equal(got, ref_pad_sequences(vecs, maxlen=5, padding="post", dtype="float32"))
    words = [["a", "b"], ["c"]]
    np.testing.assert_array_equal(pad_sequences(words, dtype=object, value="<pad>"),
                                  np.array([["a", "b"], ["<pad>", "c"]], dtype=object))
    assert pad_sequences([], maxlen=None).shape == (0, 0)
    assert pad_sequences([[1, 2]], maxlen=0).shape == (1, 0)
    assert np.array_equal(pad_sequences(np.arange(6).reshape(2, 3), maxlen=2), [[1, 2], [4, 5]])


def test_pad_sequences_errors():
    with pytest.raises(rustrnn.ArgumentError, match="padding: expected one of 'pre', 'post', got 'left'"):
        pad_sequences([[1]], padding="left")
    with pytest.raises(rustrnn.ArgumentError, match="truncating: expected one of 'pre', 'post', got 'middle'"):
        pad_sequences([[1]], truncating="middle")
    with pytest.raises(rustrnn.ArgumentError, match="maxlen: expected an integer >= 0, got -1"):
        pad_sequences([[1]], maxlen=-1)
    with pytest.raises(rustrnn.DTypeError, match="sequences: expected a list of sequences, got int"):
        pad_sequences(5)
    with pytest.raises(rustrnn.DTypeError, match=r"sequences\[1\]: expected a sequence .* got int"):
        pad_sequences([[1], 2])
    with pytest.raises(rustrnn.DTypeError, match="value: a str cannot pad"):
        pad_sequences([[1]], value="x")
    with pytest.raises(rustrnn.ShapeError, match=r"sequences\[1\]: elements have shape \(3,\)"):
        pad_sequences([[[1, 2]], [[1, 2, 3]]], dtype="float32")


def test_texts_to_ragged_pads_like_the_lists():
    tok = Tokenizer(oov_token="<unk>", num_words=30)
    texts = corpus(500, seed=11)
    tok.fit_on_texts(texts)
    ragged = tok.texts_to_ragged(texts)
    assert len(ragged) == len(texts) and ragged.values.dtype == np.int64
    for kw in [dict(maxlen=6), dict(maxlen=6, padding="post", truncating="post")]:
        np.testing.assert_array_equal(pad_sequences(ragged, **kw), pad_sequences(tok.texts_to_sequences(texts), **kw))


# ----------------------------------------------------------------------------------
# word vectors
# ----------------------------------------------------------------------------------

VOCAB = ["the", "king", "queen", "naïve", "日本", "end"]


def sample_vectors(dim=4, seed=0):
    rng = np.random.default_rng(seed)
    return np.round(rng.standard_normal((len(VOCAB), dim)), 5).astype(np.float32)


def glove_text(vecs, words=VOCAB):
    return "".join(w + " " + " ".join(f"{x:.5f}" for x in row) + "\n" for w, row in zip(words, vecs))


def w2v_binary(vecs, words=VOCAB, newline=True):
    out = f"{len(words)} {vecs.shape[1]}\n".encode()
    for w, row in zip(words, vecs):
        out += w.encode() + b" " + struct.pack(f"<{len(row)}f", *row) + (b"\n" if newline else b"")
    return out


def write(path, data, compress=None):
    data = data.encode("utf-8") if isinstance(data, str) else data
    opener = {None: lambda b: b, "gz": gzip.compress, "xz": lzma.compress, "bz2": bz2.compress}[compress]
    path.write_bytes(opener(data))
    return path


@pytest.mark.parametrize("compress", [None, "gz", "xz", "bz2"])
def test_glove_word2vec_text_and_binary_give_the_same_vectors(tmp_path, compress):
    vecs = sample_vectors()
    files = {
        "glove": write(tmp_path / "g.txt", glove_text(vecs), compress),
        "word2vec": write(tmp_path / "w.txt", f"{len(VOCAB)} 4\n" + glove_text(vecs).replace("\n", " \n"), compress),
        "word2vec-binary": write(tmp_path / "w.bin", w2v_binary(vecs), compress),
    }
    for fmt, path in files.items():
        wv = load_word_vectors(path, format=fmt)
        assert wv.words == VOCAB and wv.dim == 4 and wv.vectors.dtype == np.float32
        np.testing.assert_array_equal(wv.vectors, vecs)
        assert "naïve" in wv and "nope" not in wv
        np.testing.assert_array_equal(wv["日本"], vecs[4])
    wv = load_word_vectors(write(tmp_path / "nl.bin", w2v_binary(vecs, newline=False)), "word2vec-binary")
    np.testing.assert_array_equal(wv.vectors, vecs)


def test_text_values_equal_numpy_float32_parsing(tmp_path):
    lines = ["w0 0.1 -3.4028235e38 1e-45 7", "w1 0.33333334 2.5E+3 -0.0 1.00000005"]
    wv = load_word_vectors(write(tmp_path / "v.txt", "\r\n".join(lines) + "\r\n"))
    expected = np.array([np.asarray(line.split()[1:], dtype=np.float32) for line in lines])
    np.testing.assert_array_equal(wv.vectors, expected)


@pytest.mark.parametrize("fmt", ["glove", "word2vec-binary"])
def test_streaming_in_small_blocks_and_limit(tmp_path, monkeypatch, fmt):
    words = [f"w{i}" for i in range(500)]
    vecs = np.random.default_rng(1).standard_normal((500, 3)).round(4).astype(np.float32)
    data = glove_text(vecs, words) if fmt == "glove" else w2v_binary(vecs, words)
    path = write(tmp_path / "v", data, "gz")
    monkeypatch.setattr(vectors_module, "_BLOCK", 37)  # rows straddle every block boundary
    wv = load_word_vectors(path, fmt)
    assert wv.words == words
    np.testing.assert_array_equal(wv.vectors, vecs)
    wv = load_word_vectors(path, fmt, limit=123)
    assert wv.words == words[:123] and wv.vectors.shape == (123, 3)
    np.testing.assert_array_equal(wv.vectors, vecs[:123])
    assert len(load_word_vectors(path, fmt, limit=0)) == 0


def test_duplicate_words_keep_the_first_vector(tmp_path):
    wv = load_word_vectors(write(tmp_path / "d.txt", "a 1 2\nb 3 4\na 5 6\n"))
    assert wv.words == ["a", "b"]
    np.testing.assert_array_equal(wv["a"], [1, 2])


def test_malformed_files_name_the_file_and_the_line(tmp_path):
    cases = [
        ("dim.txt", "a 1 2 3\nb 1 2\n", "glove", r"dim\.txt: line 2: expected 3 numbers after the word, got 2"),
        ("float.txt", "a 1 2\n\nb 1 zz\n", "glove", r"float\.txt: line 3: bad number \"zz\" \(value 2 of 2\)"),
        ("hdr.txt", "a 1 2\n", "word2vec", r"hdr\.txt:1: expected a header 'count dim'"),
        ("glovehdr.txt", "2 3\na 1 2 3\n", "glove", r"glovehdr\.txt:1: looks like a word2vec header"),
        ("count.txt", "3 2\na 1 2\nb 3 4\n", "word2vec", r"count\.txt: the header announces 3 vectors, the file has 2"),
        ("w2vline.txt", "2 2\na 1 2\nb 3\n", "word2vec", r"w2vline\.txt: line 3: expected 2 numbers"),
        ("empty.txt", "", "glove", r"empty\.txt: no vectors found"),
    ]
    for name, data, fmt, pattern in cases:
        with pytest.raises(rustrnn.ArgumentError, match=pattern):
            load_word_vectors(write(tmp_path / name, data), fmt)
    truncated = w2v_binary(sample_vectors())[:-7]
    with pytest.raises(rustrnn.ArgumentError, match=r'cut\.bin: truncated file: vector 6 \("end"\) needs 16 bytes of float32 values, only 10 left'):
        load_word_vectors(write(tmp_path / "cut.bin", truncated), "word2vec-binary")
    broken_gz = gzip.compress(glove_text(sample_vectors()).encode())[:-20]
    with pytest.raises(rustrnn.ArgumentError, match=r"broken\.gz"):
        load_word_vectors(write(tmp_path / "broken.gz", broken_gz))
    with pytest.raises(rustrnn.ArgumentError, match="format: expected one of 'glove', 'word2vec', 'word2vec-binary'"):
        load_word_vectors(tmp_path / "dim.txt", format="fasttext")
    with pytest.raises(FileNotFoundError):
        load_word_vectors(tmp_path / "missing.txt")


def test_real_glove_file_facts(glove_text_file):
    path = glove_text_file
    wv = load_word_vectors(path)
    assert len(wv) == 20_000 and wv.dim == 50 and wv.words[0] == "the"
    with open(path, encoding="utf-8") as f:
        first = f.readline().split()
    np.testing.assert_array_equal(wv["the"], np.asarray(first[1:], dtype=np.float32))
    best = wv.most_similar("king", topn=1, among=["queen", "prince", "car", "banana", "computer", "river"])
    assert best[0][0] in ("queen", "prince")
    assert wv.most_similar("king", topn=5)[0][1] > 0.7


# ----------------------------------------------------------------------------------
# embedding_matrix
# ----------------------------------------------------------------------------------

def fitted_tokenizer(**kw):
    tok = Tokenizer(lower=False, **kw)
    tok.fit_on_texts(["the the the King queen zzz", "the naïve qqq"])
    return tok


def test_embedding_matrix_copies_known_rows_and_initialises_the_rest():
    vecs = sample_vectors(dim=5)
    wv = WordVectors(VOCAB, vecs)
    tok = fitted_tokenizer(oov_token="<unk>")
    wi = tok.word_index
    m, cov = embedding_matrix(tok, wv, seed=3, return_coverage=True)
    assert m.shape == (len(wi) + 1, 5) and m.dtype == np.float32
    assert not m[0].any()
    np.testing.assert_array_equal(m[wi["the"]], wv["the"])
    np.testing.assert_array_equal(m[wi["King"]], wv["king"])  # lowercase fallback
    np.testing.assert_array_equal(m[wi["naïve"]], wv["naïve"])
    assert cov.hits == 4 and cov.misses == 2 and sorted(cov.missing) == ["qqq", "zzz"]
    assert cov.rate == pytest.approx(4 / 6)
    assert cov.token_rate == pytest.approx((4 + 1 + 1 + 1) / 9)
    again = embedding_matrix(tok, wv, seed=3)
    np.testing.assert_array_equal(m, again)
    other = embedding_matrix(tok, wv, seed=4)
    assert not np.array_equal(m[wi["zzz"]], other[wi["zzz"]])
    no_fallback = embedding_matrix(tok, wv, seed=3, lowercase_fallback=False)
    assert not np.array_equal(no_fallback[wi["King"]], wv["king"])


def test_embedding_matrix_inits_num_words_and_pairs():
    rng = np.random.default_rng(0)
    known = (rng.standard_normal((50, 8)) * 0.5 + 2.0).astype(np.float32)
    words = [f"k{i}" for i in range(50)]
    index = {f"u{i}": i + 1 for i in range(4000)}
    index["k3"] = 4001
    normal = embedding_matrix(index, (words, known), seed=0)
    assert normal.shape == (4002, 8)
    body = normal[1:4001].astype(np.float64)
    assert body.mean() == pytest.approx(known.mean(), abs=0.02)
    assert body.std() == pytest.approx(known.std(), rel=0.03)
    np.testing.assert_array_equal(normal[4001], known[3])
    uniform = embedding_matrix(index, (words, known), init="uniform", scale=0.1, seed=0)[1:4001]
    assert uniform.min() >= -0.1 and uniform.max() <= 0.1 and uniform.std() == pytest.approx(0.1 / np.sqrt(3), rel=0.03)
    zeros = embedding_matrix(index, (words, known), init="zeros", num_words=100)
    assert zeros.shape == (100, 8) and not zeros.any()
    tok = fitted_tokenizer(num_words=3)
    assert embedding_matrix(tok, WordVectors(VOCAB, sample_vectors())).shape == (3, 4)


def test_embedding_matrix_errors():
    wv = WordVectors(VOCAB, sample_vectors())
    with pytest.raises(rustrnn.ArgumentError, match="fit_on_texts first"):
        embedding_matrix(Tokenizer(), wv)
    with pytest.raises(rustrnn.ArgumentError, match="init: expected one of"):
        embedding_matrix({"a": 1}, wv, init="xavier")
    with pytest.raises(rustrnn.ArgumentError, match="scale: expected a positive finite number, got -1"):
        embedding_matrix({"a": 1}, wv, scale=-1)
    with pytest.raises(rustrnn.DTypeError, match="vectors: expected WordVectors"):
        embedding_matrix({"a": 1}, np.zeros((2, 2)))
    with pytest.raises(rustrnn.DTypeError, match="tokenizer: expected a Tokenizer or a mapping"):
        embedding_matrix(["a"], wv)
    with pytest.raises(rustrnn.ShapeError, match=r"vectors: expected shape \(2, dim\)"):
        WordVectors(["a", "b"], np.zeros((3, 2)))
