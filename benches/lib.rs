//! The package exists for its `kernels` benchmark (`cargo bench -p rustrnn-benches`); this library holds
//! what its examples (`benches/examples/*.rs`, timed in CPU time) share.

use ndarray::Array2;
use rustrnn_core::rng::SplitMix64;

#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}

extern "C" {
    fn clock_gettime(clk: i32, ts: *mut Timespec) -> i32;
}

/// CPU seconds of this process (on a shared machine wall time is not ours).
pub fn cpu_seconds() -> f64 {
    let mut ts = Timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe {
        clock_gettime(2 /* CLOCK_PROCESS_CPUTIME_ID */, &mut ts)
    };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Best CPU seconds of `reps` runs of `f` (after one warm-up).
pub fn best(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    (0..reps)
        .map(|_| {
            let t0 = cpu_seconds();
            f();
            cpu_seconds() - t0
        })
        .fold(f64::INFINITY, f64::min)
}

/// A reproducible (rows × cols) matrix of values in [-1, 1).
pub fn random2(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
    let mut rng = SplitMix64::new(seed);
    Array2::from_shape_fn((rows, cols), |_| rng.uniform(-1.0, 1.0) as f32)
}
