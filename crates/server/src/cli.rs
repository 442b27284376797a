//! `redraft cluster ...`: the admin subcommands. Each talks RESP to running nodes (REDRAFT
//! commands, see `admin`) and reports what it did.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use resp::Frame;

const USAGE: &str = "usage:
  redraft cluster create [--wait SECONDS] ADDR ADDR ...
                                                form one group of nodes started with --cluster-enabled yes
                                                (--wait: retry nodes that do not answer yet, as in
                                                a container start; a group of exactly these nodes
                                                that already exists is reported, not an error)
  redraft cluster add-node ANY_MEMBER NEW_ADDR  add a running --cluster-enabled node as a voter
  redraft cluster remove-node ANY_MEMBER ID     remove a node from the group
  redraft cluster transfer-leader ANY_MEMBER ID hand leadership to node ID
  redraft cluster status ADDR                   role, term, leader, indexes and members";

/// Replies of one node, over one connection.
struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    fn connect(addr: &str) -> Result<Client, String> {
        let stream = TcpStream::connect(addr).map_err(|e| format!("{addr}: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| e.to_string())?;
        Ok(Client {
            stream,
            buf: Vec::new(),
        })
    }

    fn call(&mut self, args: &[&str]) -> Result<Frame, String> {
        let mut request = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            request.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
        }
        self.stream.write_all(&request).map_err(|e| e.to_string())?;
        loop {
            if let Some((frame, len)) = resp::decode_frame(&self.buf).map_err(|e| e.to_string())? {
                self.buf.drain(..len);
                return match frame {
                    Frame::Error(e) => Err(String::from_utf8_lossy(&e).into_owned()),
                    frame => Ok(frame),
                };
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("connection closed".into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn text(frame: Frame) -> String {
    match frame {
        Frame::Simple(b) | Frame::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        Frame::Verbatim { text, .. } => String::from_utf8_lossy(&text).into_owned(),
        Frame::Integer(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

fn my_id(addr: &str) -> Result<String, String> {
    Ok(text(Client::connect(addr)?.call(&["REDRAFT", "MYID"])?))
}

fn field(status: &str, name: &str) -> Option<String> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.trim().to_string())
}

fn status(addr: &str) -> Result<String, String> {
    Ok(text(Client::connect(addr)?.call(&["REDRAFT", "STATUS"])?))
}

/// The leader's client address, as `member` knows it.
fn leader_of(member: &str) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = status(member)?;
        if field(&status, "raft_role").as_deref() == Some("leader") {
            return Ok(member.to_string());
        }
        let leader = field(&status, "raft_leader").unwrap_or_default();
        let voters = field(&status, "raft_voters").unwrap_or_default();
        if let Some(addr) = voters
            .split(',')
            .find_map(|v| v.strip_prefix(&format!("{leader}@")))
        {
            return Ok(addr.to_string());
        }
        if Instant::now() > deadline {
            return Err(format!("{member} knows no leader"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends a membership or leadership command to the leader, following MOVED once.
fn on_leader(member: &str, args: &[&str]) -> Result<String, String> {
    let leader = leader_of(member)?;
    match Client::connect(&leader)?.call(args) {
        Ok(frame) => Ok(text(frame)),
        Err(e) if e.starts_with("MOVED ") => {
            let addr = e.split_whitespace().nth(2).unwrap_or_default().to_string();
            Client::connect(&addr)?.call(args).map(text)
        }
        Err(e) => Err(e),
    }
}

/// The error BOOTSTRAP answers on a node that is already in a group (`admin`).
const ALREADY_IN_A_GROUP: &str = "ERR this node is already in a group";

/// `cluster create`: asks every node its id (retrying for up to `wait` while a node does not
/// answer yet), then bootstraps the group on the first. If the first node is already in a group
/// whose voters are exactly these nodes, that group is reported instead (a compose file's
/// `create` run again on a restart finds the cluster it made the first time).
fn create(nodes: &[&str], wait: Duration) -> Result<(), String> {
    let deadline = Instant::now() + wait;
    let mut bootstrap = vec!["REDRAFT".to_string(), "BOOTSTRAP".to_string()];
    for addr in nodes {
        let id = loop {
            match my_id(addr) {
                Ok(id) => break id,
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        println!("node {id} at {addr}");
        bootstrap.push(id);
        bootstrap.push(addr.to_string());
    }
    let call: Vec<&str> = bootstrap.iter().map(String::as_str).collect();
    match Client::connect(nodes[0])?.call(&call) {
        Ok(_) => {
            let leader = leader_of(nodes[0])?;
            println!(
                "created a group of {} voters; the leader is at {leader}",
                nodes.len()
            );
            Ok(())
        }
        Err(e) if e == ALREADY_IN_A_GROUP => {
            let voters = field(&status(nodes[0])?, "raft_voters").unwrap_or_default();
            let mut have: Vec<&str> = voters
                .split(',')
                .filter_map(|v| v.split_once('@').map(|(_, addr)| addr))
                .collect();
            let mut want = nodes.to_vec();
            have.sort_unstable();
            want.sort_unstable();
            if have != want {
                return Err(format!(
                    "{} is already in another group (voters {voters})",
                    nodes[0]
                ));
            }
            let leader = leader_of(nodes[0])?;
            println!(
                "these {} nodes are already a group; the leader is at {leader}",
                nodes.len()
            );
            Ok(())
        }
        Err(e) => Err(e),
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["create", "--wait", seconds, nodes @ ..] if !nodes.is_empty() => {
            let seconds: u64 = seconds
                .parse()
                .map_err(|_| format!("--wait takes seconds, not {seconds:?}"))?;
            create(nodes, Duration::from_secs(seconds))
        }
        ["create", nodes @ ..] if !nodes.is_empty() && !nodes[0].starts_with("--") => {
            create(nodes, Duration::ZERO)
        }
        ["add-node", member, addr] => {
            let id = my_id(addr)?;
            on_leader(member, &["REDRAFT", "ADD-NODE", &id, addr])?;
            println!("added node {id} at {addr} as a voter (it caught up as a learner first)");
            Ok(())
        }
        ["remove-node", member, id] => {
            on_leader(member, &["REDRAFT", "REMOVE-NODE", id])?;
            println!("removed node {id}");
            Ok(())
        }
        ["transfer-leader", member, id] => {
            on_leader(member, &["REDRAFT", "TRANSFER-LEADER", id])?;
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let status = status(member)?;
                if field(&status, "raft_leader").as_deref() == Some(*id) {
                    println!("node {id} is the leader");
                    return Ok(());
                }
                if Instant::now() > deadline {
                    return Err(format!("node {id} did not take leadership within 10 s"));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        ["status", addr] => {
            print!("{}", status(addr)?.replace("\r\n", "\n"));
            Ok(())
        }
        _ => Err(USAGE.to_string()),
    }
}

/// Runs `redraft cluster <args>`; returns the process exit code.
pub fn main(args: &[String]) -> i32 {
    match run(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("redraft cluster: {e}");
            2
        }
    }
}
