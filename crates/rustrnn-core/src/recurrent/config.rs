//! The configuration of a recurrent layer stack, as PyTorch's `nn.RNN`/`nn.LSTM`/`nn.GRU` take it.

use crate::error::{Result, RnnError};
pub use crate::kernels::{CellActivations, GateFn, Nonlinearity};
use crate::memory;
use crate::names::Names;

/// The recurrent cell, with PyTorch's gate order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    /// `h' = act(W_ih x + b_ih + W_hh h + b_hh)`.
    Rnn(Nonlinearity),
    /// Gates i, f, g, o: `c' = f*c + i*g`, `h' = o*tanh(c')`.
    Lstm,
    /// Gates r, z, n: `n = tanh(W_in x + b_in + r*(W_hn h + b_hn))`, `h' = (1-z)*n + z*h`.
    Gru,
    /// Gates r, z, n with the reset gate applied to the state before the
    /// recurrent product: `n = tanh(W_in x + b_in + W_hn (r*h) + b_hn)` —
    /// Keras' `GRU(reset_after=False)`, ONNX's `linear_before_reset=0`.
    GruResetBefore,
}

impl CellKind {
    /// Number of gate blocks of `hidden_size` rows in each weight matrix.
    pub fn gates(self) -> usize {
        match self {
            CellKind::Rnn(_) => 1,
            CellKind::Lstm => 4,
            CellKind::Gru | CellKind::GruResetBefore => 3,
        }
    }

    pub fn has_cell_state(self) -> bool {
        self == CellKind::Lstm
    }

    pub fn name(self) -> &'static str {
        match self {
            CellKind::Rnn(_) => "RNN",
            CellKind::Lstm => "LSTM",
            CellKind::Gru | CellKind::GruResetBefore => "GRU",
        }
    }
}

/// The cell names of `Seq2Seq(cell=...)` and the `nn` modules (PyTorch's
/// `nn.RNN` is `rnn`, Keras' `SimpleRNN` is `simple_rnn`; both tanh).
impl Names for CellKind {
    const WHAT: &'static str = "cell";
    const TABLE: &'static [(&'static str, Self)] = &[
        ("lstm", CellKind::Lstm),
        ("gru", CellKind::Gru),
        ("simple_rnn", CellKind::Rnn(Nonlinearity::Tanh)),
        ("rnn", CellKind::Rnn(Nonlinearity::Tanh)),
    ];
}

crate::from_str_by_names!(CellKind);

/// Everything that fixes the parameter shapes and the data layout of a stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RnnConfig {
    pub cell: CellKind,
    pub input_size: usize,
    pub hidden_size: usize,
    pub num_layers: usize,
    pub bidirectional: bool,
    pub bias: bool,
    /// Input and output as (batch, seq, feature) when true, (seq, batch, feature) when false.
    pub batch_first: bool,
    /// LSTM only: when positive, each output and the recurrent state `h` is
    /// projected to this many values (`h = W_hr (o * tanh(c))`), PyTorch's `proj_size`.
    pub proj_size: usize,
    /// Keras's `activation`/`recurrent_activation` (tanh/sigmoid by default:
    /// the fused kernels; any other pair: `kernels::cells_any_activation`).
    pub activations: CellActivations,
}

impl RnnConfig {
    pub fn new(cell: CellKind, input_size: usize, hidden_size: usize) -> Self {
        RnnConfig {
            cell,
            input_size,
            hidden_size,
            num_layers: 1,
            bidirectional: false,
            bias: true,
            batch_first: true,
            proj_size: 0,
            activations: CellActivations::DEFAULT,
        }
    }

    /// The activations when not tanh/sigmoid (which take the fused kernels).
    pub fn non_default_activations(&self) -> Option<CellActivations> {
        (!self.activations.is_default()).then_some(self.activations)
    }

    pub fn validate(&self) -> Result<()> {
        for (name, v) in [("input_size", self.input_size), ("hidden_size", self.hidden_size), ("num_layers", self.num_layers)] {
            if v == 0 {
                return Err(RnnError::value(format!("{name}: expected a positive integer, got 0")));
            }
        }
        if self.proj_size > 0 && self.cell != CellKind::Lstm {
            return Err(RnnError::value(format!(
                "proj_size: only an LSTM has a projection, got proj_size {} for a {}",
                self.proj_size,
                self.cell.name()
            )));
        }
        if self.proj_size > 0 && !self.activations.is_default() {
            return Err(RnnError::value("proj_size: an LSTM with a projection has tanh/sigmoid activations only"));
        }
        if self.proj_size > 0 && self.proj_size >= self.hidden_size {
            return Err(RnnError::value(format!(
                "proj_size: expected less than hidden_size ({}), got {}",
                self.hidden_size, self.proj_size
            )));
        }
        self.param_elements().map(|_| ())
    }

    /// Elements of all parameters, overflow-checked: an error naming the
    /// argument when a size cannot exist (e.g. gates × hidden_size wraps).
    pub fn param_elements(&self) -> Result<usize> {
        let g = memory::mul("hidden_size", self.cell.gates(), self.hidden_size)?;
        let d = self.num_directions();
        let wide = memory::mul("hidden_size", d, self.hidden_size)?;
        let first = memory::elements("input_size", &[g, self.input_size.saturating_add(self.hidden_size).saturating_add(2)])?;
        let deeper = memory::elements("hidden_size", &[g, wide.saturating_add(self.hidden_size).saturating_add(2)])?;
        let per_dir = memory::elements("num_layers", &[deeper, self.num_layers - 1])?;
        memory::total("num_layers", &[memory::mul("num_layers", first, d)?, memory::mul("num_layers", per_dir, d)?])
    }

    /// Bytes one forward allocates for `rows` = batch × steps (outputs, gate
    /// pre-activations, and when `keep` the per-layer cache for backward).
    pub fn forward_bytes(&self, rows: usize, elem_size: usize, keep: bool) -> Result<usize> {
        let what = "x (batch x sequence length)";
        let per_row = memory::total(what, &[self.gate_size() * 2, self.hidden_size * 4, self.output_size()])?;
        let layers = if keep { self.num_layers } else { 1 };
        memory::bytes(what, &[rows, per_row, self.num_directions(), layers], elem_size)
    }

    /// 2 for a bidirectional stack, else 1.
    pub fn num_directions(&self) -> usize {
        if self.bidirectional {
            2
        } else {
            1
        }
    }

    /// Rows of every weight matrix: gates × hidden.
    pub fn gate_size(&self) -> usize {
        self.cell.gates() * self.hidden_size
    }

    /// Size of the recurrent state `h` and of each direction's output: `proj_size` when set, else `hidden_size`.
    pub fn state_size(&self) -> usize {
        if self.proj_size > 0 {
            self.proj_size
        } else {
            self.hidden_size
        }
    }

    /// Features entering layer `layer`.
    pub fn layer_input_size(&self, layer: usize) -> usize {
        if layer == 0 {
            self.input_size
        } else {
            self.num_directions() * self.state_size()
        }
    }

    /// Features of the output sequence.
    pub fn output_size(&self) -> usize {
        self.num_directions() * self.state_size()
    }

    /// Leading extent of `h0`, `hn`, `c0`, `cn`.
    pub fn num_states(&self) -> usize {
        self.num_layers * self.num_directions()
    }
}
