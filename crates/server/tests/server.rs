//! The real binary, driven by the `redis` crate and by raw sockets.

mod common;

use std::time::Duration;

use common::{TestServer, wait_until};
use redis::{Commands, RedisResult, Value};
use resp::Frame;

fn bulk(s: &str) -> Frame {
    Frame::Bulk(s.as_bytes().to_vec())
}

fn error(s: &str) -> Frame {
    Frame::Error(s.as_bytes().to_vec())
}

#[test]
fn strings_and_keys_through_the_redis_crate() {
    let server = TestServer::start();
    let mut c = server.client();
    let _: () = c.set("k", "v").unwrap();
    assert_eq!(c.get::<_, String>("k").unwrap(), "v");
    assert_eq!(c.incr::<_, _, i64>("n", 5).unwrap(), 5);
    let _: () = c.mset(&[("a", "1"), ("b", "2")]).unwrap();
    let got: Vec<Option<String>> = c.mget(&["a", "b", "missing"]).unwrap();
    assert_eq!(got, vec![Some("1".into()), Some("2".into()), None]);
    assert_eq!(c.append::<_, _, i64>("k", "w").unwrap(), 2);
    assert_eq!(c.exists::<_, i64>(&["a", "b", "zz"]).unwrap(), 2);
    assert_eq!(c.del::<_, i64>(&["a", "zz"]).unwrap(), 1);
    let err: RedisResult<i64> = c.incr("k", 1);
    assert!(
        err.unwrap_err()
            .to_string()
            .ends_with("value is not an integer or out of range")
    );
    let _: () = redis::cmd("SET")
        .arg("k2")
        .arg("x")
        .arg("PX")
        .arg(30)
        .query(&mut c)
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || !c
            .exists::<_, bool>("k2")
            .unwrap()),
        "k2 expired"
    );
    assert_eq!(c.ttl::<_, i64>("k2").unwrap(), -2);
}

#[test]
fn active_expiry_reclaims_keys_nobody_reads() {
    let server = TestServer::start();
    let mut c = server.client();
    for i in 0..500 {
        let _: () = redis::cmd("SET")
            .arg(format!("t{i}"))
            .arg("v")
            .arg("PX")
            .arg(20)
            .query(&mut c)
            .unwrap();
    }
    let _: () = c.set("keep", "v").unwrap();
    // Nothing reads the keys, so only active expiry can reclaim them.
    assert!(wait_until(Duration::from_secs(10), || {
        let info: String = redis::cmd("INFO").arg("stats").query(&mut c).unwrap();
        info.contains("expired_keys:500\r\n")
    }));
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut c).unwrap(), 1);
}

#[test]
fn deep_pipelines_reply_in_order() {
    let server = TestServer::start();
    let mut c = server.client();
    let mut pipe = redis::pipe();
    for i in 0..10_000 {
        pipe.cmd("SET").arg(format!("key{i}")).arg(i).ignore();
        pipe.cmd("INCR").arg(format!("key{i}"));
    }
    let replies: Vec<i64> = pipe.query(&mut c).unwrap();
    assert_eq!(replies, (1..=10_000).collect::<Vec<i64>>());
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut c).unwrap(), 10_000);
}

#[test]
fn resp3_through_hello() {
    let server = TestServer::start();
    let mut raw = server.raw();
    let Some(Frame::Map(fields)) = raw.command(&[b"HELLO", b"3", b"SETNAME", b"me"]) else {
        panic!("HELLO 3 replies with a map");
    };
    assert!(fields.contains(&(bulk("proto"), Frame::Integer(3))));
    assert!(fields.contains(&(bulk("server"), bulk("redis"))));
    assert_eq!(raw.command(&[b"CLIENT", b"GETNAME"]), Some(bulk("me")));
    assert_eq!(raw.command(&[b"GET", b"nope"]), Some(Frame::Null));
    assert_eq!(
        raw.command(&[b"HELLO", b"4"]),
        Some(error("NOPROTO unsupported protocol version"))
    );
    let Some(Frame::Map(config)) = raw.command(&[b"CONFIG", b"GET", b"maxclients"]) else {
        panic!("CONFIG GET replies with a map in RESP3");
    };
    assert_eq!(config, vec![(bulk("maxclients"), bulk("10000"))]);
    // The redis crate speaks RESP3 too.
    let mut c = redis::Client::open(format!("{}?protocol=resp3", server.url()))
        .unwrap()
        .get_connection()
        .unwrap();
    let _: () = c.set("x", "1").unwrap();
    assert_eq!(c.get::<_, i64>("x").unwrap(), 1);
}

#[test]
fn inline_commands_work_like_telnet() {
    let server = TestServer::start();
    let mut raw = server.raw();
    raw.send(b"PING\r\nSET greeting \"hello world\"\nGET greeting\r\n\r\nECHO 'it''s'\r\n");
    assert_eq!(raw.reply(), Some(Frame::Simple(b"PONG".to_vec())));
    assert_eq!(raw.reply(), Some(Frame::Simple(b"OK".to_vec())));
    assert_eq!(raw.reply(), Some(bulk("hello world")));
    assert_eq!(
        raw.reply(),
        Some(error("ERR Protocol error: unbalanced quotes in request"))
    );
    assert!(raw.closed());
}

#[test]
fn a_protocol_error_closes_only_that_connection() {
    let server = TestServer::start();
    let mut other = server.raw();
    assert_eq!(
        other.command(&[b"SET", b"k", b"v"]),
        Some(Frame::Simple(b"OK".to_vec()))
    );
    for (bad, text) in [
        (
            &b"*1\r\n$-5\r\n"[..],
            "ERR Protocol error: invalid bulk length",
        ),
        (
            b"*1\r\n$999999999999\r\n",
            "ERR Protocol error: invalid bulk length",
        ),
        (
            b"*3000000000\r\n",
            "ERR Protocol error: invalid multibulk length",
        ),
        (
            b"*1\r\n+PING\r\n",
            "ERR Protocol error: expected '$', got '+'",
        ),
    ] {
        let mut raw = server.raw();
        raw.send(bad);
        assert_eq!(raw.reply(), Some(error(text)));
        assert!(raw.closed(), "the connection is closed after {text}");
    }
    assert_eq!(other.command(&[b"GET", b"k"]), Some(bulk("v")));
}

#[test]
fn limits_protect_the_server() {
    let server = TestServer::start();
    let mut admin = server.raw();
    assert_eq!(
        admin.command(&[b"CONFIG", b"SET", b"proto-max-bulk-len", b"1mb"]),
        Some(Frame::Simple(b"OK".to_vec()))
    );
    let mut raw = server.raw();
    raw.send(b"*2\r\n$3\r\nGET\r\n$2000000\r\n");
    assert_eq!(
        raw.reply(),
        Some(error("ERR Protocol error: invalid bulk length"))
    );
    // A query buffer over the limit closes the connection rather than growing.
    assert_eq!(
        admin.command(&[b"CONFIG", b"SET", b"client-query-buffer-limit", b"1mb"]),
        Some(Frame::Simple(b"OK".to_vec()))
    );
    assert_eq!(
        admin.command(&[b"CONFIG", b"SET", b"proto-max-bulk-len", b"512mb"]),
        Some(Frame::Simple(b"OK".to_vec()))
    );
    let mut raw = server.raw();
    raw.send(b"*2\r\n$3\r\nGET\r\n$4000000\r\n");
    let chunk = vec![b'x'; 64 << 10];
    for _ in 0..48 {
        if std::io::Write::write_all(&mut raw.stream, &chunk).is_err() {
            break;
        }
    }
    assert!(
        raw.closed(),
        "a query buffer over the limit closes the connection"
    );
    // maxclients: one more client than allowed is refused with Redis's error.
    assert_eq!(
        admin.command(&[b"CONFIG", b"SET", b"maxclients", b"2"]),
        Some(Frame::Simple(b"OK".to_vec()))
    );
    let _second = server.raw();
    let mut third = server.raw();
    assert_eq!(
        third.reply(),
        Some(error("ERR max number of clients reached"))
    );
    assert_eq!(
        admin.command(&[b"PING"]),
        Some(Frame::Simple(b"PONG".to_vec()))
    );
}

#[test]
fn client_kill_and_list() {
    let server = TestServer::start();
    let mut a = server.raw();
    let mut b = server.raw();
    let Some(Frame::Integer(b_id)) = b.command(&[b"CLIENT", b"ID"]) else {
        panic!()
    };
    let Some(Frame::Bulk(list)) = a.command(&[b"CLIENT", b"LIST"]) else {
        panic!()
    };
    let list = String::from_utf8(list).unwrap();
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(list.contains(&format!("id={b_id} ")));
    let id = b_id.to_string();
    assert_eq!(
        a.command(&[b"CLIENT", b"KILL", b"ID", id.as_bytes()]),
        Some(Frame::Integer(1))
    );
    assert!(b.closed());
    assert!(wait_until(Duration::from_secs(5), || {
        matches!(a.command(&[b"CLIENT", b"LIST"]), Some(Frame::Bulk(l)) if l.split(|&c| c == b'\n').filter(|l| !l.is_empty()).count() == 1)
    }));
}

#[test]
fn client_pause_holds_writes_until_unpause() {
    let server = TestServer::start();
    let mut admin = server.raw();
    let mut writer = server.raw();
    assert_eq!(
        admin.command(&[b"CLIENT", b"PAUSE", b"100000", b"WRITE"]),
        Some(Frame::Simple(b"OK".to_vec()))
    );
    writer.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
    // Reads go on during a WRITE pause; the held SET has not happened.
    assert_eq!(admin.command(&[b"GET", b"k"]), Some(Frame::Null));
    assert_eq!(
        admin.command(&[b"CLIENT", b"UNPAUSE"]),
        Some(Frame::Simple(b"OK".to_vec()))
    );
    assert_eq!(writer.reply(), Some(Frame::Simple(b"OK".to_vec())));
    assert_eq!(admin.command(&[b"GET", b"k"]), Some(bulk("v")));
}

#[test]
fn requirepass_gates_commands() {
    let server = TestServer::start_with(&["--requirepass", "sekret"]);
    let mut raw = server.raw();
    assert_eq!(
        raw.command(&[b"GET", b"k"]),
        Some(error("NOAUTH Authentication required."))
    );
    assert_eq!(
        raw.command(&[b"AUTH", b"wrong"]),
        Some(error(
            "WRONGPASS invalid username-password pair or user is disabled."
        ))
    );
    assert_eq!(
        raw.command(&[b"AUTH", b"sekret"]),
        Some(Frame::Simple(b"OK".to_vec()))
    );
    assert_eq!(raw.command(&[b"GET", b"k"]), Some(Frame::Null));
}

#[test]
fn info_and_command_are_well_formed() {
    let server = TestServer::start();
    let mut c = server.client();
    let _: () = c.set("k", "v").unwrap();
    let info: String = redis::cmd("INFO").query(&mut c).unwrap();
    for field in [
        "redis_version:",
        "connected_clients:1",
        "used_memory:",
        "db0:keys=1,expires=0",
        "role:master",
    ] {
        assert!(info.contains(field), "INFO lacks {field}: {info}");
    }
    let all: String = redis::cmd("INFO").arg("all").query(&mut c).unwrap();
    assert!(all.contains("cmdstat_set:calls=1,"), "{all}");
    let count: i64 = redis::cmd("COMMAND").arg("COUNT").query(&mut c).unwrap();
    let Value::Array(commands) = redis::cmd("COMMAND").query::<Value>(&mut c).unwrap() else {
        panic!()
    };
    assert_eq!(commands.len() as i64, count);
    let keys: Vec<String> = redis::cmd("COMMAND")
        .arg("GETKEYS")
        .arg("MSET")
        .arg("a")
        .arg("1")
        .arg("b")
        .arg("2")
        .query(&mut c)
        .unwrap();
    assert_eq!(keys, vec!["a", "b"]);
    // Movable keys (what cluster clients ask for to route ZUNIONSTORE and friends).
    let keys: Vec<String> = redis::cmd("COMMAND")
        .arg(&[
            "GETKEYS",
            "ZUNIONSTORE",
            "dst",
            "2",
            "a",
            "b",
            "WEIGHTS",
            "1",
            "2",
        ])
        .query(&mut c)
        .unwrap();
    assert_eq!(keys, vec!["dst", "a", "b"]);
    let refused = redis::cmd("COMMAND")
        .arg(&["GETKEYS", "LMPOP", "3", "a", "LEFT"])
        .query::<Vec<String>>(&mut c)
        .unwrap_err();
    assert!(
        refused.to_string().contains("Invalid arguments specified"),
        "{refused}"
    );
}

#[test]
fn shutdown_stops_the_process() {
    let mut server = TestServer::start();
    let mut raw = server.raw();
    raw.send(b"SHUTDOWN\r\n");
    assert!(server.wait_exit(), "redraft exited after SHUTDOWN");
}
