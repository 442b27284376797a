//! Blocking list commands against the real binary.

mod common;

use std::time::{Duration, Instant};

use common::{RawConn, TestServer, wait_until};
use resp::Frame;

fn bulk(s: &str) -> Frame {
    Frame::Bulk(s.as_bytes().to_vec())
}

fn pair(key: &str, value: &str) -> Option<Frame> {
    Some(Frame::Array(vec![bulk(key), bulk(value)]))
}

fn send(conn: &mut RawConn, args: &[&[u8]]) {
    let mut frame = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        frame.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        frame.extend_from_slice(a);
        frame.extend_from_slice(b"\r\n");
    }
    conn.send(&frame);
}

/// Waits until `n` clients are blocked (INFO clients: blocked_clients).
fn wait_blocked(admin: &mut RawConn, n: usize) {
    let expected = format!("blocked_clients:{n}\r\n");
    assert!(
        wait_until(Duration::from_secs(5), || {
            matches!(admin.command(&[b"INFO", b"clients"]), Some(Frame::Bulk(text)) if String::from_utf8_lossy(&text).contains(&expected))
        }),
        "{n} clients blocked"
    );
}

#[test]
fn blocked_clients_are_served_first_come_first_served() {
    let server = TestServer::start();
    let mut admin = server.raw();
    let mut first = server.raw();
    let mut second = server.raw();
    send(&mut first, &[b"BLPOP", b"q", b"0"]);
    wait_blocked(&mut admin, 1);
    send(&mut second, &[b"BRPOP", b"other", b"q", b"0"]);
    wait_blocked(&mut admin, 2);
    assert_eq!(
        admin.command(&[b"RPUSH", b"q", b"a", b"b"]),
        Some(Frame::Integer(2))
    );
    assert_eq!(first.reply(), pair("q", "a"));
    assert_eq!(second.reply(), pair("q", "b"));
    assert_eq!(
        admin.command(&[b"EXISTS", b"q"]),
        Some(Frame::Integer(0)),
        "both elements were taken"
    );
}

#[test]
fn timeouts_transactions_and_pipelines() {
    let server = TestServer::start();
    let mut c = server.raw();
    let started = Instant::now();
    assert_eq!(c.command(&[b"BLPOP", b"none", b"0.1"]), Some(Frame::Null));
    assert!(started.elapsed() >= Duration::from_millis(100));
    // Inside MULTI nothing blocks.
    assert_eq!(c.command(&[b"MULTI"]), Some(Frame::Simple(b"OK".to_vec())));
    assert_eq!(
        c.command(&[b"BLPOP", b"none", b"0"]),
        Some(Frame::Simple(b"QUEUED".to_vec()))
    );
    assert_eq!(c.command(&[b"EXEC"]), Some(Frame::Array(vec![Frame::Null])));
    // With Redis's nulls: a bulk string's for BLMOVE and BRPOPLPUSH, an array's for the others.
    assert_eq!(c.command(&[b"MULTI"]), Some(Frame::Simple(b"OK".to_vec())));
    let queue: [&[&[u8]]; 4] = [
        &[b"BLMOVE", b"none", b"x", b"LEFT", b"LEFT", b"0"],
        &[b"BRPOPLPUSH", b"none", b"x", b"0"],
        &[b"BLPOP", b"none", b"0"],
        &[b"BZPOPMIN", b"none", b"0"],
    ];
    for command in queue {
        assert_eq!(c.command(command), Some(Frame::Simple(b"QUEUED".to_vec())));
    }
    c.send(b"*1\r\n$4\r\nEXEC\r\n");
    assert_eq!(
        String::from_utf8(c.reply_bytes().expect("EXEC's reply")).unwrap(),
        "*4\r\n$-1\r\n$-1\r\n*-1\r\n*-1\r\n"
    );
    // Commands pipelined behind a blocked one wait for it, then run in order.
    let mut admin = server.raw();
    c.send(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nk\r\n$1\r\n0\r\n*1\r\n$4\r\nPING\r\n");
    wait_blocked(&mut admin, 1);
    // Wake-up by a transaction's push.
    assert_eq!(
        admin.command(&[b"MULTI"]),
        Some(Frame::Simple(b"OK".to_vec()))
    );
    assert_eq!(
        admin.command(&[b"LPUSH", b"k", b"v"]),
        Some(Frame::Simple(b"QUEUED".to_vec()))
    );
    assert_eq!(
        admin.command(&[b"EXEC"]),
        Some(Frame::Array(vec![Frame::Integer(1)]))
    );
    assert_eq!(c.reply(), pair("k", "v"));
    assert_eq!(c.reply(), Some(Frame::Simple(b"PONG".to_vec())));
}

#[test]
fn a_client_that_leaves_takes_nothing_and_wrong_types_keep_waiting() {
    let server = TestServer::start();
    let mut admin = server.raw();
    let mut leaver = server.raw();
    send(&mut leaver, &[b"BLPOP", b"k", b"0"]);
    wait_blocked(&mut admin, 1);
    drop(leaver);
    wait_blocked(&mut admin, 0);
    assert_eq!(
        admin.command(&[b"LPUSH", b"k", b"kept"]),
        Some(Frame::Integer(1))
    );
    assert_eq!(
        admin.command(&[b"LLEN", b"k"]),
        Some(Frame::Integer(1)),
        "nothing was popped for a gone client"
    );
    assert_eq!(admin.command(&[b"DEL", b"k"]), Some(Frame::Integer(1)));

    let mut waiter = server.raw();
    send(
        &mut waiter,
        &[b"BLMOVE", b"src", b"dst", b"LEFT", b"RIGHT", b"0"],
    );
    wait_blocked(&mut admin, 1);
    assert_eq!(
        admin.command(&[b"SET", b"src", b"string"]),
        Some(Frame::Simple(b"OK".to_vec()))
    );
    assert_eq!(admin.command(&[b"DEL", b"src"]), Some(Frame::Integer(1)));
    wait_blocked(&mut admin, 1);
    assert_eq!(
        admin.command(&[b"RPUSH", b"src", b"x"]),
        Some(Frame::Integer(1))
    );
    assert_eq!(waiter.reply(), Some(bulk("x")));
    assert_eq!(
        admin.command(&[b"LRANGE", b"dst", b"0", b"-1"]),
        Some(Frame::Array(vec![bulk("x")]))
    );
}
