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

use crate::error::{Result, RnnError};
use std::sync::{Arc, OnceLock, RwLock};

/// The most threads a pool may have: more cannot help on any CPU this runs
/// on, and asking the OS for 10^5 threads would fail or stall the process.
pub const MAX_THREADS: usize = 1024;

struct Pool {
    pool: Arc<rayon::ThreadPool>,
    /// The process whose threads these are.
    pid: u32,
}

fn pool_slot() -> &'static RwLock<Pool> {
    static POOL: OnceLock<RwLock<Pool>> = OnceLock::new();
    POOL.get_or_init(|| RwLock::new(Pool { pool: Arc::new(build_or_one(default_threads())), pid: std::process::id() }))
}

/// The pool of this process, rebuilt after a fork.
fn current_pool() -> Arc<rayon::ThreadPool> {
    let pid = std::process::id();
    {
        let p = pool_slot().read().unwrap_or_else(|e| e.into_inner());
        if p.pid == pid {
            return p.pool.clone();
        }
    }
    let mut p = pool_slot().write().unwrap_or_else(|e| e.into_inner());
    if p.pid != pid {
        let threads = p.pool.current_num_threads();
        let inherited = std::mem::replace(&mut *p, Pool { pool: Arc::new(build_or_one(threads)), pid });
        // Its threads do not exist in this process: dropping it would wait for them.
        std::mem::forget(inherited);
    }
    p.pool.clone()
}

fn default_threads() -> usize {
    std::env::var("RUSTRNN_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .map(|n| n.min(MAX_THREADS))
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn build(threads: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("rustrnn-{i}"))
        .build()
        .map_err(|e| RnnError::value(format!("threads: could not start a pool of {threads} threads ({e})")))
}

/// A pool of `threads` threads or, if the OS refuses them, of one.
fn build_or_one(threads: usize) -> rayon::ThreadPool {
    build(threads.clamp(1, MAX_THREADS)).or_else(|_| build(1)).expect("a one-thread pool")
}

/// Replaces the pool with one of `threads` threads (1..=[`MAX_THREADS`]).
/// Work already running finishes on the old pool.
pub fn set_num_threads(threads: usize) -> Result<()> {
    if !(1..=MAX_THREADS).contains(&threads) {
        return Err(RnnError::value(format!("threads: expected a number of threads in 1..={MAX_THREADS}, got {threads}")));
    }
    let pool = Pool { pool: Arc::new(build(threads)?), pid: std::process::id() };
    let old = std::mem::replace(&mut *pool_slot().write().unwrap_or_else(|e| e.into_inner()), pool);
    if old.pid != std::process::id() {
        std::mem::forget(old);
    }
    Ok(())
}

/// Threads of the current pool.
pub fn num_threads() -> usize {
    pool_slot().read().unwrap_or_else(|e| e.into_inner()).pool.current_num_threads()
}

/// Runs `f` inside the pool (so rayon calls within it use the pool's threads).
pub fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let pool = THREAD_OVERRIDE.with(|o| o.borrow().clone()).unwrap_or_else(current_pool);
    pool.install(f)
}

/// Runs `f` with the thread pool of `threads` threads (used by tests and
/// benchmarks to compare thread counts without touching the global setting).
pub fn with_num_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    let pool = build_or_one(threads);
    THREAD_OVERRIDE.with(|o| {
        let prev = o.replace(Some(Arc::new(pool)));
        let r = f();
        o.replace(prev);
        r
    })
}

thread_local! {
    static THREAD_OVERRIDE: std::cell::RefCell<Option<Arc<rayon::ThreadPool>>> = const { std::cell::RefCell::new(None) };
}
