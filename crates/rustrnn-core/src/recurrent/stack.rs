//! A stack of recurrent layers (PyTorch's `nn.RNN`, `nn.LSTM`, `nn.GRU`):
//! parameters, gradients, forward with an optional backward cache, and BPTT.

use super::config::{CellKind, RnnConfig};
use super::direction::{self, DirectionCache, DirectionSpec};
use super::gru_reset_before;
use super::masked::{self, GateMasks};
use super::packed::ForwardPack;
use super::params::{param_slots, ParamSlot, RnnParams};
use super::projected::{self, ProjectedCache};
use super::sequence::{SeqLayout, Validity};
use crate::error::{fmt_shape, Result, RnnError};
use crate::float::Float;
use crate::kernels::gemm::gemm;
use crate::memory;
use crate::recycle;
use crate::threads;
use ndarray::{s, Array2, Array3, ArrayView2, ArrayView3, ArrayViewD, ArrayViewMut2, Axis};

/// Output of a forward call.
#[derive(Debug, Clone)]
pub struct RnnOutput<F> {
    /// (B, T, D·H) when batch-first, else (T, B, D·H); zero past each length.
    pub output: Array3<F>,
    /// (L·D, B, H): the state at each sequence's last valid step.
    pub h_n: Array3<F>,
    /// LSTM only, like `h_n`.
    pub c_n: Option<Array3<F>>,
}

/// Gradients of a backward call with respect to the inputs of the forward.
#[derive(Debug, Clone)]
pub struct RnnInputGrads<F> {
    /// Same shape as the input.
    pub dx: Array3<F>,
    /// (L·D, B, H).
    pub dh0: Array3<F>,
    pub dc0: Option<Array3<F>>,
}

/// What backward needs from a training-mode forward. Opaque: taken out of a
/// stack with [`Recurrent::take_cache`] so that several forwards can be
/// differentiated later, each by its own tape (as autograd does).
#[derive(Debug)]
pub struct ForwardCache<F> {
    layout: SeqLayout,
    spans: Option<Vec<(usize, usize)>>,
    input_dims: (usize, usize, usize),
    /// Per layer: its input (N, I_l) and one cache per direction.
    layers: LayerCaches<F>,
    /// Per layer but the last: the dropout mask (0 or 1/(1-p)) applied to its output.
    masks: Vec<Option<Array2<F>>>,
    /// Keras's recurrent dropout, per layer and direction (see [`Recurrent::forward_masked`]).
    gate_masks: Option<Vec<GateMasks<F>>>,
    /// Keras's `dropout` alone, per direction (see [`Recurrent::forward_input_masked`]).
    input_masks: Option<Vec<Array2<F>>>,
}

/// A recurrent stack with its parameters, accumulated gradients and the cache
/// of the last forward pass.
#[derive(Debug)]
pub struct Recurrent<F> {
    config: RnnConfig,
    slots: Vec<ParamSlot>,
    params: RnnParams<F>,
    grads: RnnParams<F>,
    training: bool,
    cache: Option<ForwardCache<F>>,
    /// The weights packed for the kernels, one per cell; dropped whenever a
    /// parameter changes.
    packed: Option<Vec<ForwardPack<F>>>,
    /// Probability of zeroing each output of every layer but the last, in
    /// training mode (PyTorch's `dropout`).
    dropout: f64,
}

impl<F: Float> Recurrent<F> {
    /// A stack initialised as PyTorch does, from `seed`.
    pub fn new(config: RnnConfig, seed: u64) -> Result<Self> {
        config.validate()?;
        // Parameters and gradients, probed before either is allocated.
        let n = memory::mul("hidden_size", config.param_elements()?, 2)?;
        memory::ensure::<F>("hidden_size x num_layers (the parameters and gradients)", &[n])?;
        Ok(Recurrent {
            slots: param_slots(&config),
            params: RnnParams::init_uniform(&config, seed),
            grads: RnnParams::zeros(&config),
            config,
            training: true,
            cache: None,
            packed: None,
            dropout: 0.0,
        })
    }

    pub fn config(&self) -> &RnnConfig {
        &self.config
    }

    /// Parameter slots in PyTorch's `named_parameters()` order.
    pub fn slots(&self) -> &[ParamSlot] {
        &self.slots
    }

    fn slot(&self, name: &str) -> Result<&ParamSlot> {
        self.slots.iter().find(|s| s.name == name).ok_or_else(|| {
            let names: Vec<_> = self.slots.iter().map(|s| s.name.as_str()).collect();
            RnnError::value(format!("{name}: not a parameter of this {}; expected one of {}", self.config.cell.name(), names.join(", ")))
        })
    }

    pub fn param(&self, name: &str) -> Result<ArrayViewD<'_, F>> {
        Ok(self.params.get(self.slot(name)?))
    }

    pub fn grad(&self, name: &str) -> Result<ArrayViewD<'_, F>> {
        Ok(self.grads.get(self.slot(name)?))
    }

    /// Copies `value` into the named parameter. NaN and infinities are
    /// accepted (and propagate through forward), as in PyTorch.
    pub fn set_param(&mut self, name: &str, value: ArrayViewD<'_, F>) -> Result<()> {
        let slot = self.slot(name)?.clone();
        // Writing the same values again (a caller syncing weights before every
        // call) keeps the packed weights.
        if self.params.get(&slot) == value {
            return Ok(());
        }
        self.packed = None;
        self.params.set(&slot, value)
    }

    pub fn params(&self) -> &RnnParams<F> {
        &self.params
    }

    pub fn grads(&self) -> &RnnParams<F> {
        &self.grads
    }

    pub fn zero_grad(&mut self) {
        self.grads.fill_zero();
    }

    /// Training mode keeps what backward needs; eval mode keeps nothing.
    pub fn set_training(&mut self, training: bool) {
        self.training = training;
        if !training {
            self.cache = None;
        }
    }

    pub fn is_training(&self) -> bool {
        self.training
    }

    /// Dropout between layers in training mode, as PyTorch's `dropout`: each
    /// output of every layer but the last is zeroed with probability `p` and
    /// the others scaled by 1/(1-p). The masks come from the global seed
    /// sequence ([`crate::rng::next_seed`]), one per forward.
    pub fn set_dropout(&mut self, p: f64) -> Result<()> {
        if !(0.0..=1.0).contains(&p) {
            return Err(RnnError::value(format!("dropout: expected a probability in [0, 1], got {p}")));
        }
        self.dropout = p;
        Ok(())
    }

    pub fn dropout(&self) -> f64 {
        self.dropout
    }

    /// Takes the cache of the last training-mode forward out of the stack (to
    /// hand back with [`put_cache`](Self::put_cache) before its backward).
    pub fn take_cache(&mut self) -> Option<ForwardCache<F>> {
        self.cache.take()
    }

    /// Makes `cache` the one the next [`backward`](Self::backward) consumes. It
    /// must come from a forward of this stack with the current parameters.
    pub fn put_cache(&mut self, cache: ForwardCache<F>) {
        self.cache = Some(cache);
    }

    /// `h`-like states have `state_size` (proj_size if set) columns, `c`-like ones `hidden_size`.
    fn check_state(&self, name: &str, state: Option<ArrayView3<F>>, batch: usize) -> Result<()> {
        if let Some(s) = state {
            let cell_like = name.starts_with('c') || name.starts_with("dc");
            let (width, what) = if cell_like || self.config.proj_size == 0 {
                (self.config.hidden_size, "hidden_size")
            } else {
                (self.config.proj_size, "proj_size")
            };
            let want = [self.config.num_states(), batch, width];
            if s.shape() != want {
                return Err(RnnError::shape(format!(
                    "{name}: expected shape {} (num_layers*num_directions, batch, {what}), got {}",
                    fmt_shape(&want),
                    fmt_shape(s.shape())
                )));
            }
        }
        Ok(())
    }

    fn lengths_to_spans(lengths: &[i64], seq_len: usize, batch: usize) -> Result<Vec<(usize, usize)>> {
        if lengths.len() != batch {
            return Err(RnnError::shape(format!("lengths: expected {batch} lengths (one per batch element), got {}", lengths.len())));
        }
        lengths
            .iter()
            .enumerate()
            .map(|(b, &l)| {
                if l < 1 || l as u64 > seq_len as u64 {
                    Err(RnnError::value(format!(
                        "lengths: every length must be in 1..={seq_len} (the sequence length), got lengths[{b}] = {l}"
                    )))
                } else {
                    Ok((0, l as usize))
                }
            })
            .collect()
    }

    fn check_spans(spans: &[(usize, usize)], seq_len: usize, batch: usize) -> Result<()> {
        if spans.len() != batch {
            return Err(RnnError::shape(format!("spans: expected {batch} spans (one per batch element), got {}", spans.len())));
        }
        for (b, &(start, end)) in spans.iter().enumerate() {
            if start >= end || end > seq_len {
                return Err(RnnError::value(format!(
                    "spans: every span (start, end) must satisfy start < end <= {seq_len}, got spans[{b}] = ({start}, {end})"
                )));
            }
        }
        Ok(())
    }

    /// Runs the stack over `x`: (B, T, I) when batch-first, else (T, B, I).
    /// `h0`, `c0` (L·D, B, H) default to zeros; `lengths` (B,) in 1..=T marks
    /// the valid prefix of each sequence. In training mode the cache for
    /// [`backward`](Self::backward) is kept.
    pub fn forward(
        &mut self,
        x: ArrayView3<F>,
        h0: Option<ArrayView3<F>>,
        c0: Option<ArrayView3<F>>,
        lengths: Option<&[i64]>,
    ) -> Result<RnnOutput<F>> {
        let spans = match lengths {
            Some(l) => {
                let (d0, d1, _) = x.dim();
                let (seq_len, batch) = if self.config.batch_first { (d1, d0) } else { (d0, d1) };
                if seq_len > 0 && batch > 0 {
                    Some(Self::lengths_to_spans(l, seq_len, batch)?)
                } else {
                    None
                }
            }
            None => None,
        };
        self.forward_spans(x, h0, c0, spans)
    }

    /// Like [`forward`](Self::forward), with each sequence's valid steps given
    /// as a span `(start, end)`, `start < end <= T`: `(0, len)` for right
    /// padding, `(T - len, T)` for left padding.
    pub fn forward_spans(
        &mut self,
        x: ArrayView3<F>,
        h0: Option<ArrayView3<F>>,
        c0: Option<ArrayView3<F>>,
        spans: Option<Vec<(usize, usize)>>,
    ) -> Result<RnnOutput<F>> {
        self.forward_with(x, h0, c0, spans, None, None)
    }

    /// Like [`forward_spans`](Self::forward_spans) in training mode, with
    /// Keras's `dropout` without recurrent dropout: `masks[direction]` (B, I)
    /// scales the first layer's input of that direction at every step (each
    /// direction its own, as Keras's `Bidirectional` copies the layer). The
    /// fused loops run; only the first layer's input is masked.
    pub fn forward_input_masked(
        &mut self,
        x: ArrayView3<F>,
        h0: Option<ArrayView3<F>>,
        c0: Option<ArrayView3<F>>,
        spans: Option<Vec<(usize, usize)>>,
        masks: Vec<Array2<F>>,
    ) -> Result<RnnOutput<F>> {
        let cfg = self.config;
        if !self.training {
            return Err(RnnError::state("dropout: input masks apply in training mode only"));
        }
        if masks.len() != cfg.num_directions() {
            return Err(RnnError::shape(format!("masks: expected {} (one per direction), got {}", cfg.num_directions(), masks.len())));
        }
        let batch = if cfg.batch_first { x.dim().0 } else { x.dim().1 };
        for (i, m) in masks.iter().enumerate() {
            let want = [batch, cfg.input_size];
            if m.shape() != want {
                return Err(RnnError::shape(format!(
                    "masks[{i}]: expected shape {} (batch, input_size), got {}",
                    fmt_shape(&want),
                    fmt_shape(m.shape())
                )));
            }
        }
        self.forward_with(x, h0, c0, spans, None, Some(masks))
    }

    /// Like [`forward_spans`](Self::forward_spans) in training mode, with
    /// Keras's recurrent dropout: `masks[layer·D + direction]` holds one mask
    /// per gate on the state entering every step, (G, B, H), and optionally
    /// one per gate on that layer's input, (G, B, I_layer) (Keras's
    /// `implementation=1`). Gates in the weights' order. Each step then runs
    /// one product per gate (`recurrent::masked`), not the fused loop.
    pub fn forward_masked(
        &mut self,
        x: ArrayView3<F>,
        h0: Option<ArrayView3<F>>,
        c0: Option<ArrayView3<F>>,
        spans: Option<Vec<(usize, usize)>>,
        masks: Vec<GateMasks<F>>,
    ) -> Result<RnnOutput<F>> {
        let cfg = self.config;
        if !self.training {
            return Err(RnnError::state("recurrent dropout: masks apply in training mode only"));
        }
        if cfg.proj_size > 0 {
            return Err(RnnError::value("recurrent dropout: not implemented for an LSTM with proj_size"));
        }
        if masks.len() != cfg.num_states() {
            return Err(RnnError::shape(format!(
                "masks: expected {} (one per layer and direction), got {}",
                cfg.num_states(),
                masks.len()
            )));
        }
        let batch = if cfg.batch_first { x.dim().0 } else { x.dim().1 };
        let g = cfg.cell.gates();
        for (i, m) in masks.iter().enumerate() {
            let want = [g, batch, cfg.hidden_size];
            if m.recurrent.shape() != want {
                return Err(RnnError::shape(format!(
                    "masks[{i}].recurrent: expected shape {} (gates, batch, hidden_size), got {}",
                    fmt_shape(&want),
                    fmt_shape(m.recurrent.shape())
                )));
            }
            if let Some(inp) = m.input.as_ref() {
                let want = [g, batch, cfg.layer_input_size(i / cfg.num_directions())];
                if inp.shape() != want {
                    return Err(RnnError::shape(format!(
                        "masks[{i}].input: expected shape {} (gates, batch, the layer's input size), got {}",
                        fmt_shape(&want),
                        fmt_shape(inp.shape())
                    )));
                }
            }
        }
        self.forward_with(x, h0, c0, spans, Some(masks), None)
    }

    fn forward_with(
        &mut self,
        x: ArrayView3<F>,
        h0: Option<ArrayView3<F>>,
        c0: Option<ArrayView3<F>>,
        spans: Option<Vec<(usize, usize)>>,
        gate_masks: Option<Vec<GateMasks<F>>>,
        input_masks: Option<Vec<Array2<F>>>,
    ) -> Result<RnnOutput<F>> {
        let cfg = self.config;
        let (d0, d1, features) = x.dim();
        let (seq_len, batch) = if cfg.batch_first { (d1, d0) } else { (d0, d1) };
        let order = if cfg.batch_first { "(batch, seq_len, input_size)" } else { "(seq_len, batch, input_size)" };
        if features != cfg.input_size || seq_len == 0 || batch == 0 {
            return Err(RnnError::shape(format!(
                "x: expected shape {order} with input_size {} and non-empty batch and sequence, got {}",
                cfg.input_size,
                fmt_shape(x.shape())
            )));
        }
        self.check_state("h0", h0, batch)?;
        match (cfg.cell, c0) {
            (CellKind::Lstm, c0) => self.check_state("c0", c0, batch)?,
            (_, Some(_)) => return Err(RnnError::value(format!("c0: a {} has no cell state; pass only h0", cfg.cell.name()))),
            _ => {}
        }
        if let Some(s) = spans.as_deref() {
            Self::check_spans(s, seq_len, batch)?;
        }
        let layout = SeqLayout::new(seq_len, batch, cfg.batch_first);
        self.cache = None;
        memory::ensure_bytes("x (batch x sequence length)", cfg.forward_bytes(layout.rows(), std::mem::size_of::<F>(), self.training)?)?;

        let x2 = x.as_standard_layout();
        let x2 = x2.view().into_shape_with_order((layout.rows(), features)).expect("standard layout");
        let keep = self.training;
        let params = &self.params;
        // Inference keeps the packed weights for the next call; training packs
        // per call (its weights change every step) to hold no extra copy.
        let packed = if keep {
            self.packed = None;
            None
        } else {
            Some(self.packed.get_or_insert_with(|| params.cells.iter().map(|c| ForwardPack::new(cfg.cell, c)).collect()).as_slice())
        };
        let dropout = (keep && self.dropout > 0.0 && cfg.num_layers > 1).then(|| (self.dropout, crate::rng::next_seed()));
        let (output, h_n, c_n, layers, masks) = threads::install(|| {
            let masks = Masks { gates: gate_masks.as_deref(), input: input_masks.as_deref() };
            run_forward(&cfg, params, packed, x2, layout, spans.as_deref(), h0, c0, keep, dropout, masks)
        });
        if keep {
            self.cache = Some(ForwardCache { layout, spans, input_dims: x.dim(), layers, masks, gate_masks, input_masks });
        }
        let (a, b) = (x.dim().0, x.dim().1);
        let output = output.into_shape_with_order((a, b, cfg.output_size())).expect("row order kept");
        Ok(RnnOutput { output, h_n, c_n })
    }

    /// Backpropagation through time from the gradients of the last forward's
    /// outputs. Each argument may be `None` (zeros). Parameter gradients are
    /// added to [`grads`](Self::grads); the cache is consumed.
    pub fn backward(
        &mut self,
        dout: Option<ArrayView3<F>>,
        dhn: Option<ArrayView3<F>>,
        dcn: Option<ArrayView3<F>>,
    ) -> Result<RnnInputGrads<F>> {
        let cfg = self.config;
        let Some(cache) = self.cache.as_ref() else {
            return Err(RnnError::state(if self.training {
                "backward: no forward pass to differentiate; call forward (in training mode) first, once per backward"
            } else {
                "backward: the module is in eval mode, whose forward keeps nothing for backward; call train() and run forward again"
            }));
        };
        let (a, b, _) = cache.input_dims;
        let batch = cache.layout.batch;
        if let Some(d) = dout {
            let want = [a, b, cfg.output_size()];
            if d.shape() != want {
                return Err(RnnError::shape(format!(
                    "dout: expected shape {} (the shape of the output), got {}",
                    fmt_shape(&want),
                    fmt_shape(d.shape())
                )));
            }
        }
        self.check_state("dhn", dhn, batch)?;
        match (cfg.cell, dcn) {
            (CellKind::Lstm, d) => self.check_state("dcn", d, batch)?,
            (_, Some(_)) => return Err(RnnError::value(format!("dcn: a {} has no cell state", cfg.cell.name()))),
            _ => {}
        }
        let cache = self.cache.take().expect("checked above");
        let dout2 = dout.as_ref().map(|d| d.as_standard_layout()); // a copy only if not already C-ordered
        let dout2 = dout2.as_ref().map(|d| d.view().into_shape_with_order((cache.layout.rows(), cfg.output_size())).expect("standard"));
        let params = &self.params;
        let grads = &mut self.grads;
        let (dx, dh0, dc0) = threads::install(|| run_backward(&cfg, params, grads, cache, dout2, dhn, dcn));
        Ok(RnnInputGrads { dx: dx.into_shape_with_order((a, b, cfg.input_size)).expect("row order kept"), dh0, dc0 })
    }
}

/// One direction's cache: the plain cells', or a projected LSTM's.
#[derive(Debug)]
enum StepCache<F> {
    Plain(DirectionCache<F>),
    Projected(ProjectedCache<F>),
}

type LayerCaches<F> = Vec<(Array2<F>, Vec<StepCache<F>>)>;

/// Keras's dropout masks of a training forward, if any.
#[derive(Clone, Copy)]
struct Masks<'a, F> {
    /// Recurrent dropout: per layer and direction.
    gates: Option<&'a [GateMasks<F>]>,
    /// `dropout` alone: per direction, on the first layer's input (B, I).
    input: Option<&'a [Array2<F>]>,
}

impl<F: Float> Masks<'_, F> {
    /// Direction `dir`'s own masked copy of the first layer's input (N, I), if it has a mask.
    fn own_input(&self, layer: usize, dir: usize, input: ArrayView2<F>, layout: SeqLayout) -> Option<Array2<F>> {
        let m = self.input.filter(|_| layer == 0)?;
        Some(masked::masked_rows(input, m[dir].view(), layout))
    }
}

#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn run_forward<F: Float>(
    cfg: &RnnConfig,
    params: &RnnParams<F>,
    packed: Option<&[ForwardPack<F>]>,
    x: ArrayView2<F>,
    layout: SeqLayout,
    spans: Option<&[(usize, usize)]>,
    h0: Option<ArrayView3<F>>,
    c0: Option<ArrayView3<F>>,
    keep: bool,
    dropout: Option<(f64, u64)>,
    dropout_masks: Masks<'_, F>,
) -> (Array2<F>, Array3<F>, Option<Array3<F>>, LayerCaches<F>, Vec<Option<Array2<F>>>) {
    let (hs, nd) = (cfg.state_size(), cfg.num_directions());
    let is_lstm = cfg.cell == CellKind::Lstm;
    let mut h_n = Array3::zeros((cfg.num_states(), layout.batch, hs));
    let mut c_n = is_lstm.then(|| Array3::zeros((cfg.num_states(), layout.batch, cfg.hidden_size)));
    let mut caches = Vec::new();
    let mut masks = Vec::new();
    let valid = Validity::new(spans);

    // The first layer reads the caller's x in place; its cached copy has the
    // padding zeroed, so garbage (even NaN) there cannot reach the gradients.
    let mut input: Option<Array2<F>> = None;
    for layer in 0..cfg.num_layers {
        let inp = input.as_ref().map_or(x, |a| a.view());
        let mut out = recycle::zeros::<F>(layout.rows(), nd * hs);
        let results: Vec<_> = {
            let mut blocks: Vec<ArrayViewMut2<F>> = Vec::with_capacity(nd);
            let mut rest = out.view_mut();
            for _ in 0..nd {
                let (head, tail) = rest.split_at(Axis(1), hs);
                blocks.push(head);
                rest = tail;
            }
            let run = |dir: usize, block: ArrayViewMut2<F>| {
                let idx = layer * nd + dir;
                let spec = DirectionSpec { cell: cfg.cell, layout, valid, reverse: dir == 1, acts: cfg.non_default_activations() };
                let zeros = h0.is_none().then(|| Array2::zeros((layout.batch, hs)));
                let h0d = match (h0, zeros.as_ref()) {
                    (Some(h), _) => h.index_axis_move(Axis(0), idx),
                    (None, Some(z)) => z.view(),
                    (None, None) => unreachable!("zeros exist when h0 is absent"),
                };
                let c0d = c0.map(|c| c.index_axis_move(Axis(0), idx));
                let own = dropout_masks.own_input(layer, dir, inp, layout);
                let inp = own.as_ref().map_or(inp, |a| a.view());
                if let Some(m) = dropout_masks.gates {
                    let (state, cache) = masked::forward(spec, &params.cells[idx], &m[idx], inp, h0d, c0d, block);
                    (state, keep.then_some(StepCache::Plain(cache)))
                } else if cfg.cell == CellKind::GruResetBefore {
                    // W_hn reads r*h of every unit: its own loop (gru_reset_before.rs).
                    let (state, cache) =
                        gru_reset_before::forward(spec, &params.cells[idx], packed.map(|p| &p[idx]), inp, h0d, block, keep);
                    (state, cache.map(StepCache::Plain))
                } else if cfg.proj_size > 0 {
                    let (state, cache) = projected::forward(spec, &params.cells[idx], inp, h0d, c0d, block, keep);
                    (state, cache.map(StepCache::Projected))
                } else {
                    let (state, cache) = direction::forward(spec, &params.cells[idx], packed.map(|p| &p[idx]), inp, h0d, c0d, block, keep);
                    (state, cache.map(StepCache::Plain))
                }
            };
            if nd == 2 {
                let b1 = blocks.pop().expect("two blocks");
                let b0 = blocks.pop().expect("two blocks");
                let (r0, r1) = rayon::join(|| run(0, b0), || run(1, b1));
                vec![r0, r1]
            } else {
                vec![run(0, blocks.pop().expect("one block"))]
            }
        };
        let mut dir_caches = Vec::with_capacity(nd);
        for (dir, (state, cache)) in results.into_iter().enumerate() {
            let idx = layer * nd + dir;
            h_n.index_axis_mut(Axis(0), idx).assign(&state.h);
            if let (Some(cn), Some(c)) = (c_n.as_mut(), state.c.as_ref()) {
                cn.index_axis_mut(Axis(0), idx).assign(c);
            }
            if let Some(c) = cache {
                dir_caches.push(c);
            }
        }
        if keep {
            let kept_input = match input.take() {
                Some(a) => a,
                None => {
                    let mut a = recycle::for_overwrite::<F>(x.nrows(), x.ncols());
                    a.assign(&x);
                    zero_padding(&mut a, layout, valid);
                    a
                }
            };
            caches.push((kept_input, dir_caches));
        }
        if let (Some((p, seed)), true) = (dropout, layer + 1 < cfg.num_layers) {
            let mask = dropout_mask::<F>(out.raw_dim(), p, seed.wrapping_add(layer as u64));
            ndarray::Zip::from(&mut out).and(&mask).for_each(|o, &m| *o = *o * m);
            masks.push(Some(mask));
        } else {
            masks.push(None);
        }
        if let Some(old) = input.replace(out) {
            recycle::give(old); // an inner layer's output, used up (kept copies were taken above)
        }
    }
    (input.expect("at least one layer"), h_n, c_n, caches, masks)
}

/// Each entry 0 with probability `p`, else 1/(1-p) (all 0 for `p` = 1).
fn dropout_mask<F: Float>(dim: ndarray::Ix2, p: f64, seed: u64) -> Array2<F> {
    let mut rng = crate::rng::SplitMix64::new(seed);
    let keep = if p < 1.0 { F::from_f64(1.0 / (1.0 - p)) } else { F::zero() };
    Array2::from_shape_simple_fn(dim, || if rng.next_f64() < p { F::zero() } else { keep })
}

fn zero_padding<F: Float>(a: &mut Array2<F>, layout: SeqLayout, valid: Validity<'_>) {
    for t in 0..layout.seq_len {
        for b in 0..layout.batch {
            if !valid.is_valid(t, b) {
                a.row_mut(layout.row(t, b)).fill(F::zero());
            }
        }
    }
}

#[allow(clippy::type_complexity)]
fn run_backward<F: Float>(
    cfg: &RnnConfig,
    params: &RnnParams<F>,
    grads: &mut RnnParams<F>,
    cache: ForwardCache<F>,
    dout: Option<ArrayView2<F>>,
    dhn: Option<ArrayView3<F>>,
    dcn: Option<ArrayView3<F>>,
) -> (Array2<F>, Array3<F>, Option<Array3<F>>) {
    let (hs, nd) = (cfg.state_size(), cfg.num_directions());
    let ForwardCache { layout, spans, layers, masks, gate_masks, input_masks, .. } = cache;
    let dropout_masks = Masks { gates: gate_masks.as_deref(), input: input_masks.as_deref() };
    let valid = Validity::new(spans.as_deref());
    let is_lstm = cfg.cell == CellKind::Lstm;
    let mut dh0 = Array3::zeros((cfg.num_states(), layout.batch, hs));
    let mut dc0 = is_lstm.then(|| Array3::zeros((cfg.num_states(), layout.batch, cfg.hidden_size)));

    // Gradient of the current layer's output, (N, D·H); None means zeros.
    let mut d_upper: Option<Array2<F>> = None;
    for (layer, (input, dir_caches)) in layers.into_iter().enumerate().rev() {
        // Through this layer's dropout: the gradient of its output before the mask.
        if let (Some(d), Some(m)) = (d_upper.as_mut(), masks[layer].as_ref()) {
            ndarray::Zip::from(d).and(m).for_each(|g, &k| *g = *g * k);
        }
        let d_out_view = match d_upper.as_ref() {
            Some(d) => Some(d.view()),
            None if layer == cfg.num_layers - 1 => dout,
            None => None,
        };
        let cell_grads = &mut grads.cells[layer * nd..(layer + 1) * nd];
        let run = |dir: usize, cache: StepCache<F>, g: &mut _| {
            let idx = layer * nd + dir;
            let spec = DirectionSpec { cell: cfg.cell, layout, valid, reverse: dir == 1, acts: cfg.non_default_activations() };
            let cols = dir * hs..(dir + 1) * hs;
            let d_out = d_out_view.map(|d| d.slice_move(s![.., cols]));
            let (dh, dc) = (dhn.map(|d| d.index_axis_move(Axis(0), idx)), dcn.map(|d| d.index_axis_move(Axis(0), idx)));
            let own = dropout_masks.own_input(layer, dir, input.view(), layout);
            let input = own.as_ref().unwrap_or(&input);
            match cache {
                StepCache::Plain(c) if gate_masks.is_some() => {
                    let m = &gate_masks.as_ref().expect("checked")[idx];
                    masked::backward(spec, &params.cells[idx], g, m, input.view(), c, d_out, dh, dc)
                }
                StepCache::Plain(c) if cfg.cell == CellKind::GruResetBefore => {
                    gru_reset_before::backward(spec, &params.cells[idx], g, input.view(), c, d_out, dh)
                }
                StepCache::Plain(c) => direction::backward(spec, &params.cells[idx], g, input.view(), c, d_out, dh, dc),
                StepCache::Projected(c) => projected::backward(spec, &params.cells[idx], g, input.view(), c, d_out, dh, dc),
            }
        };
        let mut caches = dir_caches.into_iter();
        let results = if nd == 2 {
            let (g0, g1) = cell_grads.split_at_mut(1);
            let (c0, c1) = (caches.next().expect("fwd"), caches.next().expect("rev"));
            let (r0, r1) = rayon::join(|| run(0, c0, &mut g0[0]), || run(1, c1, &mut g1[0]));
            vec![r0, r1]
        } else {
            vec![run(0, caches.next().expect("fwd"), &mut cell_grads[0])]
        };
        // d input (N, I_l) = Σ_dir dG_dir (N, G·H) · W_ih_dir (G·H, I_l)
        // The first direction's product overwrites it, unless a dropout mask
        // makes every direction add its part.
        let masked = gate_masks.is_some() || (layer == 0 && input_masks.is_some());
        let mut d_input = if masked {
            recycle::zeros::<F>(input.nrows(), input.ncols())
        } else {
            recycle::for_overwrite::<F>(input.nrows(), input.ncols())
        };
        for (dir, r) in results.iter().enumerate() {
            let idx = layer * nd + dir;
            let own_mask = input_masks.as_ref().filter(|_| layer == 0).map(|m| m[dir].view().insert_axis(Axis(0)));
            match gate_masks.as_ref().and_then(|m| m[idx].input.as_ref()).map(|m| m.view()).or(own_mask) {
                // One gate-wide mask (`dropout` alone) is one block of G·H columns.
                Some(m) => masked::add_input_grad(r.d_gates.view(), params.cells[idx].weight_ih.view(), m, layout, &mut d_input),
                None => gemm(r.d_gates.view(), params.cells[idx].weight_ih.view(), dir > 0, d_input.view_mut()),
            }
            dh0.index_axis_mut(Axis(0), idx).assign(&r.dh0);
            if let (Some(d), Some(r)) = (dc0.as_mut(), r.dc0.as_ref()) {
                d.index_axis_mut(Axis(0), idx).assign(r);
            }
        }
        for r in results {
            recycle::give(r.d_gates);
        }
        recycle::give(input);
        if let Some(old) = d_upper.replace(d_input) {
            recycle::give(old);
        }
    }
    (d_upper.expect("at least one layer"), dh0, dc0)
}
