//! A small pool of large buffers, so that the per-sequence arrays of the
//! recurrent layers (gates, cached states: tens of MB per call) are reused
//! from one call to the next instead of being freshly mapped every time.
//!
//! Why: glibc maps such sizes straight from the kernel and unmaps them on
//! free, so every forward touches fresh pages; the page faults and the
//! kernel's zeroing cost more than a tenth of an LSTM training step
//! (T=200, B=64, H=128: forward 105 -> 70 ms CPU time with the pages kept).
//! Buffers come back here where the layers would drop them; the pool holds at
//! most [`MAX_BYTES`], so it never keeps more than a step's working set.

use crate::float::Float;
use ndarray::Array2;
use std::any::Any;
use std::sync::Mutex;

/// Smaller buffers are left to the allocator (its own free lists serve them).
const MIN_BYTES: usize = 1 << 20;
/// At most this much memory waits in the pool; the oldest buffers go first.
pub const MAX_BYTES: usize = 256 << 20;
/// At most this many buffers wait in the pool.
const MAX_BUFFERS: usize = 24;

struct Pool {
    /// (bytes, a `Vec<F>` of some `F`), oldest first.
    buffers: Vec<(usize, Box<dyn Any + Send>)>,
    bytes: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool { buffers: Vec::new(), bytes: 0 });

/// The pool, or `None` while another thread holds it: pooling is only an
/// optimisation, so a contended call allocates (or frees) as usual instead of
/// waiting. This also keeps a forked child safe: a lock held by a thread of
/// the parent at the fork is held forever in the child, which then simply
/// never pools.
fn lock() -> Option<std::sync::MutexGuard<'static, Pool>> {
    match POOL.try_lock() {
        Ok(guard) => Some(guard),
        // A panic elsewhere while holding the lock leaves the pool consistent.
        Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}

impl Pool {
    /// A pooled `Vec<F>` with room for `len` elements (and not more than
    /// twice that, so a small request does not pin a large buffer), its
    /// contents unspecified; `None` when the pool has none.
    fn take_vec<F: Float>(&mut self, len: usize) -> Option<Vec<F>> {
        if len * std::mem::size_of::<F>() < MIN_BYTES {
            return None;
        }
        let best = self
            .buffers
            .iter()
            .enumerate()
            .filter_map(|(i, (_, b))| b.downcast_ref::<Vec<F>>().map(|v| (i, v.capacity())))
            .filter(|&(_, cap)| cap >= len && cap <= 2 * len)
            .min_by_key(|&(_, cap)| cap)
            .map(|(i, _)| i)?;
        let (bytes, b) = self.buffers.remove(best);
        self.bytes -= bytes;
        b.downcast::<Vec<F>>().ok().map(|v| *v)
    }

    #[cfg(test)]
    fn zeros<F: Float>(&mut self, rows: usize, cols: usize) -> Array2<F> {
        zeros_in(self.take_vec(rows * cols), rows, cols)
    }

    #[cfg(test)]
    fn for_overwrite<F: Float>(&mut self, rows: usize, cols: usize) -> Array2<F> {
        for_overwrite_in(self.take_vec(rows * cols), rows, cols)
    }

    fn give<F: Float>(&mut self, a: Array2<F>) {
        let (v, offset) = a.into_raw_vec_and_offset();
        let bytes = v.capacity() * std::mem::size_of::<F>();
        if !(MIN_BYTES..=MAX_BYTES).contains(&bytes) || offset.is_some_and(|o| o != 0) {
            return;
        }
        while self.bytes + bytes > MAX_BYTES || self.buffers.len() >= MAX_BUFFERS {
            let (old, _) = self.buffers.remove(0);
            self.bytes -= old;
        }
        self.bytes += bytes;
        self.buffers.push((bytes, Box::new(v)));
    }
}

fn zeros_in<F: Float>(buffer: Option<Vec<F>>, rows: usize, cols: usize) -> Array2<F> {
    match buffer {
        Some(mut v) => {
            v.clear();
            v.resize(rows * cols, F::zero());
            Array2::from_shape_vec((rows, cols), v).expect("length matches")
        }
        None => Array2::zeros((rows, cols)),
    }
}

fn for_overwrite_in<F: Float>(buffer: Option<Vec<F>>, rows: usize, cols: usize) -> Array2<F> {
    match buffer {
        Some(mut v) => {
            // Only the part past the old length is written here.
            v.resize(rows * cols, F::zero());
            Array2::from_shape_vec((rows, cols), v).expect("length matches")
        }
        None => Array2::zeros((rows, cols)),
    }
}

/// A (rows × cols) array of zeros, from the pool when it has a fitting buffer.
pub fn zeros<F: Float>(rows: usize, cols: usize) -> Array2<F> {
    let buffer = lock().and_then(|mut pool| pool.take_vec(rows * cols)); // zeroed after the lock is released
    zeros_in(buffer, rows, cols)
}

/// A (rows × cols) array whose every element the caller overwrites before
/// reading it: from the pool it keeps its old (initialised) values.
pub fn for_overwrite<F: Float>(rows: usize, cols: usize) -> Array2<F> {
    let buffer = lock().and_then(|mut pool| pool.take_vec(rows * cols));
    for_overwrite_in(buffer, rows, cols)
}

/// Hands `a`'s memory to the pool (or drops it, when small or the pool is full).
pub fn give<F: Float>(a: Array2<F>) {
    if let Some(mut pool) = lock() {
        pool.give(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A buffer given back is handed out again, zeroed or with its old values
    /// as asked, for f32 and f64 alike; small or oversized requests are not.
    #[test]
    fn buffers_come_back_zeroed_or_as_left() {
        let mut pool = Pool { buffers: Vec::new(), bytes: 0 };
        let (rows, cols) = (1024, 512); // 2 MiB of f32
        let mut a = Array2::<f32>::from_elem((rows, cols), 3.0);
        a[[0, 0]] = 7.0;
        let ptr = a.as_ptr();
        pool.give(a);
        assert_eq!(pool.bytes, rows * cols * 4);
        // An f64 request never gets the f32 buffer.
        let d = pool.zeros::<f64>(rows, cols / 2);
        assert_ne!(d.as_ptr() as *const u8, ptr as *const u8);
        let b = pool.for_overwrite::<f32>(rows, cols);
        assert_eq!(b.as_ptr(), ptr, "the pooled buffer is reused");
        assert_eq!((b[[0, 0]], b[[5, 5]]), (7.0, 3.0));
        assert_eq!(pool.bytes, 0);
        pool.give(b);
        let z = pool.zeros::<f32>(rows - 1, cols);
        assert_eq!(z.as_ptr(), ptr);
        assert!(z.iter().all(|&v| v == 0.0));
        assert_eq!(z.dim(), (rows - 1, cols));
        pool.give(z);
        // A request less than half the buffer's size gets fresh memory, and so
        // does one too small to pool.
        let small = pool.zeros::<f32>(rows / 4, cols);
        assert_ne!(small.as_ptr(), ptr);
        assert!(small.iter().all(|&v| v == 0.0));
        pool.give(Array2::<f32>::zeros((4, 4)));
        assert_eq!(pool.buffers.len(), 1);
    }

    /// The pool drops its oldest buffers to stay within its bounds.
    #[test]
    fn the_pool_stays_bounded() {
        let mut pool = Pool { buffers: Vec::new(), bytes: 0 };
        for _ in 0..2 * MAX_BUFFERS {
            pool.give(Array2::<f64>::zeros((MIN_BYTES / 8, 1)));
        }
        assert_eq!(pool.buffers.len(), MAX_BUFFERS);
        assert_eq!(pool.bytes, MAX_BUFFERS * MIN_BYTES);
    }
}
