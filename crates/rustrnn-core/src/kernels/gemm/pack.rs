//! Packing operands into the layouts the micro-kernel streams through.

use super::microkernel::{GemmElem, MR};
use crate::kernels::isa::{self, Isa};
use ndarray::ArrayView2;

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
pub fn pack_a<F: GemmElem>(a: ArrayView2<F>, buf: &mut Vec<F>) {
    let (mc, kc) = a.dim();
    let (rs, cs) = (a.strides()[0], a.strides()[1]);
    let base = a.as_ptr();
    buf.clear();
    buf.reserve(mc * kc);
    // SAFETY: every (i, kk) read is inside the view: i < mc, kk < kc.
    unsafe {
        let at = |i: usize, kk: usize| *base.offset(i as isize * rs + kk as isize * cs);
        for ib in (0..mc).step_by(MR) {
            let mr = MR.min(mc - ib);
            if mr == MR {
                for kk in 0..kc {
                    buf.extend_from_slice(&[at(ib, kk), at(ib + 1, kk), at(ib + 2, kk), at(ib + 3, kk), at(ib + 4, kk), at(ib + 5, kk)]);
                }
            } else {
                for kk in 0..kc {
                    for i in 0..mr {
                        buf.push(at(ib + i, kk));
                    }
                }
            }
        }
    }
}
