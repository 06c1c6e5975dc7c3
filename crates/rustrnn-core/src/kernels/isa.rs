//! Which instruction set the kernels use: the one CPU-feature detection of
//! the crate.
//!
//! - [`Isa::Portable`]: plain Rust, vectorised by the compiler for the
//!   baseline target (SSE2 on x86_64, NEON on aarch64);
//! - [`Isa::Avx2`]: hand-written AVX2 + FMA kernels (x86_64);
//! - [`Isa::Avx512`]: the same algorithms on 512-bit vectors (AVX-512F, x86_64).
//!
//! The best the CPU supports is chosen once, at the first kernel call.
//! `RUSTRNN_ISA=portable|avx2|avx512` forces a path (a path the CPU lacks
//! falls back to the best below it). Before AVX-512 is used for the first
//! time, its kernels run a small fixed problem against the portable ones
//! (`crate::kernels::selfcheck`, registered here with [`register_self_check`]
//! by the thread pool before it first runs anything, and by the Python
//! binding at import); if they disagree, AVX2 is used instead and [`notice`]
//! says why. (The check is passed in rather than called from here because it
//! runs the kernels, which depend on this module.)

use std::sync::OnceLock;

/// A kernel path. Ordered: each one needs the CPU features of those below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    Portable,
    Avx2,
    Avx512,
}

impl Isa {
    pub const ALL: [Isa; 3] = [Isa::Portable, Isa::Avx2, Isa::Avx512];

    /// The name `RUSTRNN_ISA` takes.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    pub fn parse(name: &str) -> Option<Isa> {
        Isa::ALL.into_iter().find(|isa| isa.name().eq_ignore_ascii_case(name.trim()))
    }

    /// Whether this CPU can run the path.
    pub fn is_supported(self) -> bool {
        detected() >= self
    }
}

impl std::fmt::Display for Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The best path this CPU supports.
pub fn detected() -> Isa {
    static DETECTED: OnceLock<Isa> = OnceLock::new();
    *DETECTED.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx2") && has!("fma") {
                return if has!("avx512f") { Isa::Avx512 } else { Isa::Avx2 };
            }
        }
        Isa::Portable
    })
}

/// Every path this CPU supports, portable first.
pub fn supported() -> Vec<Isa> {
    Isa::ALL.into_iter().filter(|isa| isa.is_supported()).collect()
}

struct Choice {
    isa: Isa,
    notice: Option<String>,
}

/// A check of one path against the portable kernels.
pub type SelfCheck = fn(Isa) -> Result<(), String>;

static SELF_CHECK: OnceLock<SelfCheck> = OnceLock::new();

/// Registers the check run before AVX-512 is first used. It takes effect if
/// registered before the path is first chosen (the first kernel call); Rust
/// code that calls kernels directly, outside [`crate::threads`], registers it
/// with `kernels::selfcheck::register()` first.
pub fn register_self_check(check: SelfCheck) {
    let _ = SELF_CHECK.set(check);
}

fn choice() -> &'static Choice {
    static CHOICE: OnceLock<Choice> = OnceLock::new();
    CHOICE.get_or_init(|| {
        let check = |isa| SELF_CHECK.get().map_or(Ok(()), |c| c(isa));
        choose(std::env::var("RUSTRNN_ISA").ok().as_deref(), detected(), check)
    })
}

/// The path in use (chosen and self-checked at the first call, then a
/// cached load).
#[inline]
pub fn active() -> Isa {
    choice().isa
}

/// Why the path in use differs from the one requested or detected, if it does
/// (an unknown or unsupported `RUSTRNN_ISA`, or AVX-512 kernels that failed
/// their self-check). The Python package shows it as a warning.
pub fn notice() -> Option<&'static str> {
    choice().notice.as_deref()
}

/// The choice, given `RUSTRNN_ISA`, the CPU's best path and the self-check.
fn choose(requested: Option<&str>, best: Isa, check: impl Fn(Isa) -> Result<(), String>) -> Choice {
    let mut notes = Vec::new();
    let mut isa = match requested.filter(|r| !r.trim().is_empty()) {
        None => best,
        Some(r) => match Isa::parse(r) {
            Some(want) if want <= best => want,
            Some(want) => {
                notes.push(format!("RUSTRNN_ISA={want}: this CPU does not support it, using {best}"));
                best
            }
            None => {
                notes.push(format!("RUSTRNN_ISA={r:?}: expected portable, avx2 or avx512; using {best}"));
                best
            }
        },
    };
    if isa == Isa::Avx512 {
        if let Err(why) = check(Isa::Avx512) {
            notes.push(format!("AVX-512 kernels failed their self-check ({why}); using avx2"));
            isa = Isa::Avx2;
        }
    }
    Choice { isa, notice: (!notes.is_empty()).then(|| notes.join("; ")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(_: Isa) -> Result<(), String> {
        Ok(())
    }

    #[test]
    fn names_round_trip() {
        for isa in Isa::ALL {
            assert_eq!(Isa::parse(isa.name()), Some(isa));
            assert_eq!(Isa::parse(&format!(" {} ", isa.name().to_uppercase())), Some(isa));
        }
        assert_eq!(Isa::parse("sse"), None);
    }

    #[test]
    fn requests_are_honoured_up_to_what_the_cpu_has() {
        let c = choose(None, Isa::Avx2, ok);
        assert_eq!((c.isa, c.notice), (Isa::Avx2, None));
        let c = choose(Some("portable"), Isa::Avx512, ok);
        assert_eq!((c.isa, c.notice), (Isa::Portable, None));
        let c = choose(Some("avx512"), Isa::Avx2, ok);
        assert_eq!(c.isa, Isa::Avx2);
        assert!(c.notice.unwrap().contains("does not support"));
        let c = choose(Some("neon"), Isa::Portable, ok);
        assert_eq!(c.isa, Isa::Portable);
        assert!(c.notice.unwrap().contains("expected portable, avx2 or avx512"));
        assert_eq!(choose(Some(""), Isa::Avx2, ok).isa, Isa::Avx2);
    }

    #[test]
    fn a_failed_self_check_falls_back_to_avx2() {
        let c = choose(None, Isa::Avx512, |_| Err("sgemm differs".into()));
        assert_eq!(c.isa, Isa::Avx2);
        assert!(c.notice.unwrap().contains("sgemm differs"));
        let c = choose(Some("avx512"), Isa::Avx512, ok);
        assert_eq!((c.isa, c.notice), (Isa::Avx512, None));
    }

    #[test]
    fn active_is_supported() {
        assert!(active().is_supported());
        assert_eq!(supported()[0], Isa::Portable);
        assert_eq!(*supported().last().unwrap(), detected());
    }
}
