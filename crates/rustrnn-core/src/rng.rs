//! Seedable random numbers for initialization (and later dropout and shuffling).
//!
//! A small counter-based generator (SplitMix64) is enough here: the numbers only
//! need to be well spread and reproducible bit for bit, never secret.

use std::sync::atomic::{AtomicU64, Ordering};

/// Seeds handed out to modules created without an explicit seed. `manual_seed`
/// resets it, which makes everything created afterwards reproducible.
static GLOBAL_SEED: AtomicU64 = AtomicU64::new(0x005E_ED0F_2026_u64);

/// Resets the global seed sequence (`rustrnn.manual_seed`).
pub fn manual_seed(seed: u64) {
    GLOBAL_SEED.store(seed, Ordering::SeqCst);
}

/// The next seed from the global sequence; each call gives a different one.
pub fn next_seed() -> u64 {
    let s = GLOBAL_SEED.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::SeqCst);
    SplitMix64::new(s).next_u64()
}

#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [low, high).
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.next_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_uniform_in_range() {
        let mut a = SplitMix64::new(42);
        let mut b = SplitMix64::new(42);
        let mut sum = 0.0;
        for _ in 0..10_000 {
            let x = a.uniform(-0.5, 0.5);
            assert_eq!(x, b.uniform(-0.5, 0.5));
            assert!((-0.5..0.5).contains(&x));
            sum += x;
        }
        assert!((sum / 10_000.0).abs() < 0.02, "mean {}", sum / 10_000.0);
        assert_ne!(SplitMix64::new(1).next_u64(), SplitMix64::new(2).next_u64());
    }
}
