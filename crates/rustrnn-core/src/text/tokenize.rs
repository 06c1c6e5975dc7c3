//! One document to tokens, exactly as Keras' `text_to_word_sequence` does it:
//! lowercase (Python's `str.lower`, final sigma included), replace every
//! character of `filters` by `split`, split on `split`, drop empty pieces.
//! With `char_level` every character (after lowercasing, without filtering)
//! is a token; a document given as a list of tokens is only lowercased.

use crate::error::{Result, RnnError};

/// The filters Keras uses by default: ASCII punctuation, tab and newline.
pub const KERAS_FILTERS: &str = "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n";

/// The options of a Keras `Tokenizer` that decide what a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextOptions {
    pub filters: String,
    pub lower: bool,
    pub split: String,
    pub char_level: bool,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions { filters: KERAS_FILTERS.into(), lower: true, split: " ".into(), char_level: false }
    }
}

/// One input document: raw text, or tokens already split (Keras accepts both).
#[derive(Debug, Clone, Copy)]
pub enum Doc<'a> {
    Text(&'a str),
    Tokens(&'a [&'a str]),
}

/// Reusable buffers, one per worker, so the loop allocates only for new words.
#[derive(Default)]
pub struct Scratch {
    lower: String,
    joined: String,
}

/// [`TextOptions`] compiled for the hot loop.
#[derive(Debug, Clone)]
pub struct Splitter {
    lower: bool,
    char_level: bool,
    split: String,
    /// Set when `split` is one ASCII character and every filter is ASCII: then
    /// tokens are the runs between separator bytes, found byte by byte (an ASCII
    /// byte never occurs inside a multi-byte UTF-8 character).
    byte_table: Option<[bool; 256]>,
    /// Set when `split` is one character: replacing each filter by it and then
    /// splitting on it is the same as splitting on any of them.
    split_char: Option<char>,
    ascii_filters: [bool; 128],
    other_filters: Vec<char>,
}

impl Splitter {
    pub fn new(opts: &TextOptions) -> Result<Self> {
        if opts.split.is_empty() {
            return Err(RnnError::value("split: expected a non-empty separator, got ''"));
        }
        let mut ascii_filters = [false; 128];
        let mut other_filters = Vec::new();
        for c in opts.filters.chars() {
            if c.is_ascii() {
                ascii_filters[c as usize] = true;
            } else {
                other_filters.push(c);
            }
        }
        other_filters.sort_unstable();
        other_filters.dedup();
        let mut chars = opts.split.chars();
        let split_char = match (chars.next(), chars.next()) {
            (Some(c), None) => Some(c),
            _ => None,
        };
        let byte_table = match split_char {
            Some(c) if c.is_ascii() && other_filters.is_empty() => {
                let mut t = [false; 256];
                t[..128].copy_from_slice(&ascii_filters);
                t[c as usize] = true;
                Some(t)
            }
            _ => None,
        };
        Ok(Splitter {
            lower: opts.lower,
            char_level: opts.char_level,
            split: opts.split.clone(),
            byte_table,
            split_char,
            ascii_filters,
            other_filters,
        })
    }

    #[inline]
    fn is_filtered(&self, c: char) -> bool {
        if c.is_ascii() {
            self.ascii_filters[c as usize]
        } else {
            self.other_filters.binary_search(&c).is_ok()
        }
    }

    /// Calls `emit` with each token of `doc`, in order.
    pub fn for_each_token<F: FnMut(&str)>(&self, doc: Doc<'_>, scratch: &mut Scratch, mut emit: F) {
        let text = match doc {
            Doc::Tokens(tokens) => {
                for t in tokens {
                    if self.lower {
                        lower_into(t, &mut scratch.lower);
                        emit(&scratch.lower);
                    } else {
                        emit(t);
                    }
                }
                return;
            }
            Doc::Text(t) if self.lower => {
                lower_into(t, &mut scratch.lower);
                scratch.lower.as_str()
            }
            Doc::Text(t) => t,
        };
        if self.char_level {
            for (i, c) in text.char_indices() {
                emit(&text[i..i + c.len_utf8()]);
            }
        } else if let Some(table) = &self.byte_table {
            let mut start = 0;
            for (i, &b) in text.as_bytes().iter().enumerate() {
                if table[b as usize] {
                    if i > start {
                        emit(&text[start..i]);
                    }
                    start = i + 1;
                }
            }
            if text.len() > start {
                emit(&text[start..]);
            }
        } else if let Some(sep) = self.split_char {
            for tok in text.split(|c: char| c == sep || self.is_filtered(c)) {
                if !tok.is_empty() {
                    emit(tok);
                }
            }
        } else {
            // A longer separator: replace, then split, literally as Python does,
            // since separators next to each other can overlap in new ways.
            let joined = &mut scratch.joined;
            joined.clear();
            for c in text.chars() {
                if self.is_filtered(c) {
                    joined.push_str(&self.split);
                } else {
                    joined.push(c);
                }
            }
            for tok in joined.split(self.split.as_str()) {
                if !tok.is_empty() {
                    emit(tok);
                }
            }
        }
    }

    /// The tokens of `doc` as owned strings (for tests and small inputs).
    pub fn tokens(&self, doc: Doc<'_>) -> Vec<String> {
        let mut out = Vec::new();
        self.for_each_token(doc, &mut Scratch::default(), |t| out.push(t.to_owned()));
        out
    }
}

/// Python's `str.lower`: ASCII in place; otherwise the full Unicode mapping of
/// the whole text, because the final sigma depends on its neighbours.
fn lower_into(text: &str, out: &mut String) {
    out.clear();
    if text.is_ascii() {
        out.push_str(text);
        out.make_ascii_lowercase();
    } else {
        out.push_str(&text.to_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str, opts: &TextOptions) -> Vec<String> {
        Splitter::new(opts).unwrap().tokens(Doc::Text(text))
    }

    fn opts(filters: &str, lower: bool, sep: &str, char_level: bool) -> TextOptions {
        TextOptions { filters: filters.into(), lower, split: sep.into(), char_level }
    }

    #[test]
    fn keras_defaults_lowercase_filter_and_split() {
        let o = TextOptions::default();
        assert_eq!(split("Hello, World!  It's\tme...", &o), ["hello", "world", "it's", "me"]);
        assert_eq!(split("", &o), Vec::<String>::new());
        assert_eq!(split(" ,;  ", &o), Vec::<String>::new());
    }

    #[test]
    fn no_lowercasing_keeps_case() {
        assert_eq!(split("The CAT", &opts("", false, " ", false)), ["The", "CAT"]);
    }

    #[test]
    fn unicode_lowercasing_matches_python() {
        let o = TextOptions::default();
        // Python: 'ΟΔΟΣ ΣΑΣ'.lower() == 'οδος σας'; 'İ'.lower() == 'i̇' (two code points).
        assert_eq!(split("ΟΔΟΣ ΣΑΣ", &o), ["οδος", "σας"]);
        assert_eq!(split("İstanbul Straße ÉTÉ", &o), ["i\u{307}stanbul", "straße", "été"]);
    }

    #[test]
    fn non_ascii_filters_and_separators() {
        assert_eq!(split("a«b»c d", &opts("«»", true, " ", false)), ["a", "b", "c", "d"]);
        assert_eq!(split("x·y·Z", &opts("", true, "·", false)), ["x", "y", "z"]);
        // An ASCII separator with ASCII filters on non-ASCII text (the byte path).
        assert_eq!(split("naïve,café  über", &TextOptions::default()), ["naïve", "café", "über"]);
    }

    #[test]
    fn multi_character_separator_replaces_then_splits_like_python() {
        // Python: 'axa'.translate({ord('x'): 'aa'}).split('aa') == ['', '', ''].
        assert_eq!(split("axa", &opts("x", false, "aa", false)), Vec::<String>::new());
        // 'b--c,d'.translate({ord(','): '--'}).split('--') == ['b', 'c', 'd'].
        assert_eq!(split("b--c,d", &opts(",", false, "--", false)), ["b", "c", "d"]);
    }

    #[test]
    fn char_level_ignores_filters() {
        let o = opts(KERAS_FILTERS, true, " ", true);
        assert_eq!(split("Ab, é", &o), ["a", "b", ",", " ", "é"]);
    }

    #[test]
    fn token_lists_are_only_lowercased() {
        let s = Splitter::new(&TextOptions::default()).unwrap();
        assert_eq!(s.tokens(Doc::Tokens(&["Hello, World", "ΣΑΣ"])), ["hello, world", "σας"]);
    }

    #[test]
    fn empty_separator_is_an_error() {
        let err = Splitter::new(&opts("", true, "", false)).unwrap_err();
        assert!(err.message().contains("split"), "{err}");
    }
}
