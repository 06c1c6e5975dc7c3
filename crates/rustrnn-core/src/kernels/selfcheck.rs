//! A quick check of one kernel path against the portable kernels, on a small
//! fixed problem, run once before a path that the test suite may never have
//! exercised on this machine (AVX-512) is used for real.

use super::activations::{exp_f32_on, sigmoid_f32_on, tanh_f32_on};
use super::gemm::{ATile, GemmElem, MR};
use super::gemv::gemv_on;
use super::isa::{self, Isa};

/// Makes [`check`] run before AVX-512 is first used (see `kernels::isa`).
pub fn register() {
    isa::register_self_check(check);
}

/// `Ok` when `isa` agrees with the portable kernels: the GEMM micro-kernel
/// (f32 and f64, every row count), the f32 activations and the f32 GEMV.
pub fn check(isa: Isa) -> Result<(), String> {
    if !isa.is_supported() {
        return Err(format!("{isa} is not supported by this CPU"));
    }
    gemm::<f32>(isa, |v| v as f32, |v| v as f64, 1e-5)?;
    gemm::<f64>(isa, |v| v, |v| v, 1e-13)?;
    activations(isa)?;
    gemv(isa)
}

fn value(i: usize, salt: usize) -> f64 {
    ((i * 7919 + salt * 104_729) % 211) as f64 / 105.0 - 1.0
}

fn gemm<F: GemmElem>(isa: Isa, to: impl Fn(f64) -> F, back: impl Fn(F) -> f64, tol: f64) -> Result<(), String> {
    let kc = 37;
    let nr = F::nr_for(isa);
    let b: Vec<F> = (0..kc * nr).map(|i| to(value(i, 1))).collect();
    for m in 1..=MR {
        let a: Vec<F> = (0..kc * m).map(|i| to(value(i, 2))).collect();
        let tile = ATile { ptr: a.as_ptr(), rs: 1, cs: m };
        for (cols, accumulate) in [(nr, false), (nr, true), (nr / 2 + 1, true)] {
            // Each path reads its own panel width; compare the first `cols`
            // columns of B (same values) in panels of `nr` and `nr_for(portable)`.
            let run = |path: Isa| {
                let width = F::nr_for(path);
                let panels = cols.div_ceil(width);
                let ldc = panels * width;
                let mut c: Vec<F> = (0..m * ldc).map(|i| to(value((i / ldc) * 1000 + i % ldc, 3))).collect();
                for p in 0..panels {
                    let column = |i: usize| p * width + i % width;
                    let pb: Vec<F> =
                        (0..kc * width).map(|i| if column(i) < nr { b[(i / width) * nr + column(i)] } else { to(0.0) }).collect();
                    let n = width.min(cols - p * width);
                    // SAFETY: a is m × kc packed, pb holds kc·width values, c is m × ldc.
                    unsafe { F::kernel_on(path, m, n, kc, tile, pb.as_ptr(), c.as_mut_ptr().add(p * width), ldc, accumulate) };
                }
                (0..m).flat_map(|i| (0..cols).map(move |j| i * ldc + j)).map(|at| c[at]).collect::<Vec<F>>()
            };
            let (got, want) = (run(isa), run(Isa::Portable));
            for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
                let (g, w) = (back(g), back(w));
                let close = (g - w).abs() <= tol * (1.0 + w.abs()); // false for NaN
                if !close {
                    return Err(format!("{} GEMM m={m} n={cols} element {i}: {g} vs {w}", std::any::type_name::<F>()));
                }
            }
        }
    }
    Ok(())
}

fn activations(isa: Isa) -> Result<(), String> {
    let xs: Vec<f32> = (0..301).map(|i| (i as f32 - 150.0) * 0.37).chain([0.0, -0.0, 1e-30, 100.0, -100.0]).collect();
    type Activation = fn(Isa, &mut [f32]);
    let funcs: [(&str, Activation); 3] = [("exp", exp_f32_on), ("sigmoid", sigmoid_f32_on), ("tanh", tanh_f32_on)];
    for (name, f) in funcs {
        let (mut got, mut want) = (xs.clone(), xs.clone());
        f(isa, &mut got);
        f(Isa::Portable, &mut want);
        for ((&x, &g), &w) in xs.iter().zip(&got).zip(&want) {
            let ulps = (g.to_bits() as i64 - w.to_bits() as i64).abs();
            if g != w && (g.is_sign_negative() != w.is_sign_negative() || ulps > 2) {
                return Err(format!("{name}({x}): {g} vs {w}"));
            }
        }
    }
    Ok(())
}

fn gemv(isa: Isa) -> Result<(), String> {
    let (rows, cols) = (19, 77);
    let w: Vec<f32> = (0..rows * cols).map(|i| value(i, 4) as f32).collect();
    let x: Vec<f32> = (0..cols).map(|i| value(i, 5) as f32).collect();
    let bias: Vec<f32> = (0..rows).map(|i| value(i, 6) as f32).collect();
    let (mut got, mut want) = (vec![0.0; rows], vec![0.0; rows]);
    gemv_on(isa, &w, &x, Some(&bias), &mut got);
    gemv_on(Isa::Portable, &w, &x, Some(&bias), &mut want);
    for (j, (&g, &w)) in got.iter().zip(&want).enumerate() {
        if (g - w).abs() > 1e-4 * (1.0 + w.abs()) {
            return Err(format!("f32 GEMV row {j}: {g} vs {w}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_path_passes() {
        for isa in isa::supported() {
            assert_eq!(check(isa), Ok(()), "{isa}");
        }
        for isa in Isa::ALL.into_iter().filter(|i| !i.is_supported()) {
            assert!(check(isa).is_err());
        }
    }
}
