//! The thread pool all parallel work runs in.
//!
//! One pool for the whole process, sized by `RUSTRNN_NUM_THREADS` or the number
//! of available cores, and resizable with [`set_num_threads`]. Calls from many
//! caller threads share it, so the machine is never oversubscribed.
//!
//! Every call runs in rustrnn's floating-point mode ([`crate::kernels::fpmode`]:
//! subnormals flushed to zero unless opted out): the calling thread through a
//! guard that restores its state on return, the pool's workers (which run
//! nothing else) by setting their mode when they start and again whenever the
//! setting has changed since the pool's last call.

use crate::kernels::{fpmode, selfcheck};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

/// A rayon pool and the flush mode its workers are in.
struct Pool {
    pool: rayon::ThreadPool,
    flush: AtomicBool,
}

impl Pool {
    fn new(threads: usize) -> Pool {
        let on = fpmode::flush_denormal();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("rustrnn-{i}"))
            .start_handler(move |_| fpmode::set_thread_mode(on))
            .build()
            .expect("building a thread pool");
        Pool { pool, flush: AtomicBool::new(on) }
    }

    fn run<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        let _caller = fpmode::FlushGuard::new();
        let want = fpmode::flush_denormal();
        if self.flush.load(Ordering::Acquire) != want {
            self.pool.broadcast(|_| fpmode::set_thread_mode(want));
            self.flush.store(want, Ordering::Release);
        }
        self.pool.install(f)
    }
}

fn pool_slot() -> &'static RwLock<Arc<Pool>> {
    static POOL: OnceLock<RwLock<Arc<Pool>>> = OnceLock::new();
    POOL.get_or_init(|| {
        // Before anything runs in the pool: AVX-512 is checked at first use.
        selfcheck::register();
        RwLock::new(Arc::new(Pool::new(default_threads())))
    })
}

fn default_threads() -> usize {
    std::env::var("RUSTRNN_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Replaces the pool with one of `threads` threads (at least 1). Work already
/// running finishes on the old pool.
pub fn set_num_threads(threads: usize) {
    let pool = Arc::new(Pool::new(threads.max(1)));
    *pool_slot().write().unwrap_or_else(|e| e.into_inner()) = pool;
}

/// Threads of the current pool.
pub fn num_threads() -> usize {
    pool_slot().read().unwrap_or_else(|e| e.into_inner()).pool.current_num_threads()
}

fn current() -> Arc<Pool> {
    THREAD_OVERRIDE.with(|o| o.borrow().clone()).unwrap_or_else(|| pool_slot().read().unwrap_or_else(|e| e.into_inner()).clone())
}

/// Runs `f` inside the pool (so rayon calls within it use the pool's threads),
/// in rustrnn's floating-point mode; the caller's mode is restored on return.
pub fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    current().run(f)
}

/// Whether every worker of the current pool computes with subnormals flushed
/// to zero (a diagnostic for tests: each worker reports its own register).
pub fn workers_flush() -> Vec<bool> {
    let pool = current();
    pool.run(|| rayon::broadcast(|_| fpmode::flushing_in_this_thread()))
}

/// Runs `f` with the thread pool of `threads` threads (used by tests and
/// benchmarks to compare thread counts without touching the global setting).
pub fn with_num_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    selfcheck::register();
    let pool = Pool::new(threads.max(1));
    THREAD_OVERRIDE.with(|o| {
        let prev = o.replace(Some(Arc::new(pool)));
        let r = f();
        o.replace(prev);
        r
    })
}

thread_local! {
    static THREAD_OVERRIDE: std::cell::RefCell<Option<Arc<Pool>>> = const { std::cell::RefCell::new(None) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_follow_the_switch() {
        let _lock = fpmode::tests::SWITCH.lock().unwrap_or_else(|e| e.into_inner());
        with_num_threads(3, || {
            fpmode::set_flush_denormal(true);
            assert_eq!(workers_flush(), vec![true; 3]);
            fpmode::set_flush_denormal(false);
            assert_eq!(workers_flush(), vec![false; 3]);
            fpmode::set_flush_denormal(true);
            assert_eq!(workers_flush(), vec![true; 3]);
        });
    }
}
