//! Flush-to-zero while rustrnn computes.
//!
//! Gradients flowing back through many sigmoid gates shrink into subnormal
//! floats, and Intel cores take a slow microcode assist on every operation
//! that reads or produces one (a many-to-one LSTM pass can become 20-30x
//! slower). Like TensorFlow, ONNX Runtime and `torch.set_flush_denormal`,
//! rustrnn computes with subnormals flushed to zero: FTZ + DAZ in MXCSR on
//! x86_64, FZ in FPCR on aarch64 (no-op on other targets).
//!
//! The mode is a per-thread register. [`FlushGuard`] sets it in the calling
//! thread and restores the caller's state when dropped, so code around the
//! call (NumPy in a Python thread) sees exactly the state it had before; the
//! pool's own workers are set by [`crate::threads`]. [`set_flush_denormal`]
//! (`false`) opts out: every thread then computes with strict IEEE gradual
//! underflow (the guard clears the flush bits even if the caller had set them).
//!
//! Both settings keep results bit-identical for any thread count: all threads
//! of one call compute in the same mode.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};

static FLUSH: AtomicBool = AtomicBool::new(true);

/// Whether rustrnn flushes subnormals to zero while it computes (default on).
pub fn flush_denormal() -> bool {
    FLUSH.load(Ordering::Relaxed)
}

/// Turns flushing on (the default, fast) or off (strict IEEE; slow on Intel
/// CPUs when values become subnormal). Applies to calls started afterwards.
pub fn set_flush_denormal(on: bool) {
    FLUSH.store(on, Ordering::Relaxed);
}

/// The calling thread's floating-point control settings: MXCSR without its
/// sticky exception flags on x86_64, FPCR on aarch64, `None` elsewhere (for
/// tests and diagnostics).
pub fn control_word() -> Option<u64> {
    arch::read().map(|w| u64::from(w & !arch::STATUS_BITS))
}

/// Whether the calling thread's control register currently flushes
/// subnormals (`false` where the target has no such mode).
pub fn flushing_in_this_thread() -> bool {
    arch::read().is_some_and(|w| w & arch::FLUSH_BITS == arch::FLUSH_BITS)
}

/// Sets the calling thread's flush mode to `on` for good (used for the pool's
/// own worker threads, which run nothing but rustrnn work).
pub fn set_thread_mode(on: bool) {
    if let Some(w) = arch::read() {
        let want = mode_word(w, on);
        if want != w {
            // SAFETY: only the flush bits change.
            unsafe { arch::write(want) };
        }
    }
}

fn mode_word(w: arch::Word, on: bool) -> arch::Word {
    if on {
        w | arch::FLUSH_BITS
    } else {
        w & !arch::FLUSH_BITS
    }
}

/// Puts the calling thread in the mode chosen by [`set_flush_denormal`] for
/// its lifetime and restores the previous control register when dropped.
/// Cheap (two register reads at most when nothing changes); not `Send`,
/// since the state it restores belongs to this thread.
#[must_use = "the mode lasts only while the guard lives"]
pub struct FlushGuard {
    saved: Option<arch::Word>,
    _not_send: PhantomData<*const ()>,
}

impl FlushGuard {
    pub fn new() -> Self {
        let saved = arch::read().and_then(|w| {
            let want = mode_word(w, flush_denormal());
            // SAFETY: only the flush bits change; dropping restores them.
            (want != w).then(|| unsafe {
                arch::write(want);
                w
            })
        });
        FlushGuard { saved, _not_send: PhantomData }
    }
}

impl Default for FlushGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        if let Some(w) = self.saved {
            // SAFETY: the caller's own earlier state.
            unsafe { arch::write(w) };
        }
    }
}

/// `x as f32` with IEEE rounding whatever the thread's mode: a result in the
/// f32 subnormal range is built from its bits instead of by the conversion
/// instruction, which flush-to-zero would turn into 0. For data that must
/// arrive unchanged (numbers parsed from files), not for compute.
pub fn f64_to_f32_exact(x: f64) -> f32 {
    let a = x.abs();
    if a >= f32::MIN_POSITIVE as f64 || a == 0.0 || a.is_nan() {
        return x as f32;
    }
    // a < 2^-126: the nearest multiple of 2^-149 (ties to even), computed
    // exactly in the normal f64 range; 2^23 units is 2^-126 itself.
    let units = (a * 2f64.powi(149)).round_ties_even() as u32;
    f32::from_bits(units | if x.is_sign_negative() { 1 << 31 } else { 0 })
}

/// Runs `f` with the calling thread in rustrnn's flush mode.
pub fn with_flush_mode<R>(f: impl FnOnce() -> R) -> R {
    let _guard = FlushGuard::new();
    f()
}

#[cfg(target_arch = "x86_64")]
mod arch {
    use std::arch::asm;

    pub type Word = u32;
    /// FTZ (bit 15: subnormal results become zero) and DAZ (bit 6:
    /// subnormal inputs read as zero).
    pub const FLUSH_BITS: Word = (1 << 15) | (1 << 6);
    /// The sticky exception flags (bits 0-5): status, not mode.
    pub const STATUS_BITS: Word = 0x3F;

    pub fn read() -> Option<Word> {
        let mut w: Word = 0;
        // SAFETY: stores the 32-bit MXCSR into `w`.
        unsafe { asm!("stmxcsr [{}]", in(reg) &mut w, options(nostack, preserves_flags)) };
        Some(w)
    }

    /// # Safety
    /// `w` must be a valid MXCSR value (one read from it, with flush bits changed).
    pub unsafe fn write(w: Word) {
        asm!("ldmxcsr [{}]", in(reg) &w, options(nostack, readonly, preserves_flags));
    }
}

#[cfg(target_arch = "aarch64")]
mod arch {
    use std::arch::asm;

    pub type Word = u64;
    /// FZ (bit 24): subnormal inputs and results of single and double
    /// precision operations become zero.
    pub const FLUSH_BITS: Word = 1 << 24;
    /// FPCR holds no status (that is FPSR).
    pub const STATUS_BITS: Word = 0;

    pub fn read() -> Option<Word> {
        let w: Word;
        // SAFETY: reads FPCR.
        unsafe { asm!("mrs {}, fpcr", out(reg) w, options(nomem, nostack, preserves_flags)) };
        Some(w)
    }

    /// # Safety
    /// `w` must be a valid FPCR value (one read from it, with FZ changed).
    pub unsafe fn write(w: Word) {
        asm!("msr fpcr, {}", in(reg) w, options(nostack, preserves_flags));
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod arch {
    pub type Word = u32;
    pub const FLUSH_BITS: Word = 0;
    pub const STATUS_BITS: Word = 0;

    pub fn read() -> Option<Word> {
        None
    }

    /// # Safety
    /// Never called: `read` gives nothing to restore.
    pub unsafe fn write(_: Word) {}
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::hint::black_box;

    /// 2^-70 · 2^-70 = 2^-140: a normal f32 times itself giving an exact subnormal.
    fn subnormal_product() -> f32 {
        let a = black_box(f32::from_bits((127 - 70) << 23));
        black_box(a * a)
    }

    #[test]
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    fn guard_flushes_and_restores_the_callers_state() {
        // Serialised with the tests that flip the global switch.
        let _lock = SWITCH.lock().unwrap_or_else(|e| e.into_inner());
        set_flush_denormal(true);
        let before = control_word();
        assert!(!flushing_in_this_thread());
        assert_eq!(subnormal_product(), 2f32.powi(-140));
        {
            let _g = FlushGuard::new();
            assert!(flushing_in_this_thread());
            assert_eq!(subnormal_product(), 0.0);
            {
                let _inner = FlushGuard::new(); // nested: nothing to change
                assert!(flushing_in_this_thread());
            }
            assert!(flushing_in_this_thread());
        }
        assert_eq!(control_word(), before);
        assert_eq!(subnormal_product(), 2f32.powi(-140));
    }

    #[test]
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    fn opting_out_clears_a_flush_the_caller_had_set() {
        let _lock = SWITCH.lock().unwrap_or_else(|e| e.into_inner());
        set_thread_mode(true);
        let before = control_word();
        set_flush_denormal(false);
        let inside = with_flush_mode(|| (flushing_in_this_thread(), subnormal_product()));
        set_flush_denormal(true);
        assert_eq!(inside, (false, 2f32.powi(-140)));
        assert_eq!(control_word(), before);
        assert!(flushing_in_this_thread());
        set_thread_mode(false);
        assert!(!flushing_in_this_thread());
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn other_control_bits_survive() {
        let _lock = SWITCH.lock().unwrap_or_else(|e| e.into_inner());
        let original = arch::read().unwrap();
        // Round toward zero (RC = 11) and all exceptions masked: a caller's
        // unusual but valid state comes back exactly.
        let odd = (original & !0x6000) | 0x6000;
        unsafe { arch::write(odd) };
        {
            let _g = FlushGuard::new();
            assert_eq!(arch::read().unwrap() & !arch::STATUS_BITS, (odd | arch::FLUSH_BITS) & !arch::STATUS_BITS);
        }
        let after = arch::read().unwrap();
        unsafe { arch::write(original) };
        assert_eq!(after & !arch::STATUS_BITS, odd & !arch::STATUS_BITS);
    }

    #[test]
    fn exact_conversion_keeps_subnormals_in_flush_mode() {
        let mut xs = vec![1e-45, 1.4e-45, 7e-46, 7.006e-46, 2.1e-45, 1e-40, 1.1754942e-38, 1.17549435e-38, 1e-38, 3e-39];
        xs.extend((0..2000).map(|i| f64::from(i) * 5.9e-42 + 1e-47));
        xs.extend([0.0, 1.0, -2.5, 1e-30, f64::MAX, f64::MIN_POSITIVE, f64::INFINITY]);
        let xs: Vec<f64> = xs.iter().flat_map(|&x| [x, -x]).collect();
        let plain: Vec<u32> = xs.iter().map(|&x| (x as f32).to_bits()).collect();
        let _lock = SWITCH.lock().unwrap_or_else(|e| e.into_inner());
        set_flush_denormal(true);
        let flushed: Vec<u32> = with_flush_mode(|| xs.iter().map(|&x| f64_to_f32_exact(x).to_bits()).collect());
        assert_eq!(flushed, plain);
        assert!(f64_to_f32_exact(f64::NAN).is_nan());
    }

    /// Tests that change the process-wide switch hold this lock.
    pub(crate) static SWITCH: std::sync::Mutex<()> = std::sync::Mutex::new(());
}
