//! A time loop run by several threads in lockstep, for the recurrent layers.
//!
//! Every step of a recurrent layer is split into a few chunks (blocks of
//! hidden units) and step `s + 1` may start only when every chunk of step `s`
//! is done. A fork-join per step (rayon's `par_iter`) costs microseconds and
//! wakes sleeping threads; here the threads join once per sequence and meet at
//! a spinning barrier between steps, the way oneDNN's and ggml's per-step
//! loops do.
//!
//! Deadlock-free by construction: a thread never waits for a *thread*, only
//! for chunks that a running thread has claimed. Chunks are claimed with a
//! compare-and-swap (each participant tries "its own" chunk first, so a
//! block of weights stays in the same core's cache from step to step, then
//! takes any chunk left), so if a helper never gets a core (the pool is busy
//! with another caller's work, or the machine is oversubscribed), the caller
//! computes its chunks itself. A helper that starts late joins at the current
//! step; one that starts after the last step returns at once.
//!
//! Which thread computes a chunk never changes what the chunk computes, so
//! results are bit-identical for any number of threads.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Spins of the barrier's busy-wait before each `yield_now`: about a
/// microsecond, the scale of one chunk's hand-over on an idle core; past
/// that the waiter yields so that an oversubscribed machine runs the thread
/// being waited for.
const SPINS_BEFORE_YIELD: u32 = 256;

/// Runs `work(step, chunk, &mut scratch[chunk])` for every step in order and
/// every chunk (`scratch.len()` of them), chunks of one step in parallel on
/// the current rayon pool. All chunks of step `s` have finished, and their
/// writes are visible, before any chunk of step `s + 1` starts.
pub fn run<S: Send>(steps: usize, scratch: &mut [S], work: impl Fn(usize, usize, &mut S) + Sync) {
    let chunks = scratch.len();
    let threads = rayon::current_num_threads().min(chunks);
    if threads <= 1 || steps == 0 {
        for step in 0..steps {
            for (c, s) in scratch.iter_mut().enumerate() {
                work(step, c, s);
            }
        }
        return;
    }
    let team = Team {
        claimed: (0..chunks).map(|_| AtomicUsize::new(0)).collect(),
        done: AtomicUsize::new(0),
        joined: AtomicUsize::new(1),
        scratch: ScratchPtr(scratch.as_mut_ptr()),
        steps,
        threads,
    };
    let (team, work) = (&team, &work);
    rayon::scope(|s| {
        for _ in 1..threads {
            s.spawn(move |_| {
                let me = team.joined.fetch_add(1, Ordering::Relaxed);
                team.participate(me, work);
            });
        }
        team.participate(0, work);
    });
}

/// The scratch buffers, one per chunk; a chunk's buffer is used only by the
/// thread that claimed the chunk, for that step.
struct ScratchPtr<S>(*mut S);

// SAFETY: the pointer is only dereferenced for a claimed chunk (see `participate`).
unsafe impl<S: Send> Sync for ScratchPtr<S> {}

struct Team<S> {
    /// Per chunk: how many steps of it have been claimed.
    claimed: Vec<AtomicUsize>,
    /// Chunks finished, all steps together: step `s` is done when it reaches `(s + 1)·chunks`.
    done: AtomicUsize,
    /// Participants so far (the caller is 0).
    joined: AtomicUsize,
    scratch: ScratchPtr<S>,
    steps: usize,
    threads: usize,
}

impl<S: Send> Team<S> {
    fn participate(&self, me: usize, work: &(impl Fn(usize, usize, &mut S) + Sync)) {
        let chunks = self.claimed.len();
        // The first chunk this participant tries: its own block, the same at every step.
        let first = me * chunks / self.threads;
        let mut step = self.done.load(Ordering::Acquire) / chunks;
        while step < self.steps {
            for i in 0..chunks {
                let c = (first + i) % chunks;
                // Chunk c is free for step `step` iff exactly `step` of its steps were claimed.
                if self.claimed[c].compare_exchange(step, step + 1, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                    // SAFETY: the claim above is exclusive for (step, c), and
                    // scratch has `chunks` elements that outlive the team.
                    let s = unsafe { &mut *self.scratch.0.add(c) };
                    work(step, c, s);
                    self.done.fetch_add(1, Ordering::Release);
                }
            }
            // The barrier: every chunk of this step done (by whoever claimed it).
            let target = (step + 1) * chunks;
            let mut spins = 0u32;
            loop {
                let done = self.done.load(Ordering::Acquire);
                if done >= target {
                    step = done / chunks;
                    break;
                }
                if spins < SPINS_BEFORE_YIELD {
                    spins += 1;
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Every (step, chunk) runs exactly once, and only after the whole previous step.
    #[test]
    fn steps_run_in_order_and_chunks_once() {
        for threads in [1, 2, 3, 5] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let (steps, chunks) = (200, 4);
            let log = Mutex::new(Vec::new());
            let finished = AtomicUsize::new(0);
            let mut scratch = vec![0usize; chunks];
            pool.install(|| {
                run(steps, &mut scratch, |step, c, s| {
                    // Everything of the earlier steps has finished.
                    assert!(finished.load(Ordering::SeqCst) >= step * chunks, "step {step} started early");
                    *s += 1;
                    log.lock().unwrap().push((step, c));
                    finished.fetch_add(1, Ordering::SeqCst);
                })
            });
            let mut log = log.into_inner().unwrap();
            log.sort();
            let want: Vec<_> = (0..steps).flat_map(|s| (0..chunks).map(move |c| (s, c))).collect();
            assert_eq!(log, want, "{threads} threads");
            assert_eq!(scratch, vec![steps; chunks]);
        }
    }

    /// The caller finishes alone when the pool's other threads are all busy.
    #[test]
    fn progresses_when_helpers_never_start() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let gate = std::sync::Barrier::new(2);
        let release = std::sync::atomic::AtomicBool::new(false);
        pool.install(|| {
            rayon::join(
                || {
                    // Occupy the other worker until the time loop below has finished.
                    gate.wait();
                    while !release.load(Ordering::Acquire) {
                        std::thread::yield_now();
                    }
                },
                || {
                    gate.wait();
                    let mut scratch = vec![0u32; 3];
                    run(50, &mut scratch, |_, _, s| *s += 1);
                    release.store(true, Ordering::Release);
                    assert_eq!(scratch, vec![50; 3]);
                },
            )
        });
    }
}
