//! Documents to word ids with Keras' `texts_to_sequences` rules: a known word
//! gives its id unless `num_words` cuts it off; a cut-off or unknown word gives
//! the OOV id when there is one and is dropped otherwise.

use super::hash::FxHashMap;
use super::tokenize::{Doc, Scratch, Splitter};
use crate::threads;
use rayon::prelude::*;

/// A word -> id map, built once and reused for every batch.
#[derive(Debug, Clone, Default)]
pub struct Encoder {
    index: FxHashMap<String, i64>,
}

/// Which ids survive: ids `>= num_words` are cut off (`None`: keep all);
/// `oov` replaces cut-off and unknown words (`None`: drop them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncodeOptions {
    pub num_words: Option<i64>,
    pub oov: Option<i64>,
}

/// Variable-length rows stored flat: row `i` is `values[offsets[i]..offsets[i + 1]]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ragged {
    pub values: Vec<i64>,
    pub offsets: Vec<usize>,
}

impl Ragged {
    pub fn rows(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn row(&self, i: usize) -> &[i64] {
        &self.values[self.offsets[i]..self.offsets[i + 1]]
    }
}

impl Encoder {
    /// A later pair for the same word replaces an earlier one, as in a Python dict.
    pub fn new<I: IntoIterator<Item = (String, i64)>>(pairs: I) -> Self {
        Encoder { index: pairs.into_iter().collect() }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn get(&self, word: &str) -> Option<i64> {
        self.index.get(word).copied()
    }

    fn encode_run(&self, docs: &[Doc<'_>], splitter: &Splitter, opts: EncodeOptions) -> (Vec<i64>, Vec<usize>) {
        let mut values = Vec::new();
        let mut lens = Vec::with_capacity(docs.len());
        let mut scratch = Scratch::default();
        for &doc in docs {
            let before = values.len();
            splitter.for_each_token(doc, &mut scratch, |tok| {
                let id = match self.index.get(tok) {
                    Some(&i) if opts.num_words.is_none_or(|n| i < n) => Some(i),
                    _ => opts.oov,
                };
                values.extend(id);
            });
            lens.push(values.len() - before);
        }
        (values, lens)
    }

    /// The ids of each document.
    pub fn encode(&self, docs: &[Doc<'_>], splitter: &Splitter, opts: EncodeOptions) -> Ragged {
        let chunk = super::chunk_len(docs.len());
        let runs: Vec<_> = threads::install(|| docs.par_chunks(chunk).map(|run| self.encode_run(run, splitter, opts)).collect());
        let total = runs.iter().map(|(v, _)| v.len()).sum();
        let mut out = Ragged { values: Vec::with_capacity(total), offsets: Vec::with_capacity(docs.len() + 1) };
        out.offsets.push(0);
        for (values, lens) in runs {
            for len in lens {
                out.offsets.push(out.offsets.last().unwrap() + len);
            }
            out.values.extend(values);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::tokenize::TextOptions;

    fn encoder() -> Encoder {
        Encoder::new([("<oov>", 1), ("the", 2), ("cat", 3), ("sat", 4)].map(|(w, i)| (w.to_string(), i)))
    }

    fn run(texts: &[&str], opts: EncodeOptions) -> Vec<Vec<i64>> {
        let docs: Vec<Doc> = texts.iter().map(|t| Doc::Text(t)).collect();
        let s = Splitter::new(&TextOptions::default()).unwrap();
        let r = encoder().encode(&docs, &s, opts);
        (0..r.rows()).map(|i| r.row(i).to_vec()).collect()
    }

    #[test]
    fn unknown_words_are_dropped_without_oov() {
        assert_eq!(run(&["The cat sat on the mat", ""], EncodeOptions::default()), vec![vec![2, 3, 4, 2], vec![]]);
    }

    #[test]
    fn oov_replaces_unknown_and_cut_off_words() {
        let with_oov = EncodeOptions { num_words: Some(4), oov: Some(1) };
        assert_eq!(run(&["the cat sat on"], with_oov), vec![vec![2, 3, 1, 1]]);
        let no_oov = EncodeOptions { num_words: Some(3), oov: None };
        assert_eq!(run(&["the cat sat on"], no_oov), vec![vec![2]]);
    }

    #[test]
    fn parallel_runs_keep_document_order() {
        let texts: Vec<String> = (0..10_000).map(|i| "cat ".repeat(i % 5)).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let rows = run(&refs, EncodeOptions::default());
        assert_eq!(rows.len(), 10_000);
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(row, &vec![3; i % 5]);
        }
    }
}
