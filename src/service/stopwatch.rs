//! How long one of the applier's steps took: on the wall clock (how long the stream waited),
//! and on the CPU of the thread that ran it (how much of that was the step's own work). On a
//! busy machine the two part: a step of 1 ms of work can wait 30 ms for a core while the
//! database server's threads have them (or for a lock, or for the snapshot writer).
//!
//! The CPU figure is the thread's, so it is the step's only while the step has its thread to
//! itself, as the applier does: `flowtally run` drives it in the main thread's `block_on`, not
//! on a runtime worker. A step found on another thread at its end has no CPU figure.

use std::thread::ThreadId;
use std::time::{Duration, Instant};

/// Started at a step's start; read at its end.
pub struct Stopwatch {
    wall: Instant,
    cpu: Option<Duration>,
    thread: ThreadId,
}

impl Stopwatch {
    pub fn start() -> Stopwatch {
        Stopwatch {
            wall: Instant::now(),
            cpu: thread_cpu(),
            thread: std::thread::current().id(),
        }
    }

    /// Seconds on the wall clock since the start.
    pub fn wall_secs(&self) -> f64 {
        self.wall.elapsed().as_secs_f64()
    }

    /// Seconds of this thread's CPU since the start; `None` if the step went on on another
    /// thread (a task may resume on another worker after it waited) or the clock is not there.
    pub fn cpu_secs(&self) -> Option<f64> {
        if std::thread::current().id() != self.thread {
            return None;
        }
        Some(thread_cpu()?.checked_sub(self.cpu?)?.as_secs_f64())
    }
}

/// The CPU time the calling thread has used (Linux's per-thread clock; std has none, and this
/// one call does not warrant a crate).
fn thread_cpu() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call's whole duration.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_shows_on_the_cpu_and_sleep_only_on_the_wall() {
        // Spin until the thread's own clock says 30 ms: the wall clock can only say more (on a
        // busy machine the thread also waits for a core).
        let busy = Stopwatch::start();
        let mut x = 0u64;
        let give_up = Instant::now() + Duration::from_secs(10);
        while busy.cpu_secs().is_some_and(|c| c < 0.030) && Instant::now() < give_up {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let cpu = busy.cpu_secs().expect("the same thread, on Linux");
        assert!(cpu >= 0.030, "spun until 30 ms of CPU: {cpu} s");
        assert!(busy.wall_secs() >= cpu);

        let idle = Stopwatch::start();
        std::thread::sleep(Duration::from_millis(30));
        let cpu = idle.cpu_secs().expect("the same thread, on Linux");
        assert!(idle.wall_secs() >= 0.030);
        assert!(cpu < 0.010, "sleeping 30 ms used {cpu} s of CPU");
    }

    #[test]
    fn a_step_read_on_another_thread_has_no_cpu_figure() {
        let watch = Stopwatch::start();
        let cpu = std::thread::scope(|s| s.spawn(|| watch.cpu_secs()).join());
        assert_eq!(cpu.ok(), Some(None));
    }
}
