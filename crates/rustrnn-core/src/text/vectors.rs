//! Rows of word-vector files, parsed from a block of bytes so that the caller
//! can stream a large (or compressed) file through in pieces:
//! - text (GloVe, and word2vec after its header): `word v1 ... v_dim` per line;
//! - word2vec binary (after its header): `word` `' '` then `dim` little-endian
//!   float32, optionally followed by a newline.
//!
//! Each call parses the complete rows of the block and reports how many bytes
//! it consumed; the caller keeps the rest for the next block. Numbers parse as
//! f64 and round to f32, as `numpy.asarray(fields, dtype=np.float32)` does.

use crate::error::{Result, RnnError};
use crate::threads;
use rayon::prelude::*;

/// Parsed rows: `values` holds `words.len() * dim` numbers, row-major.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VectorRows {
    pub words: Vec<String>,
    pub values: Vec<f32>,
    /// Bytes of the block used up by these rows (and blank lines).
    pub consumed: usize,
    /// Lines (text) consumed, blank ones included, to number later lines.
    pub lines: usize,
}

/// A piece of the block, parsed on one thread; stops at its first bad line.
struct Piece {
    words: Vec<String>,
    values: Vec<f32>,
    /// Byte offset (in the block) just past each row's line.
    ends: Vec<usize>,
    error: Option<(usize, String)>,
}

#[inline]
fn is_sep(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The next space- or tab-separated field at or after `*pos`, advancing `*pos`.
#[inline]
fn next_field<'a>(line: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let mut i = *pos;
    while i < line.len() && is_sep(line[i]) {
        i += 1;
    }
    if i == line.len() {
        *pos = i;
        return None;
    }
    let start = i;
    while i < line.len() && !is_sep(line[i]) {
        i += 1;
    }
    *pos = i;
    Some(&line[start..i])
}

/// Powers of ten that f64 holds exactly.
const POW10: [f64; 23] =
    [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/// A decimal number as the correctly rounded f64 (what Python's `float` gives).
///
/// Plain decimals with at most 19 digits and a small exponent, which is what
/// vector files hold, take Clinger's fast path: an integer mantissa below 2^53
/// and an exact power of ten meet in one correctly rounded multiplication or
/// division. Everything else (long mantissas, large exponents, inf, nan, junk)
/// goes to the standard library's parser.
#[inline]
fn parse_number(field: &[u8]) -> Option<f64> {
    let fallback = || std::str::from_utf8(field).ok()?.parse::<f64>().ok();
    let (neg, body) = match field.first() {
        Some(b'-') => (true, &field[1..]),
        Some(b'+') => (false, &field[1..]),
        _ => (false, field),
    };
    let mut mantissa: u64 = 0;
    let mut digits = 0;
    let mut frac = 0i32;
    let mut i = 0;
    let mut seen_point = false;
    while i < body.len() {
        match body[i] {
            d @ b'0'..=b'9' => {
                mantissa = mantissa.wrapping_mul(10).wrapping_add((d - b'0') as u64);
                digits += 1;
                frac += seen_point as i32;
            }
            b'.' if !seen_point => seen_point = true,
            _ => break,
        }
        i += 1;
    }
    if digits == 0 || digits > 19 {
        return fallback();
    }
    let mut exp: i32 = 0;
    if i < body.len() {
        if body[i] != b'e' && body[i] != b'E' {
            return fallback();
        }
        i += 1;
        let eneg = match body.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let e_digits = &body[i..];
        if e_digits.is_empty() || e_digits.len() > 4 || !e_digits.iter().all(u8::is_ascii_digit) {
            return fallback();
        }
        exp = e_digits.iter().fold(0, |acc, d| acc * 10 + (d - b'0') as i32);
        if eneg {
            exp = -exp;
        }
    }
    let exp10 = exp - frac;
    if mantissa > (1u64 << 53) || !(-22..=22).contains(&exp10) {
        return fallback();
    }
    let m = mantissa as f64;
    let v = if exp10 >= 0 { m * POW10[exp10 as usize] } else { m / POW10[(-exp10) as usize] };
    Some(if neg { -v } else { v })
}

fn parse_line(line: &[u8], dim: usize, values: &mut Vec<f32>) -> std::result::Result<Option<String>, String> {
    let mut pos = 0;
    let Some(word) = next_field(line, &mut pos) else { return Ok(None) };
    let start = values.len();
    while let Some(field) = next_field(line, &mut pos) {
        let got = values.len() - start;
        if got == dim {
            let mut extra = 1;
            while next_field(line, &mut pos).is_some() {
                extra += 1;
            }
            values.truncate(start);
            return Err(format!("expected {dim} numbers after the word, got {}", dim + extra));
        }
        match parse_number(field) {
            // Exact even in flush-to-zero mode (the rows parse in rustrnn's pool).
            Some(x) => values.push(crate::kernels::fpmode::f64_to_f32_exact(x)),
            None => {
                values.truncate(start);
                return Err(format!("bad number {:?} (value {} of {dim})", String::from_utf8_lossy(field), got + 1));
            }
        }
    }
    let got = values.len() - start;
    if got != dim {
        values.truncate(start);
        return Err(format!("expected {dim} numbers after the word, got {got}"));
    }
    Ok(Some(String::from_utf8_lossy(word).into_owned()))
}

fn parse_piece(block: &[u8], from: usize, to: usize, dim: usize) -> Piece {
    let mut p = Piece { words: Vec::new(), values: Vec::new(), ends: Vec::new(), error: None };
    let mut pos = from;
    while pos < to {
        let end = block[pos..to].iter().position(|&b| b == b'\n').map_or(to, |i| pos + i);
        let mut line = &block[pos..end];
        if let [head @ .., b'\r'] = line {
            line = head;
        }
        match parse_line(line, dim, &mut p.values) {
            Ok(Some(word)) => {
                p.words.push(word);
                p.ends.push((end + 1).min(to));
            }
            Ok(None) => {}
            Err(msg) => {
                p.error = Some((pos, msg));
                break;
            }
        }
        pos = end + 1;
    }
    p
}

fn line_number(block: &[u8], offset: usize, first_line: usize) -> usize {
    first_line + block[..offset].iter().filter(|&&b| b == b'\n').count()
}

/// Parses the text rows of `block` with `dim` numbers each, at most `max_rows`.
/// Without `at_eof` a last line with no newline is left for the next block.
/// `first_line` numbers the block's first line in error messages.
pub fn parse_text(block: &[u8], dim: usize, max_rows: usize, first_line: usize, at_eof: bool) -> Result<VectorRows> {
    if dim == 0 {
        return Err(RnnError::value("dim: expected a positive vector size, got 0"));
    }
    let end = if at_eof { block.len() } else { block.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) };
    // Pieces end just past a newline, so that no line is split between threads.
    let pieces = threads::num_threads().max(1);
    let mut bounds = vec![0];
    for k in 1..pieces {
        let guess = (end * k / pieces).max(*bounds.last().unwrap());
        let cut = block[guess..end].iter().position(|&b| b == b'\n').map_or(end, |i| guess + i + 1);
        bounds.push(cut);
    }
    bounds.push(end);
    bounds.dedup();
    let parsed: Vec<Piece> = threads::install(|| bounds.par_windows(2).map(|w| parse_piece(block, w[0], w[1], dim)).collect());

    let mut out = VectorRows { consumed: end, ..Default::default() };
    let mut last_end = 0;
    for piece in parsed {
        let room = max_rows - out.words.len();
        if piece.words.len() >= room {
            // The limit falls in this piece: stop just after its `room`-th row.
            out.consumed = if room == 0 { last_end } else { piece.ends[room - 1] };
            out.words.extend(piece.words.into_iter().take(room));
            out.values.extend_from_slice(&piece.values[..room * dim]);
            break;
        }
        last_end = piece.ends.last().copied().unwrap_or(last_end);
        out.words.extend(piece.words);
        out.values.extend(piece.values);
        if let Some((offset, msg)) = piece.error {
            return Err(RnnError::value(format!("line {}: {msg}", line_number(block, offset, first_line))));
        }
    }
    out.lines = block[..out.consumed].iter().filter(|&&b| b == b'\n').count();
    Ok(out)
}

/// Parses the binary rows of `block` with `dim` float32 each, at most
/// `max_rows`. Without `at_eof` an incomplete last row is left for the next
/// block; with it, an incomplete row is an error. `first_row` numbers rows
/// (from 1) in error messages.
pub fn parse_binary(block: &[u8], dim: usize, max_rows: usize, first_row: usize, at_eof: bool) -> Result<VectorRows> {
    if dim == 0 {
        return Err(RnnError::value("dim: expected a positive vector size, got 0"));
    }
    let mut out = VectorRows::default();
    let mut pos = 0;
    let need = 4 * dim;
    while out.words.len() < max_rows {
        // Records may be separated by a newline; skip it before the word.
        while pos < block.len() && block[pos] == b'\n' {
            pos += 1;
        }
        if pos == block.len() {
            break;
        }
        let row = first_row + out.words.len();
        let Some(space) = block[pos..].iter().position(|&b| b == b' ') else {
            if at_eof {
                return Err(RnnError::value(format!("truncated file: vector {row} has a word but no values")));
            }
            break;
        };
        let word = &block[pos..pos + space];
        let start = pos + space + 1;
        if block.len() - start < need {
            if at_eof {
                let have = block.len() - start;
                return Err(RnnError::value(format!(
                    "truncated file: vector {row} ({:?}) needs {need} bytes of float32 values, only {have} left",
                    String::from_utf8_lossy(word)
                )));
            }
            break;
        }
        out.words.push(String::from_utf8_lossy(word).into_owned());
        out.values.extend(block[start..start + need].chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
        pos = start + need;
        out.consumed = pos;
    }
    // Trailing newlines belong to the rows before them.
    if out.words.len() == max_rows || at_eof {
        while out.consumed < block.len() && block[out.consumed] == b'\n' {
            out.consumed += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rows_with_blank_lines_crlf_and_trailing_spaces() {
        let block = b"the 0.5 -1\r\n\nof 2.25 3e-1 \nand 1 2";
        let r = parse_text(block, 2, usize::MAX, 1, true).unwrap();
        assert_eq!(r.words, ["the", "of", "and"]);
        assert_eq!(r.values, [0.5, -1.0, 2.25, 0.3, 1.0, 2.0]);
        assert_eq!(r.consumed, block.len());
    }

    #[test]
    fn text_leaves_an_unfinished_line_for_the_next_block() {
        let r = parse_text(b"a 1\nb 2\nc 3", 1, usize::MAX, 1, false).unwrap();
        assert_eq!(r.words, ["a", "b"]);
        assert_eq!((r.consumed, r.lines), (8, 2));
    }

    #[test]
    fn text_stops_at_max_rows_before_a_bad_line() {
        let block = b"a 1\n\nb 2\nc oops\n";
        let r = parse_text(block, 1, 2, 1, true).unwrap();
        assert_eq!(r.words, ["a", "b"]);
        assert_eq!((r.consumed, r.lines), (9, 3));
        let r = parse_text(block, 1, 0, 1, true).unwrap();
        assert_eq!((r.words.len(), r.consumed), (0, 0));
    }

    #[test]
    fn text_errors_name_the_line_and_the_problem() {
        let err = parse_text(b"a 1 2\nb 1\n", 2, usize::MAX, 10, true).unwrap_err();
        assert_eq!(err.message(), "line 11: expected 2 numbers after the word, got 1");
        let err = parse_text(b"a 1 2\nb 1 2 3\n", 2, usize::MAX, 1, true).unwrap_err();
        assert_eq!(err.message(), "line 2: expected 2 numbers after the word, got 3");
        let err = parse_text(b"a 1 2\n\nb 1 x2\n", 2, usize::MAX, 1, true).unwrap_err();
        assert_eq!(err.message(), "line 3: bad number \"x2\" (value 2 of 2)");
    }

    #[test]
    fn text_parses_many_lines_across_threads_in_order() {
        let text: String = (0..5000).map(|i| format!("w{i} {i} {}.5\n", -i)).collect();
        let r = parse_text(text.as_bytes(), 2, usize::MAX, 1, true).unwrap();
        assert_eq!(r.words.len(), 5000);
        assert_eq!(r.words[4321], "w4321");
        assert_eq!(&r.values[2 * 4321..2 * 4322], &[4321.0, -4321.5]);
        let r = parse_text(text.as_bytes(), 2, 3000, 1, true).unwrap();
        assert_eq!((r.words.len(), r.lines, r.words[2999].as_str()), (3000, 3000, "w2999"));
    }

    #[test]
    fn fast_number_parsing_equals_the_standard_parser() {
        let mut rng = crate::rng::SplitMix64::new(7);
        let mut fields: Vec<String> = [
            "0",
            "-0",
            "-0.0",
            "1.",
            ".5",
            "+2.25",
            "0.41800",
            "-0.00066",
            "4.00710",
            "1e5",
            "2.5E+3",
            "7e-3",
            "123456789012345678",
            "1234567890123456789",
            "12345678901234567890",
            "9007199254740993",
            "1e22",
            "1e23",
            "1e-22",
            "1e-23",
            "3.4028235e38",
            "1e-45",
            "inf",
            "-inf",
            "NaN",
            "0.1e1",
            "00012.50",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for _ in 0..20_000 {
            let x = rng.uniform(-8.0, 8.0);
            let digits = (rng.next_u64() % 10) as usize;
            fields.push(format!("{x:.digits$}"));
            fields.push(format!("{:e}", x * 10f64.powi((rng.next_u64() % 30) as i32 - 15)));
        }
        for f in &fields {
            let std = f.parse::<f64>().unwrap();
            let fast = parse_number(f.as_bytes()).unwrap();
            assert!(fast.to_bits() == std.to_bits() || (fast.is_nan() && std.is_nan()), "{f}: {fast} vs {std}");
        }
        for bad in ["", "-", ".", "1e", "1e+", "1.2.3", "--1", "1x", "e5", "0x10"] {
            assert_eq!(parse_number(bad.as_bytes()), None, "{bad:?}");
        }
    }

    fn record(word: &str, v: &[f32]) -> Vec<u8> {
        let mut b = word.as_bytes().to_vec();
        b.push(b' ');
        for x in v {
            b.extend_from_slice(&x.to_le_bytes());
        }
        b
    }

    #[test]
    fn binary_rows_with_and_without_newlines() {
        let mut block = record("the", &[1.0, -2.5]);
        block.push(b'\n');
        block.extend(record("naïve", &[0.25, 3.0]));
        let r = parse_binary(&block, 2, usize::MAX, 1, true).unwrap();
        assert_eq!(r.words, ["the", "naïve"]);
        assert_eq!(r.values, [1.0, -2.5, 0.25, 3.0]);
        assert_eq!(r.consumed, block.len());
    }

    #[test]
    fn binary_leaves_a_partial_row_and_reports_truncation_at_eof() {
        let mut block = record("a", &[1.0, 2.0]);
        let second = record("bb", &[3.0, 4.0]);
        block.extend_from_slice(&second[..5]);
        let r = parse_binary(&block, 2, usize::MAX, 1, false).unwrap();
        assert_eq!((r.words.len(), r.consumed), (1, 10));
        let err = parse_binary(&block, 2, usize::MAX, 1, true).unwrap_err();
        assert_eq!(err.message(), "truncated file: vector 2 (\"bb\") needs 8 bytes of float32 values, only 2 left");
    }
}
