//! MULTI/EXEC/WATCH and pub/sub against the real binary.

mod common;

use std::time::Duration;

use common::{TestServer, wait_until};
use resp::Frame;

fn ok() -> Option<Frame> {
    Some(Frame::Simple(b"OK".to_vec()))
}

fn queued() -> Option<Frame> {
    Some(Frame::Simple(b"QUEUED".to_vec()))
}

fn bulk(s: &str) -> Frame {
    Frame::Bulk(s.as_bytes().to_vec())
}

fn error(s: &str) -> Option<Frame> {
    Some(Frame::Error(s.as_bytes().to_vec()))
}

#[test]
fn exec_runs_the_queue_and_replies_with_every_reply() {
    let server = TestServer::start();
    let mut c = server.raw();
    assert_eq!(c.command(&[b"MULTI"]), ok());
    assert_eq!(c.command(&[b"SET", b"k", b"1"]), queued());
    assert_eq!(c.command(&[b"INCR", b"k"]), queued());
    assert_eq!(
        c.command(&[b"INCR", b"nonint", b"x"]),
        error("ERR wrong number of arguments for 'incr' command")
    );
    assert_eq!(
        c.command(&[b"EXEC"]),
        error("EXECABORT Transaction discarded because of previous errors.")
    );
    assert_eq!(
        c.command(&[b"GET", b"k"]),
        Some(Frame::Null),
        "an aborted transaction ran nothing"
    );

    assert_eq!(c.command(&[b"MULTI"]), ok());
    assert_eq!(
        c.command(&[b"MULTI"]),
        error("ERR MULTI calls can not be nested")
    );
    assert_eq!(c.command(&[b"SET", b"k", b"a"]), queued());
    assert_eq!(c.command(&[b"INCR", b"k"]), queued());
    assert_eq!(c.command(&[b"PING"]), queued());
    assert_eq!(
        c.command(&[b"EXEC"]),
        Some(Frame::Array(vec![
            Frame::Simple(b"OK".to_vec()),
            Frame::Error(b"ERR value is not an integer or out of range".to_vec()),
            Frame::Simple(b"PONG".to_vec()),
        ])),
        "a runtime error inside EXEC does not stop the others"
    );
    assert_eq!(c.command(&[b"EXEC"]), error("ERR EXEC without MULTI"));
    assert_eq!(c.command(&[b"DISCARD"]), error("ERR DISCARD without MULTI"));
    assert_eq!(c.command(&[b"MULTI"]), ok());
    assert_eq!(
        c.command(&[b"NOSUCH"]),
        error("ERR unknown command 'NOSUCH', with args beginning with: ")
    );
    assert_eq!(c.command(&[b"DISCARD"]), ok());
}

#[test]
fn a_malformed_exec_discards_the_transaction_and_a_malformed_discard_or_watch_fails_it() {
    let server = TestServer::start();
    let mut c = server.raw();
    let exec_abort = || {
        error(
            "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command",
        )
    };
    // Redis answers a malformed EXEC this way even outside MULTI.
    assert_eq!(c.command(&[b"EXEC", b"x"]), exec_abort());
    assert_eq!(c.command(&[b"MULTI"]), ok());
    assert_eq!(c.command(&[b"SET", b"k", b"1"]), queued());
    assert_eq!(c.command(&[b"EXEC", b"x"]), exec_abort());
    assert_eq!(c.command(&[b"EXEC"]), error("ERR EXEC without MULTI"));
    assert_eq!(c.command(&[b"GET", b"k"]), Some(Frame::Null), "nothing ran");

    for malformed in [&[&b"DISCARD"[..], b"x"][..], &[b"WATCH"], &[b"MULTI", b"x"]] {
        assert_eq!(c.command(&[b"MULTI"]), ok());
        assert_eq!(c.command(&[b"SET", b"k", b"1"]), queued());
        let name = String::from_utf8_lossy(malformed[0]).to_lowercase();
        assert_eq!(
            c.command(malformed),
            error(&format!(
                "ERR wrong number of arguments for '{name}' command"
            ))
        );
        assert_eq!(
            c.command(&[b"EXEC"]),
            error("EXECABORT Transaction discarded because of previous errors."),
            "after a malformed {name}"
        );
        assert_eq!(c.command(&[b"GET", b"k"]), Some(Frame::Null));
    }
}

#[test]
fn a_write_that_changes_nothing_leaves_a_watch_intact() {
    let server = TestServer::start();
    let mut c = server.raw();
    // MULTI, PING, EXEC: whether the watch held.
    let exec_ping = |c: &mut common::RawConn| {
        assert_eq!(c.command(&[b"MULTI"]), ok());
        assert_eq!(c.command(&[b"PING"]), queued());
        c.command(&[b"EXEC"])
    };
    let pong = Some(Frame::Array(vec![Frame::Simple(b"PONG".to_vec())]));
    assert_eq!(c.command(&[b"SET", b"other", b"1"]), ok());
    // DEL of a missing key and a FLUSHDB that finds the key absent change nothing it watches.
    let no_ops: [&[&[u8]]; 2] = [&[b"DEL", b"w"], &[b"FLUSHDB"]];
    for no_op in no_ops {
        assert_eq!(c.command(&[b"WATCH", b"w"]), ok());
        c.command(no_op).expect("a reply");
        assert_eq!(exec_ping(&mut c), pong, "after {no_op:?}");
    }
    // LREM that matches nothing and LINSERT whose pivot is not there leave a list as it was.
    assert_eq!(c.command(&[b"RPUSH", b"l", b"a"]), Some(Frame::Integer(1)));
    assert_eq!(c.command(&[b"WATCH", b"l"]), ok());
    assert_eq!(
        c.command(&[b"LREM", b"l", b"0", b"zz"]),
        Some(Frame::Integer(0))
    );
    assert_eq!(
        c.command(&[b"LINSERT", b"l", b"BEFORE", b"zz", b"x"]),
        Some(Frame::Integer(-1))
    );
    assert_eq!(
        exec_ping(&mut c),
        pong,
        "after LREM and LINSERT that changed nothing"
    );
    // LSET out of range fails and changes nothing; SETBIT of a bit already as asked in a string
    // that need not grow changes nothing either. Growing the string does break the watch.
    assert_eq!(c.command(&[b"SET", b"b", b"\x01"]), ok());
    assert_eq!(c.command(&[b"WATCH", b"l", b"b"]), ok());
    let out_of_range = c.command(&[b"LSET", b"l", b"5", b"x"]);
    assert_eq!(out_of_range, error("ERR index out of range"));
    assert_eq!(
        c.command(&[b"SETBIT", b"b", b"7", b"1"]),
        Some(Frame::Integer(1))
    );
    assert_eq!(
        c.command(&[b"SETBIT", b"b", b"0", b"0"]),
        Some(Frame::Integer(0))
    );
    assert_eq!(
        exec_ping(&mut c),
        pong,
        "after LSET and SETBIT that changed nothing"
    );
    assert_eq!(c.command(&[b"WATCH", b"b"]), ok());
    assert_eq!(
        c.command(&[b"SETBIT", b"b", b"15", b"0"]),
        Some(Frame::Integer(0))
    );
    assert_eq!(
        exec_ping(&mut c),
        Some(Frame::Null),
        "SETBIT grew the string"
    );
    // LPOP of none, BITFIELD writing what is there, SWAPDB of a database with itself or of
    // two that do not hold the watched key.
    assert_eq!(c.command(&[b"SELECT", b"1"]), ok());
    assert_eq!(c.command(&[b"SET", b"in-1", b"v"]), ok());
    assert_eq!(c.command(&[b"SELECT", b"0"]), ok());
    assert_eq!(c.command(&[b"WATCH", b"l", b"b"]), ok());
    let no_ops: [&[&[u8]]; 4] = [
        &[b"LPOP", b"l", b"0"],
        &[b"BITFIELD", b"b", b"SET", b"u8", b"0", b"1"],
        &[b"BITFIELD", b"b", b"INCRBY", b"u8", b"0", b"0"],
        &[b"SWAPDB", b"0", b"0"],
    ];
    for no_op in no_ops {
        c.command(no_op).expect("a reply");
    }
    assert_eq!(exec_ping(&mut c), pong, "after {no_ops:?}");
    // w is in neither database: swapping them (twice, to put l and b back) changes nothing
    // a watcher of w sees. in-1 is in one: a swap changes it for a watcher in either.
    assert_eq!(c.command(&[b"WATCH", b"w"]), ok());
    assert_eq!(c.command(&[b"SWAPDB", b"0", b"1"]), ok());
    assert_eq!(c.command(&[b"SWAPDB", b"0", b"1"]), ok());
    assert_eq!(exec_ping(&mut c), pong, "SWAPDB of databases without w");
    assert_eq!(c.command(&[b"WATCH", b"in-1"]), ok());
    assert_eq!(c.command(&[b"SWAPDB", b"1", b"0"]), ok());
    assert_eq!(exec_ping(&mut c), Some(Frame::Null), "SWAPDB moved in-1");
    // A FLUSHDB that deletes the watched key does fail it.
    assert_eq!(c.command(&[b"SET", b"w", b"1"]), ok());
    assert_eq!(c.command(&[b"WATCH", b"w"]), ok());
    assert_eq!(c.command(&[b"FLUSHDB"]), ok());
    assert_eq!(exec_ping(&mut c), Some(Frame::Null));
}

#[test]
fn watch_fails_exec_after_any_change() {
    let server = TestServer::start();
    let mut c = server.raw();
    let mut other = server.raw();
    let changes: [&[&[u8]]; 5] = [
        &[b"SET", b"w", b"2"],
        &[b"DEL", b"w"],
        &[b"EXPIRE", b"w", b"100"],
        &[b"FLUSHDB"],
        &[b"SWAPDB", b"0", b"1"],
    ];
    for change in changes {
        assert_eq!(c.command(&[b"SET", b"w", b"1"]), ok());
        assert_eq!(c.command(&[b"WATCH", b"w"]), ok());
        assert_eq!(other.command(change).map(|_| ()), Some(()));
        assert_eq!(c.command(&[b"MULTI"]), ok());
        assert_eq!(c.command(&[b"SET", b"w", b"3"]), queued());
        assert_eq!(
            c.command(&[b"EXEC"]),
            Some(Frame::Null),
            "EXEC ran after {change:?}"
        );
        assert_eq!(other.command(&[b"FLUSHALL"]), ok());
    }
    // Untouched: the transaction runs.
    assert_eq!(c.command(&[b"WATCH", b"w"]), ok());
    assert_eq!(c.command(&[b"MULTI"]), ok());
    assert_eq!(
        c.command(&[b"WATCH", b"w"]),
        error("ERR WATCH inside MULTI is not allowed")
    );
    assert_eq!(c.command(&[b"SET", b"w", b"3"]), queued());
    assert_eq!(
        c.command(&[b"EXEC"]),
        Some(Frame::Array(vec![Frame::Simple(b"OK".to_vec())]))
    );
    // A watched key that expires fails the transaction too.
    assert_eq!(c.command(&[b"SET", b"e", b"1", b"PX", b"30"]), ok());
    assert_eq!(c.command(&[b"WATCH", b"e"]), ok());
    assert!(wait_until(Duration::from_secs(5), || other
        .command(&[b"EXISTS", b"e"])
        == Some(Frame::Integer(0))));
    assert_eq!(c.command(&[b"MULTI"]), ok());
    assert_eq!(c.command(&[b"SET", b"x", b"1"]), queued());
    assert_eq!(c.command(&[b"EXEC"]), Some(Frame::Null));
}

#[test]
fn publish_reaches_channel_and_pattern_subscribers() {
    let server = TestServer::start();
    let mut sub = server.raw();
    let mut psub = server.raw();
    let mut publisher = server.raw();
    assert_eq!(
        sub.command(&[b"SUBSCRIBE", b"news"]),
        Some(Frame::Array(vec![
            bulk("subscribe"),
            bulk("news"),
            Frame::Integer(1)
        ]))
    );
    assert_eq!(
        sub.command(&[b"GET", b"k"]),
        error(
            "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        )
    );
    // As Redis: a subcommand is named container|subcommand; a wrong arity or an unknown
    // subcommand is said before the subscribed mode is.
    assert_eq!(
        sub.command(&[b"CONFIG", b"GET", b"port"]),
        error(
            "ERR Can't execute 'config|get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        )
    );
    assert_eq!(
        sub.command(&[b"GET"]),
        error("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(
        sub.command(&[b"OBJECT", b"NOPE"]),
        error("ERR unknown subcommand 'NOPE'. Try OBJECT HELP.")
    );
    assert_eq!(
        sub.command(&[b"PING", b"a", b"b"]),
        error("ERR wrong number of arguments for 'ping' command")
    );
    assert_eq!(
        sub.command(&[b"PING"]),
        Some(Frame::Array(vec![bulk("pong"), bulk("")]))
    );
    let Some(Frame::Bulk(list)) = publisher.command(&[b"CLIENT", b"LIST"]) else {
        panic!("CLIENT LIST replies with text")
    };
    let list = String::from_utf8(list).unwrap();
    assert!(
        list.lines()
            .any(|l| l.contains(" flags=P ") && l.contains(" sub=1 psub=0 ssub=0 multi=-1 ")),
        "{list}"
    );
    // RESP3: pushes, and other commands stay allowed.
    assert!(matches!(
        psub.command(&[b"HELLO", b"3"]),
        Some(Frame::Map(_))
    ));
    assert_eq!(
        psub.command(&[b"PSUBSCRIBE", b"n*"]),
        Some(Frame::Push(vec![
            bulk("psubscribe"),
            bulk("n*"),
            Frame::Integer(1)
        ]))
    );
    assert_eq!(psub.command(&[b"GET", b"k"]), Some(Frame::Null));
    assert_eq!(
        publisher.command(&[b"PUBLISH", b"news", b"hello"]),
        Some(Frame::Integer(2))
    );
    assert_eq!(
        sub.reply(),
        Some(Frame::Array(vec![
            bulk("message"),
            bulk("news"),
            bulk("hello")
        ]))
    );
    assert_eq!(
        psub.reply(),
        Some(Frame::Push(vec![
            bulk("pmessage"),
            bulk("n*"),
            bulk("news"),
            bulk("hello")
        ]))
    );
    assert_eq!(
        publisher.command(&[b"PUBSUB", b"NUMSUB", b"news", b"none"]),
        Some(Frame::Array(vec![
            bulk("news"),
            Frame::Integer(1),
            bulk("none"),
            Frame::Integer(0)
        ]))
    );
    assert_eq!(
        publisher.command(&[b"PUBSUB", b"NUMPAT"]),
        Some(Frame::Integer(1))
    );
    assert_eq!(
        publisher.command(&[b"PUBSUB", b"CHANNELS"]),
        Some(Frame::Array(vec![bulk("news")]))
    );
    assert_eq!(
        sub.command(&[b"UNSUBSCRIBE"]),
        Some(Frame::Array(vec![
            bulk("unsubscribe"),
            bulk("news"),
            Frame::Integer(0)
        ]))
    );
    assert_eq!(
        sub.command(&[b"GET", b"k"]),
        Some(Frame::Null),
        "no longer in subscribed mode"
    );
    drop(psub);
    assert!(wait_until(Duration::from_secs(5), || {
        publisher.command(&[b"PUBLISH", b"news", b"x"]) == Some(Frame::Integer(0))
    }));
    // Shard channels are separate.
    let mut ssub = server.raw();
    assert_eq!(
        ssub.command(&[b"SSUBSCRIBE", b"s1"]),
        Some(Frame::Array(vec![
            bulk("ssubscribe"),
            bulk("s1"),
            Frame::Integer(1)
        ]))
    );
    assert_eq!(
        publisher.command(&[b"SPUBLISH", b"s1", b"m"]),
        Some(Frame::Integer(1))
    );
    assert_eq!(
        ssub.reply(),
        Some(Frame::Array(vec![bulk("smessage"), bulk("s1"), bulk("m")]))
    );
    assert_eq!(
        publisher.command(&[b"PUBLISH", b"s1", b"m"]),
        Some(Frame::Integer(0))
    );
}

#[test]
fn a_subscriber_that_stops_reading_is_disconnected_not_buffered_forever() {
    let server = TestServer::start();
    let mut slow = server.raw();
    assert!(slow.command(&[b"SUBSCRIBE", b"firehose"]).is_some());
    let mut publisher = server.raw();
    let payload = vec![b'x'; 64 << 10];
    // 64 KiB messages; the subscriber never reads. Past the mailbox limit (32 MiB plus what the
    // socket buffers hold) the server drops it, and PUBLISH then reaches nobody.
    let dropped = wait_until(Duration::from_secs(60), || {
        publisher.command(&[b"PUBLISH", b"firehose", &payload]) == Some(Frame::Integer(0))
    });
    assert!(dropped, "the slow subscriber was disconnected");
}

fn set_output_limits(admin: &mut common::RawConn, value: &str) -> Option<Frame> {
    admin.command(&[
        b"CONFIG",
        b"SET",
        b"client-output-buffer-limit",
        value.as_bytes(),
    ])
}

/// Publishes `payload` to `channel` until nobody receives it; how many publishes reached the
/// subscriber, or None if it was still there after `publishes_max`.
fn publishes_until_dropped(
    publisher: &mut common::RawConn,
    channel: &[u8],
    payload: &[u8],
    publishes_max: usize,
) -> Option<usize> {
    (0..publishes_max)
        .find(|_| publisher.command(&[b"PUBLISH", channel, payload]) == Some(Frame::Integer(0)))
}

#[test]
fn the_pubsub_output_limit_is_configurable_hard_and_soft() {
    let server = TestServer::start();
    let mut admin = server.raw();
    assert_eq!(
        admin.command(&[b"CONFIG", b"GET", b"client-output-buffer-limit"]),
        Some(Frame::Array(vec![
            bulk("client-output-buffer-limit"),
            bulk("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"),
        ]))
    );
    assert_eq!(
        set_output_limits(&mut admin, "pubsub 1mb"),
        error(
            "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Wrong number of arguments in buffer limit configuration."
        )
    );

    // Hard: 1 MiB. With Redis's 32 MiB the subscriber would take at least 512 of these 64 KiB
    // messages past what the sockets hold (a few MiB here).
    assert_eq!(set_output_limits(&mut admin, "pubsub 1mb 0 0"), ok());
    let mut slow = server.raw();
    assert!(slow.command(&[b"SUBSCRIBE", b"firehose"]).is_some());
    let took = publishes_until_dropped(&mut admin, b"firehose", &[b'x'; 64 << 10], 100_000);
    assert!(
        took.is_some_and(|n| n < 512),
        "dropped after {took:?} messages"
    );
    assert!(closed_after_what_it_was_sent(&mut slow));

    // Soft only: 256 KiB held for more than a second. The subscriber outlives the moment its
    // mailbox first passes the limit, and is dropped once a second has passed over it.
    assert_eq!(set_output_limits(&mut admin, "pubsub 0 256kb 1"), ok());
    let mut slow = server.raw();
    assert!(slow.command(&[b"SUBSCRIBE", b"firehose"]).is_some());
    let started = std::time::Instant::now();
    let took = publishes_until_dropped(&mut admin, b"firehose", &[b'x'; 4 << 10], 10_000_000);
    assert!(took.is_some(), "never dropped");
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(closed_after_what_it_was_sent(&mut slow));
}

/// Reads what the server sent before it closed the connection; false if it is still open (a
/// read waits at most the connection's read timeout).
fn closed_after_what_it_was_sent(conn: &mut common::RawConn) -> bool {
    use std::io::Read;
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        match conn.stream.read(&mut chunk) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => {
                return matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
                );
            }
        }
    }
}

#[test]
fn a_normal_client_is_closed_when_a_reply_reaches_its_output_limit() {
    let server = TestServer::start();
    let mut admin = server.raw();
    let big = vec![b'v'; 200 << 10];
    assert_eq!(admin.command(&[b"SET", b"big", &big]), ok());
    assert_eq!(admin.command(&[b"SET", b"small", b"v"]), ok());
    assert_eq!(set_output_limits(&mut admin, "normal 100kb 0 0"), ok());
    let mut client = server.raw();
    assert_eq!(client.command(&[b"GET", b"small"]), Some(bulk("v")));
    // The 200 KiB reply is not written; the client is closed, as Redis closes it.
    assert_eq!(client.command(&[b"GET", b"big"]), None);
    assert_eq!(set_output_limits(&mut admin, "normal 0 0 0"), ok());
    let mut client = server.raw();
    assert_eq!(client.command(&[b"GET", b"big"]), Some(Frame::Bulk(big)));
}

#[test]
fn a_normal_client_that_leaves_a_reply_unread_past_its_soft_limit_is_closed() {
    let server = TestServer::start();
    let mut admin = server.raw();
    // More than the sockets between them hold, so most of it waits in the server.
    let huge = vec![b'v'; 24 << 20];
    assert_eq!(admin.command(&[b"SET", b"huge", &huge]), ok());
    assert_eq!(set_output_limits(&mut admin, "normal 0 1mb 1"), ok());
    let mut reader = server.raw();
    let Some(Frame::Integer(id)) = reader.command(&[b"CLIENT", b"ID"]) else {
        panic!("no client id");
    };
    reader.send(b"*2\r\n$3\r\nGET\r\n$4\r\nhuge\r\n");
    // The reader never reads: after its second over the soft limit the server closes it.
    let id = id.to_string();
    let gone = wait_until(Duration::from_secs(20), || {
        matches!(
            admin.command(&[b"CLIENT", b"LIST", b"ID", id.as_bytes()]),
            Some(Frame::Bulk(list)) if list.is_empty()
        )
    });
    assert!(gone, "the client that does not read is still connected");
}

#[test]
fn client_list_and_kill_tell_subscribers_by_type() {
    let server = TestServer::start();
    let mut resp3 = server.raw();
    assert!(resp3.command(&[b"HELLO", b"3"]).is_some());
    assert!(resp3.command(&[b"SUBSCRIBE", b"a"]).is_some());
    let mut resp2 = server.raw();
    assert!(resp2.command(&[b"PSUBSCRIBE", b"b*"]).is_some());
    let mut admin = server.raw();
    let mut listed = |kind: &[u8]| match admin.command(&[b"CLIENT", b"LIST", b"TYPE", kind]) {
        Some(Frame::Bulk(text)) => String::from_utf8(text).unwrap().matches("id=").count(),
        other => panic!("unexpected {other:?}"),
    };
    // Subscribers in either protocol are `pubsub` clients, as in Redis; the rest `normal`.
    assert_eq!(listed(b"pubsub"), 2);
    assert_eq!(listed(b"normal"), 1);
    assert_eq!(listed(b"replica"), 0);
    assert_eq!(
        admin.command(&[b"CLIENT", b"KILL", b"TYPE", b"pubsub"]),
        Some(Frame::Integer(2))
    );
    assert!(resp3.closed());
    assert!(resp2.closed());
    assert_eq!(
        admin.command(&[b"PING"]),
        Some(Frame::Simple(b"PONG".to_vec()))
    );
}

#[test]
fn keyspace_notifications_follow_notify_keyspace_events() {
    let server = TestServer::start();
    let mut admin = server.raw();
    let mut sub = server.raw();
    assert_eq!(
        admin.command(&[b"CONFIG", b"SET", b"notify-keyspace-events", b"KEA"]),
        ok()
    );
    assert_eq!(
        admin.command(&[b"CONFIG", b"GET", b"notify-keyspace-events"]),
        Some(Frame::Array(vec![
            bulk("notify-keyspace-events"),
            bulk("AKE")
        ]))
    );
    assert_eq!(
        admin.command(&[b"CONFIG", b"SET", b"notify-keyspace-events", b"Kq"]),
        error(
            "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
        )
    );
    assert!(sub.command(&[b"PSUBSCRIBE", b"__key*@0__:*"]).is_some());
    let mut next = || match sub.reply() {
        Some(Frame::Array(items)) => match &items[..] {
            [_, _, Frame::Bulk(channel), Frame::Bulk(message)] => (
                String::from_utf8_lossy(channel).into_owned(),
                String::from_utf8_lossy(message).into_owned(),
            ),
            other => panic!("unexpected {other:?}"),
        },
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(admin.command(&[b"SET", b"k", b"v"]), ok());
    assert_eq!(next(), ("__keyspace@0__:k".into(), "set".into()));
    assert_eq!(next(), ("__keyevent@0__:set".into(), "k".into()));
    assert_eq!(admin.command(&[b"RENAME", b"k", b"k2"]), ok());
    assert_eq!(next(), ("__keyspace@0__:k".into(), "rename_from".into()));
    assert_eq!(next(), ("__keyevent@0__:rename_from".into(), "k".into()));
    assert_eq!(next(), ("__keyspace@0__:k2".into(), "rename_to".into()));
    assert_eq!(next(), ("__keyevent@0__:rename_to".into(), "k2".into()));
    assert_eq!(
        admin.command(&[b"PEXPIRE", b"k2", b"20"]),
        Some(Frame::Integer(1))
    );
    assert_eq!(next(), ("__keyspace@0__:k2".into(), "expire".into()));
    assert_eq!(next(), ("__keyevent@0__:expire".into(), "k2".into()));
    // Nobody reads k2: active expiry deletes it and says so.
    assert_eq!(next(), ("__keyspace@0__:k2".into(), "expired".into()));
    assert_eq!(next(), ("__keyevent@0__:expired".into(), "k2".into()));
    // Only the classes asked for: keyevent for strings only.
    assert_eq!(
        admin.command(&[b"CONFIG", b"SET", b"notify-keyspace-events", b"E$"]),
        ok()
    );
    assert_eq!(admin.command(&[b"SET", b"a", b"1"]), ok());
    assert_eq!(admin.command(&[b"DEL", b"a"]), Some(Frame::Integer(1)));
    assert_eq!(admin.command(&[b"INCR", b"a"]), Some(Frame::Integer(1)));
    assert_eq!(next(), ("__keyevent@0__:set".into(), "a".into()));
    assert_eq!(
        next(),
        ("__keyevent@0__:incrby".into(), "a".into()),
        "DEL's generic event was not sent"
    );
}

#[test]
fn keyspace_events_come_in_redis_s_order_and_only_for_changes() {
    let server = TestServer::start();
    let mut admin = server.raw();
    let mut sub = server.raw();
    let set_events: [&[u8]; 4] = [b"CONFIG", b"SET", b"notify-keyspace-events", b"E$lgxK"];
    assert_eq!(admin.command(&set_events), ok());
    assert!(sub.command(&[b"PSUBSCRIBE", b"__keyevent@0__:*"]).is_some());
    assert!(sub.command(&[b"SUBSCRIBE", b"mark"]).is_some());
    // Runs a command, then publishes a mark: the events it caused are those before the mark,
    // as "event key".
    let mut events = |command: &str| -> Vec<String> {
        let args: Vec<&[u8]> = command.split(' ').map(str::as_bytes).collect();
        admin.command(&args).expect("a reply");
        assert_eq!(
            admin.command(&[b"PUBLISH", b"mark", b"m"]),
            Some(Frame::Integer(1))
        );
        let mut seen = Vec::new();
        loop {
            let Some(Frame::Array(items)) = sub.reply() else {
                panic!("the subscriber's connection ended")
            };
            match &items[..] {
                [Frame::Bulk(kind), ..] if kind == b"message" => return seen,
                [_, _, Frame::Bulk(channel), Frame::Bulk(key)] => seen.push(format!(
                    "{} {}",
                    String::from_utf8_lossy(channel).trim_start_matches("__keyevent@0__:"),
                    String::from_utf8_lossy(key)
                )),
                other => panic!("unexpected {other:?}"),
            }
        }
    };
    assert_eq!(events("RPUSH a x"), ["rpush a"]);
    // The push comes before the pop, and the emptied source's deletion last.
    assert_eq!(
        events("LMOVE a b LEFT RIGHT"),
        ["rpush b", "lpop a", "del a"]
    );
    assert_eq!(events("RPOPLPUSH b b"), ["lpush b", "rpop b"]);
    // KEEPTTL keeps the expiry: not an expire event.
    assert_eq!(events("SET k v EX 100"), ["set k", "expire k"]);
    assert_eq!(events("SET k w KEEPTTL"), ["set k"]);
    // An expiry already past: stored, then expired at once.
    assert_eq!(events("SET k v PXAT 1"), ["set k", "expire k", "expired k"]);
    assert_eq!(events("EXISTS k"), Vec::<String>::new());
    // Writes that change nothing send nothing.
    assert_eq!(events("SETBIT s 7 0"), ["setbit s"]);
    assert_eq!(events("SETBIT s 7 0"), Vec::<String>::new());
    assert_eq!(events("BITFIELD s SET u8 0 0"), Vec::<String>::new());
    assert_eq!(events("BITFIELD s SET u8 0 1"), ["setbit s"]);
    // Every write refused by OVERFLOW FAIL: no event, though the string grew (as in Redis).
    let fail = "BITFIELD s OVERFLOW FAIL INCRBY u8 8 300";
    assert_eq!(events(fail), Vec::<String>::new());
    assert_eq!(events("LPOP b 0"), Vec::<String>::new());
}
