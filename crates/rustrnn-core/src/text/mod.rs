//! Text preprocessing with the semantics of the Keras `Tokenizer`, and fast
//! parsing of word-vector files. The Python package keeps the bookkeeping
//! (dictionaries, JSON); the loops over every character and token live here.
//!
//! - [`tokenize`]: lowercasing, filtering and splitting one document into tokens;
//! - [`vocab`]: counting words over many documents, in parallel;
//! - [`encode`]: mapping documents to word ids, in parallel;
//! - [`vectors`]: GloVe / word2vec text and word2vec binary rows.

pub mod encode;
mod hash;
pub mod tokenize;
pub mod vectors;
pub mod vocab;

pub use encode::{EncodeOptions, Encoder, Ragged};
pub use tokenize::{Doc, Scratch, Splitter, TextOptions, KERAS_FILTERS};
pub use vectors::{parse_binary, parse_text, VectorRows};
pub use vocab::{count_words, WordCounts};

/// Splits `items` into contiguous chunks for the thread pool: a few per thread
/// so uneven documents balance out, but not so many that merging dominates.
pub(crate) fn chunk_len(items: usize) -> usize {
    let pieces = crate::threads::num_threads() * 4;
    items.div_ceil(pieces).max(1024)
}
