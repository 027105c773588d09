//! The threads that prepare a batch replay's parts, and the order their
//! results are taken in.
//!
//! ```text
//!  submit(part 0, 1, 2, …) ──▶ job queue ──▶ worker 1 ─┐ results, in whatever
//!                                        └─▶ worker 2 ─┤ order they finish
//!  next() / ready() ◀── InOrder (part 0, 1, 2, …) ◀────┘
//! ```
//! The workers live as long as the pool, so they keep preparing the parts
//! queued while the caller applies earlier ones or reads more records: no
//! core waits for a chunk's slowest part or for the caller.

use std::collections::BTreeMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

/// What a worker does with one job.
pub(super) type Work<J, R> = Box<dyn FnMut(J) -> R + Send>;

/// Jobs numbered in the order submitted, done on worker threads, their
/// results taken in that same order.
pub(super) struct Pool<J, R> {
    jobs: Option<Sender<(u64, J)>>,
    results: Receiver<(u64, std::thread::Result<R>)>,
    /// Tells the workers to take no further job (the pool is dropped).
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
    /// Does a job on the caller's thread when no worker could take it
    /// (none could be started).
    inline: Work<J, R>,
    submitted: u64,
    in_order: InOrder<R>,
}

impl<J: Send + 'static, R: Send + 'static> Pool<J, R> {
    /// Starts `threads` workers (at least one), each with its own `work`.
    pub(super) fn new(threads: usize, mut work: impl FnMut() -> Work<J, R>) -> Pool<J, R> {
        let (jobs, job_queue) = mpsc::channel();
        let job_queue = Arc::new(Mutex::new(job_queue));
        let (done, results) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<JoinHandle<()>> = (0..threads.max(1))
            .filter_map(|i| {
                let worker = Worker {
                    jobs: Arc::clone(&job_queue),
                    done: done.clone(),
                    stop: Arc::clone(&stop),
                    work: work(),
                };
                std::thread::Builder::new()
                    .name(format!("replay-prepare-{i}"))
                    .spawn(move || worker.run())
                    .ok()
            })
            .collect();
        Pool {
            inline: work(),
            jobs: Some(jobs),
            results,
            stop,
            workers,
            submitted: 0,
            in_order: InOrder::default(),
        }
    }

    /// Queues `job` for the workers.
    pub(super) fn submit(&mut self, job: J) {
        let id = self.submitted;
        self.submitted += 1;
        let unsent = match (&self.jobs, self.workers.is_empty()) {
            (Some(jobs), false) => jobs.send((id, job)).err().map(|e| e.0.1),
            _ => Some(job),
        };
        if let Some(job) = unsent {
            let result = (self.inline)(job);
            self.in_order.insert(id, result);
        }
    }

    /// Jobs submitted whose result was not taken yet.
    pub(super) fn outstanding(&self) -> u64 {
        self.submitted - self.in_order.next
    }

    /// The result of the oldest job not taken yet, if it is done.
    pub(super) fn ready(&mut self) -> Option<R> {
        while let Ok((id, result)) = self.results.try_recv() {
            self.in_order.insert(id, reraise(result));
        }
        self.in_order.take_next()
    }

    /// The result of the oldest job not taken yet, waiting for it; `None`
    /// when every result was taken.
    pub(super) fn next(&mut self) -> Option<R> {
        if self.outstanding() == 0 {
            return None;
        }
        loop {
            if let Some(result) = self.in_order.take_next() {
                return Some(result);
            }
            let (id, result) = self
                .results
                .recv()
                .unwrap_or_else(|_| panic!("{WORKERS_GONE}"));
            self.in_order.insert(id, reraise(result));
        }
    }
}

/// A worker's panic, raised again on the caller's thread.
fn reraise<R>(result: std::thread::Result<R>) -> R {
    result.unwrap_or_else(|panic| resume_unwind(panic))
}

/// Workers leave only when the pool is dropped (a job's panic is caught
/// and sent as its result), so a job queued is always answered.
const WORKERS_GONE: &str = "the batch replay's workers left with jobs queued";

impl<J, R> Drop for Pool<J, R> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.jobs = None;
        for worker in self.workers.drain(..) {
            // A worker's panic was raised by `next` already, or its result
            // is no longer wanted.
            let _ = worker.join();
        }
    }
}

impl<J, R> fmt::Debug for Pool<J, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("workers", &self.workers.len())
            .field("submitted", &self.submitted)
            .field("taken", &self.in_order.next)
            .finish_non_exhaustive()
    }
}

/// One worker thread: takes jobs from the shared queue until it closes or
/// the pool stops.
struct Worker<J, R> {
    jobs: Arc<Mutex<Receiver<(u64, J)>>>,
    done: Sender<(u64, std::thread::Result<R>)>,
    stop: Arc<AtomicBool>,
    work: Work<J, R>,
}

impl<J, R> Worker<J, R> {
    fn run(mut self) {
        while let Some((id, job)) = self.take() {
            let result = catch_unwind(AssertUnwindSafe(|| (self.work)(job)));
            if self.done.send((id, result)).is_err() {
                return;
            }
        }
    }

    fn take(&self) -> Option<(u64, J)> {
        let queue = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        let job = queue.recv().ok()?;
        (!self.stop.load(Ordering::Relaxed)).then_some(job)
    }
}

/// Results that arrive in any order, taken in the order of their ids.
#[derive(Debug)]
struct InOrder<R> {
    /// The id of the next result to take.
    next: u64,
    waiting: BTreeMap<u64, R>,
}

impl<R> Default for InOrder<R> {
    fn default() -> Self {
        InOrder {
            next: 0,
            waiting: BTreeMap::new(),
        }
    }
}

impl<R> InOrder<R> {
    fn insert(&mut self, id: u64, result: R) {
        self.waiting.insert(id, result);
    }

    fn take_next(&mut self) -> Option<R> {
        let result = self.waiting.remove(&self.next)?;
        self.next += 1;
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_arriving_in_any_order_are_taken_in_the_order_of_their_ids() {
        let mut in_order = InOrder::default();
        for id in [3, 1, 4, 0, 2] {
            in_order.insert(id, id * 10);
        }
        in_order.insert(6, 60);
        let taken: Vec<u64> = std::iter::from_fn(|| in_order.take_next()).collect();
        assert_eq!(taken, [0, 10, 20, 30, 40]);
        assert_eq!(in_order.next, 5);
        in_order.insert(5, 50);
        assert_eq!(in_order.take_next(), Some(50));
        assert_eq!(in_order.take_next(), Some(60));
        assert_eq!(in_order.take_next(), None);
    }

    fn squares(threads: usize) -> Pool<u64, u64> {
        Pool::new(threads, || Box::new(|n: u64| n * n))
    }

    #[test]
    fn the_pool_gives_every_result_in_the_order_submitted() {
        for threads in [1, 2, 5] {
            let mut pool = squares(threads);
            for n in 0..200 {
                pool.submit(n);
            }
            assert_eq!(pool.outstanding(), 200);
            let results: Vec<u64> = std::iter::from_fn(|| pool.next()).collect();
            assert_eq!(results, (0..200).map(|n| n * n).collect::<Vec<_>>());
            assert_eq!(pool.outstanding(), 0);
            assert_eq!(pool.ready(), None);
        }
    }

    #[test]
    fn a_ready_result_is_the_oldest_one_only() {
        let mut pool = squares(2);
        pool.submit(7);
        pool.submit(8);
        assert_eq!(pool.next(), Some(49));
        // `ready` never skips a job still running.
        let mut seen = Vec::new();
        while seen.is_empty() {
            seen.extend(pool.ready());
        }
        assert_eq!(seen, [64]);
        assert_eq!(pool.next(), None);
    }

    #[test]
    fn a_workers_panic_is_raised_on_the_callers_thread() {
        let mut pool: Pool<u64, u64> = Pool::new(2, || {
            Box::new(|n: u64| match n {
                3 => panic!("part 3 cannot be prepared"),
                n => n,
            })
        });
        for n in 0..5 {
            pool.submit(n);
        }
        let taken = std::panic::catch_unwind(AssertUnwindSafe(|| {
            std::iter::from_fn(|| pool.next()).collect::<Vec<_>>()
        }));
        let panic = taken.expect_err("the panic reaches the caller");
        assert_eq!(
            panic.downcast_ref::<&str>(),
            Some(&"part 3 cannot be prepared")
        );
    }
}
