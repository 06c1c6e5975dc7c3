//! The thread pool all parallel work runs in.
//!
//! One pool for the whole process, sized by `RUSTRNN_NUM_THREADS` or the number
//! of available cores, and resizable with [`set_num_threads`]. Calls from many
//! caller threads share it, so the machine is never oversubscribed.
//!
//! Fork safety: a child process (`multiprocessing`'s fork, prefork servers)
//! inherits the pool but not its threads, so work sent to it would wait
//! forever. The pool remembers the process that built it; a call from another
//! process builds a fresh pool of the same size first.
//!
//! Every call runs in rustrnn's floating-point mode ([`crate::kernels::fpmode`]:
//! subnormals flushed to zero unless opted out): the calling thread through a
//! guard that restores its state on return, the pool's workers (which run
//! nothing else) by setting their mode when they start and again whenever the
//! setting has changed since the pool's last call.

use crate::error::{Result, RnnError};
use crate::kernels::{fpmode, selfcheck};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

/// The most threads a pool may have: more cannot help on any CPU this runs
/// on, and asking the OS for 10^5 threads would fail or stall the process.
pub const MAX_THREADS: usize = 1024;

/// A rayon pool, the flush mode its workers are in, and the process whose
/// threads these are.
struct Pool {
    pool: rayon::ThreadPool,
    flush: AtomicBool,
    pid: u32,
}

impl Pool {
    fn build(threads: usize) -> Result<Pool> {
        let on = fpmode::flush_denormal();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("rustrnn-{i}"))
            .start_handler(move |_| fpmode::set_thread_mode(on))
            .build()
            .map_err(|e| RnnError::value(format!("threads: could not start a pool of {threads} threads ({e})")))?;
        Ok(Pool { pool, flush: AtomicBool::new(on), pid: std::process::id() })
    }

    /// A pool of `threads` threads or, if the OS refuses them, of one.
    fn build_or_one(threads: usize) -> Pool {
        Pool::build(threads.clamp(1, MAX_THREADS)).or_else(|_| Pool::build(1)).expect("a one-thread pool")
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
        RwLock::new(Arc::new(Pool::build_or_one(default_threads())))
    })
}

/// Replaces `slot`'s pool, never dropping one inherited through a fork (its
/// threads do not exist in this process: dropping it would wait for them).
fn replace_pool(slot: &mut Arc<Pool>, pool: Pool) {
    let old = std::mem::replace(slot, Arc::new(pool));
    if old.pid != std::process::id() {
        std::mem::forget(old);
    }
}

/// The pool of this process, rebuilt after a fork.
fn current_pool() -> Arc<Pool> {
    let pid = std::process::id();
    {
        let p = pool_slot().read().unwrap_or_else(|e| e.into_inner());
        if p.pid == pid {
            return p.clone();
        }
    }
    let mut p = pool_slot().write().unwrap_or_else(|e| e.into_inner());
    if p.pid != pid {
        let threads = p.pool.current_num_threads();
        replace_pool(&mut p, Pool::build_or_one(threads));
    }
    p.clone()
}

fn default_threads() -> usize {
    std::env::var("RUSTRNN_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .map(|n| n.min(MAX_THREADS))
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Replaces the pool with one of `threads` threads (1..=[`MAX_THREADS`]).
/// Work already running finishes on the old pool.
pub fn set_num_threads(threads: usize) -> Result<()> {
    if !(1..=MAX_THREADS).contains(&threads) {
        return Err(RnnError::value(format!("threads: expected a number of threads in 1..={MAX_THREADS}, got {threads}")));
    }
    let pool = Pool::build(threads)?;
    replace_pool(&mut pool_slot().write().unwrap_or_else(|e| e.into_inner()), pool);
    Ok(())
}

/// Threads of the current pool.
pub fn num_threads() -> usize {
    current_pool().pool.current_num_threads()
}

fn current() -> Arc<Pool> {
    THREAD_OVERRIDE.with(|o| o.borrow().clone()).unwrap_or_else(current_pool)
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
    let pool = Pool::build_or_one(threads);
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
