//! Micro-benchmarks of the Rust core: the GEMM wrapper, the activation
//! kernels, and whole recurrent layers (forward, forward+backward).
//!
//! Run with `cargo bench -p rustrnn-core` (filter: `cargo bench -p rustrnn-core -- lstm`).
//! Everything runs in rustrnn's own thread pool with `RUSTRNN_NUM_THREADS`
//! threads, 1 when unset, so numbers compare with the single-core peak.
//! Throughput columns count FLOPs as items: `Gitem/s` reads as GFLOP/s
//! (for the activations, as elements per second).

use divan::counter::ItemsCount;
use divan::Bencher;
use ndarray::{Array2, Array3};
use rustrnn_core::kernels::activations::{sigmoid_f32, tanh_f32};
use rustrnn_core::kernels::gemm::{gemm, GemmElem, PackedGates};
use rustrnn_core::rng::SplitMix64;
use rustrnn_core::{threads, CellKind, Nonlinearity, Recurrent, RnnConfig};
use std::fmt;

fn main() {
    if std::env::var_os("RUSTRNN_NUM_THREADS").is_none() {
        threads::set_num_threads(1).expect("one thread");
    }
    println!("rustrnn threads: {}", threads::num_threads());
    divan::main();
}

fn random_vec(len: usize, low: f64, high: f64, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed);
    (0..len).map(|_| rng.uniform(low, high) as f32).collect()
}

fn random2(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
    Array2::from_shape_vec((rows, cols), random_vec(rows * cols, -1.0, 1.0, seed)).expect("length matches")
}

// ----- GEMM -----------------------------------------------------------------------------------

/// `C (m×n) += A (m×k) · Wᵀ` with `W` stored (n×k), as the layers multiply by
/// their (G·H × I) weights.
#[derive(Clone, Copy)]
struct GemmShape {
    what: &'static str,
    m: usize,
    k: usize,
    n: usize,
}

impl fmt::Display for GemmShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}x{}x{}", self.what, self.m, self.k, self.n)
    }
}

const GEMM_SHAPES: [GemmShape; 4] = [
    // LSTM T=50 B=32 I=128 H=256: input projection of all steps at once,
    GemmShape { what: "x·W_ih", m: 1600, k: 128, n: 1024 },
    // the per-step recurrent product,
    GemmShape { what: "h·W_hh", m: 32, k: 256, n: 1024 },
    // the same at batch 1 (a matrix-vector product),
    GemmShape { what: "h·W_hh", m: 1, k: 256, n: 1024 },
    // and a DeepBench-size step (LSTM H=1024, B=64).
    GemmShape { what: "h·W_hh", m: 64, k: 1024, n: 4096 },
];

#[divan::bench(args = GEMM_SHAPES)]
fn gemm_f32(bencher: Bencher, s: GemmShape) {
    let a = random2(s.m, s.k, 1);
    let w = random2(s.n, s.k, 2);
    let mut c = Array2::<f32>::zeros((s.m, s.n));
    bencher.counter(ItemsCount::new(2 * s.m * s.k * s.n)).bench_local(|| threads::install(|| gemm(a.view(), w.t(), true, c.view_mut())));
}

/// The recurrent step as the layers run it: `W_hh` packed once (gates of each
/// unit block side by side), then one product per step for all units.
#[divan::bench(args = [(1, 256), (32, 256), (64, 512), (64, 1024)])]
fn lstm_step_product_f32(bencher: Bencher, (batch, hidden): (usize, usize)) {
    let h = random2(batch, hidden, 3);
    let w = random2(4 * hidden, hidden, 4);
    let packed = PackedGates::new(w.view(), 4);
    let panels = packed.unit_panels();
    let mut c = Array2::<f32>::zeros((batch, 4 * panels * <f32 as GemmElem>::NR));
    bencher.counter(ItemsCount::new(2 * batch * hidden * 4 * hidden)).bench_local(|| packed.product(h.view(), 0..panels, c.view_mut()));
}

// ----- activations ----------------------------------------------------------------------------

const ACT_LENS: [usize; 2] = [256, 4096];

/// Each call gets a fresh copy of inputs spread over the interesting range
/// (the copy is not timed), so repeated in-place calls do not drift.
fn bench_activation(bencher: Bencher, len: usize, kernel: fn(&mut [f32])) {
    let x = random_vec(len, -8.0, 8.0, 3);
    bencher.counter(ItemsCount::new(len)).with_inputs(|| x.clone()).bench_local_refs(|v| kernel(v));
}

#[divan::bench(args = ACT_LENS)]
fn sigmoid(bencher: Bencher, len: usize) {
    bench_activation(bencher, len, sigmoid_f32);
}

#[divan::bench(args = ACT_LENS)]
fn tanh(bencher: Bencher, len: usize) {
    bench_activation(bencher, len, tanh_f32);
}

// ----- recurrent layers -----------------------------------------------------------------------

/// One layer, one direction, batch-first, T=50 I=128 H=256.
#[derive(Clone, Copy)]
struct Layer {
    cell: CellKind,
    batch: usize,
}

const T: usize = 50;
const I: usize = 128;
const H: usize = 256;

impl Layer {
    /// Forward FLOPs of the matrix products: 2·G·H·B·T·(I + H).
    fn forward_flops(&self) -> usize {
        2 * self.cell.gates() * H * self.batch * T * (I + H)
    }

    fn build(&self, training: bool) -> (Recurrent<f32>, Array3<f32>) {
        let mut layer = Recurrent::<f32>::new(RnnConfig::new(self.cell, I, H), 7).expect("valid config");
        layer.set_training(training);
        let x = Array3::from_shape_vec((self.batch, T, I), random_vec(self.batch * T * I, -1.0, 1.0, 4)).expect("length matches");
        (layer, x)
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} T={T} B={} I={I} H={H}", self.cell.name(), self.batch)
    }
}

const LAYERS: [Layer; 6] = [
    Layer { cell: CellKind::Lstm, batch: 32 },
    Layer { cell: CellKind::Lstm, batch: 1 },
    Layer { cell: CellKind::Gru, batch: 32 },
    Layer { cell: CellKind::Gru, batch: 1 },
    Layer { cell: CellKind::Rnn(Nonlinearity::Tanh), batch: 32 },
    Layer { cell: CellKind::Rnn(Nonlinearity::Tanh), batch: 1 },
];

/// Eval mode: no cache is kept.
#[divan::bench(args = LAYERS, max_time = 3)]
fn layer_forward(bencher: Bencher, l: Layer) {
    let (mut layer, x) = l.build(false);
    bencher.counter(ItemsCount::new(l.forward_flops())).bench_local(|| layer.forward(x.view(), None, None, None).expect("forward"));
}

/// Training step: forward keeping the cache, then BPTT from `dout = 1`;
/// counted as 3× the forward FLOPs.
#[divan::bench(args = LAYERS, max_time = 3)]
fn layer_forward_backward(bencher: Bencher, l: Layer) {
    let (mut layer, x) = l.build(true);
    let dout = Array3::<f32>::ones((l.batch, T, H));
    bencher.counter(ItemsCount::new(3 * l.forward_flops())).bench_local(|| {
        layer.forward(x.view(), None, None, None).expect("forward");
        layer.backward(Some(dout.view()), None, None).expect("backward")
    });
}
