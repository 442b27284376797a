//! `--busy-poll`: the runtime thread polls its epoll instance before it sleeps, only while it is
//! under load, and stops polling as soon as work arrives. Its own test binary, so that the
//! process holds no other runtime's epoll instance.

use std::time::{Duration, Instant};

use server::busy_poll::BusyPoll;

#[test]
fn polls_the_runtime_s_epoll_until_work_arrives_and_never_when_idle() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert!(BusyPoll::for_this_process(Duration::ZERO).is_none());
    let (ours, theirs) = runtime.block_on(async { tokio::net::UnixStream::pair().unwrap() });
    // Let the runtime take the registrations' first events, so its epoll has nothing ready.
    runtime.block_on(tokio::task::yield_now());

    let watched = |budget| {
        let busy_poll = BusyPoll::for_this_process(budget).expect("the runtime's epoll instance");
        let started = Instant::now();
        busy_poll.before_park();
        busy_poll.after_unpark();
        (busy_poll, started.elapsed())
    };
    // Idle (this thread never slept before): no polling, even with a minute's budget.
    let (_, took) = watched(Duration::from_secs(60));
    assert!(
        took < Duration::from_secs(30),
        "polled while idle: {took:?}"
    );
    // Woken a moment ago, so under load: polls for the whole budget when nothing comes.
    let (_, took) = watched(Duration::from_millis(50));
    assert!(
        took >= Duration::from_millis(50),
        "stopped polling early: {took:?}"
    );
    // Work has arrived (a byte on a socket the runtime watches): stops polling at once.
    theirs.try_write(b"x").unwrap();
    let (_, took) = watched(Duration::from_secs(60));
    assert!(
        took < Duration::from_secs(30),
        "missed the ready socket: {took:?}"
    );
    drop(ours);
}
