//! Packing operands into the layouts the micro-kernel streams through.

use super::microkernel::{GemmElem, MR};
use crate::kernels::isa::{self, Isa};
use ndarray::ArrayView2;
use rayon::prelude::*;

/// From this many values, a row-major B is packed in parallel.
const PARALLEL_PACK_MIN: usize = 1 << 18;

/// Packed blocks start on a cache-line boundary. A 64-byte AVX-512 load from
/// an unaligned address spans two lines (large allocations come from the
/// allocator 16 bytes past a page start), which on Zen 4 costs every load
/// of the micro-kernel twice the cache bandwidth.
pub const ALIGN: usize = 64;

/// Index of the first element of `buf`'s allocation (its capacity counts:
/// a `Vec`'s slice starts where its buffer does) on an [`ALIGN`] boundary.
fn aligned_start<F>(buf: &[F]) -> usize {
    let addr = buf.as_ptr() as usize;
    let size = std::mem::size_of::<F>().max(1);
    (addr.next_multiple_of(ALIGN) - addr) / size
}

/// Clears `buf` and fills it with zeros so that `len` of them start at an
/// [`ALIGN`] boundary; returns that start.
fn zeroed_aligned<F: num_traits::Zero + Clone>(buf: &mut Vec<F>, len: usize) -> usize {
    buf.clear();
    buf.reserve(len + ALIGN / std::mem::size_of::<F>().max(1));
    let off = aligned_start(buf);
    buf.resize(off + len, F::zero());
    off
}

/// B (k × n) packed once into panels of `NR` columns — for each panel, `k` rows
/// of `NR` values, zero-padded past `n` — so it can be reused by many products
/// (the recurrent weights are packed once per sequence and read every step).
/// `NR` is the tile width of the kernel path the panels are packed for (the
/// path in use unless packed with [`PackedB::new_on`]); products with them
/// run on that path.
#[derive(Debug, Clone)]
pub struct PackedB<F> {
    /// The panels start at `data[off]`, a cache-line boundary (see [`ALIGN`]).
    data: Vec<F>,
    off: usize,
    k: usize,
    n: usize,
    isa: Isa,
}

impl<F> Default for PackedB<F> {
    fn default() -> Self {
        PackedB { data: Vec::new(), off: 0, k: 0, n: 0, isa: isa::active() }
    }
}

impl<F: GemmElem + num_traits::Zero> PackedB<F> {
    /// Packs `b` (k × n, any strides).
    pub fn new(b: ArrayView2<F>) -> Self {
        Self::new_on(isa::active(), b)
    }

    /// Packs `b` for the kernels of `isa` (which this CPU must support).
    pub fn new_on(isa: Isa, b: ArrayView2<F>) -> Self {
        assert!(isa.is_supported(), "PackedB::new_on: this CPU does not support {isa}");
        let mut p = PackedB { data: Vec::new(), off: 0, k: 0, n: 0, isa };
        p.repack(b);
        p
    }

    /// Packs `b` into this buffer, reusing its allocation.
    pub fn repack(&mut self, b: ArrayView2<F>) {
        let (k, n) = b.dim();
        let nr = self.nr();
        let panels = n.div_ceil(nr);
        self.k = k;
        self.n = n;
        self.off = zeroed_aligned(&mut self.data, panels * k * nr);
        let (off, len) = (self.off, panels * k * nr);
        let data = &mut self.data[off..off + len];
        if b.strides()[1] == 1 {
            // Row-major B (the weight gradients' x and h_prev, N × I): each
            // panel a straight copy of its columns' cache lines, row by row;
            // in parallel when large (it precedes the product's parallel part).
            let fill = |(p, panel): (usize, &mut [F])| {
                let cols = p * nr..n.min((p + 1) * nr);
                for kk in 0..k {
                    let row = b.row(kk);
                    panel[kk * nr..kk * nr + cols.len()].copy_from_slice(&row.as_slice().expect("unit column stride")[cols.clone()]);
                }
            };
            if k * n >= PARALLEL_PACK_MIN {
                data.par_chunks_mut(k * nr).enumerate().for_each(fill);
            } else {
                data.chunks_mut(k * nr).enumerate().for_each(fill);
            }
            return;
        }
        for p in 0..panels {
            let cols = (p * nr)..n.min((p + 1) * nr);
            let panel = &mut data[p * k * nr..(p + 1) * k * nr];
            for kk in 0..k {
                let dst = &mut panel[kk * nr..kk * nr + cols.len()];
                let row = b.row(kk);
                for (d, j) in dst.iter_mut().zip(cols.clone()) {
                    // SAFETY: j < n = row.len().
                    *d = unsafe { *row.uget(j) };
                }
            }
        }
    }

    /// Packs the `n` columns given by `column(j)` (each `k` long; `None` for a
    /// zero column). Used to pack a transposed row-major matrix straight from
    /// its rows, in any column order.
    pub fn from_columns<'a>(k: usize, n: usize, column: impl Fn(usize) -> Option<&'a [F]>) -> Self {
        let isa = isa::active();
        let nr = F::nr_for(isa);
        let panels = n.div_ceil(nr);
        let mut data = Vec::new();
        let off = zeroed_aligned(&mut data, panels * k * nr);
        for (p, panel) in data[off..off + panels * k * nr].chunks_exact_mut(k * nr).enumerate() {
            for j in 0..nr.min(n - p * nr) {
                if let Some(col) = column(p * nr + j) {
                    for (kk, &v) in col[..k].iter().enumerate() {
                        panel[kk * nr + j] = v;
                    }
                }
            }
        }
        PackedB { data, off, k, n, isa }
    }

    pub fn k(&self) -> usize {
        self.k
    }

    pub fn n(&self) -> usize {
        self.n
    }

    pub fn panels(&self) -> usize {
        self.n.div_ceil(self.nr())
    }

    /// Columns per panel.
    #[inline]
    pub fn nr(&self) -> usize {
        F::nr_for(self.isa)
    }

    /// The kernel path the panels are packed for.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Rows `kb..kb+kc` of panel `p`.
    #[inline]
    pub(super) fn block_ptr(&self, p: usize, kb: usize) -> *const F {
        debug_assert!(p < self.panels() && kb <= self.k);
        // SAFETY: in bounds by the assertion above.
        unsafe { self.data.as_ptr().add(self.off + (p * self.k + kb) * self.nr()) }
    }
}

/// Steps ahead that the transposed packing fetches: its runs lie a whole
/// row of the transposed matrix apart, a pattern the hardware prefetchers do
/// not follow, so without this every run waits for memory.
const PREFETCH_ROWS: usize = 16;

/// Asks for the cache lines of the `len` values from `p` (a hint only).
#[inline(always)]
fn prefetch_run<F>(p: *const F, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let bytes = len * std::mem::size_of::<F>();
        let first = p as usize & !63;
        let end = p as usize + bytes;
        let mut line = first;
        while line < end {
            // SAFETY: a prefetch never faults, whatever the address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(line as *const i8) };
            line += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (p, len);
}

/// Packs `a` (mc × kc, any strides) into `buf` as consecutive blocks of `MR`
/// rows (the last one shorter), each block `kc` steps of its row values.
/// Written for the two layouts the layers pass: row-major A (the input
/// projection; six row streams) and transposed row-major A (the weight
/// gradients `dGᵀ·x`; six adjacent values per step, one copy). The block
/// starts at the returned index of `buf`, on an [`ALIGN`] boundary.
pub fn pack_a<F: GemmElem>(a: ArrayView2<F>, buf: &mut Vec<F>) -> usize {
    let (mc, kc) = a.dim();
    let (rs, cs) = (a.strides()[0], a.strides()[1]);
    let base = a.as_ptr();
    buf.clear();
    buf.reserve(mc * kc + ALIGN / std::mem::size_of::<F>());
    let start = aligned_start(buf);
    // SAFETY: every (i, kk) read is inside the view (i < mc, kk < kc), and
    // exactly mc·kc values are written into the reserved buffer (from
    // `start`, the few before it zeroed) before its length is set.
    unsafe {
        std::ptr::write_bytes(buf.as_mut_ptr(), 0, start);
        let out = buf.as_mut_ptr().add(start);
        if rs == 1 {
            // Step k's values of all rows are adjacent: read each such run
            // once, in k order, and scatter it over the blocks (block `ib`
            // starts at ib·kc and holds `mr` values per step). Going block by
            // block instead would reread the runs, which lie a whole row of
            // the transposed matrix apart and evict each other from L1.
            // Full blocks copy MR values, a length known at compile time
            // (a few moves; a run-time length is a call to memcpy).
            let full = mc / MR;
            let tail = mc - full * MR;
            for kk in 0..kc {
                let src = base.offset(kk as isize * cs);
                if kk + PREFETCH_ROWS < kc {
                    prefetch_run(base.offset((kk + PREFETCH_ROWS) as isize * cs), mc);
                }
                for ib in (0..full * MR).step_by(MR) {
                    std::ptr::copy_nonoverlapping(src.add(ib), out.add(ib * kc + kk * MR), MR);
                }
                if tail > 0 {
                    let ib = full * MR;
                    std::ptr::copy_nonoverlapping(src.add(ib), out.add(ib * kc + kk * tail), tail);
                }
            }
        } else {
            let mut dst = out;
            for ib in (0..mc).step_by(MR) {
                let mr = MR.min(mc - ib);
                let rows: [*const F; MR] = std::array::from_fn(|i| base.offset((ib + i.min(mr - 1)) as isize * rs));
                if mr == MR {
                    for kk in 0..kc {
                        let o = kk as isize * cs;
                        for (i, row) in rows.iter().enumerate() {
                            *dst.add(i) = *row.offset(o);
                        }
                        dst = dst.add(MR);
                    }
                } else {
                    for kk in 0..kc {
                        for row in &rows[..mr] {
                            *dst = *row.offset(kk as isize * cs);
                            dst = dst.add(1);
                        }
                    }
                }
            }
        }
        buf.set_len(start + mc * kc);
    }
    start
}
