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
    // WALL=1: wall-clock time instead (for thread scaling, on an idle machine).
    let wall = std::env::var_os("WALL").is_some();
    let now = || if wall { std::time::Instant::now().elapsed().as_secs_f64() + epoch_seconds() } else { cpu_seconds() };
    f();
    (0..reps)
        .map(|_| {
            let t0 = now();
            f();
            now() - t0
        })
        .fold(f64::INFINITY, f64::min)
}

/// Seconds since the Unix epoch (wall clock).
fn epoch_seconds() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// A reproducible (rows × cols) matrix of values in [-1, 1).
pub fn random2(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
    let mut rng = SplitMix64::new(seed);
    Array2::from_shape_fn((rows, cols), |_| rng.uniform(-1.0, 1.0) as f32)
}
