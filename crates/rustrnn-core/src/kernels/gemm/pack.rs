//! Packing operands into the layouts the micro-kernel streams through.

use super::microkernel::{GemmElem, MR};
use crate::kernels::isa::{self, Isa};
use ndarray::ArrayView2;
use rayon::prelude::*;

/// From this many values, a row-major B is packed in parallel.
const PARALLEL_PACK_MIN: usize = 1 << 18;

/// B (k × n) packed once into panels of `NR` columns — for each panel, `k` rows
/// of `NR` values, zero-padded past `n` — so it can be reused by many products
/// (the recurrent weights are packed once per sequence and read every step).
/// `NR` is the tile width of the kernel path the panels are packed for (the
/// path in use unless packed with [`PackedB::new_on`]); products with them
/// run on that path.
#[derive(Debug, Clone)]
pub struct PackedB<F> {
    data: Vec<F>,
    k: usize,
    n: usize,
    isa: Isa,
}

impl<F> Default for PackedB<F> {
    fn default() -> Self {
        PackedB { data: Vec::new(), k: 0, n: 0, isa: isa::active() }
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
        let mut p = PackedB { data: Vec::new(), k: 0, n: 0, isa };
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
        self.data.clear();
        self.data.resize(panels * k * nr, F::zero());
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
                self.data.par_chunks_mut(k * nr).enumerate().for_each(fill);
            } else {
                self.data.chunks_mut(k * nr).enumerate().for_each(fill);
            }
            return;
        }
        for p in 0..panels {
            let cols = (p * nr)..n.min((p + 1) * nr);
            let panel = &mut self.data[p * k * nr..(p + 1) * k * nr];
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
        let mut data = vec![F::zero(); panels * k * nr];
        for (p, panel) in data.chunks_exact_mut(k * nr).enumerate() {
            for j in 0..nr.min(n - p * nr) {
                if let Some(col) = column(p * nr + j) {
                    for (kk, &v) in col[..k].iter().enumerate() {
                        panel[kk * nr + j] = v;
                    }
                }
            }
        }
        PackedB { data, k, n, isa }
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
        unsafe { self.data.as_ptr().add((p * self.k + kb) * self.nr()) }
    }
}

/// Packs `a` (mc × kc, any strides) into `buf` as consecutive blocks of `MR`
/// rows (the last one shorter), each block `kc` steps of its row values.
/// Written for the two layouts the layers pass: row-major A (the input
/// projection; six row streams) and transposed row-major A (the weight
/// gradients `dGᵀ·x`; six adjacent values per step, one copy).
pub fn pack_a<F: GemmElem>(a: ArrayView2<F>, buf: &mut Vec<F>) {
    let (mc, kc) = a.dim();
    let (rs, cs) = (a.strides()[0], a.strides()[1]);
    let base = a.as_ptr();
    buf.clear();
    buf.reserve(mc * kc);
    // SAFETY: every (i, kk) read is inside the view (i < mc, kk < kc), and
    // exactly mc·kc values are written into the reserved buffer before its
    // length is set.
    unsafe {
        let out = buf.as_mut_ptr();
        if rs == 1 {
            // Step k's values of all rows are adjacent: read each such run
            // once, in k order, and scatter it over the blocks (block `ib`
            // starts at ib·kc and holds `mr` values per step). Going block by
            // block instead would reread the runs, which lie a whole row of
            // the transposed matrix apart and evict each other from L1.
            for kk in 0..kc {
                let src = base.offset(kk as isize * cs);
                for ib in (0..mc).step_by(MR) {
                    let mr = MR.min(mc - ib);
                    std::ptr::copy_nonoverlapping(src.add(ib), out.add(ib * kc + kk * mr), mr);
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
        buf.set_len(mc * kc);
    }
}
