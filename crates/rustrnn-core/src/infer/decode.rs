//! Seq2Seq decoding, greedy or by beam search, by one model or by an
//! ensemble of them.
//!
//! An ensemble's members (same target vocabulary, BOS and EOS; any sizes,
//! cells and attention) each encode the source and run their own decoder;
//! at every step the next token is chosen from the mean of their
//! probabilities (the log of it: `logsumexp_k(lp_k) - ln K`, as fairseq's
//! ensembles do), and every member is then fed the chosen token. Models
//! trained from different seeds make different mistakes, so their mean
//! makes fewer. One member decodes exactly as the model alone.

use crate::error::{Result, RnnError};
use crate::float::{argmax, to_f64, Float};
use crate::models::seq2seq::Seq2Seq;
use crate::nn::{Memory, Mode, States};
use ndarray::{s, Array2, Array3, ArrayView2, Axis};

/// One member's decoder state for the live hypotheses: states `(L, n, H')`
/// and, with attention, what it attends over.
struct MemberState<F> {
    h: Array3<F>,
    c: Option<Array3<F>>,
    memory: Option<Memory<F>>,
}

/// The members agree on what a token means.
fn check_members<F: Float>(members: &[&mut Seq2Seq<F>]) -> Result<()> {
    let Some(first) = members.first() else {
        return Err(RnnError::value("models: expected at least one Seq2Seq model to decode with, got none"));
    };
    let key = |m: &Seq2Seq<F>| (m.cfg.tgt_vocab, m.cfg.bos_id, m.cfg.eos_id);
    for (i, m) in members.iter().enumerate().skip(1) {
        if key(m) != key(first) {
            let (v, b, e) = key(m);
            let (v0, b0, e0) = key(first);
            return Err(RnnError::value(format!(
                "models[{i}]: an ensemble's members must share tgt_vocab, bos_id and eos_id: expected {v0}, {b0}, {e0} (models[0]'s), got {v}, {b}, {e}"
            )));
        }
    }
    Ok(())
}

fn check_src(src: ArrayView2<i64>, max_length: usize) -> Result<()> {
    if max_length == 0 {
        return Err(RnnError::value("max_length: expected a positive number of tokens, got 0"));
    }
    if src.nrows() == 0 || src.ncols() == 0 {
        return Err(RnnError::shape("x: expected a non-empty (batch, time) array of source indices"));
    }
    crate::memory::ensure::<i64>("max_length (batch x max_length tokens)", &[src.nrows(), max_length])
}

fn encode_all<F: Float>(members: &mut [&mut Seq2Seq<F>], src: ArrayView2<i64>) -> Result<Vec<MemberState<F>>> {
    members.iter_mut().map(|m| m.encode(src, Mode::Infer).map(|(States { h, c }, memory)| MemberState { h, c, memory })).collect()
}

/// One step of every member for `tokens` (n,); advances their states and
/// returns the ensemble's log-probabilities (n, V).
fn step_all<F: Float>(members: &mut [&mut Seq2Seq<F>], states: &mut [MemberState<F>], tokens: &[i64]) -> Result<Array2<F>> {
    let mut each = Vec::with_capacity(members.len());
    for (m, st) in members.iter_mut().zip(states.iter_mut()) {
        let (lp, h, c) = m.step(tokens, &st.h, st.c.as_ref(), st.memory.clone())?;
        (st.h, st.c) = (h, c);
        each.push(lp);
    }
    if each.len() == 1 {
        return Ok(each.pop().expect("one member"));
    }
    // log(mean_k p_k), stably: max + ln(sum_k exp(lp_k - max)) - ln K.
    let ln_k = F::from_f64((each.len() as f64).ln());
    let mut out = each[0].clone();
    for (idx, o) in out.indexed_iter_mut() {
        let max = each.iter().map(|lp| lp[idx]).fold(F::neg_infinity(), F::max);
        if max == F::neg_infinity() {
            *o = max;
            continue;
        }
        let sum = each.iter().fold(F::zero(), |acc, lp| acc + (lp[idx] - max).exp());
        *o = max + sum.ln() - ln_k;
    }
    Ok(out)
}

/// Greedy decoding: `(B, max_length)` token ids, each sequence ending with
/// EOS (when produced) and padded with 0 after it.
pub fn greedy<F: Float>(members: &mut [&mut Seq2Seq<F>], src: ArrayView2<i64>, max_length: usize) -> Result<Array2<i64>> {
    check_members(members)?;
    check_src(src, max_length)?;
    crate::threads::install(|| {
        let mut states = encode_all(members, src)?;
        let b = src.nrows();
        let (bos, eos) = (members[0].cfg.bos_id as i64, members[0].cfg.eos_id as i64);
        let mut out = Array2::<i64>::zeros((b, max_length));
        let mut tokens = vec![bos; b];
        let mut done = vec![false; b];
        for t in 0..max_length {
            let lp = step_all(members, &mut states, &tokens)?;
            for i in 0..b {
                if done[i] {
                    continue;
                }
                let best = argmax(lp.row(i).iter().copied()) as i64;
                out[[i, t]] = best;
                tokens[i] = best;
                done[i] = best == eos;
            }
            if done.iter().all(|d| *d) {
                break;
            }
        }
        Ok(out)
    })
}

/// Beam search with `beam_width` hypotheses per source; the score is the
/// sum of log-probabilities divided by `((5 + len) / 6)^length_penalty`.
pub fn beam_search<F: Float>(
    members: &mut [&mut Seq2Seq<F>],
    src: ArrayView2<i64>,
    max_length: usize,
    beam_width: usize,
    length_penalty: f64,
) -> Result<Array2<i64>> {
    let (best, _) = n_best(members, src, max_length, beam_width, length_penalty, 1)?;
    Ok(best.index_axis_move(Axis(1), 0))
}

/// The `n` best hypotheses of a beam search per source, best first:
/// tokens `(B, n, max_length)` (each ending with EOS when produced, 0 after
/// it) and their scores `(B, n)` as [`beam_search`] ranks them (with
/// `length_penalty` 0, the sum of the tokens' log-probabilities). A source
/// with fewer than `n` hypotheses fills the rest with zeros scored -inf.
pub fn n_best<F: Float>(
    members: &mut [&mut Seq2Seq<F>],
    src: ArrayView2<i64>,
    max_length: usize,
    beam_width: usize,
    length_penalty: f64,
    n: usize,
) -> Result<(Array3<i64>, Array2<f64>)> {
    check_members(members)?;
    check_src(src, max_length)?;
    if beam_width == 0 {
        return Err(RnnError::value("beam_width: expected a positive integer, got 0"));
    }
    if n == 0 || n > beam_width {
        return Err(RnnError::value(format!("n: expected 1 to beam_width={beam_width} hypotheses per source, got {n}")));
    }
    let state_size = members.iter().fold(0usize, |acc, m| acc.saturating_add(m.cfg.decoder_units().saturating_mul(8)));
    let per_beam = members[0].cfg.tgt_vocab.saturating_add(state_size).saturating_add(max_length);
    crate::memory::ensure::<F>("beam_width (its candidates and states)", &[beam_width, per_beam])?;
    crate::memory::ensure::<i64>("n (batch x n x max_length tokens)", &[src.nrows(), n, max_length])?;
    crate::threads::install(|| {
        let all = encode_all(members, src)?;
        let mut out = Array3::<i64>::zeros((src.nrows(), n, max_length));
        let mut scores = Array2::<f64>::from_elem((src.nrows(), n), f64::NEG_INFINITY);
        for i in 0..src.nrows() {
            let pick = |a: &Array3<F>| a.slice(s![.., i..i + 1, ..]).to_owned();
            let states = all
                .iter()
                .map(|st| MemberState { h: pick(&st.h), c: st.c.as_ref().map(pick), memory: st.memory.as_ref().map(|m| m.select(&[i])) })
                .collect();
            let ranked = beam_one(members, states, max_length, beam_width, length_penalty)?;
            for (j, (seq, score)) in ranked.into_iter().take(n).enumerate() {
                for (t, v) in seq.into_iter().enumerate() {
                    out[[i, j, t]] = v;
                }
                scores[[i, j]] = score;
            }
        }
        Ok((out, scores))
    })
}

/// The hypotheses for one source with their scores, best first (of equal
/// scores, the one found last); `states` hold its one row per member (and
/// the one source's encoder outputs, with attention).
fn beam_one<F: Float>(
    members: &mut [&mut Seq2Seq<F>],
    mut states: Vec<MemberState<F>>,
    max_length: usize,
    k: usize,
    alpha: f64,
) -> Result<Vec<(Vec<i64>, f64)>> {
    let (bos, eos) = (members[0].cfg.bos_id as i64, members[0].cfg.eos_id as i64);
    let norm = |score: f64, len: usize| score / ((5.0 + len as f64) / 6.0).powf(alpha);
    // The one source's memory, kept to be repeated once per live hypothesis.
    let sources: Vec<Option<Memory<F>>> = states.iter_mut().map(|st| st.memory.take()).collect();
    // Live hypotheses: (tokens, score); their states are rows of each member's h, c.
    let mut beams: Vec<(Vec<i64>, f64)> = vec![(Vec::new(), 0.0)];
    let mut finished: Vec<(Vec<i64>, f64)> = Vec::new();
    for _ in 0..max_length {
        let tokens: Vec<i64> = beams.iter().map(|(t, _)| *t.last().unwrap_or(&bos)).collect();
        for (st, mem) in states.iter_mut().zip(&sources) {
            st.memory = mem.as_ref().map(|m| m.select(&vec![0; tokens.len()]));
        }
        let lp = step_all(members, &mut states, &tokens)?;
        let mut cand: Vec<(f64, usize, i64)> = Vec::with_capacity(beams.len() * lp.ncols());
        for (bi, (_, score)) in beams.iter().enumerate() {
            for (v, &l) in lp.row(bi).iter().enumerate() {
                cand.push((score + to_f64(l), bi, v as i64));
            }
        }
        cand.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut next = Vec::with_capacity(k);
        let mut parents = Vec::with_capacity(k);
        for (score, bi, v) in cand.into_iter().take(2 * k) {
            let mut seq = beams[bi].0.clone();
            seq.push(v);
            if v == eos {
                let len = seq.len();
                finished.push((seq, norm(score, len)));
            } else if next.len() < k {
                next.push((seq, score));
                parents.push(bi);
            }
            if next.len() == k {
                break;
            }
        }
        // Stop once the best finished hypothesis beats every live one.
        let best_done = finished.iter().map(|f| f.1).fold(f64::NEG_INFINITY, f64::max);
        let best_live = next.iter().map(|(s, sc)| norm(*sc, s.len())).fold(f64::NEG_INFINITY, f64::max);
        if next.is_empty() || (finished.len() >= k && best_done >= best_live) {
            beams.clear();
            break;
        }
        for st in states.iter_mut() {
            st.h = st.h.select(Axis(1), &parents);
            st.c = st.c.as_ref().map(|c| c.select(Axis(1), &parents));
        }
        beams = next;
    }
    for (seq, score) in beams {
        let len = seq.len();
        finished.push((seq, norm(score, len)));
    }
    finished.reverse(); // a stable sort then ranks the later of equal scores first
    finished.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(finished)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::seq2seq::Seq2SeqConfig;
    use crate::models::Input;
    use ndarray::Array2;

    fn model(units: usize, attention: &str, seed: u64) -> Seq2Seq<f64> {
        let v = serde_json::json!({"src_vocab": 7, "tgt_vocab": 6, "embedding_dim": 4, "units": units, "cell": "lstm",
                                   "bidirectional_encoder": true, "attention": attention});
        Seq2Seq::new(Seq2SeqConfig::parse(&v).unwrap(), seed).unwrap()
    }

    fn src() -> Array2<i64> {
        Array2::from_shape_vec((3, 5), vec![3, 4, 5, 6, 0, 0, 2, 5, 3, 1, 6, 6, 1, 0, 0]).unwrap()
    }

    #[test]
    fn an_ensemble_picks_the_argmax_of_its_members_mean_probability() {
        // The oracle: each member's teacher-forced forward pass (softmax
        // probabilities) fed the ensemble's own previous picks.
        let (mut a, mut b) = (model(5, "luong", 1), model(3, "bahdanau", 2));
        let src = src();
        let out = greedy(&mut [&mut a, &mut b], src.view(), 4).unwrap();
        let (mut alone_a, mut alone_b) = (greedy(&mut [&mut a], src.view(), 4).unwrap(), greedy(&mut [&mut b], src.view(), 4).unwrap());
        for i in 0..src.nrows() {
            let mut dec = vec![1i64];
            for step in 0..4 {
                let d = Array2::from_shape_vec((1, dec.len()), dec.clone()).unwrap();
                let one = src.slice(s![i..i + 1, ..]).to_owned();
                let mut mean = ndarray::Array1::<f64>::zeros(6);
                for m in [&mut a, &mut b] {
                    let f = m.forward(Input::Pair(one.view(), d.view()), Mode::Infer).unwrap();
                    mean += &(f.y.data.row(dec.len() - 1).to_owned() / 2.0);
                }
                let best = argmax(mean.iter().copied()) as i64;
                assert_eq!(out[[i, step]], best, "sequence {i}, step {step}");
                if best == 2 || best == 0 {
                    break; // EOS, or padding (which the teacher-forced pass would mask)
                }
                dec.push(best);
            }
        }
        // The members alone decode differently somewhere: the check above is not one model's.
        alone_a.zip_mut_with(&alone_b, |x, y| *x = (*x != *y) as i64);
        alone_b.zip_mut_with(&out, |x, y| *x = (*x != *y) as i64);
        assert!(alone_a.sum() + alone_b.sum() > 0, "pick seeds whose members disagree");
    }

    #[test]
    fn copies_of_one_model_decode_as_the_model_and_a_beam_of_one_is_greedy() {
        let mut m = model(4, "luong", 3);
        let (mut c1, mut c2) = (model(4, "luong", 3), model(4, "luong", 3));
        let src = src();
        let alone = greedy(&mut [&mut m], src.view(), 5).unwrap();
        assert_eq!(greedy(&mut [&mut c1, &mut c2], src.view(), 5).unwrap(), alone);
        let beam_alone = beam_search(&mut [&mut m], src.view(), 5, 3, 0.0).unwrap();
        assert_eq!(beam_search(&mut [&mut c1, &mut c2], src.view(), 5, 3, 0.0).unwrap(), beam_alone);
        let (mut a, mut b) = (model(5, "luong", 1), model(3, "bahdanau", 2));
        let g = greedy(&mut [&mut a, &mut b], src.view(), 5).unwrap();
        assert_eq!(beam_search(&mut [&mut a, &mut b], src.view(), 5, 1, 0.0).unwrap(), g);
    }

    #[test]
    fn members_must_agree_on_the_target_tokens() {
        let mut a = model(4, "luong", 1);
        let v = serde_json::json!({"src_vocab": 7, "tgt_vocab": 9, "units": 4});
        let mut b = Seq2Seq::<f64>::new(Seq2SeqConfig::parse(&v).unwrap(), 1).unwrap();
        let err = greedy(&mut [&mut a, &mut b], src().view(), 3).unwrap_err().to_string();
        assert!(err.contains("models[1]") && err.contains("tgt_vocab") && err.contains("6, 1, 2") && err.contains("9, 1, 2"), "{err}");
        let err = beam_search::<f64>(&mut [], src().view(), 3, 2, 0.0).unwrap_err().to_string();
        assert!(err.contains("at least one"), "{err}");
    }

    #[test]
    fn the_n_best_come_best_first_scored_by_their_log_likelihood() {
        let mut m = model(5, "luong", 4);
        let src = src();
        let (tokens, scores) = n_best(&mut [&mut m], src.view(), 5, 4, 0.0, 4).unwrap();
        assert_eq!(tokens.index_axis(Axis(1), 0), beam_search(&mut [&mut m], src.view(), 5, 4, 0.0).unwrap());
        for i in 0..src.nrows() {
            let row = scores.row(i);
            assert!(row.windows(2).into_iter().all(|w| w[0] >= w[1]), "best first: {row}");
            assert!(row.iter().all(|s| s.is_finite()), "every source has 4 hypotheses: {row}");
            // The oracle: the teacher-forced forward pass over each hypothesis.
            let hyps = tokens.index_axis(Axis(0), i).to_owned();
            let repeated = src.select(Axis(0), &[i; 4]);
            let ll = m.log_likelihood(repeated.view(), hyps.view()).unwrap();
            for (a, b) in ll.iter().zip(row) {
                assert!((a - b).abs() < 1e-12, "{ll} vs {row}");
            }
        }
        let err = n_best(&mut [&mut m], src.view(), 5, 2, 0.0, 3).unwrap_err().to_string();
        assert!(err.contains("n: expected 1 to beam_width=2") && err.contains("got 3"), "{err}");
    }
}
