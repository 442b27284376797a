//! Transactions, pub/sub and blocking commands through the `redis` crate, the way Rust
//! applications use them: optimistic locking with `redis::transaction`, atomic pipelines,
//! `PubSub` with many subscribers and a slow one, and blocking pops from worker threads.

mod common;

use std::time::Duration;

use common::{TestServer, wait_until};
use redis::{Commands, RedisResult};

#[test]
fn optimistic_locking_retries_when_the_watched_key_changes_and_only_then() {
    let server = TestServer::start();
    let mut c = server.client();
    let mut other = server.client();
    let _: () = c.set("acct:a", 100).unwrap();
    let _: () = c.set("acct:b", 0).unwrap();
    let mut attempts = 0;
    let (a, b): (i64, i64) = redis::transaction(&mut c, &["acct:a"], |con, pipe| {
        attempts += 1;
        let a: i64 = con.get("acct:a")?;
        if attempts == 1 {
            // A concurrent write: this EXEC must fail, and the closure run again.
            let _: () = other.incr("acct:a", 5)?;
        }
        pipe.set("acct:a", a - 10)
            .ignore()
            .incr("acct:b", 10)
            .ignore()
            .get("acct:a")
            .get("acct:b")
            .query(con)
    })
    .unwrap();
    assert_eq!((attempts, a, b), (2, 95, 10));

    // Writes to other keys, thousands of them, and deletions, leave the WATCH alone.
    let mut attempts = 0;
    let (a,): (i64,) = redis::transaction(&mut c, &["acct:a"], |con, pipe| {
        attempts += 1;
        let a: i64 = con.get("acct:a")?;
        let mut churn = redis::pipe();
        for i in 0..2000 {
            churn.set(format!("other:{i}"), i).ignore();
            churn.del(format!("other:{}", i / 2)).ignore();
        }
        churn.exec(&mut other)?;
        pipe.set("acct:a", a + 1).ignore().get("acct:a").query(con)
    })
    .unwrap();
    assert_eq!((attempts, a), (1, 96));
}

#[test]
fn an_atomic_pipeline_is_one_transaction_and_a_queued_error_aborts_it() {
    let server = TestServer::start();
    let mut c = server.client();
    let (n, list, len): (i64, Vec<String>, i64) = redis::pipe()
        .atomic()
        .set("n", 1)
        .ignore()
        .incr("n", 41)
        .rpush("l", &["x", "y"])
        .ignore()
        .lrange("l", 0, -1)
        .llen("l")
        .query(&mut c)
        .unwrap();
    assert_eq!((n, list, len), (42, vec!["x".to_string(), "y".into()], 2));
    // A command of the wrong arity is refused while queued: EXEC runs nothing.
    let aborted: RedisResult<()> = redis::pipe()
        .atomic()
        .set("n", 0)
        .ignore()
        .cmd("GET")
        .query(&mut c);
    // The crate reports the command that failed (EXECABORT's reason), as it does with Redis.
    let err = aborted.unwrap_err().to_string();
    assert!(
        err.contains("aborted") && err.contains("wrong number of arguments for 'get' command"),
        "{err}"
    );
    assert_eq!(c.get::<_, i64>("n").unwrap(), 42);
}

#[test]
fn many_subscribers_get_every_message_in_order() {
    let server = TestServer::start();
    let mut connections: Vec<redis::Connection> = (0..20).map(|_| server.client()).collect();
    let mut subscribers = Vec::new();
    for c in &mut connections {
        let mut pubsub = c.as_pubsub();
        pubsub.subscribe("news").unwrap();
        pubsub.psubscribe("n*").unwrap();
        pubsub
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        subscribers.push(pubsub);
    }
    let mut publisher = server.client();
    for i in 0..5 {
        let receivers: usize = publisher.publish("news", format!("m{i}")).unwrap();
        assert_eq!(receivers, 40, "20 channel and 20 pattern subscriptions");
    }
    for pubsub in &mut subscribers {
        let mut got = Vec::new();
        for _ in 0..10 {
            let msg = pubsub.get_message().unwrap();
            let pattern: Option<String> = msg.get_pattern().ok();
            got.push((pattern, msg.get_payload::<String>().unwrap()));
        }
        // Each message comes once per matching subscription, channel first.
        let want: Vec<(Option<String>, String)> = (0..5)
            .flat_map(|i| {
                [
                    (None, format!("m{i}")),
                    (Some("n*".into()), format!("m{i}")),
                ]
            })
            .collect();
        assert_eq!(got, want);
    }
}

#[test]
fn a_subscriber_that_stops_reading_is_disconnected_at_its_output_limit() {
    let server = TestServer::start();
    let mut admin = server.client();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("client-output-buffer-limit")
        .arg("pubsub 1mb 0 0")
        .query(&mut admin)
        .unwrap();
    let mut slow = server.client();
    let mut pubsub = slow.as_pubsub();
    pubsub.subscribe("firehose").unwrap();
    let payload = "x".repeat(64 << 10);
    let mut published = 0;
    let gone = wait_until(Duration::from_secs(20), || {
        let receivers: usize = admin.publish("firehose", &payload).unwrap();
        published += 1;
        receivers == 0
    });
    assert!(
        gone,
        "still subscribed after {published} messages of 64 KiB"
    );
    // Well past the 1 MiB limit, nowhere near everything published.
    assert!(published >= 16, "{published}");
    let numsub: (String, i64) = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg("firehose")
        .query(&mut admin)
        .unwrap();
    assert_eq!(numsub.1, 0);
    // The subscriber finds its connection closed once it reads what was sent before.
    pubsub
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut failed = false;
    for _ in 0..=published {
        if pubsub.get_message().is_err() {
            failed = true;
            break;
        }
    }
    assert!(failed, "the connection was not closed");
}

#[test]
fn blocking_pops_wait_for_a_push_from_another_client() {
    let server = TestServer::start();
    let mut admin = server.client();
    let mut workers = Vec::new();
    for queue in ["jobs", "jobs"] {
        let mut c = server.client();
        workers.push(std::thread::spawn(move || -> Option<(String, String)> {
            redis::cmd("BLPOP")
                .arg(queue)
                .arg(10)
                .query(&mut c)
                .unwrap()
        }));
    }
    let blocked = wait_until(Duration::from_secs(10), || {
        let info: String = redis::cmd("INFO").arg("clients").query(&mut admin).unwrap();
        info.contains("blocked_clients:2")
    });
    assert!(blocked, "the workers never blocked");
    let _: () = admin.rpush("jobs", &["a", "b"]).unwrap();
    let mut got: Vec<String> = workers
        .into_iter()
        .map(|w| w.join().unwrap().expect("a job").1)
        .collect();
    got.sort();
    assert_eq!(got, ["a", "b"]);

    // A timeout ends the wait with nil; BLMOVE moves atomically once fed.
    let mut c = server.client();
    let none: Option<(String, String)> = redis::cmd("BLPOP")
        .arg("empty")
        .arg(0.05)
        .query(&mut c)
        .unwrap();
    assert_eq!(none, None);
    let mover = std::thread::spawn(move || -> Option<String> {
        redis::cmd("BLMOVE")
            .arg("in")
            .arg("out")
            .arg("LEFT")
            .arg("RIGHT")
            .arg(10)
            .query(&mut c)
            .unwrap()
    });
    let blocked = wait_until(Duration::from_secs(10), || {
        let info: String = redis::cmd("INFO").arg("clients").query(&mut admin).unwrap();
        info.contains("blocked_clients:1")
    });
    assert!(blocked, "BLMOVE never blocked");
    let _: () = admin.lpush("in", "job").unwrap();
    assert_eq!(mover.join().unwrap().as_deref(), Some("job"));
    let out: Vec<String> = admin.lrange("out", 0, -1).unwrap();
    assert_eq!(out, ["job"]);
}
