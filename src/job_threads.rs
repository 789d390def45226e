//! `JobThreads`: a fixed set of named threads that take blocking jobs from one queue, in the
//! order asked, each thread keeping a state of its own between jobs (a database connection, or
//! nothing). The password hashes and SQLite's reads run here rather than on tokio's blocking
//! pool, whose threads come and go: a job's memory then stays with a few long-lived threads
//! (and their allocator caches) instead of spreading over every thread the pool ever started.

use std::{
    panic::{catch_unwind, AssertUnwindSafe},
    sync::{mpsc, Arc, Mutex},
};

use tokio::sync::oneshot;

type Job<S> = Box<dyn FnOnce(&mut S) + Send>;

/// The queue to `count` threads, each with its own `S`.
pub struct JobThreads<S> {
    jobs: mpsc::Sender<Job<S>>,
    name: &'static str,
}

impl<S> Clone for JobThreads<S> {
    fn clone(&self) -> Self {
        JobThreads {
            jobs: self.jobs.clone(),
            name: self.name,
        }
    }
}

/// The threads have stopped (they end only when every `JobThreads` is dropped), or a job
/// panicked.
#[derive(Debug, thiserror::Error)]
#[error("the {0} threads could not run the job")]
pub struct Stopped(&'static str);

impl<S: 'static> JobThreads<S> {
    /// Starts `count` threads named `{name}-N`, each starting with `init()` as its state.
    pub fn start(
        name: &'static str,
        count: usize,
        init: impl Fn() -> S + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job<S>>();
        let queue = Arc::new(Mutex::new(queue));
        let init = Arc::new(init);
        for i in 0..count.max(1) {
            let (queue, init) = (Arc::clone(&queue), Arc::clone(&init));
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || {
                    let mut state = init();
                    loop {
                        // The lock is held only while taking a job, never while running one.
                        let next = queue
                            .lock()
                            .map_err(|_| ())
                            .and_then(|q| q.recv().map_err(|_| ()));
                        match next {
                            Ok(job) => job(&mut state),
                            Err(()) => break,
                        }
                    }
                })?;
        }
        Ok(JobThreads { jobs, name })
    }

    /// Runs `work` on one of the threads, unless the caller has stopped waiting by then (a
    /// request cancelled while queued costs nothing).
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut S) -> T + Send + 'static,
    ) -> Result<T, Stopped> {
        let (answer, answered) = oneshot::channel();
        let job: Job<S> = Box::new(move |state: &mut S| {
            if !answer.is_closed() {
                if let Ok(value) = catch_unwind(AssertUnwindSafe(|| work(state))) {
                    let _ = answer.send(value);
                }
            }
        });
        self.jobs.send(job).map_err(|_| Stopped(self.name))?;
        answered.await.map_err(|_| Stopped(self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_thread_keeps_its_state_and_a_panicking_job_is_an_error_not_a_lost_thread() {
        let threads = JobThreads::start("test-jobs", 1, || 0_u32).expect("start");
        for want in 1..=3 {
            let seen = threads
                .run(|n: &mut u32| {
                    *n += 1;
                    *n
                })
                .await
                .expect("run");
            assert_eq!(seen, want, "the one thread's state carries over");
        }
        let failed = threads.run(|_: &mut u32| -> u32 { panic!("boom") }).await;
        assert!(failed.is_err());
        let after = threads.run(|n: &mut u32| *n).await;
        assert_eq!(after.expect("the thread still runs jobs"), 3);
    }
}
