//! General matrix products on strided 2-D views, with our own packed,
//! register-blocked kernels ([`microkernel`]) and operand packing ([`pack`]).
//!
//! - [`gemm`]: `C (+)= A·B` for any strides, parallel over the rayon pool;
//! - [`gemm_packed`]: `C (+)= A·B` against a [`PackedB`] packed once, for a
//!   range of its column panels, on the calling thread — the building block of
//!   the recurrent time loop, where each worker owns a block of hidden units.
//!
//! Every element of C is summed over k in the same order however the work is
//! split, so results are bit-identical for any thread count.

pub mod microkernel;
pub mod pack;
mod row;

pub use microkernel::{ATile, GemmElem, MR};
pub use pack::PackedB;

use crate::float::Float;
use ndarray::{s, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;
use std::ops::Range;

/// Below this many multiply-adds a product runs on the calling thread: the
/// hand-off to the pool costs more than it saves.
const PARALLEL_MIN_FLOPS: usize = 1 << 18;

/// Products over at most this many panels of B read A in place (see `drive`).
const IN_PLACE_A_MAX_PANELS: usize = 8;

/// At most this many values of a transposed A are packed at once (a depth
/// block of all its rows, up to this): 512 KiB of f32, half a Zen 4 L2
/// (an LSTM's dGᵀ at H = 128 in one piece).
const TRANSPOSED_A_PACK_MAX: usize = 1 << 17;

/// `C = A·B` (or `C += A·B` with `accumulate`), A (m×k), B (k×n), C (m×n).
/// Without `accumulate` the old contents of C are ignored (NaN included).
pub fn gemm<F: Float>(a: ArrayView2<F>, b: ArrayView2<F>, accumulate: bool, c: ArrayViewMut2<F>) {
    assert_eq!(b.nrows(), a.ncols(), "gemm: inner dimensions differ");
    gemm_prepacked(a, &PackedB::new(b), accumulate, c);
}

/// `C = A·B` (or `C += A·B`) with B packed beforehand, parallel over the pool.
pub fn gemm_prepacked<F: Float>(a: ArrayView2<F>, packed: &PackedB<F>, accumulate: bool, mut c: ArrayViewMut2<F>) {
    let (m, k) = a.dim();
    let n = packed.n();
    assert_eq!(packed.k(), k, "gemm: inner dimensions differ");
    assert_eq!(c.dim(), (m, n), "gemm: output shape");
    if m == 0 || n == 0 {
        return;
    }
    let threads = rayon::current_num_threads();
    if threads <= 1 || m * n * k < PARALLEL_MIN_FLOPS {
        return gemm_packed(a, packed, 0..packed.panels(), accumulate, c);
    }
    let panels = packed.panels();
    // Splitting the columns makes every task pack all of A; splitting the
    // rows, only its own rows. Columns only when A is the smaller operand
    // (few rows, a wide B) and there are panels enough to share.
    if panels >= 2 * threads && m < n {
        // Split the columns: each task packs its own (small) share of A rows.
        let per_task = panels.div_ceil(2 * threads);
        let mut tasks = Vec::new();
        let mut rest = c.view_mut();
        for start in (0..panels).step_by(per_task) {
            let end = (start + per_task).min(panels);
            let width = n.min(end * packed.nr()) - start * packed.nr();
            let (head, tail) = rest.split_at(Axis(1), width);
            tasks.push((start..end, head));
            rest = tail;
        }
        tasks.into_par_iter().for_each(|(range, cblock)| gemm_packed(a, packed, range, accumulate, cblock));
    } else {
        let rows = m.div_ceil(2 * threads).max(MR).next_multiple_of(MR);
        c.axis_chunks_iter_mut(Axis(0), rows)
            .into_par_iter()
            .zip(a.axis_chunks_iter(Axis(0), rows).into_par_iter())
            .for_each(|(cblock, ablock)| gemm_packed(ablock, packed, 0..panels, accumulate, cblock));
    }
}

/// `C (+)= A·B[:, panels]` on the calling thread. `C` holds exactly the columns
/// of the panel range: `min(n, end·NR) - start·NR`.
pub fn gemm_packed<F: Float>(a: ArrayView2<F>, b: &PackedB<F>, panels: Range<usize>, accumulate: bool, mut c: ArrayViewMut2<F>) {
    let (m, k) = a.dim();
    assert_eq!(k, b.k(), "gemm: inner dimensions differ");
    let nr = b.nr();
    let width = b.n().min(panels.end * nr).saturating_sub(panels.start * nr);
    assert_eq!(c.dim(), (m, width), "gemm: output shape");
    if m == 0 || width == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c.fill(F::zero());
        }
        return;
    }
    if c.strides()[1] != 1 || c.strides()[0] < 0 {
        // The kernels write rows with unit stride; go through a temporary.
        let mut tmp = ndarray::Array2::<F>::zeros((m, width));
        gemm_packed(a, b, panels, false, tmp.view_mut());
        if accumulate {
            c += &tmp;
        } else {
            c.assign(&tmp);
        }
        return;
    }
    let ldc = c.strides()[0] as usize;
    let start = panels.start;
    // SAFETY: `c` is (m × width) with unit column stride and row stride ldc;
    // panel p maps to columns (p - start)·NR .. +n_valid, inside `width`.
    unsafe {
        drive(a, b, panels, accumulate, c.as_mut_ptr(), ldc, |p| ((p - start) * nr, nr.min(width - (p - start) * nr)));
    }
}

/// The blocked loop nest shared by the packed products: for each depth block
/// and block of A rows (packed once into L2-sized storage), every panel of
/// `B` and every `MR`-row tile of the block. `place(p)` gives the first
/// column in C of panel `p` and how many of its columns are valid.
///
/// # Safety
/// For every panel `p` in `panels`, columns `place(p).0 .. + place(p).1` of
/// rows `0..m` (stride `ldc`) must lie inside the buffer behind `c`, and no
/// other thread may access them during the call.
unsafe fn drive<F: Float>(
    a: ArrayView2<F>,
    b: &PackedB<F>,
    panels: Range<usize>,
    accumulate: bool,
    c: *mut F,
    ldc: usize,
    place: impl Fn(usize) -> (usize, usize),
) {
    let (m, k) = a.dim();
    // One row (a batch-1 recurrent step): its own kernel, bound by reading B.
    if m == 1 && (a.strides()[1] == 1 || k == 1) && row::product(a.as_ptr(), b, panels.clone(), accumulate, c, &place) {
        return;
    }
    // Packing A pays off when the packed block is reused across many panels
    // of B; a product over a few panels (a worker's share of one time step)
    // reads a row-major A in place instead.
    let in_place = panels.len() <= IN_PLACE_A_MAX_PANELS && a.strides()[1] == 1 && a.strides()[0] >= 0;
    let (rs, base) = (a.strides()[0].max(0) as usize, a.as_ptr());
    // A transposed row-major A (the weight gradients' dGᵀ) holds each depth
    // step's values of all rows side by side: packing many blocks of rows at
    // once reads a depth block's memory front to back, where one block of MC
    // rows at a time would read short runs a whole matrix row apart.
    let span = if in_place || a.strides()[0] != 1 || m <= F::MC {
        F::MC
    } else if m * F::KC <= TRANSPOSED_A_PACK_MAX {
        m
    } else {
        (TRANSPOSED_A_PACK_MAX / F::KC / F::MC).max(1) * F::MC
    };
    let mut abuf = Vec::new();
    let mut a0 = 0;
    for kb in (0..k).step_by(F::KC) {
        let kc = F::KC.min(k - kb);
        let acc = accumulate || kb > 0;
        for sb in (0..m).step_by(span) {
            let sc = span.min(m - sb);
            if !in_place {
                a0 = pack::pack_a(a.slice(s![sb..sb + sc, kb..kb + kc]), &mut abuf);
            }
            for mb in (sb..sb + sc).step_by(F::MC) {
                let mc = F::MC.min(sb + sc - mb);
                for p in panels.clone() {
                    let (col0, n_valid) = place(p);
                    let bptr = b.block_ptr(p, kb);
                    for ib in (0..mc).step_by(MR) {
                        let mr = MR.min(mc - ib);
                        // Packed: the block of row r (a multiple of MR, as
                        // MC and the span are) starts at (r - sb)·kc in abuf;
                        // in place: rows mb+ib.. of A from column kb. The
                        // panel block holds kc·NR values.
                        let tile = if in_place {
                            ATile { ptr: base.add((mb + ib) * rs + kb), rs, cs: 1 }
                        } else {
                            ATile { ptr: abuf.as_ptr().add(a0 + (mb - sb + ib) * kc), rs: 1, cs: mr }
                        };
                        F::kernel_on(b.isa(), mr, n_valid, kc, tile, bptr, c.add((mb + ib) * ldc + col0), ldc, acc);
                    }
                }
            }
        }
    }
}

/// Recurrent weights `Wᵀ` (H × G·H, from W of shape (G·H, H) in PyTorch's
/// gate-major row order) packed so that panel `q = p·G + g` holds gate `g`
/// of hidden units `p·NR .. p·NR + NR` (zero-padded past H). A worker that
/// owns unit panels `p0..p1` then computes all gates of its units in one
/// product, and can apply the cell update to them without waiting for others.
#[derive(Debug, Clone)]
pub struct PackedGates<F> {
    packed: PackedB<F>,
    gates: usize,
    hidden: usize,
}

impl<F: Float> PackedGates<F> {
    /// Packs `w` (G·H × K, rows contiguous) with `gates` blocks of `hidden` rows.
    pub fn new(w: ArrayView2<F>, gates: usize) -> Self {
        let w = w.as_standard_layout();
        let (rows, k) = w.dim();
        let hidden = rows / gates;
        let nr = F::nr();
        let unit_panels = hidden.div_ceil(nr);
        let flat = w.as_slice().expect("standard layout");
        // Column q·NR + j of the packed matrix is row g·H + p·NR + j of w.
        let packed = PackedB::from_columns(k, unit_panels * gates * nr, |col| {
            let (q, j) = (col / nr, col % nr);
            let (p, g) = (q / gates, q % gates);
            let unit = p * nr + j;
            (unit < hidden).then(|| &flat[(g * hidden + unit) * k..(g * hidden + unit + 1) * k])
        });
        PackedGates { packed, gates, hidden }
    }

    /// Panels of `NR` hidden units.
    pub fn unit_panels(&self) -> usize {
        self.hidden.div_ceil(self.packed.nr())
    }

    /// `C = A·Wᵀ` for the units of panels `p0..p1`: `c` is (m × G·U) with
    /// `U = (p1 - p0)·NR`, gate `g` of unit `p0·NR + j` landing in column
    /// `g·U + j` (columns of units past H receive zeros).
    pub fn product(&self, a: ArrayView2<F>, units: Range<usize>, mut c: ArrayViewMut2<F>) {
        let (g_count, nr) = (self.gates, self.packed.nr());
        let u = (units.end - units.start) * nr;
        assert_eq!(a.ncols(), self.packed.k(), "gemm: inner dimensions differ");
        assert_eq!(c.dim(), (a.nrows(), g_count * u), "gemm: output shape");
        assert!(c.strides()[1] == 1 && c.strides()[0] >= 0, "gemm: output rows must be contiguous");
        let p0 = units.start;
        let panels = units.start * g_count..units.end * g_count;
        if a.nrows() == 0 {
            return;
        }
        let ldc = c.strides()[0] as usize;
        // SAFETY: panel q = p·G + g lands at column g·U + (p - p0)·NR, all
        // NR columns inside the (m × G·U) output.
        unsafe {
            drive(a, &self.packed, panels, false, c.as_mut_ptr(), ldc, |q| ((q % g_count) * u + (q / g_count - p0) * nr, nr));
        }
    }
    /// `C (+)= A·Wᵀ` for the units of panels `units`, written straight into
    /// gate-major rows: gate `g` of unit `u` lands in column `g·H + u` of `c`.
    /// Only the columns of these units (those below H) are touched, so
    /// workers owning different units may fill the same rows at once.
    ///
    /// # Safety
    /// `c` must point at an (m × G·H) block with row stride `ldc` and unit
    /// column stride, and no one else may access those columns of it during
    /// the call.
    pub unsafe fn product_at(&self, a: ArrayView2<F>, units: Range<usize>, accumulate: bool, c: *mut F, ldc: usize) {
        let (g_count, nr, hidden) = (self.gates, self.packed.nr(), self.hidden);
        assert_eq!(a.ncols(), self.packed.k(), "gemm: inner dimensions differ");
        assert!(units.end <= self.unit_panels(), "gemm: unit panels out of range");
        let panels = units.start * g_count..units.end * g_count;
        let place = |q: usize| {
            let (p, g) = (q / g_count, q % g_count);
            (g * hidden + p * nr, nr.min(hidden - p * nr))
        };
        if a.ncols() == 0 {
            // No depth: the product is zero (drive would not touch C).
            if !accumulate {
                for q in panels {
                    let (col0, n) = place(q);
                    for i in 0..a.nrows() {
                        std::slice::from_raw_parts_mut(c.add(i * ldc + col0), n).fill(F::zero());
                    }
                }
            }
            return;
        }
        drive(a, &self.packed, panels, accumulate, c, ldc, place);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::isa::{self, Isa};
    use ndarray::{s, Array2, ShapeBuilder};

    fn naive(a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
        let (m, k) = a.dim();
        let n = b.ncols();
        let mut c = Array2::zeros((m, n));
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0;
                for p in 0..k {
                    s += a[[i, p]] * b[[p, j]];
                }
                c[[i, j]] = s;
            }
        }
        c
    }

    /// A reproducible (rows × cols) matrix of values in [-0.5, 0.5) (also for `row`'s tests).
    pub(super) fn filled(rows: usize, cols: usize, seed: u64) -> Array2<f64> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        Array2::from_shape_fn((rows, cols), |_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
    }

    #[test]
    fn matches_naive_product_for_odd_sizes_and_strides() {
        for &(m, k, n) in &[(1, 1, 1), (3, 7, 5), (17, 33, 9), (64, 31, 130), (200, 65, 97), (130, 700, 300)] {
            let a = filled(m, k, 1);
            let b = filled(k, n, 2);
            let c0 = filled(m, n, 3);
            let expect = naive(&a, &b) + &c0;
            let mut c = c0.clone();
            gemm(a.view(), b.view(), true, c.view_mut());
            let err = (&c - &expect).iter().fold(0.0f64, |e, v| e.max(v.abs()));
            assert!(err < 1e-12, "({m},{k},{n}) err {err}");

            // Transposed operands through strides, C column-major.
            let at = a.t().to_owned();
            let bt = b.t().to_owned();
            let mut cf = Array2::<f64>::zeros((m, n).f());
            gemm(at.t(), bt.t(), false, cf.view_mut());
            let err = (&cf - &naive(&a, &b)).iter().fold(0.0f64, |e, v| e.max(v.abs()));
            assert!(err < 1e-12, "transposed ({m},{k},{n}) err {err}");
        }
    }

    #[test]
    fn f32_matches_naive_product() {
        let a = filled(37, 129, 4);
        let b = filled(129, 70, 5);
        let expect = naive(&a, &b);
        let mut c = Array2::<f32>::from_elem((37, 70), f32::NAN);
        gemm(a.mapv(|v| v as f32).view(), b.mapv(|v| v as f32).view(), false, c.view_mut());
        for (g, e) in c.iter().zip(expect.iter()) {
            assert!((*g as f64 - e).abs() < 1e-4, "{g} vs {e}");
        }
    }

    #[test]
    fn overwrite_ignores_nan_and_empty_k_keeps_or_clears() {
        let a = Array2::<f64>::zeros((4, 0));
        let b = Array2::<f64>::zeros((0, 3));
        let mut c = Array2::<f64>::from_elem((4, 3), 2.0);
        gemm(a.view(), b.view(), true, c.view_mut());
        assert!(c.iter().all(|&v| v == 2.0));
        gemm(a.view(), b.view(), false, c.view_mut());
        assert!(c.iter().all(|&v| v == 0.0));
        let a = filled(5, 4, 8);
        let mut c = Array2::<f64>::from_elem((5, 3), f64::NAN);
        gemm(a.view(), filled(4, 3, 9).view(), false, c.view_mut());
        assert!(c.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn packed_panel_ranges_compose_the_full_product() {
        for isa in isa::supported() {
            let nr = f64::nr_for(isa);
            let (m, k, n) = (13, 300, 5 * nr + 1);
            let a = filled(m, k, 10);
            let b = filled(k, n, 11);
            let packed = PackedB::new_on(isa, b.view());
            assert_eq!(packed.panels(), 6);
            let mut c = Array2::<f64>::zeros((m, n));
            gemm_packed(a.view(), &packed, 0..2, false, c.slice_mut(s![.., ..2 * nr]));
            gemm_packed(a.view(), &packed, 2..6, false, c.slice_mut(s![.., 2 * nr..]));
            let err = (&c - &naive(&a, &b)).iter().fold(0.0f64, |e, v| e.max(v.abs()));
            assert!(err < 1e-11, "{isa}: err {err}");
        }
    }

    /// The whole blocked product (packing, blocking, parallel split) on
    /// every path this CPU supports, against the portable path.
    #[test]
    fn every_path_gives_the_portable_product() {
        for &(m, k, n) in &[(1, 5, 3), (7, 300, 33), (130, 513, 97)] {
            let a = filled(m, k, 20);
            let b = filled(k, n, 21);
            let (a32, b32) = (a.mapv(|v| v as f32), b.mapv(|v| v as f32));
            let mut base = Array2::<f64>::zeros((m, n));
            let mut base32 = Array2::<f32>::zeros((m, n));
            gemm_prepacked(a.view(), &PackedB::new_on(Isa::Portable, b.view()), false, base.view_mut());
            gemm_prepacked(a32.view(), &PackedB::new_on(Isa::Portable, b32.view()), false, base32.view_mut());
            for isa in isa::supported() {
                let mut c = Array2::<f64>::from_elem((m, n), f64::NAN);
                let mut c32 = Array2::<f32>::from_elem((m, n), f32::NAN);
                gemm_prepacked(a.view(), &PackedB::new_on(isa, b.view()), false, c.view_mut());
                gemm_prepacked(a32.view(), &PackedB::new_on(isa, b32.view()), false, c32.view_mut());
                let err = (&c - &base).iter().fold(0.0f64, |e, v| e.max(v.abs()));
                assert!(err < 1e-12, "{isa} ({m},{k},{n}) f64 err {err}");
                let err = (&c32 - &base32).iter().fold(0.0f32, |e, v| e.max(v.abs()));
                assert!(err < 1e-4, "{isa} ({m},{k},{n}) f32 err {err}");
            }
        }
    }

    #[test]
    fn packed_gates_put_each_units_gates_side_by_side() {
        // W (G·H × K) with G = 3 and H not a multiple of NR.
        let nr = f64::nr();
        let (g, h, k, m) = (3, nr + 3, 13, 5);
        let w = filled(g * h, k, 12);
        let a = filled(m, k, 13);
        let full = naive(&a, &w.t().to_owned()); // (m × G·H), PyTorch order
        let packed = PackedGates::new(w.view(), g);
        assert_eq!(packed.unit_panels(), 2);
        for units in [0..1, 1..2, 0..2] {
            let u = (units.end - units.start) * nr;
            let mut c = Array2::<f64>::from_elem((m, g * u), f64::NAN);
            packed.product(a.view(), units.clone(), c.view_mut());
            for gate in 0..g {
                for j in 0..u {
                    let unit = units.start * nr + j;
                    for i in 0..m {
                        let want = if unit < h { full[[i, gate * h + unit]] } else { 0.0 };
                        assert!((c[[i, gate * u + j]] - want).abs() < 1e-12);
                    }
                }
            }
        }
    }

    #[test]
    fn result_is_identical_across_thread_counts() {
        // Row splits (A taller than B is wide, A read through a transpose as
        // the weight gradients do) and column splits (a short A, a wide B).
        for &(m, k, n, transposed) in &[(300, 64, 96, false), (300, 700, 40, true), (40, 64, 300, false), (13, 33, 200, true)] {
            let a = filled(m, k, 6);
            let at = a.t().to_owned();
            let b = filled(k, n, 7);
            let run = |threads| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let mut c = Array2::<f64>::zeros((m, n));
                let a = if transposed { at.t() } else { a.view() };
                pool.install(|| gemm(a, b.view(), false, c.view_mut()));
                c
            };
            let one = run(1);
            assert_eq!(one, run(2), "({m},{k},{n})");
            assert_eq!(one, run(3), "({m},{k},{n})");
        }
    }
}
