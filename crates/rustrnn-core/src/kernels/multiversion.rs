//! Element-wise loops compiled once per kernel path.
//!
//! [`multiversion!`] wraps a generic function so that its body is compiled
//! three times — for the baseline target, with AVX2+FMA and with AVX-512 —
//! and the copy for the path chosen by `kernels::isa` runs. The compiler
//! vectorises each copy for its vector width. Rust never contracts `a·b + c`
//! into a fused multiply-add on its own, so all copies give the same bits.

/// `multiversion! { /// docs
/// pub fn name / name_on<F: Float>(arg: Type, ...) { body } }` defines
/// `name(args)` on the path in use and `name_on(isa, args)` on a given one.
macro_rules! multiversion {
    ($(#[$meta:meta])* pub fn $name:ident / $on:ident <F: Float>($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        #[inline]
        #[allow(clippy::too_many_arguments)]
        pub fn $name<F: Float>($($arg: $ty),*) {
            $on::<F>($crate::kernels::isa::active(), $($arg),*)
        }

        /// The same on a given kernel path (which this CPU must support).
        #[allow(clippy::too_many_arguments)]
        pub fn $on<F: Float>(isa: $crate::kernels::isa::Isa, $($arg: $ty),*) {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn body<F: Float>($($arg: $ty),*) $body

            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            unsafe fn avx2<F: Float>($($arg: $ty),*) {
                body::<F>($($arg),*)
            }

            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            unsafe fn avx512<F: Float>($($arg: $ty),*) {
                body::<F>($($arg),*)
            }

            assert!(isa.is_supported(), "{}: this CPU does not support {isa}", stringify!($on));
            match isa {
                // SAFETY: this CPU supports the path (asserted above).
                #[cfg(target_arch = "x86_64")]
                $crate::kernels::isa::Isa::Avx2 => unsafe { avx2::<F>($($arg),*) },
                #[cfg(target_arch = "x86_64")]
                $crate::kernels::isa::Isa::Avx512 => unsafe { avx512::<F>($($arg),*) },
                _ => body::<F>($($arg),*),
            }
        }
    };
}

pub(crate) use multiversion;
