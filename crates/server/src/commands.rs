//! Commands about connections and the server process: PING, ECHO, HELLO, AUTH, SELECT, QUIT,
//! RESET, CLIENT, CONFIG, COMMAND, INFO, TIME, LASTSAVE, DEBUG, SHUTDOWN.

use std::sync::atomic::Ordering;
use std::time::Duration;

use engine::{CommandSpec, Error, Flags, ServerCommand, TABLE, arg_i64, glob_match};
use resp::Protocol;

use crate::config::{SETTINGS, setting};
use crate::conn::{Conn, Flow, Multi, ReplyMode, Watched};
use crate::pubsub::Kind;
use crate::server::{ClientHandle, Pause, now_ms};

/// The Redis version we report (HELLO, INFO): the release whose commands and replies we follow.
pub const REDIS_VERSION: &str = "7.2.0";

pub fn run(conn: &mut Conn, command: ServerCommand, args: &[&[u8]]) -> Result<Flow, Error> {
    match command {
        ServerCommand::Ping => ping(conn, args),
        ServerCommand::Echo => {
            conn.out.bulk(args[1]);
            Ok(Flow::Continue)
        }
        ServerCommand::Hello => hello(conn, args),
        ServerCommand::Auth => auth(conn, args),
        ServerCommand::Select => select(conn, args),
        ServerCommand::Quit => {
            conn.out.ok();
            Ok(Flow::Close)
        }
        ServerCommand::Reset => reset(conn),
        ServerCommand::Cluster => crate::cluster::cluster(conn, args),
        ServerCommand::Readonly => {
            conn.readonly = true;
            conn.out.ok();
            Ok(Flow::Continue)
        }
        ServerCommand::Readwrite => {
            conn.readonly = false;
            conn.out.ok();
            Ok(Flow::Continue)
        }
        ServerCommand::Client => client(conn, args),
        ServerCommand::Config => config(conn, args),
        ServerCommand::Command => command_(conn, args),
        ServerCommand::Info => {
            let text = crate::info::render(conn, &args[1..]);
            conn.out.verbatim(text.as_bytes());
            Ok(Flow::Continue)
        }
        ServerCommand::Time => {
            let micros = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("after 1970")
                .as_micros();
            conn.out.array(2);
            conn.out.bulk((micros / 1_000_000).to_string().as_bytes());
            conn.out.bulk((micros % 1_000_000).to_string().as_bytes());
            Ok(Flow::Continue)
        }
        ServerCommand::Lastsave => {
            conn.out.int((conn.shared.started_unix_ms / 1000) as i64);
            Ok(Flow::Continue)
        }
        ServerCommand::Debug => debug(conn, args),
        ServerCommand::Shutdown => shutdown(conn, args),
        ServerCommand::Multi => multi(conn),
        ServerCommand::Exec | ServerCommand::Redraft => {
            unreachable!("the connection runs {command:?} itself")
        }
        ServerCommand::Discard => discard(conn),
        ServerCommand::Watch => watch(conn, args),
        ServerCommand::Unwatch => {
            conn.unwatch_all();
            conn.out.ok();
            Ok(Flow::Continue)
        }
        ServerCommand::Subscribe => subscribe(conn, Kind::Channel, args),
        ServerCommand::Psubscribe => subscribe(conn, Kind::Pattern, args),
        ServerCommand::Ssubscribe => subscribe(conn, Kind::Shard, args),
        ServerCommand::Unsubscribe => unsubscribe(conn, Kind::Channel, args),
        ServerCommand::Punsubscribe => unsubscribe(conn, Kind::Pattern, args),
        ServerCommand::Sunsubscribe => unsubscribe(conn, Kind::Shard, args),
        ServerCommand::Publish => {
            let received = conn
                .shared
                .pubsub
                .lock()
                .expect("pubsub lock")
                .publish(args[1], args[2]);
            conn.out.int(received as i64);
            Ok(Flow::Continue)
        }
        ServerCommand::Spublish => {
            let received = conn
                .shared
                .pubsub
                .lock()
                .expect("pubsub lock")
                .spublish(args[1], args[2]);
            conn.out.int(received as i64);
            Ok(Flow::Continue)
        }
        ServerCommand::Pubsub => pubsub(conn, args),
    }
}

fn eq(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

fn lossy(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).into_owned()
}

fn unknown_subcommand(args: &[&[u8]], container: &str) -> Error {
    Error::msg(format!(
        "ERR unknown subcommand '{}'. Try {container} HELP.",
        lossy(args[1])
    ))
}

fn sub_arity(args: &[&[u8]], container: &str) -> Error {
    Error::msg(format!(
        "ERR wrong number of arguments for '{}|{}' command",
        container.to_ascii_lowercase(),
        lossy(args[1]).to_ascii_lowercase()
    ))
}

fn help(conn: &mut Conn, lines: &[&str]) -> Result<Flow, Error> {
    conn.out.array(lines.len());
    for line in lines {
        conn.out.simple(line);
    }
    Ok(Flow::Continue)
}

fn ping(conn: &mut Conn, args: &[&[u8]]) -> Result<Flow, Error> {
    if args.len() > 2 {
        return Err(Error::WrongArity("ping"));
    }
    if !conn.out.is_resp3() && conn.subscriptions() > 0 {
        // A subscribed RESP2 client gets PING's reply in the shape of a message.
        conn.out.array(2);
        conn.out.bulk(b"pong");
        conn.out.bulk(args.get(1).copied().unwrap_or(b""));
        return Ok(Flow::Continue);
    }
    match args {
        [_, message] => conn.out.bulk(message),
        _ => conn.out.simple("PONG"),
    }
    Ok(Flow::Continue)
}

/// Client names and library names may hold only printable, non-space ASCII.
fn valid_name(name: &[u8]) -> bool {
    name.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

fn check_password(conn: &Conn, user: &[u8], password: &[u8]) -> Result<(), Error> {
    let required = conn
        .shared
        .config
        .lock()
        .expect("config lock")
        .requirepass
        .clone();
    let ok = user == b"default" && (required.is_empty() || required.as_bytes() == password);
    if ok {
        Ok(())
    } else {
        Err(Error::msg(
            "WRONGPASS invalid username-password pair or user is disabled.",
        ))
    }
}

fn hello(conn: &mut Conn, args: &[&[u8]]) -> Result<Flow, Error> {
    let mut version = None;
    let mut i = 1;
    if args.len() >= 2 {
        let v = arg_i64(args[1])
            .map_err(|_| Error::msg("ERR Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&v) {
            return Err(Error::msg("NOPROTO unsupported protocol version"));
        }
        version = Some(v);
        i = 2;
    }
    let mut name = None;
    let mut credentials = None;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if eq(args[i], "auth") && more >= 2 {
            credentials = Some((args[i + 1], args[i + 2]));
            i += 3;
        } else if eq(args[i], "setname") && more >= 1 {
            if !valid_name(args[i + 1]) {
                return Err(Error::msg(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                ));
            }
            name = Some(lossy(args[i + 1]));
            i += 2;
        } else {
            return Err(Error::msg(format!(
                "ERR Syntax error in HELLO option '{}'",
                lossy(args[i])
            )));
        }
    }
    if let Some((user, password)) = credentials {
        check_password(conn, user, password)?;
        conn.authenticated = true;
    }
    if !conn.authenticated {
        return Err(Error::msg(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        ));
    }
    if let Some(name) = name {
        conn.name = name;
    }
    if let Some(v) = version {
        conn.out.proto = if v == 3 {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        };
    }
    let proto = if conn.out.is_resp3() { 3 } else { 2 };
    let out = &mut conn.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(proto);
    out.bulk(b"id");
    out.int(conn.handle.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    Ok(Flow::Continue)
}

fn auth(conn: &mut Conn, args: &[&[u8]]) -> Result<Flow, Error> {
    let (user, password) = match args {
        [_, password] => {
            if conn
                .shared
                .config
                .lock()
                .expect("config lock")
                .requirepass
                .is_empty()
            {
                return Err(Error::msg(
                    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
                ));
            }
            (&b"default"[..], *password)
        }
        [_, user, password] => (*user, *password),
        _ => return Err(Error::Syntax),
    };
    check_password(conn, user, password)?;
    conn.authenticated = true;
    conn.out.ok();
    Ok(Flow::Continue)
}

/// SELECT's database index, checked against the number of databases.
pub fn parse_db(args: &[&[u8]], databases: usize) -> Result<usize, Error> {
    let index = arg_i64(args[1])?;
    usize::try_from(index)
        .ok()
        .filter(|&i| i < databases)
        .ok_or(Error::DbIndexOutOfRange)
}

fn select(conn: &mut Conn, args: &[&[u8]]) -> Result<Flow, Error> {
    let databases = conn.shared.config.lock().expect("config lock").databases;
    conn.db = parse_db(args, databases)?;
    conn.out.ok();
    Ok(Flow::Continue)
}

fn reset(conn: &mut Conn) -> Result<Flow, Error> {
    conn.multi = None;
    conn.readonly = false;
    conn.release();
    conn.db = 0;
    conn.out.proto = Protocol::Resp2;
    conn.name.clear();
    conn.reply_mode = ReplyMode::On;
    conn.no_evict = false;
    conn.authenticated = conn
        .shared
        .config
        .lock()
        .expect("config lock")
        .requirepass
        .is_empty();
    conn.out.simple("RESET");
    Ok(Flow::Continue)
}

const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are: ID, TYPE, USER, ADDR, LADDR, SKIPME, MAXAGE.",
    "LIST [options ...]",
    "    Return information about client connections. Options: TYPE, ID.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend clients (or only their writes) for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "SETINFO <LIB-NAME|LIB-VER> <value>",
    "    Set client library name or version.",
    "NO-EVICT (ON|OFF)",
    "    Protect the current client connection from eviction.",
    "HELP",
    "    Print this help.",
];

/// One CLIENT LIST line, in Redis's field order.
fn client_line(handle: &ClientHandle, now: u64) -> String {
    let meta = handle.meta.lock().expect("client meta lock").clone();
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}\n",
        handle.id,
        handle.addr,
        handle.laddr,
        handle.fd,
        meta.name,
        now.saturating_sub(handle.created_ms) / 1000,
        now.saturating_sub(meta.last_interaction_ms.max(handle.created_ms)) / 1000,
        client_flags(&meta),
        meta.db,
        meta.subscriptions[0],
        meta.subscriptions[1],
        meta.subscriptions[2],
        meta.multi.map_or(-1, |n| n as i64),
        meta.last_command,
        meta.resp,
        meta.lib_name,
        meta.lib_ver,
    )
}

/// CLIENT LIST's flags: P subscribed, x in MULTI, b blocked, e no-evict, N none of them.
fn client_flags(meta: &crate::server::ClientMeta) -> String {
    let mut flags = String::new();
    if meta.subscriptions.iter().any(|&n| n > 0) {
        flags.push('P');
    }
    if meta.multi.is_some() {
        flags.push('x');
    }
    if meta.blocked {
        flags.push('b');
    }
    if meta.no_evict {
        flags.push('e');
    }
    if flags.is_empty() {
        flags.push('N');
    }
    flags
}

fn clients(conn: &Conn) -> Vec<std::sync::Arc<ClientHandle>> {
    let mut all: Vec<_> = conn
        .shared
        .clients
        .lock()
        .expect("clients lock")
        .values()
        .cloned()
        .collect();
    all.sort_by_key(|c| c.id);
    all
}

fn client(conn: &mut Conn, args: &[&[u8]]) -> Result<Flow, Error> {
    let sub = lossy(args[1]).to_ascii_lowercase();
    let arity_ok = match sub.as_str() {
        "help" | "id" | "getname" | "info" | "unpause" => args.len() == 2,
        "setname" | "reply" | "no-evict" => args.len() == 3,
        "setinfo" => args.len() == 4,
        "pause" => args.len() == 3 || args.len() == 4,
        "kill" => args.len() >= 3,
        "list" => true,
        _ => return Err(unknown_subcommand(args, "CLIENT")),
    };
    if !arity_ok {
        return Err(sub_arity(args, "CLIENT"));
    }
    conn.publish_meta();
    match sub.as_str() {
        "help" => return help(conn, CLIENT_HELP),
        "id" => conn.out.int(conn.handle.id as i64),
        "getname" => {
            if conn.name.is_empty() {
                conn.out.null();
            } else {
                let name = conn.name.clone();
                conn.out.bulk(name.as_bytes());
            }
        }
        "setname" => {
            if !valid_name(args[2]) {
                return Err(Error::msg(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                ));
            }
            conn.name = lossy(args[2]);
            conn.out.ok();
        }
        "setinfo" => {
            let value = args[3];
            let which = lossy(args[2]).to_ascii_lowercase();
            if which != "lib-name" && which != "lib-ver" {
                return Err(Error::msg(format!(
                    "ERR Unrecognized option '{}'",
                    lossy(args[2])
                )));
            }
            if !valid_name(value) {
                return Err(Error::msg(format!(
                    "ERR {which} cannot contain spaces, newlines or special characters."
                )));
            }
            if which == "lib-name" {
                conn.lib_name = lossy(value);
            } else {
                conn.lib_ver = lossy(value);
            }
            conn.out.ok();
        }
        "info" => {
            let line = client_line(&conn.handle, now_ms());
            conn.out.verbatim(line.as_bytes());
        }
        "list" => {
            let wanted = client_list_filter(&args[2..])?;
            let now = now_ms();
            let text: String = clients(conn)
                .iter()
                .filter(|c| wanted.as_ref().is_none_or(|wanted| wanted(c)))
                .map(|c| client_line(c, now))
                .collect();
            conn.out.verbatim(text.as_bytes());
        }
        "kill" => return client_kill(conn, args),
        "pause" => {
            let ms = arg_i64(args[2])
                .map_err(|_| Error::msg("ERR timeout is not an integer or out of range"))?;
            if ms < 0 {
                return Err(Error::msg("ERR timeout is negative"));
            }
            let writes_only = match args.get(3) {
                None => false,
                Some(m) if eq(m, "all") => false,
                Some(m) if eq(m, "write") => true,
                Some(_) => return Err(Error::Syntax),
            };
            *conn.shared.pause.lock().expect("pause lock") = Pause {
                until_ms: now_ms() + ms as u64,
                writes_only,
            };
            conn.shared.paused.store(true, Ordering::SeqCst);
            conn.out.ok();
        }
        "unpause" => {
            *conn.shared.pause.lock().expect("pause lock") = Pause::default();
            conn.shared.paused.store(false, Ordering::SeqCst);
            conn.shared.unpaused.notify_waiters();
            conn.out.ok();
        }
        "no-evict" => {
            conn.no_evict = match args[2] {
                a if eq(a, "on") => true,
                a if eq(a, "off") => false,
                _ => return Err(Error::Syntax),
            };
            conn.out.ok();
        }
        "reply" => match args[2] {
            a if eq(a, "on") => {
                conn.reply_mode = ReplyMode::On;
                conn.out.ok();
            }
            a if eq(a, "off") => conn.reply_mode = ReplyMode::Off,
            a if eq(a, "skip") => {
                if conn.reply_mode == ReplyMode::On {
                    conn.reply_mode = ReplyMode::SkipNext;
                }
            }
            _ => return Err(Error::Syntax),
        },
        _ => unreachable!("every subcommand was checked above"),
    }
    Ok(Flow::Continue)
}

/// CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id ...]: the ids to keep, or all.
fn client_list_filter(args: &[&[u8]]) -> Result<Option<ClientFilter>, Error> {
    match args {
        [] => Ok(None),
        [t, kind] if eq(t, "type") => type_filter(kind).map(Some),
        [id, ids @ ..] if eq(id, "id") && !ids.is_empty() => {
            let ids = ids
                .iter()
                .map(|i| {
                    arg_i64(i)
                        .ok()
                        .filter(|&n| n > 0)
                        .map(|n| n as u64)
                        .ok_or(Error::msg("ERR Invalid client ID"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Some(Box::new(move |c| ids.contains(&c.id))))
        }
        _ => Err(Error::Syntax),
    }
}

/// Redis's class of a client: `pubsub` while it has a subscription (in RESP2 or RESP3), else
/// `normal` (Redraft has no Redis-protocol replicas or masters).
fn client_type(c: &ClientHandle) -> &'static str {
    let subscriptions = c.meta.lock().expect("client meta lock").subscriptions;
    if subscriptions.iter().sum::<usize>() > 0 {
        "pubsub"
    } else {
        "normal"
    }
}

/// The clients of one type (CLIENT LIST TYPE, CLIENT KILL TYPE).
fn type_filter(kind: &[u8]) -> Result<ClientFilter, Error> {
    let kind = lossy(kind).to_ascii_lowercase();
    match kind.as_str() {
        "normal" => Ok(Box::new(|c| client_type(c) == "normal")),
        "pubsub" => Ok(Box::new(|c| client_type(c) == "pubsub")),
        "master" | "replica" | "slave" => Ok(Box::new(|_| false)),
        _ => Err(Error::msg(format!("ERR Unknown client type '{kind}'"))),
    }
}

/// One CLIENT KILL condition; a client is killed when all hold.
type ClientFilter = Box<dyn Fn(&ClientHandle) -> bool>;

fn client_kill(conn: &mut Conn, args: &[&[u8]]) -> Result<Flow, Error> {
    let now = now_ms();
    let all = clients(conn);
    let kill = |c: &ClientHandle| {
        c.killed.store(true, Ordering::SeqCst);
        c.kill.notify_one();
    };
    if args.len() == 3 {
        // The old form: CLIENT KILL addr:port.
        let addr = lossy(args[2]);
        let Some(target) = all.iter().find(|c| c.addr.to_string() == addr) else {
            return Err(Error::msg("ERR No such client"));
        };
        kill(target);
        conn.out.ok();
        return Ok(if target.id == conn.handle.id {
            Flow::Close
        } else {
            Flow::Continue
        });
    }
    let pairs = &args[2..];
    if !pairs.len().is_multiple_of(2) {
        return Err(Error::Syntax);
    }
    let mut filters: Vec<ClientFilter> = Vec::new();
    let mut skip_me = true;
    for pair in pairs.chunks_exact(2) {
        let (option, value) = (pair[0], pair[1]);
        if eq(option, "id") {
            let id = arg_i64(value)
                .ok()
                .filter(|&n| n > 0)
                .ok_or(Error::msg("ERR client-id should be greater than 0"))?
                as u64;
            filters.push(Box::new(move |c| c.id == id));
        } else if eq(option, "addr") {
            let addr = lossy(value);
            filters.push(Box::new(move |c| c.addr.to_string() == addr));
        } else if eq(option, "laddr") {
            let addr = lossy(value);
            filters.push(Box::new(move |c| c.laddr.to_string() == addr));
        } else if eq(option, "type") {
            filters.push(type_filter(value)?);
        } else if eq(option, "user") {
            let user = lossy(value);
            filters.push(Box::new(move |_| user == "default"));
        } else if eq(option, "skipme") {
            skip_me = match value {
                v if eq(v, "yes") => true,
                v if eq(v, "no") => false,
                _ => return Err(Error::Syntax),
            };
        } else if eq(option, "maxage") {
            let age = arg_i64(value)?;
            filters.push(Box::new(move |c| {
                (now.saturating_sub(c.created_ms) / 1000) as i64 >= age
            }));
        } else {
            return Err(Error::Syntax);
        }
    }
    let mut killed = 0;
    let mut killed_self = false;
    for c in &all {
        if (skip_me && c.id == conn.handle.id) || !filters.iter().all(|f| f(c)) {
            continue;
        }
        kill(c);
        killed += 1;
        killed_self |= c.id == conn.handle.id;
    }
    conn.out.int(killed);
    Ok(if killed_self {
        Flow::Close
    } else {
        Flow::Continue
    })
}

const CONFIG_HELP: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
    "HELP",
    "    Print this help.",
];

fn config(conn: &mut Conn, args: &[&[u8]]) -> Result<Flow, Error> {
    let sub = lossy(args[1]).to_ascii_lowercase();
    match sub.as_str() {
        "help" if args.len() == 2 => help(conn, CONFIG_HELP),
        "get" if args.len() >= 3 => {
            let config = conn.shared.config();
            let mut found: Vec<(&str, String)> = Vec::new();
            for s in SETTINGS {
                let wanted = args[2..]
                    .iter()
                    .any(|p| glob_match(&p.to_ascii_lowercase(), s.name.as_bytes()));
                if wanted {
                    found.push((s.name, (s.get)(&config)));
                }
            }
            conn.out.map(found.len());
            for (name, value) in found {
                conn.out.bulk(name.as_bytes());
                conn.out.bulk(value.as_bytes());
            }
            Ok(Flow::Continue)
        }
        "set" if args.len() >= 4 && args.len().is_multiple_of(2) => {
            let mut config = conn.shared.config.lock().expect("config lock");
            let mut next = config.clone();
            for pair in args[2..].chunks_exact(2) {
                let name = lossy(pair[0]);
                let Some(s) = setting(&name) else {
                    return Err(Error::msg(format!(
                        "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
                    )));
                };
                let fail = |why: &str| {
                    Error::msg(format!(
                        "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
                    ))
                };
                if !s.mutable {
                    return Err(fail("can't set immutable config"));
                }
                (s.set)(&mut next, &lossy(pair[1])).map_err(|why| fail(&why))?;
            }
            let level_changed = next.loglevel != config.loglevel;
            if next.output_limits.pubsub != config.output_limits.pubsub {
                conn.shared.pubsub.lock().expect("pubsub lock").limit = next.output_limits.pubsub;
            }
            if next.notify_keyspace_events != config.notify_keyspace_events {
                let mut keyspace = conn.shared.keyspace.lock().expect("keyspace lock");
                keyspace.set_notify_classes(next.notify_keyspace_events);
            }
            *config = next;
            if level_changed {
                (conn.shared.set_log_level)(&config.loglevel);
            }
            conn.shared.config_generation.fetch_add(1, Ordering::SeqCst);
            drop(config);
            conn.out.ok();
            Ok(Flow::Continue)
        }
        "set" if args.len() >= 3 => Err(Error::msg(format!(
            "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
            lossy(args[2])
        ))),
        "resetstat" if args.len() == 2 => {
            let stats = &conn.shared.stats;
            for counter in [
                &stats.connections_received,
                &stats.rejected_connections,
                &stats.commands_processed,
                &stats.net_input_bytes,
                &stats.net_output_bytes,
            ] {
                counter.store(0, Ordering::Relaxed);
            }
            for c in &stats.commands {
                for counter in [&c.calls, &c.usec, &c.failed, &c.rejected] {
                    counter.store(0, Ordering::Relaxed);
                }
            }
            stats.errors.lock().expect("errors lock").clear();
            conn.shared
                .keyspace
                .lock()
                .expect("keyspace lock")
                .reset_stats();
            conn.out.ok();
            Ok(Flow::Continue)
        }
        "rewrite" if args.len() == 2 => {
            let config = conn.shared.config();
            let Some(path) = &config.config_file else {
                return Err(Error::msg(
                    "ERR The server is running without a config file",
                ));
            };
            let text: String = SETTINGS
                .iter()
                .filter(|s| s.mutable || !["save", "appendonly"].contains(&s.name))
                .map(|s| format!("{} \"{}\"\n", s.name, (s.get)(&config)))
                .collect();
            std::fs::write(path, text)
                .map_err(|e| Error::msg(format!("ERR Rewriting config file: {e}")))?;
            conn.out.ok();
            Ok(Flow::Continue)
        }
        "help" | "get" | "set" | "resetstat" | "rewrite" => Err(sub_arity(args, "CONFIG")),
        _ => Err(unknown_subcommand(args, "CONFIG")),
    }
}

/// COMMAND's description of one command, in Redis 7's shape.
fn command_info(conn: &mut Conn, spec: &CommandSpec) {
    let out = &mut conn.out;
    out.array(10);
    out.bulk(spec.name.as_bytes());
    out.int(i64::from(spec.arity));
    let flags: Vec<_> = spec.flags.names().collect();
    out.set(flags.len());
    flags.iter().for_each(|f| out.simple(f));
    out.int(i64::from(spec.keys.0));
    out.int(i64::from(spec.keys.1));
    out.int(i64::from(spec.keys.2));
    let mut categories = vec![format!("@{}", spec.group)];
    categories.push(if spec.is_write() {
        "@write".into()
    } else {
        "@read".into()
    });
    if spec.flags.contains(Flags::FAST) {
        categories.push("@fast".into());
    } else {
        categories.push("@slow".into());
    }
    if spec.flags.contains(Flags::ADMIN) {
        categories.push("@admin".into());
        categories.push("@dangerous".into());
    }
    out.set(categories.len());
    categories.iter().for_each(|c| out.simple(c));
    out.set(0);
    out.array(0);
    out.array(0);
}

const COMMAND_HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all commands.",
    "COUNT",
    "    Return the total number of commands in this server.",
    "LIST",
    "    Return a list of all commands in this server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple commands.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple commands.",
    "GETKEYS <full-command>",
    "    Return the keys from a full command.",
    "HELP",
    "    Print this help.",
];

fn command_(conn: &mut Conn, args: &[&[u8]]) -> Result<Flow, Error> {
    if args.len() == 1 {
        conn.out.array(TABLE.len());
        TABLE.iter().for_each(|spec| command_info(conn, spec));
        return Ok(Flow::Continue);
    }
    let sub = lossy(args[1]).to_ascii_lowercase();
    match sub.as_str() {
        "help" if args.len() == 2 => return help(conn, COMMAND_HELP),
        "count" if args.len() == 2 => conn.out.int(TABLE.len() as i64),
        "list" => {
            let names: Vec<&str> = match &args[2..] {
                [] => TABLE.iter().map(|c| c.name).collect(),
                [f, kind, value] if eq(f, "filterby") => {
                    let value = lossy(value).to_ascii_lowercase();
                    match lossy(kind).to_ascii_lowercase().as_str() {
                        "module" => Vec::new(),
                        "aclcat" => TABLE
                            .iter()
                            .filter(|c| c.group == value.trim_start_matches('@'))
                            .map(|c| c.name)
                            .collect(),
                        "pattern" => TABLE
                            .iter()
                            .filter(|c| glob_match(value.as_bytes(), c.name.as_bytes()))
                            .map(|c| c.name)
                            .collect(),
                        _ => return Err(Error::Syntax),
                    }
                }
                _ => return Err(Error::Syntax),
            };
            conn.out.array(names.len());
            names.iter().for_each(|n| conn.out.bulk(n.as_bytes()));
        }
        "info" => {
            let specs: Vec<Option<&CommandSpec>> = if args.len() == 2 {
                TABLE.iter().map(Some).collect()
            } else {
                args[2..].iter().map(|n| engine::lookup(n)).collect()
            };
            conn.out.array(specs.len());
            for spec in specs {
                match spec {
                    Some(spec) => command_info(conn, spec),
                    None => conn.out.null_array(),
                }
            }
        }
        "docs" => {
            let specs: Vec<&CommandSpec> = if args.len() == 2 {
                TABLE.iter().collect()
            } else {
                args[2..].iter().filter_map(|n| engine::lookup(n)).collect()
            };
            conn.out.map(specs.len());
            for spec in specs {
                conn.out.bulk(spec.name.as_bytes());
                conn.out.map(3);
                conn.out.bulk(b"summary");
                conn.out.bulk(spec.summary.as_bytes());
                conn.out.bulk(b"since");
                conn.out.bulk(spec.since.as_bytes());
                conn.out.bulk(b"group");
                conn.out.bulk(spec.group.as_bytes());
            }
        }
        "getkeys" if args.len() >= 3 => {
            let target = &args[2..];
            let Some(spec) = engine::lookup(target[0]) else {
                return Err(Error::msg("ERR Invalid command specified"));
            };
            if !spec.arity_ok(target.len()) {
                return Err(Error::msg(
                    "ERR Invalid number of arguments specified for command",
                ));
            }
            let Some(positions) = spec.keys_in(target) else {
                return Err(Error::msg("ERR Invalid arguments specified for command"));
            };
            if positions.is_empty() {
                return Err(Error::msg("ERR The command has no key arguments"));
            }
            conn.out.array(positions.len());
            positions.iter().for_each(|&p| conn.out.bulk(target[p]));
        }
        "help" | "count" | "getkeys" => return Err(sub_arity(args, "COMMAND")),
        _ => return Err(unknown_subcommand(args, "COMMAND")),
    }
    Ok(Flow::Continue)
}

const DEBUG_HELP: &[&str] = &[
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DIGEST",
    "    Output a hex digest of the whole keyspace (equal digests: equal data).",
    "OBJECT <key>",
    "    Show low level info about the key and associated value.",
    "SLEEP <seconds>",
    "    Stop this connection for <seconds> (fractions allowed); other clients go on.",
    "HELP",
    "    Print this help.",
];

fn debug(conn: &mut Conn, args: &[&[u8]]) -> Result<Flow, Error> {
    let sub = lossy(args[1]).to_ascii_lowercase();
    match (sub.as_str(), args.len()) {
        ("help", 2) => help(conn, DEBUG_HELP),
        ("sleep", 3) => {
            let seconds: f64 = lossy(args[2]).parse().map_err(|_| Error::NotFloat)?;
            conn.out.ok();
            Ok(Flow::Sleep(Duration::from_secs_f64(
                seconds.clamp(0.0, 3600.0),
            )))
        }
        ("object", 3) => {
            let now = now_ms();
            let keyspace = conn.shared.keyspace.lock().expect("keyspace lock");
            let Some(entry) = keyspace.db(conn.db).get(args[2], now) else {
                return Err(Error::NoSuchKey);
            };
            let line = format!(
                "Value at:0x0 refcount:1 encoding:{} serializedlength:{} lru:0 lru_seconds_idle:{}",
                entry.encoding(),
                entry.value.string_len().unwrap_or(0),
                (now / 1000).saturating_sub(u64::from(entry.changed_s))
            );
            drop(keyspace);
            conn.out.simple(&line);
            Ok(Flow::Continue)
        }
        ("digest", 2) => {
            let digest = crate::info::digest(&conn.shared.keyspace.lock().expect("keyspace lock"));
            conn.out.simple(&digest);
            Ok(Flow::Continue)
        }
        _ => Err(Error::msg(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            lossy(args[1])
        ))),
    }
}

fn shutdown(conn: &mut Conn, args: &[&[u8]]) -> Result<Flow, Error> {
    let mut abort = false;
    for arg in &args[1..] {
        if eq(arg, "abort") {
            abort = true;
        } else if !["nosave", "save", "now", "force"]
            .iter()
            .any(|w| eq(arg, w))
        {
            return Err(Error::Syntax);
        }
    }
    if abort {
        return Err(Error::msg("ERR No shutdown in progress."));
    }
    conn.shared.request_shutdown();
    Ok(Flow::Close)
}

fn multi(conn: &mut Conn) -> Result<Flow, Error> {
    if conn.multi.is_some() {
        return Err(Error::msg("ERR MULTI calls can not be nested"));
    }
    conn.multi = Some(Multi::default());
    conn.out.ok();
    Ok(Flow::Continue)
}

fn discard(conn: &mut Conn) -> Result<Flow, Error> {
    if conn.multi.take().is_none() {
        return Err(Error::msg("ERR DISCARD without MULTI"));
    }
    conn.unwatch_all();
    conn.out.ok();
    Ok(Flow::Continue)
}

fn watch(conn: &mut Conn, args: &[&[u8]]) -> Result<Flow, Error> {
    if conn.multi.is_some() {
        return Err(Error::msg("ERR WATCH inside MULTI is not allowed"));
    }
    let now = now_ms();
    let keyspace = conn.shared.keyspace.lock().expect("keyspace lock");
    for key in &args[1..] {
        if conn
            .watched
            .iter()
            .any(|w| w.db == conn.db && w.key == *key)
        {
            continue;
        }
        let db = keyspace.db(conn.db);
        let version = db.watch();
        let was_live = db.contains(key, now);
        conn.watched.push(Watched {
            db: conn.db,
            key: key.to_vec(),
            version,
            was_live,
        });
    }
    drop(keyspace);
    conn.out.ok();
    Ok(Flow::Continue)
}

/// True if a watched key changed (or expired) since WATCH.
pub fn watch_broken(conn: &Conn) -> bool {
    let now = now_ms();
    let keyspace = conn.shared.keyspace.lock().expect("keyspace lock");
    conn.watched.iter().any(|w| {
        keyspace
            .db(w.db)
            .watch_broken(&w.key, w.version, w.was_live, now)
    })
}

fn subscribe(conn: &mut Conn, kind: Kind, args: &[&[u8]]) -> Result<Flow, Error> {
    let verb: &[u8] = match kind {
        Kind::Channel => b"subscribe",
        Kind::Pattern => b"psubscribe",
        Kind::Shard => b"ssubscribe",
    };
    let mut registry = conn.shared.pubsub.lock().expect("pubsub lock");
    for name in &args[1..] {
        let set = match kind {
            Kind::Channel => &mut conn.channels,
            Kind::Pattern => &mut conn.patterns,
            Kind::Shard => &mut conn.shard_channels,
        };
        if set.insert(bytes::Bytes::copy_from_slice(name)) {
            registry.subscribe(kind, name, &conn.handle);
        }
        let count = match kind {
            Kind::Shard => conn.shard_channels.len(),
            _ => conn.channels.len() + conn.patterns.len(),
        };
        conn.out.push(3);
        conn.out.bulk(verb);
        conn.out.bulk(name);
        conn.out.int(count as i64);
    }
    Ok(Flow::Continue)
}

fn unsubscribe(conn: &mut Conn, kind: Kind, args: &[&[u8]]) -> Result<Flow, Error> {
    let verb: &[u8] = match kind {
        Kind::Channel => b"unsubscribe",
        Kind::Pattern => b"punsubscribe",
        Kind::Shard => b"sunsubscribe",
    };
    let set = match kind {
        Kind::Channel => &conn.channels,
        Kind::Pattern => &conn.patterns,
        Kind::Shard => &conn.shard_channels,
    };
    let names: Vec<bytes::Bytes> = if args.len() > 1 {
        args[1..]
            .iter()
            .map(|n| bytes::Bytes::copy_from_slice(n))
            .collect()
    } else {
        let mut all: Vec<_> = set.iter().cloned().collect();
        all.sort();
        all
    };
    let mut registry = conn.shared.pubsub.lock().expect("pubsub lock");
    if names.is_empty() {
        // Unsubscribing from everything while subscribed to nothing still replies once.
        let count = conn.channels.len() + conn.patterns.len();
        conn.out.push(3);
        conn.out.bulk(verb);
        conn.out.null();
        conn.out.int(count as i64);
        return Ok(Flow::Continue);
    }
    for name in names {
        let set = match kind {
            Kind::Channel => &mut conn.channels,
            Kind::Pattern => &mut conn.patterns,
            Kind::Shard => &mut conn.shard_channels,
        };
        if set.remove(&name) {
            registry.unsubscribe(kind, &name, conn.handle.id);
        }
        let count = match kind {
            Kind::Shard => conn.shard_channels.len(),
            _ => conn.channels.len() + conn.patterns.len(),
        };
        conn.out.push(3);
        conn.out.bulk(verb);
        conn.out.bulk(&name);
        conn.out.int(count as i64);
    }
    Ok(Flow::Continue)
}

const PUBSUB_HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Print this help.",
];

fn pubsub(conn: &mut Conn, args: &[&[u8]]) -> Result<Flow, Error> {
    let sub = lossy(args[1]).to_ascii_lowercase();
    let registry = conn.shared.pubsub.lock().expect("pubsub lock");
    match (sub.as_str(), args.len()) {
        ("help", 2) => {
            drop(registry);
            return help(conn, PUBSUB_HELP);
        }
        ("channels" | "shardchannels", 2 | 3) => {
            let kind = if sub == "channels" {
                Kind::Channel
            } else {
                Kind::Shard
            };
            let mut names = registry.names(kind, args.get(2).copied());
            names.sort();
            conn.out.array(names.len());
            names.iter().for_each(|n| conn.out.bulk(n));
        }
        ("numpat", 2) => conn.out.int(registry.pattern_count() as i64),
        ("numsub" | "shardnumsub", _) => {
            let kind = if sub == "numsub" {
                Kind::Channel
            } else {
                Kind::Shard
            };
            conn.out.array((args.len() - 2) * 2);
            for name in &args[2..] {
                conn.out.bulk(name);
                conn.out.int(registry.count(kind, name) as i64);
            }
        }
        ("help" | "channels" | "shardchannels" | "numpat", _) => {
            return Err(sub_arity(args, "PUBSUB"));
        }
        _ => return Err(unknown_subcommand(args, "PUBSUB")),
    }
    Ok(Flow::Continue)
}
