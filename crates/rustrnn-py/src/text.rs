//! Text glue for `rustrnn.text`: tokenizing, counting, id mapping and
//! word-vector rows. Input strings are first copied into one buffer (with the
//! GIL held), so the work itself runs without the GIL and cannot see Python
//! objects change under it.

use crate::errors::{compute, dtype_error, Error, Result};
use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use rustrnn_core::text::{self, Doc, EncodeOptions, Encoder, Scratch, Splitter, TextOptions};
use rustrnn_core::RnnError;

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into())
}

/// Documents copied out of Python: every string in `buf`, and per document
/// (first span, span count, whether it is a token list).
struct Batch {
    buf: String,
    spans: Vec<(usize, usize)>,
    docs: Vec<(usize, usize, bool)>,
}

impl Batch {
    fn collect(texts: &Bound<'_, PyAny>) -> Result<Batch> {
        if texts.is_instance_of::<PyString>() {
            return Err(dtype_error("texts: expected a list of str, got a single str".into()));
        }
        let mut b = Batch { buf: String::new(), spans: Vec::new(), docs: Vec::new() };
        for (i, item) in texts.try_iter()?.enumerate() {
            let item = item?;
            if let Ok(s) = item.cast::<PyString>() {
                b.push(s, || format!("texts[{i}]"))?;
                b.docs.push((b.spans.len() - 1, 1, false));
            } else if item.is_instance_of::<PyList>() || item.is_instance_of::<PyTuple>() {
                let first = b.spans.len();
                for (j, tok) in item.try_iter()?.enumerate() {
                    let tok = tok?;
                    let s = tok
                        .cast::<PyString>()
                        .map_err(|_| dtype_error(format!("texts[{i}][{j}]: expected str, got {}", type_name(&tok))))?;
                    b.push(s, || format!("texts[{i}][{j}]"))?;
                }
                b.docs.push((first, b.spans.len() - first, true));
            } else {
                return Err(dtype_error(format!("texts[{i}]: expected str or a list of str, got {}", type_name(&item))));
            }
        }
        Ok(b)
    }

    fn push(&mut self, s: &Bound<'_, PyString>, what: impl FnOnce() -> String) -> Result<()> {
        // Fails only on lone surrogates, which have no UTF-8 form.
        let text = s.to_str().map_err(|e| Error::from(RnnError::value(format!("{}: {e}", what()))))?;
        let start = self.buf.len();
        self.buf.push_str(text);
        self.spans.push((start, self.buf.len()));
        Ok(())
    }

    fn with_docs<R>(&self, f: impl FnOnce(&[Doc<'_>]) -> R) -> R {
        let strs: Vec<&str> = self.spans.iter().map(|&(a, b)| &self.buf[a..b]).collect();
        let docs: Vec<Doc<'_>> = self
            .docs
            .iter()
            .map(|&(first, n, tokens)| if tokens { Doc::Tokens(&strs[first..first + n]) } else { Doc::Text(strs[first]) })
            .collect();
        f(&docs)
    }
}

fn splitter(filters: &str, lower: bool, split: &str, char_level: bool) -> Result<Splitter> {
    let opts = TextOptions { filters: filters.into(), lower, split: split.into(), char_level };
    Ok(Splitter::new(&opts)?)
}

/// The tokens of each document.
#[pyfunction]
fn text_tokenize(
    py: Python<'_>,
    texts: &Bound<'_, PyAny>,
    filters: &str,
    lower: bool,
    split: &str,
    char_level: bool,
) -> Result<Vec<Vec<String>>> {
    let s = splitter(filters, lower, split, char_level)?;
    let batch = Batch::collect(texts)?;
    compute(py, || {
        Ok(batch.with_docs(|docs| {
            let mut scratch = Scratch::default();
            docs.iter()
                .map(|&d| {
                    let mut out = Vec::new();
                    s.for_each_token(d, &mut scratch, |t| out.push(t.to_owned()));
                    out
                })
                .collect()
        }))
    })
}

type Counts = (Vec<String>, Vec<u64>, Vec<u64>, usize);

/// `(words in first-occurrence order, counts, document counts, documents)`.
#[pyfunction]
fn text_count(py: Python<'_>, texts: &Bound<'_, PyAny>, filters: &str, lower: bool, split: &str, char_level: bool) -> Result<Counts> {
    let s = splitter(filters, lower, split, char_level)?;
    let batch = Batch::collect(texts)?;
    let wc = compute(py, || Ok(batch.with_docs(|docs| text::count_words(docs, &s))))?;
    Ok((wc.words, wc.counts, wc.doc_counts, wc.documents))
}

type Flat<'py> = (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<i64>>);

/// A word -> id map held natively, built once per vocabulary.
#[pyclass(module = "rustrnn._native", frozen)]
pub struct TextEncoder {
    enc: Encoder,
}

impl TextEncoder {
    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        py: Python<'_>,
        texts: &Bound<'_, PyAny>,
        filters: &str,
        lower: bool,
        split: &str,
        char_level: bool,
        num_words: Option<i64>,
        oov_index: Option<i64>,
    ) -> Result<text::Ragged> {
        let s = splitter(filters, lower, split, char_level)?;
        let batch = Batch::collect(texts)?;
        let opts = EncodeOptions { num_words, oov: oov_index };
        compute(py, || Ok(batch.with_docs(|docs| self.enc.encode(docs, &s, opts))))
    }
}

#[pymethods]
impl TextEncoder {
    #[new]
    fn new(word_index: &Bound<'_, PyDict>) -> Result<Self> {
        let mut pairs = Vec::with_capacity(word_index.len());
        for (k, v) in word_index.iter() {
            let word: String = k.extract().map_err(|_| dtype_error(format!("word_index: expected str keys, got {}", type_name(&k))))?;
            let id: i64 = v.extract().map_err(|_| dtype_error(format!("word_index[{word:?}]: expected an int, got {}", type_name(&v))))?;
            pairs.push((word, id));
        }
        Ok(TextEncoder { enc: Encoder::new(pairs) })
    }

    /// The ids of each document, as a list of lists.
    #[pyo3(signature = (texts, filters, lower, split, char_level, num_words=None, oov_index=None))]
    #[allow(clippy::too_many_arguments)]
    fn encode<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyAny>,
        filters: &str,
        lower: bool,
        split: &str,
        char_level: bool,
        num_words: Option<i64>,
        oov_index: Option<i64>,
    ) -> Result<Bound<'py, PyList>> {
        let r = self.run(py, texts, filters, lower, split, char_level, num_words, oov_index)?;
        let rows = (0..r.rows()).map(|i| PyList::new(py, r.row(i))).collect::<PyResult<Vec<_>>>()?;
        Ok(PyList::new(py, rows)?)
    }

    /// The ids of all documents flat, and offsets: document `i` is
    /// `ids[offsets[i]:offsets[i + 1]]` (no Python object per id).
    #[pyo3(signature = (texts, filters, lower, split, char_level, num_words=None, oov_index=None))]
    #[allow(clippy::too_many_arguments)]
    fn encode_flat<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyAny>,
        filters: &str,
        lower: bool,
        split: &str,
        char_level: bool,
        num_words: Option<i64>,
        oov_index: Option<i64>,
    ) -> Result<Flat<'py>> {
        let r = self.run(py, texts, filters, lower, split, char_level, num_words, oov_index)?;
        let offsets: Vec<i64> = r.offsets.iter().map(|&o| o as i64).collect();
        Ok((r.values.into_pyarray(py), offsets.into_pyarray(py)))
    }
}

type Rows<'py> = (Vec<String>, Bound<'py, PyArray1<f32>>, usize, usize);

/// Text rows of a block: `(words, values, bytes consumed, lines consumed)`.
#[pyfunction]
#[pyo3(signature = (block, dim, max_rows=None, first_line=1, at_eof=true))]
fn vectors_parse_text<'py>(
    py: Python<'py>,
    block: &[u8],
    dim: usize,
    max_rows: Option<usize>,
    first_line: usize,
    at_eof: bool,
) -> Result<Rows<'py>> {
    let r = compute(py, || text::parse_text(block, dim, max_rows.unwrap_or(usize::MAX), first_line, at_eof))?;
    Ok((r.words, r.values.into_pyarray(py), r.consumed, r.lines))
}

/// word2vec binary rows of a block: `(words, values, bytes consumed, 0)`.
#[pyfunction]
#[pyo3(signature = (block, dim, max_rows=None, first_row=1, at_eof=true))]
fn vectors_parse_binary<'py>(
    py: Python<'py>,
    block: &[u8],
    dim: usize,
    max_rows: Option<usize>,
    first_row: usize,
    at_eof: bool,
) -> Result<Rows<'py>> {
    let r = compute(py, || text::parse_binary(block, dim, max_rows.unwrap_or(usize::MAX), first_row, at_eof))?;
    Ok((r.words, r.values.into_pyarray(py), r.consumed, r.lines))
}

/// Adds this file's functions and classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<TextEncoder>()?;
    m.add_function(wrap_pyfunction!(text_tokenize, m)?)?;
    m.add_function(wrap_pyfunction!(text_count, m)?)?;
    m.add_function(wrap_pyfunction!(vectors_parse_text, m)?)?;
    m.add_function(wrap_pyfunction!(vectors_parse_binary, m)?)?;
    Ok(())
}
