//! Where the time of a batch-1 layer goes, in CPU time of this process (the
//! machine may be shared): packing the weights (what a training forward pays
//! per call), the recurrent step product alone, and one layer call.
//!
//! `cargo run --release -p rustrnn-benches --example batch1_step -- [H T reps]`
//! (default H=256 T=150: the LSTM batch-1 row of `compare_torch.py`);
//! `MODE=eval|train|fb` (`gru_eval`, ... for a GRU) times one layer call
//! instead (I = H; `fb` is forward+backward), on one thread unless
//! `RUSTRNN_NUM_THREADS` says otherwise.

use ndarray::{Array2, Array3};
use rustrnn_benches::{best, random2};
use rustrnn_core::kernels::gemm::{GemmElem, PackedB, PackedGates};
use rustrnn_core::kernels::isa;
use rustrnn_core::{threads, CellKind, Recurrent, RnnConfig};

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("sizes are numbers")).collect();
    let h = args.first().copied().unwrap_or(256);
    let t = args.get(1).copied().unwrap_or(150);
    let reps = args.get(2).copied().unwrap_or(20);
    if std::env::var_os("RUSTRNN_NUM_THREADS").is_none() {
        threads::set_num_threads(1).expect("one thread");
    }
    if let Ok(mode) = std::env::var("MODE") {
        let cell = if mode.starts_with("gru") { CellKind::Gru } else { CellKind::Lstm };
        let mut layer = Recurrent::<f32>::new(RnnConfig::new(cell, h, h), 7).expect("valid config");
        let x = Array3::from_shape_fn((1, t, h), |(_, tt, ii)| (((tt * 7 + ii) % 17) as f32 - 8.0) * 0.05);
        let dout = Array3::<f32>::ones((1, t, h));
        layer.set_training(!mode.ends_with("eval"));
        let s = best(reps, || {
            threads::install(|| {
                layer.forward(x.view(), None, None, None).expect("forward");
                if mode.ends_with("fb") {
                    layer.backward(Some(dout.view()), None, None).expect("backward");
                }
            });
        });
        println!("{mode} H={h} T={t}: {:.3} ms per call (CPU time, best of {reps})", s * 1e3);
        return;
    }
    println!("H={h} T={t}, path {}, CPU time, best of {reps}", isa::active());
    let (w_hh, w_ih) = (random2(4 * h, h, 3), random2(4 * h, h, 5));
    let s = best(reps, || {
        std::hint::black_box(PackedGates::new(w_hh.view(), 4));
    });
    println!("pack W_hh by gates (forward)   {:8.3} ms", s * 1e3);
    let s = best(reps, || {
        std::hint::black_box(PackedB::new(w_ih.t()));
    });
    println!("pack W_ihᵀ (input projection)  {:8.3} ms", s * 1e3);
    let s = best(reps, || {
        std::hint::black_box(PackedB::new(w_hh.view()));
    });
    println!("pack W_hh (backward)           {:8.3} ms", s * 1e3);
    let packed = PackedGates::new(w_hh.view(), 4);
    let panels = packed.unit_panels();
    let hb = random2(1, h, 4);
    let mut gh = Array2::<f32>::zeros((1, 4 * panels * f32::nr_for(isa::active())));
    let s = best(reps, || {
        for _ in 0..t {
            packed.product(hb.view(), 0..panels, gh.view_mut());
        }
    });
    println!("step h·W_hhᵀ x T               {:8.3} ms  {:6.2} us/step", s * 1e3, s * 1e6 / t as f64);
}
