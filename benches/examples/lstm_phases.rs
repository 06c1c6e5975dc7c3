//! Where the time of a recurrent layer goes, in CPU time (the machine may be
//! shared): the whole forward and forward+backward next to the GEMMs they are
//! made of, each timed alone at the layer's shapes, with GFLOP/s and % of the
//! measured one-core FMA peak.
//!
//! `cargo run --release -p rustrnn-benches --example lstm_phases -- [T B I H [reps]]`
//! (default: the `rustrnn.torch.convert` workload, T=200 B=64 I=128 H=128).
//! One thread; `RUSTRNN_NUM_THREADS` overrides.

use ndarray::{Array2, Array3};
use rustrnn_benches::{best, random2};
use rustrnn_core::kernels::cells;
use rustrnn_core::kernels::gemm::{gemm, gemm_packed, PackedB, PackedGates};
use rustrnn_core::kernels::{isa, peak};
use rustrnn_core::{threads, CellKind, Recurrent, RnnConfig};

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("sizes are numbers")).collect();
    let (t, b, i, h) = if args.len() >= 4 { (args[0], args[1], args[2], args[3]) } else { (200, 64, 128, 128) };
    let reps = args.get(4).copied().unwrap_or(5);
    if std::env::var_os("RUSTRNN_NUM_THREADS").is_none() {
        threads::set_num_threads(1).expect("one thread");
    }
    // On a shared machine the wall-clock peak measurement is meaningless: PEAK=97 gives it.
    let peak = std::env::var("PEAK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| peak::fma_peak_gflops(isa::active(), true, 200, 3).unwrap_or(f64::NAN));
    println!(
        "LSTM T={t} B={b} I={i} H={h}, {} thread(s), path {}, FMA peak {peak:.1} GFLOP/s (CPU time, best of {reps})",
        threads::num_threads(),
        isa::active()
    );
    let g = 4 * h;
    let n = t * b;
    let report = |what: &str, secs: f64, flops: f64| {
        let gf = flops / secs * 1e-9;
        println!("{what:<44} {:>9.2} ms {:>7.1} GFLOP/s {:>5.0}% peak", secs * 1e3, gf, 100.0 * gf / peak);
    };

    let mut layer = Recurrent::<f32>::new(RnnConfig::new(CellKind::Lstm, i, h), 7).expect("valid config");
    let x = Array3::from_shape_fn((b, t, i), |(bb, tt, ii)| (((bb * 31 + tt * 7 + ii) % 17) as f32 - 8.0) * 0.05);
    let dout = Array3::<f32>::ones((b, t, h));
    let fwd_flops = 2.0 * (g * n * (i + h)) as f64;
    if let Some(loops) = std::env::var("LOOP").ok().and_then(|v| v.parse::<usize>().ok()) {
        // For a sampling profiler: forward+backward only, `loops` times.
        layer.set_training(true);
        for _ in 0..loops {
            threads::install(|| {
                layer.forward(x.view(), None, None, None).expect("forward");
                layer.backward(Some(dout.view()), None, None).expect("backward")
            });
        }
        return;
    }
    layer.set_training(false);
    let s = best(reps, || {
        threads::install(|| layer.forward(x.view(), None, None, None).expect("forward"));
    });
    report("layer forward (eval)", s, fwd_flops);
    layer.set_training(true);
    let s_fwd_train = best(reps, || {
        threads::install(|| layer.forward(x.view(), None, None, None).expect("forward"));
    });
    report("layer forward (training, keeps cache)", s_fwd_train, fwd_flops);
    let s = best(reps, || {
        threads::install(|| {
            layer.forward(x.view(), None, None, None).expect("forward");
            layer.backward(Some(dout.view()), None, None).expect("backward")
        });
    });
    report("layer forward+backward", s, 3.0 * fwd_flops);
    report("  of which backward", s - s_fwd_train, 2.0 * fwd_flops);

    // The GEMMs of one pass, alone.
    let xs = random2(n, i, 1);
    let w_ih = random2(g, i, 2);
    let w_hh = random2(g, h, 3);
    let hb = random2(b, h, 4);
    let dg = random2(n, g, 5);
    let hp = random2(n, h, 6);
    let mut gates = Array2::<f32>::zeros((n, g));
    let s = best(reps, || threads::install(|| gemm(xs.view(), w_ih.t(), true, gates.view_mut())));
    report(&format!("fwd x·W_ihᵀ ({n}x{i}x{g})"), s, 2.0 * (n * i * g) as f64);
    let packed = PackedGates::new(w_hh.view(), 4);
    let mut gh =
        Array2::<f32>::zeros((b, 4 * packed.unit_panels() * <f32 as rustrnn_core::kernels::gemm::GemmElem>::nr_for(isa::active())));
    let panels = packed.unit_panels();
    let s = best(reps, || {
        for _ in 0..t {
            packed.product(hb.view(), 0..panels, gh.view_mut());
        }
    });
    report(&format!("fwd h·W_hhᵀ x T ({b}x{h}x{g} x {t})"), s, 2.0 * (t * b * h * g) as f64);
    // The element-wise part of the forward loop alone: the LSTM cell update
    // of every row of every step, on gates laid out as in the layer.
    let (mut cell_x, cell_gh) = (random2(n, g, 8), random2(b, g, 9));
    let (mut cell_c, mut cell_h) = (Array2::<f32>::zeros((b, h)), Array2::<f32>::zeros((b, h)));
    let s = best(reps, || {
        for step in 0..t {
            for r in 0..b {
                cells::lstm_forward(
                    cell_x.row_mut(step * b + r).into_slice().expect("contiguous"),
                    h,
                    cell_gh.row(r).to_slice().expect("contiguous"),
                    h,
                    cell_c.row_mut(r).into_slice().expect("contiguous"),
                    cell_h.row_mut(r).into_slice().expect("contiguous"),
                );
            }
        }
    });
    println!("{:<44} {:>9.2} ms", format!("fwd LSTM cell updates x T ({b}x{h} x {t})"), s * 1e3);
    let mut dh = Array2::<f32>::zeros((b, h));
    let dgb = random2(b, g, 7);
    let w_hh_packed = PackedB::new(w_hh.view());
    let s = best(reps, || {
        for _ in 0..t {
            gemm_packed(dgb.view(), &w_hh_packed, 0..w_hh_packed.panels(), true, dh.view_mut());
        }
    });
    report(&format!("bwd dG·W_hh x T, packed ({b}x{g}x{h} x {t})"), s, 2.0 * (t * b * h * g) as f64);
    let s = best(reps, || {
        for _ in 0..t {
            threads::install(|| gemm(dgb.view(), w_hh.view(), true, dh.view_mut()));
        }
    });
    report(&format!("bwd dG·W_hh x T, unpacked ({b}x{g}x{h} x {t})"), s, 2.0 * (t * b * h * g) as f64);
    let mut dw_ih = Array2::<f32>::zeros((g, i));
    let s = best(reps, || threads::install(|| gemm(dg.t(), xs.view(), true, dw_ih.view_mut())));
    report(&format!("bwd dW_ih = dGᵀ·x ({g}x{n}x{i})"), s, 2.0 * (n * i * g) as f64);
    let mut dw_hh = Array2::<f32>::zeros((g, h));
    let s = best(reps, || threads::install(|| gemm(dg.t(), hp.view(), true, dw_hh.view_mut())));
    report(&format!("bwd dW_hh = dGᵀ·h_prev ({g}x{n}x{h})"), s, 2.0 * (n * h * g) as f64);
    let mut dx = Array2::<f32>::zeros((n, i));
    let s = best(reps, || threads::install(|| gemm(dg.view(), w_ih.view(), false, dx.view_mut())));
    report(&format!("bwd dx = dG·W_ih ({n}x{g}x{i})"), s, 2.0 * (n * i * g) as f64);
}
