//! Word counts over many documents, as Keras' `fit_on_texts` keeps them: how
//! often each word occurs, in how many documents, in order of first occurrence
//! (Keras breaks ties in the frequency ranking by that order).
//!
//! Each thread counts a contiguous run of documents; merging the runs in
//! document order keeps the first-occurrence order exact.

use super::hash::FxHashMap;
use super::tokenize::{Doc, Scratch, Splitter};
use crate::threads;
use rayon::prelude::*;

/// Distinct words in order of first occurrence, with their counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WordCounts {
    pub words: Vec<String>,
    /// Occurrences of each word.
    pub counts: Vec<u64>,
    /// Number of documents each word occurs in.
    pub doc_counts: Vec<u64>,
    pub documents: usize,
}

impl WordCounts {
    fn slot(&mut self, index: &mut FxHashMap<String, usize>, word: &str) -> usize {
        if let Some(&i) = index.get(word) {
            return i;
        }
        index.insert(word.to_owned(), self.words.len());
        self.words.push(word.to_owned());
        self.counts.push(0);
        self.doc_counts.push(0);
        self.words.len() - 1
    }

    /// Word ids in the order Keras assigns them (from 1): by descending count,
    /// ties by first occurrence. Returns positions into `words`.
    pub fn ranking(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.words.len()).collect();
        // A stable sort keeps first-occurrence order among equal counts.
        order.sort_by(|&a, &b| self.counts[b].cmp(&self.counts[a]));
        order
    }
}

fn count_run(docs: &[Doc<'_>], splitter: &Splitter) -> (WordCounts, FxHashMap<String, usize>) {
    let mut wc = WordCounts { documents: docs.len(), ..Default::default() };
    let mut index = FxHashMap::default();
    // The document that last counted each word, so a word counts once per document.
    let mut last_doc: Vec<usize> = Vec::new();
    let mut scratch = Scratch::default();
    for (d, &doc) in docs.iter().enumerate() {
        splitter.for_each_token(doc, &mut scratch, |tok| {
            let i = wc.slot(&mut index, tok);
            if i == last_doc.len() {
                last_doc.push(usize::MAX);
            }
            wc.counts[i] += 1;
            if last_doc[i] != d {
                last_doc[i] = d;
                wc.doc_counts[i] += 1;
            }
        });
    }
    (wc, index)
}

/// Counts the words of `docs`.
pub fn count_words(docs: &[Doc<'_>], splitter: &Splitter) -> WordCounts {
    let chunk = super::chunk_len(docs.len());
    let mut runs: Vec<_> = threads::install(|| docs.par_chunks(chunk).map(|run| count_run(run, splitter)).collect());
    if runs.is_empty() {
        return WordCounts::default();
    }
    let (mut total, mut index) = runs.remove(0);
    for (run, _) in runs {
        total.documents += run.documents;
        for (k, word) in run.words.iter().enumerate() {
            let i = total.slot(&mut index, word);
            total.counts[i] += run.counts[k];
            total.doc_counts[i] += run.doc_counts[k];
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::tokenize::TextOptions;

    fn texts(v: &[&'static str]) -> Vec<Doc<'static>> {
        v.iter().map(|t| Doc::Text(t)).collect()
    }

    #[test]
    fn counts_documents_and_first_occurrence_order() {
        let s = Splitter::new(&TextOptions::default()).unwrap();
        let wc = count_words(&texts(&["The cat sat.", "the dog, the cat", ""]), &s);
        assert_eq!(wc.words, ["the", "cat", "sat", "dog"]);
        assert_eq!(wc.counts, [3, 2, 1, 1]);
        assert_eq!(wc.doc_counts, [2, 2, 1, 1]);
        assert_eq!(wc.documents, 3);
    }

    #[test]
    fn ranking_breaks_ties_by_first_occurrence() {
        let s = Splitter::new(&TextOptions::default()).unwrap();
        let wc = count_words(&texts(&["b a c", "c a d"]), &s);
        let ranked: Vec<&str> = wc.ranking().into_iter().map(|i| wc.words[i].as_str()).collect();
        assert_eq!(ranked, ["a", "c", "b", "d"]);
    }

    #[test]
    fn parallel_runs_merge_to_the_serial_result() {
        // Enough documents for several runs; words first seen in later runs must
        // come after all words of earlier runs.
        let owned: Vec<String> = (0..20_000).map(|i| format!("w{} common w{}", i % 7919, i)).collect();
        let docs: Vec<Doc> = owned.iter().map(|t| Doc::Text(t)).collect();
        let s = Splitter::new(&TextOptions::default()).unwrap();
        let wc = count_words(&docs, &s);
        let (serial, _) = count_run(&docs, &s);
        assert_eq!(wc, serial);
        assert_eq!(wc.words[1], "common");
        assert_eq!(wc.counts[1], 20_000);
        assert_eq!(wc.documents, 20_000);
    }
}
