//! Busy-polling before the runtime thread sleeps (`--busy-poll`).
//!
//! Under a request-reply load the runtime thread often finishes its work a few microseconds
//! before the next request arrives, sleeps in `epoll_wait`, and is woken for it. Each sleep costs
//! this thread a context switch and costs the client that wakes it more: on a virtual machine,
//! waking a thread on an idle vCPU was 12.5% of redis-benchmark's own CPU against Redraft (5.4%
//! against Redis, which is slower per request and so sleeps half as often), and at -P 1 the load
//! generator, not the server, sets the pace. Before sleeping, a thread that was woken within the
//! last millisecond (so it is under load) first polls its runtime's epoll instance for up to the
//! budget, yielding the CPU between polls to any other thread that wants it; what arrives
//! meanwhile is served without a sleep. An idle server does not poll: a thread that slept longer
//! than a millisecond sleeps at once the next time too.
//!
//! tokio does not expose its epoll instance, so [`BusyPoll::for_this_process`] finds it among the
//! process's file descriptors right after the runtime is built: the `anon_inode:[eventpoll]`
//! descriptors, which must all be the one instance (they watch the same descriptors). If they
//! are not, polling is off.

use std::cell::Cell;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// A thread that slept longer than this before its last wake-up is idle and does not poll.
const BUSY_SLEEP_MAX: Duration = Duration::from_millis(1);

thread_local! {
    static PARKED_AT: Cell<Option<Instant>> = const { Cell::new(None) };
    static LAST_SLEEP: Cell<Duration> = const { Cell::new(Duration::MAX) };
}

/// The runtime's epoll instance and how long to poll it before sleeping.
#[derive(Clone, Copy, Debug)]
pub struct BusyPoll {
    epoll: RawFd,
    budget: Duration,
}

impl BusyPoll {
    /// Polling for up to `budget` before each sleep; `None` when the budget is zero or the
    /// runtime's epoll instance cannot be told apart. Call once the runtime is built and before
    /// anything else opens an epoll instance.
    pub fn for_this_process(budget: Duration) -> Option<BusyPoll> {
        if budget.is_zero() {
            return None;
        }
        let mut found = std::fs::read_dir("/proc/self/fd")
            .ok()?
            .flatten()
            .filter(|e| {
                std::fs::read_link(e.path())
                    .is_ok_and(|target| target.as_os_str() == "anon_inode:[eventpoll]")
            })
            .filter_map(|e| e.file_name().to_str()?.parse::<RawFd>().ok());
        // tokio's driver holds its instance twice (mio duplicates the descriptor for its
        // registry): every descriptor found must watch the same descriptors.
        let epoll = found.next()?;
        let watched = watched_by(epoll)?;
        if found.any(|other| watched_by(other).as_ref() != Some(&watched)) {
            return None;
        }
        Some(BusyPoll { epoll, budget })
    }

    /// Called just before the runtime thread parks.
    pub fn before_park(&self) {
        if LAST_SLEEP.get() <= BUSY_SLEEP_MAX {
            let deadline = Instant::now() + self.budget;
            loop {
                let mut ready = libc::pollfd {
                    fd: self.epoll,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd, a zero timeout.
                if unsafe { libc::poll(&mut ready, 1, 0) } != 0 || Instant::now() >= deadline {
                    break;
                }
                // SAFETY: no arguments; lets any other runnable thread on this CPU go first.
                unsafe { libc::sched_yield() };
            }
        }
        PARKED_AT.set(Some(Instant::now()));
    }

    /// Called just after the runtime thread wakes.
    pub fn after_unpark(&self) {
        if let Some(parked_at) = PARKED_AT.take() {
            LAST_SLEEP.set(parked_at.elapsed());
        }
    }
}

/// The descriptors an epoll instance watches (`tfd:` lines of its fdinfo), sorted.
fn watched_by(epoll: RawFd) -> Option<Vec<String>> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{epoll}")).ok()?;
    let mut watched: Vec<String> = info
        .lines()
        .filter(|line| line.starts_with("tfd:"))
        .map(str::to_string)
        .collect();
    watched.sort();
    Some(watched)
}
