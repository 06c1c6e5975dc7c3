//! Sizes that cannot crash the process: element and byte counts computed with
//! overflow checks, and allocations through fallible paths, so that an
//! impossible size (`hidden_size = 2**62`, `Embedding(10**11, 8)`, a batch
//! that does not fit) is an [`RnnError::Memory`] naming the argument and the
//! bytes, raised before anything is allocated, instead of an abort.

use crate::error::{fmt_shape, Result, RnnError};

/// Below this, a reservation is not probed first: it cannot fail for want of
/// address space, and probing every small buffer would cost time.
const PROBE_FROM_BYTES: usize = 64 << 20;

/// The product of `dims`, or an error naming `what` when it overflows.
pub fn elements(what: &str, dims: &[usize]) -> Result<usize> {
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| RnnError::memory(format!("{what}: a tensor of shape {} has more elements than memory can address", fmt_shape(dims))))
}

/// `a * b`, or an error naming `what` when it overflows (for sizes such as
/// gates × hidden that are not allocations by themselves).
pub fn mul(what: &str, a: usize, b: usize) -> Result<usize> {
    a.checked_mul(b).ok_or_else(|| RnnError::memory(format!("{what}: {a} x {b} overflows")))
}

/// The bytes of `dims` elements of `elem_size` bytes each, checked against
/// overflow and the largest allocation Rust allows (`isize::MAX`).
pub fn bytes(what: &str, dims: &[usize], elem_size: usize) -> Result<usize> {
    let n = elements(what, dims)?;
    n.checked_mul(elem_size).filter(|&b| b <= isize::MAX as usize).ok_or_else(|| {
        RnnError::memory(format!(
            "{what}: a tensor of shape {} needs {n} x {elem_size} bytes, more than memory can address",
            fmt_shape(dims)
        ))
    })
}

/// Fails with a `Memory` error naming `what` and the bytes unless `bytes`
/// can be reserved now. Large sizes are probed with a fallible reservation
/// that is released at once (address space only: no page is touched).
pub fn ensure_bytes(what: &str, bytes: usize) -> Result<()> {
    if bytes < PROBE_FROM_BYTES {
        return Ok(());
    }
    let mut probe: Vec<u8> = Vec::new();
    let reserved = probe.try_reserve_exact(bytes);
    // An allocation never used may be optimised away (and then "succeed"): the probe must be seen.
    std::hint::black_box(&mut probe);
    reserved.map_err(|_| cannot_allocate(what, bytes))
}

/// [`bytes`] then [`ensure_bytes`] for `dims` elements of `T`.
pub fn ensure<T>(what: &str, dims: &[usize]) -> Result<()> {
    ensure_bytes(what, bytes(what, dims, std::mem::size_of::<T>())?)
}

/// Checked total of several byte counts (the buffers one call allocates together).
pub fn total(what: &str, parts: &[usize]) -> Result<usize> {
    parts
        .iter()
        .try_fold(0usize, |acc, &p| acc.checked_add(p))
        .filter(|&b| b <= isize::MAX as usize)
        .ok_or_else(|| RnnError::memory(format!("{what}: the buffers need more bytes than memory can address")))
}

/// A vector of `n` copies of `fill`, allocated fallibly.
pub fn try_vec<T: Clone>(what: &str, n: usize, fill: T) -> Result<Vec<T>> {
    let size = bytes(what, &[n], std::mem::size_of::<T>())?;
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| cannot_allocate(what, size))?;
    v.resize(n, fill);
    Ok(v)
}

fn cannot_allocate(what: &str, bytes: usize) -> RnnError {
    RnnError::memory(format!("{what}: cannot allocate {bytes} bytes ({})", human(bytes)))
}

/// `1.5 GiB`-style size for messages.
pub fn human(bytes: usize) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflowing_shapes_are_memory_errors_naming_the_argument() {
        let e = elements("hidden_size", &[4, 1 << 62, 3]).unwrap_err();
        assert!(matches!(e, RnnError::Memory(_)) && e.message().starts_with("hidden_size:"), "{e}");
        let e = bytes("units", &[1 << 61, 1], 8).unwrap_err();
        assert!(e.message().contains("units") && e.message().contains("bytes"), "{e}");
        assert!(mul("gates", usize::MAX, 2).is_err());
        assert_eq!(elements("x", &[3, 4, 5]).unwrap(), 60);
        assert_eq!(elements("x", &[]).unwrap(), 1);
        assert!(total("t", &[usize::MAX, 1]).is_err());
    }

    #[test]
    fn impossible_reservations_fail_without_aborting() {
        // 2^62 bytes fit in isize but no machine has them: a clean error.
        let e = ensure_bytes("input_dim", 1 << 62).unwrap_err();
        assert!(e.message().contains("input_dim") && e.message().contains(&(1usize << 62).to_string()), "{e}");
        assert!(try_vec::<f64>("units", 1 << 60, 0.0).is_err());
        assert_eq!(try_vec("ok", 3, 1.5f32).unwrap(), vec![1.5; 3]);
        assert!(ensure::<f32>("small", &[10, 10]).is_ok());
        assert_eq!(human(3 << 30), "3.0 GiB");
    }
}
