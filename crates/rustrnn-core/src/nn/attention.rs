//! `Attention`: a decoder's outputs attend over its encoder's outputs (the
//! [`Memory`] in the context). For each decoder step t (the query `h_t`) and
//! source step s (`e_s`), a score; padded source steps get none; the weights
//! `a_t = softmax(score_t)`; the context `c_t = Σ_s a_ts·e_s`; the output is
//! Luong's attentional state `tanh([c_t; h_t]·W_c + b_c)`, which the output
//! layer reads in place of `h_t`.
//!
//! Scores: `luong` is Luong et al.'s "general" score `h_t · (e_s·W_a)`;
//! `bahdanau` is Bahdanau et al.'s additive score `v · tanh(h_t·W_q + e_s·W_k)`.
//! Both take the decoder's output at step t as the query (Luong's global
//! attention, no input feeding), so the decoder stays one recurrent stack
//! and teacher forcing stays parallel over time.
//!
//! Shapes: queries (B·T, H), memory (B·S, H), output (B·T, H); kernels are
//! (in, out) as in Keras: `score_kernel` W_a (H, H), `query_kernel` W_q and
//! `key_kernel` W_k (H, H), `score_vector` v (H,), `kernel` W_c (2H, H),
//! `bias` b_c (H,).

use super::config::{Flow, LayerConfig};
use super::layer::{Ctx, GradCtx, Layer, LayerInput, ParamVisitor};
use super::tensor::{Memory, Tensor};
use crate::error::{Result, RnnError};
use crate::float::Float;
use crate::json::Obj;
use crate::kernels::gemm::gemm;
use crate::names::Names;
use crate::rng::SplitMix64;
use ndarray::{s, Array1, Array2, Array3, ArrayD, ArrayView2, ArrayViewD, ArrayViewMut2, Axis, Ix1, Ix2};
use rayon::prelude::*;
use serde_json::{json, Value};
use std::any::Any;

/// How a query is scored against each source step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttentionKind {
    Luong,
    Bahdanau,
}

impl Names for AttentionKind {
    const WHAT: &'static str = "attention";
    const TABLE: &'static [(&'static str, Self)] = &[("luong", AttentionKind::Luong), ("bahdanau", AttentionKind::Bahdanau)];
}

crate::from_str_by_names!(AttentionKind);

#[derive(Debug, Clone, PartialEq)]
pub struct AttentionConfig {
    pub kind: AttentionKind,
    pub trainable: bool,
}

impl LayerConfig for AttentionConfig {
    fn parse(_class: &str, c: &mut Obj) -> Result<Self> {
        Ok(AttentionConfig { kind: c.name("score", Some(AttentionKind::Luong))?, trainable: c.bool("trainable", true)? })
    }

    fn class(&self) -> &'static str {
        "Attention"
    }

    fn output(&self, input: Flow, _last: bool) -> std::result::Result<Flow, String> {
        input.rows()?;
        Ok(input)
    }

    fn build<F: Float>(&self, input: Flow, seed: u64) -> Result<Box<dyn Layer<F>>> {
        Ok(Box::new(Attention::new(self.kind, input.features(), self.trainable, seed)?))
    }

    fn to_json(&self) -> Value {
        json!({"score": self.kind.name(), "trainable": self.trainable})
    }
}

/// What backward needs of the last training forward.
#[derive(Debug)]
struct Cache<F> {
    batch: usize,
    steps: usize,
    src_steps: usize,
    /// Queries (B·T, H) and memory (B·S, H).
    q: Array2<F>,
    e: Array2<F>,
    /// Luong: `e·W_a`; Bahdanau: `e·W_k` (B·S, H).
    keys: Array2<F>,
    /// Bahdanau: `tanh(h_t·W_q + e_s·W_k)`, (B·T·S, H).
    hidden: Option<Array2<F>>,
    /// Attention weights (B, T, S).
    a: Array3<F>,
    /// `[c_t; h_t]` (B·T, 2H) and the output (B·T, H).
    cq: Array2<F>,
    y: Array2<F>,
}

#[derive(Debug)]
pub struct Attention<F> {
    pub kind: AttentionKind,
    pub units: usize,
    pub trainable: bool,
    names: Vec<&'static str>,
    params: Vec<ArrayD<F>>,
    grads: Vec<ArrayD<F>>,
    cache: Option<Cache<F>>,
}

fn glorot<F: Float>(rng: &mut SplitMix64, rows: usize, cols: usize) -> ArrayD<F> {
    let limit = (6.0 / (rows + cols) as f64).sqrt();
    Array2::from_shape_simple_fn((rows, cols), || F::from_f64(rng.uniform(-limit, limit))).into_dyn()
}

impl<F: Float> Attention<F> {
    pub fn new(kind: AttentionKind, units: usize, trainable: bool, seed: u64) -> Result<Self> {
        if units == 0 {
            return Err(RnnError::value("Attention: the decoder must have a positive number of units"));
        }
        let mut rng = SplitMix64::new(seed);
        let h = units;
        let (names, params): (Vec<&'static str>, Vec<ArrayD<F>>) = match kind {
            AttentionKind::Luong => {
                (vec!["score_kernel", "kernel", "bias"], vec![glorot(&mut rng, h, h), glorot(&mut rng, 2 * h, h), ArrayD::zeros(vec![h])])
            }
            AttentionKind::Bahdanau => {
                let limit = (6.0 / (h + 1) as f64).sqrt();
                let v = Array1::from_shape_simple_fn(h, || F::from_f64(rng.uniform(-limit, limit))).into_dyn();
                (
                    vec!["query_kernel", "key_kernel", "score_vector", "kernel", "bias"],
                    vec![glorot(&mut rng, h, h), glorot(&mut rng, h, h), v, glorot(&mut rng, 2 * h, h), ArrayD::zeros(vec![h])],
                )
            }
        };
        let grads = params.iter().map(|p| ArrayD::zeros(p.raw_dim())).collect();
        Ok(Attention { kind, units, trainable, names, params, grads, cache: None })
    }

    fn m2(&self, i: usize) -> ArrayView2<'_, F> {
        self.params[i].view().into_dimensionality::<Ix2>().expect("2-D kernel")
    }

    /// Index of the kernel applied to the memory: `W_a` or `W_k`.
    fn key_kernel(&self) -> usize {
        match self.kind {
            AttentionKind::Luong => 0,
            AttentionKind::Bahdanau => 1,
        }
    }

    /// Index of `W_c` (`b_c` follows it).
    fn combine(&self) -> usize {
        self.params.len() - 2
    }

    /// Scores (T, S) of batch element `b` from its queries `q` (T, H), keys (S, H) and,
    /// for Bahdanau, projected queries (T, H); writes the tanh values into `hidden` (T·S, H).
    fn scores(&self, q: ArrayView2<F>, keys: ArrayView2<F>, qproj: Option<ArrayView2<F>>, hidden: Option<&mut [F]>) -> Array2<F> {
        match (self.kind, qproj, hidden) {
            (AttentionKind::Luong, _, _) => q.dot(&keys.t()),
            (AttentionKind::Bahdanau, Some(qp), Some(hidden)) => {
                let v = self.params[2].view().into_dimensionality::<Ix1>().expect("1-D vector");
                let (t_len, s_len, h) = (q.nrows(), keys.nrows(), self.units);
                let mut out = Array2::<F>::zeros((t_len, s_len));
                for t in 0..t_len {
                    for s in 0..s_len {
                        let u = &mut hidden[(t * s_len + s) * h..(t * s_len + s + 1) * h];
                        for ((u, &a), &b) in u.iter_mut().zip(qp.row(t)).zip(keys.row(s)) {
                            *u = a + b;
                        }
                        F::tanh_inplace(u);
                        out[[t, s]] = u.iter().zip(v.iter()).fold(F::zero(), |acc, (&x, &w)| acc + x * w);
                    }
                }
                out
            }
            _ => unreachable!("Bahdanau scores need the projected queries"),
        }
    }

    fn run(&mut self, x: Tensor<F>, memory: &Memory<F>, keep: bool) -> Result<Tensor<F>> {
        let h = self.units;
        if x.features() != h || memory.values.ncols() != h {
            return Err(RnnError::shape(format!(
                "Attention: expected queries and encoder outputs of {h} features, got {} and {}",
                x.features(),
                memory.values.ncols()
            )));
        }
        let (batch, steps, src_steps) = (x.batch(), x.steps.unwrap_or(1), memory.steps);
        if memory.batch() != batch {
            return Err(RnnError::shape(format!("Attention: {batch} queries per step but {} encoded sources", memory.batch())));
        }
        let q = x.data;
        let e = &memory.values;
        let mut keys = Array2::<F>::zeros((e.nrows(), h));
        gemm(e.view(), self.m2(self.key_kernel()), false, keys.view_mut());
        let qproj = (self.kind == AttentionKind::Bahdanau).then(|| {
            let mut qp = Array2::<F>::zeros((q.nrows(), h));
            gemm(q.view(), self.m2(0), false, qp.view_mut());
            qp
        });
        let mut hidden = qproj.as_ref().map(|_| Array2::<F>::zeros((batch * steps * src_steps, h)));
        let mut a = Array3::<F>::zeros((batch, steps, src_steps));
        let mut cq = Array2::<F>::zeros((batch * steps, 2 * h));
        // Each batch element in its own task: its rows of `a`, `cq` and `hidden` are its alone, and it is
        // computed the same way on any thread, so the result does not depend on the thread count.
        let per = steps * src_steps * h;
        let hid: Vec<Option<&mut [F]>> = match hidden.as_mut() {
            Some(hd) if per > 0 => hd.as_slice_mut().expect("contiguous").chunks_mut(per).map(Some).collect(),
            Some(_) => (0..batch).map(|_| Some(&mut [][..])).collect(),
            None => (0..batch).map(|_| None).collect(),
        };
        let work: Vec<_> = a.axis_iter_mut(Axis(0)).zip(cq.axis_chunks_iter_mut(Axis(0), steps.max(1))).zip(hid).enumerate().collect();
        let this = &*self;
        work.into_par_iter().with_min_len(4).for_each(|(b, ((mut ab, mut cqb), hid))| {
            let rows = b * steps..(b + 1) * steps;
            let srcs = b * src_steps..(b + 1) * src_steps;
            let sc = this.scores(
                q.slice(s![rows.clone(), ..]),
                keys.slice(s![srcs.clone(), ..]),
                qproj.as_ref().map(|p| p.slice(s![rows.clone(), ..])),
                hid,
            );
            let (start, end) = memory.spans[b];
            if start < end {
                for (mut arow, srow) in ab.rows_mut().into_iter().zip(sc.rows()) {
                    let valid = srow.slice(s![start..end]);
                    let max = valid.iter().fold(F::neg_infinity(), |m, &v| if v > m { v } else { m });
                    let mut sum = F::zero();
                    for s_ in start..end {
                        let w = (srow[s_] - max).exp();
                        arow[s_] = w;
                        sum += w;
                    }
                    arow.mapv_inplace(|w| w / sum);
                }
            }
            // An all-padding source has no context: its weights stay zero.
            let ctxt = ab.dot(&e.slice(s![srcs, ..]));
            cqb.slice_mut(s![.., ..h]).assign(&ctxt);
            cqb.slice_mut(s![.., h..]).assign(&q.slice(s![rows, ..]));
        });
        let k = self.combine();
        let mut y = Array2::<F>::zeros((batch * steps, h));
        let bias = self.params[k + 1].view().into_dimensionality::<Ix1>().expect("1-D bias");
        y.rows_mut().into_iter().for_each(|mut r| r.assign(&bias));
        gemm(cq.view(), self.m2(k), true, y.view_mut());
        y.mapv_inplace(|v| v.tanh());
        if keep {
            self.cache = Some(Cache { batch, steps, src_steps, q, e: e.clone(), keys, hidden, a, cq, y: y.clone() });
        } else {
            self.cache = None;
        }
        Ok(Tensor::new(y, x.steps))
    }

    /// Returns the gradients of the queries and of the memory.
    fn run_backward(&mut self, dy: Array2<F>) -> Result<(Array2<F>, Array2<F>)> {
        let c = self.cache.take().ok_or_else(|| RnnError::state("Attention.backward: no training forward to differentiate"))?;
        let h = self.units;
        let (batch, steps, src_steps) = (c.batch, c.steps, c.src_steps);
        let mut dz = dy;
        ndarray::Zip::from(&mut dz).and(&c.y).for_each(|d, &y| *d = *d * (F::one() - y * y));
        let k = self.combine();
        if self.trainable {
            let mut gk = self.grads[k].view_mut().into_dimensionality::<Ix2>().expect("2-D");
            gemm(c.cq.t(), dz.view(), true, gk.view_mut());
            let mut gb = self.grads[k + 1].view_mut().into_dimensionality::<Ix1>().expect("1-D");
            gb += &dz.sum_axis(Axis(0));
        }
        let mut dcq = Array2::<F>::zeros((batch * steps, 2 * h));
        gemm(dz.view(), self.m2(k).t(), false, dcq.view_mut());
        let mut dq = dcq.slice(s![.., h..]).to_owned();
        let mut de = Array2::<F>::zeros((batch * src_steps, h));
        let mut dkeys = Array2::<F>::zeros((batch * src_steps, h));
        let mut dqproj = (self.kind == AttentionKind::Bahdanau).then(|| Array2::<F>::zeros((batch * steps, h)));
        let bahdanau = self.kind == AttentionKind::Bahdanau;
        let v = bahdanau.then(|| self.params[2].view().into_dimensionality::<Ix1>().expect("1-D").to_owned());
        // Bahdanau's score-softmax gradients, kept for dv, which sums over every batch element.
        let mut ds_all = bahdanau.then(|| Array3::<F>::zeros((batch, steps, src_steps)));
        // One task per batch element, as in the forward: the rows each one writes are its alone.
        let (sb, tb) = (src_steps.max(1), steps.max(1));
        let dqp_rows: Vec<Option<ArrayViewMut2<F>>> = match dqproj.as_mut() {
            Some(p) => p.axis_chunks_iter_mut(Axis(0), tb).map(Some).collect(),
            None => (0..batch).map(|_| None).collect(),
        };
        let ds_rows: Vec<Option<ArrayViewMut2<F>>> = match ds_all.as_mut() {
            Some(d) => d.axis_iter_mut(Axis(0)).map(Some).collect(),
            None => (0..batch).map(|_| None).collect(),
        };
        let work: Vec<_> = de
            .axis_chunks_iter_mut(Axis(0), sb)
            .zip(dkeys.axis_chunks_iter_mut(Axis(0), sb))
            .zip(dq.axis_chunks_iter_mut(Axis(0), tb))
            .zip(dqp_rows.into_iter().zip(ds_rows))
            .enumerate()
            .collect();
        let kind = self.kind;
        work.into_par_iter().with_min_len(4).for_each(|(b, (((mut deb, mut dkb), mut dqb), (dqp, ds_keep)))| {
            let rows = b * steps..(b + 1) * steps;
            let srcs = b * src_steps..(b + 1) * src_steps;
            let ab = c.a.index_axis(Axis(0), b);
            let dc = dcq.slice(s![rows.clone(), ..h]);
            let eb = c.e.slice(s![srcs.clone(), ..]);
            let da = dc.dot(&eb.t());
            deb += &ab.t().dot(&dc);
            // Softmax backward; padded steps have a = 0 and get nothing.
            let mut ds = Array2::<F>::zeros((steps, src_steps));
            for ((mut drow, arow), darow) in ds.rows_mut().into_iter().zip(ab.rows()).zip(da.rows()) {
                let dot = arow.iter().zip(darow.iter()).fold(F::zero(), |acc, (&x, &y)| acc + x * y);
                for ((d, &x), &y) in drow.iter_mut().zip(arow.iter()).zip(darow.iter()) {
                    *d = x * (y - dot);
                }
            }
            match kind {
                AttentionKind::Luong => {
                    let kb = c.keys.slice(s![srcs, ..]);
                    dqb += &ds.dot(&kb);
                    dkb += &ds.t().dot(&c.q.slice(s![rows, ..]));
                }
                AttentionKind::Bahdanau => {
                    let hidden = c.hidden.as_ref().expect("kept for Bahdanau");
                    let v = v.as_ref().expect("Bahdanau has v");
                    let mut dqp = dqp.expect("Bahdanau");
                    for t in 0..steps {
                        for s_ in 0..src_steps {
                            let g = ds[[t, s_]];
                            if g == F::zero() {
                                continue;
                            }
                            let u = hidden.row((b * steps + t) * src_steps + s_);
                            for (i, &ui) in u.iter().enumerate() {
                                let dpre = g * v[i] * (F::one() - ui * ui);
                                dqp[[t, i]] += dpre;
                                dkb[[s_, i]] += dpre;
                            }
                        }
                    }
                    ds_keep.expect("Bahdanau").assign(&ds);
                }
            }
        });
        // dv = Σ over batch, steps and sources, in that order (one order for any thread count).
        let mut dv = Array1::<F>::zeros(h);
        if let (Some(ds_all), Some(hidden)) = (&ds_all, &c.hidden) {
            for ((b, t, s_), &g) in ds_all.indexed_iter() {
                if g == F::zero() {
                    continue;
                }
                for (d, &ui) in dv.iter_mut().zip(hidden.row((b * steps + t) * src_steps + s_)) {
                    *d += g * ui;
                }
            }
        }
        // keys = e·W (W_a or W_k); Bahdanau's query projection: q·W_q.
        let wk = self.key_kernel();
        gemm(dkeys.view(), self.m2(wk).t(), true, de.view_mut());
        if let Some(dqp) = &dqproj {
            gemm(dqp.view(), self.m2(0).t(), true, dq.view_mut());
        }
        if self.trainable {
            let mut g = self.grads[wk].view_mut().into_dimensionality::<Ix2>().expect("2-D");
            gemm(c.e.t(), dkeys.view(), true, g.view_mut());
            if let Some(dqp) = &dqproj {
                let mut g = self.grads[0].view_mut().into_dimensionality::<Ix2>().expect("2-D");
                gemm(c.q.t(), dqp.view(), true, g.view_mut());
                let mut gv = self.grads[2].view_mut().into_dimensionality::<Ix1>().expect("1-D");
                gv += &dv;
            }
        }
        Ok((dq, de))
    }
}

impl<F: Float> Layer<F> for Attention<F> {
    fn class(&self) -> &'static str {
        "Attention"
    }

    fn config(&self) -> Value {
        AttentionConfig { kind: self.kind, trainable: self.trainable }.to_json()
    }

    fn forward(&mut self, x: LayerInput<'_, F>, ctx: &mut Ctx<'_, F>) -> Result<Tensor<F>> {
        let x = x.rows("Attention")?;
        let keep = ctx.keep();
        let memory = ctx.memory.as_ref().ok_or_else(|| RnnError::value("Attention: no encoder outputs to attend to"))?;
        self.run(x, memory, keep)
    }

    fn backward(&mut self, dy: Array2<F>, ctx: &mut GradCtx<F>) -> Result<Option<Array2<F>>> {
        let (dq, de) = self.run_backward(dy)?;
        ctx.dmemory = Some(de);
        Ok(Some(dq))
    }

    fn param_names(&self) -> Vec<String> {
        self.names.iter().map(|n| n.to_string()).collect()
    }

    fn param(&self, i: usize) -> ArrayViewD<'_, F> {
        self.params[i].view()
    }

    fn grad(&self, i: usize) -> ArrayViewD<'_, F> {
        self.grads[i].view()
    }

    fn assign_param(&mut self, i: usize, value: ArrayViewD<F>) -> Result<()> {
        self.params[i].assign(&value);
        Ok(())
    }

    fn visit_params(&mut self, f: &mut ParamVisitor<'_, F>) {
        for (i, (p, g)) in self.params.iter_mut().zip(&self.grads).enumerate() {
            f(i, p.view_mut(), g.view());
        }
    }

    fn zero_grad(&mut self) {
        self.grads.iter_mut().for_each(|g| g.fill(F::zero()));
    }

    fn trainable(&self) -> bool {
        self.trainable
    }

    fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Forward output, query and memory gradients, and parameter gradients of one pass.
    fn pass(kind: AttentionKind, threads: usize) -> Vec<Vec<f32>> {
        let (batch, steps, src, h) = (37, 3, 5, 6);
        let mut rng = SplitMix64::new(11);
        let mut draw = |rows, cols| Array2::from_shape_simple_fn((rows, cols), || rng.uniform(-1.0, 1.0) as f32);
        let q = draw(batch * steps, h);
        let values = draw(batch * src, h);
        let dy = draw(batch * steps, h);
        // Left and right padding, none, and all-padding sources.
        let spans = (0..batch).map(|b| [(0, src), (2, src), (0, 3), (0, 0)][b % 4]).collect();
        let memory = Memory { values, steps: src, spans };
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let mut layer = Attention::<f32>::new(kind, h, true, 3).unwrap();
            let y = layer.run(Tensor::new(q, Some(steps)), &memory, true).unwrap();
            let (dq, de) = layer.run_backward(dy).unwrap();
            let mut out: Vec<Vec<f32>> = [y.data, dq, de].iter().map(|a| a.iter().copied().collect()).collect();
            out.extend(layer.grads.iter().map(|g| g.iter().copied().collect()));
            out
        })
    }

    #[test]
    fn attention_gives_the_same_bits_for_any_thread_count() {
        for kind in [AttentionKind::Luong, AttentionKind::Bahdanau] {
            let one = pass(kind, 1);
            assert!(one.iter().all(|v| v.iter().all(|x| x.is_finite())) && one[2].iter().any(|&x| x != 0.0));
            for threads in [2, 3] {
                assert_eq!(pass(kind, threads), one, "{kind:?}, {threads} threads");
            }
        }
    }
}
