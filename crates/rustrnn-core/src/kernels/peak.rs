//! This CPU's fused multiply-add peak on one core, per kernel path: the
//! yardstick for the GEMM and layer throughput in the benchmarks.
//!
//! Twelve independent accumulator vectors (enough to cover FMA latency times
//! the FMA units of current x86 cores), each updated with `acc = acc·m + a`
//! in a tight loop: 2·LANES flops per FMA.

use crate::kernels::isa::Isa;
use std::time::Instant;

/// Measured GFLOP/s of one thread doing nothing but FMAs on `isa`'s vectors
/// (`f32` or `f64`), best of `repeats` runs of about `millis` ms each.
/// `None` for the portable path (no FMA kernel to measure) or a path this CPU
/// lacks.
pub fn fma_peak_gflops(isa: Isa, f32: bool, millis: u64, repeats: usize) -> Option<f64> {
    if isa == Isa::Portable || !isa.is_supported() {
        return None;
    }
    let run = |iters: u64| -> (f64, f64) {
        let t = Instant::now();
        let flops = imp::run(isa, f32, iters);
        (flops, t.elapsed().as_secs_f64())
    };
    // Calibrate the iteration count to the requested duration.
    let mut iters = 1u64 << 16;
    loop {
        let (_, secs) = run(iters);
        if secs * 1000.0 >= millis as f64 / 4.0 || iters > 1 << 40 {
            iters = ((iters as f64) * millis as f64 / (secs * 1000.0).max(1e-3)).max(1.0) as u64;
            break;
        }
        iters *= 4;
    }
    (0..repeats.max(1)).map(|_| run(iters)).map(|(flops, secs)| flops / secs / 1e9).reduce(f64::max)
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use crate::kernels::isa::Isa;
    use crate::kernels::simd::Simd;
    use std::arch::x86_64::*;

    const CHAINS: usize = 12;

    #[inline(always)]
    unsafe fn chains<V: Simd>(iters: u64, m: V::E, a: V::E) -> f64 {
        let (mv, av) = (V::splat(m), V::splat(a));
        let mut acc = [V::zero(); CHAINS];
        for _ in 0..iters {
            for r in acc.iter_mut() {
                *r = r.fmadd(mv, av);
            }
        }
        // Keep the results alive.
        let mut sink = V::zero();
        for r in acc {
            sink = sink.add(r);
        }
        std::hint::black_box(sink.sum());
        (iters * CHAINS as u64 * 2 * V::LANES as u64) as f64
    }

    macro_rules! entry {
        ($name:ident, $t:ty, $v:ty, $features:literal) => {
            #[target_feature(enable = $features)]
            unsafe fn $name(iters: u64) -> f64 {
                // acc·m + a with m slightly below 1 converges: no overflow, no subnormals.
                chains::<$v>(iters, std::hint::black_box(0.999 as $t), std::hint::black_box(0.001 as $t))
            }
        };
    }
    entry!(f32_avx2, f32, __m256, "avx2,fma");
    entry!(f64_avx2, f64, __m256d, "avx2,fma");
    entry!(f32_avx512, f32, __m512, "avx512f,avx2,fma");
    entry!(f64_avx512, f64, __m512d, "avx512f,avx2,fma");

    /// Flops done.
    pub fn run(isa: Isa, f32: bool, iters: u64) -> f64 {
        assert!(isa.is_supported() && isa != Isa::Portable);
        // SAFETY: the CPU supports the path (asserted above).
        unsafe {
            match (isa, f32) {
                (Isa::Avx512, true) => f32_avx512(iters),
                (Isa::Avx512, false) => f64_avx512(iters),
                (_, true) => f32_avx2(iters),
                (_, false) => f64_avx2(iters),
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod imp {
    pub fn run(_: super::Isa, _: bool, _: u64) -> f64 {
        unreachable!("only x86_64 has non-portable paths")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::isa;

    #[test]
    fn measures_something_on_each_vector_path() {
        assert_eq!(fma_peak_gflops(Isa::Portable, true, 1, 1), None);
        for isa in isa::supported().into_iter().filter(|&i| i != Isa::Portable) {
            for f32 in [true, false] {
                let g = fma_peak_gflops(isa, f32, 5, 1).unwrap();
                assert!(g.is_finite() && g > 0.0, "{isa} {f32}: {g}");
            }
        }
    }
}
