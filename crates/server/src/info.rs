//! INFO, in Redis's text format (`# Section` headers, `field:value` lines), and DEBUG DIGEST.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use engine::{Keyspace, TABLE};

use crate::commands::REDIS_VERSION;
use crate::conn::Conn;
use crate::server::now_ms;

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];
const ALL_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "cluster",
    "keyspace",
];

/// Which sections `INFO args...` asks for, in Redis's order.
fn wanted(args: &[&[u8]]) -> Vec<&'static str> {
    if args.is_empty() {
        return DEFAULT_SECTIONS.to_vec();
    }
    let asked: Vec<String> = args
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let has = |w: &str| asked.iter().any(|a| a == w);
    if has("all") || has("everything") {
        return ALL_SECTIONS.to_vec();
    }
    ALL_SECTIONS
        .iter()
        .copied()
        .filter(|s| has(s) || (has("default") && DEFAULT_SECTIONS.contains(s)))
        .collect()
}

fn human(bytes: u64) -> String {
    let units = [("G", 1u64 << 30), ("M", 1 << 20), ("K", 1 << 10)];
    for (suffix, size) in units {
        if bytes >= size {
            return format!("{:.2}{suffix}", bytes as f64 / size as f64);
        }
    }
    format!("{bytes}B")
}

/// Bytes the allocator has handed out (Redis's `used_memory`).
pub fn used_memory() -> u64 {
    let _ = tikv_jemalloc_ctl::epoch::advance();
    tikv_jemalloc_ctl::stats::allocated::read().unwrap_or(0) as u64
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// (user, system) CPU seconds of this process.
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 100.0
    };
    (ticks(11), ticks(12))
}

pub fn render(conn: &Conn, args: &[&[u8]]) -> String {
    let shared = &conn.shared;
    let config = shared.config();
    let stats = &shared.stats;
    let now = now_ms();
    let uptime_s = shared.started.elapsed().as_secs();
    let (hits, misses, expired, keyspace_lines) = {
        let ks = shared.keyspace.lock().expect("keyspace lock");
        let (hits, misses, expired) = ks.stats();
        let lines: Vec<String> = (0..ks.databases())
            .filter(|&i| !ks.db(i).is_empty())
            .map(|i| {
                let db = ks.db(i);
                format!(
                    "db{i}:keys={},expires={},avg_ttl={}",
                    db.len(),
                    db.volatile_len(),
                    db.avg_ttl_ms(now)
                )
            })
            .collect();
        (hits, misses, expired, lines)
    };
    let mut text = String::new();
    for section in wanted(args) {
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        let mut title = section.to_string();
        title[..1].make_ascii_uppercase();
        let _ = write!(text, "# {title}\r\n");
        let mut field = |name: &str, value: &dyn std::fmt::Display| {
            let _ = write!(text, "{name}:{value}\r\n");
        };
        match section {
            "server" => {
                field("redis_version", &REDIS_VERSION);
                field("redraft_version", &env!("CARGO_PKG_VERSION"));
                field("redis_mode", &"standalone");
                field(
                    "os",
                    &format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
                );
                field("arch_bits", &(usize::BITS));
                field("multiplexing_api", &"tokio");
                field("process_id", &std::process::id());
                field("run_id", &shared.run_id);
                field("tcp_port", &shared.tcp_port.load(Ordering::Relaxed));
                field("server_time_usec", &(now * 1000));
                field("uptime_in_seconds", &uptime_s);
                field("uptime_in_days", &(uptime_s / 86400));
                field("hz", &config.hz);
                field("configured_hz", &config.hz);
                field(
                    "executable",
                    &std::env::current_exe()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                );
                field(
                    "config_file",
                    &config
                        .config_file
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                );
            }
            "clients" => {
                field(
                    "connected_clients",
                    &shared.client_count.load(Ordering::Relaxed),
                );
                field("maxclients", &config.maxclients);
                field(
                    "blocked_clients",
                    &shared.blocked.lock().expect("blocked lock").len(),
                );
                field("pubsub_clients", &0);
            }
            "memory" => {
                let used = used_memory();
                let rss = rss_bytes();
                field("used_memory", &used);
                field("used_memory_human", &human(used));
                field("used_memory_rss", &rss);
                field("used_memory_rss_human", &human(rss));
                field("maxmemory", &0);
                field("maxmemory_human", &"0B");
                field("maxmemory_policy", &"noeviction");
                field(
                    "mem_fragmentation_ratio",
                    &format!("{:.2}", rss as f64 / used.max(1) as f64),
                );
                field("mem_allocator", &"jemalloc");
            }
            "persistence" => {
                field("loading", &0);
                field("rdb_changes_since_last_save", &0);
                field("rdb_bgsave_in_progress", &0);
                field("rdb_last_save_time", &(shared.started_unix_ms / 1000));
                // The Raft log plays the AOF's part: every write is in it before it is applied.
                field("aof_enabled", &1);
                field("aof_rewrite_in_progress", &0);
                if let Some(group) = shared.group.get() {
                    let status = group.status();
                    field("appendfsync", &status.fsync);
                    field("raft_log_entries", &status.log_entries);
                    field("raft_log_bytes", &status.log_bytes);
                    // The part of the log kept in memory (the newest committed entries, up to
                    // 8 MiB, and every uncommitted one).
                    field("raft_log_cached_bytes", &status.log_cached_bytes);
                    field("raft_snapshot_index", &status.snapshot_index);
                    // How long the last snapshot held the keyspace still (the fork, as Redis's
                    // latest_fork_usec, when a child serialises it).
                    field("raft_snapshot_held_usec", &status.snapshot_held_us);
                    // Times the log reopened itself after a disk error (a full disk, say).
                    field("raft_storage_recoveries", &status.reopens);
                }
            }
            "stats" => {
                field(
                    "total_connections_received",
                    &stats.connections_received.load(Ordering::Relaxed),
                );
                field(
                    "total_commands_processed",
                    &stats.commands_processed.load(Ordering::Relaxed),
                );
                field(
                    "total_net_input_bytes",
                    &stats.net_input_bytes.load(Ordering::Relaxed),
                );
                field(
                    "total_net_output_bytes",
                    &stats.net_output_bytes.load(Ordering::Relaxed),
                );
                field(
                    "rejected_connections",
                    &stats.rejected_connections.load(Ordering::Relaxed),
                );
                field(
                    "forwarded_proposals",
                    &stats.forwarded_proposals.load(Ordering::Relaxed),
                );
                field("expired_keys", &expired);
                field("evicted_keys", &0);
                field("keyspace_hits", &hits);
                field("keyspace_misses", &misses);
                let errors: u64 = stats.errors.lock().expect("errors lock").values().sum();
                field("total_error_replies", &errors);
            }
            "replication" => {
                let status = shared.group.get().map(|g| g.status()).unwrap_or_default();
                // Redis's words first (clients read `role`), then the Raft group's own.
                let leading = status.role == "leader";
                field("role", &if leading { "master" } else { "slave" });
                if leading {
                    field("connected_slaves", &status.matched.len().saturating_sub(1));
                } else if let Some((host, port)) = status
                    .leader
                    .and_then(|l| status.voters.iter().find(|(id, _)| *id == l))
                    .and_then(|(_, addr)| addr.rsplit_once(':'))
                {
                    field("master_host", &host);
                    field("master_port", &port);
                    field("master_link_status", &"up");
                }
                field("master_replid", &shared.run_id);
                field("master_repl_offset", &status.applied_index);
                field("raft_node_id", &status.node_id);
                field("raft_role", &status.role);
                field("raft_term", &status.term);
                field(
                    "raft_leader",
                    &status.leader.map_or("none".to_string(), |l| l.to_string()),
                );
                field("raft_last_log_index", &status.last_log_index);
                field("raft_commit_index", &status.commit_index);
                field("raft_applied_index", &status.applied_index);
                let voters: Vec<String> = status
                    .voters
                    .iter()
                    .map(|(id, addr)| format!("{id}@{addr}"))
                    .collect();
                field("raft_voters", &voters.join(","));
                let learners: Vec<String> = status
                    .learners
                    .iter()
                    .map(|(id, addr)| format!("{id}@{addr}"))
                    .collect();
                field("raft_learners", &learners.join(","));
                for (id, matched) in &status.matched {
                    field(
                        &format!("raft_peer_{id}"),
                        &format!(
                            "match={matched},lag={}",
                            status.last_log_index.saturating_sub(*matched)
                        ),
                    );
                }
            }
            "cpu" => {
                let (user, system) = cpu_seconds();
                field("used_cpu_sys", &format!("{system:.6}"));
                field("used_cpu_user", &format!("{user:.6}"));
            }
            "commandstats" => {
                for (spec, stat) in TABLE.iter().zip(&stats.commands) {
                    let calls = stat.calls.load(Ordering::Relaxed);
                    let rejected = stat.rejected.load(Ordering::Relaxed);
                    if calls == 0 && rejected == 0 {
                        continue;
                    }
                    let usec = stat.usec.load(Ordering::Relaxed);
                    let per_call = if calls == 0 {
                        0.0
                    } else {
                        usec as f64 / calls as f64
                    };
                    field(
                        &format!("cmdstat_{}", spec.name),
                        &format!(
                            "calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={rejected},failed_calls={}",
                            stat.failed.load(Ordering::Relaxed)
                        ),
                    );
                }
            }
            "errorstats" => {
                let errors = stats.errors.lock().expect("errors lock").clone();
                let mut codes: Vec<_> = errors.into_iter().collect();
                codes.sort();
                for (code, count) in codes {
                    field(&format!("errorstat_{code}"), &format!("count={count}"));
                }
            }
            "cluster" => field("cluster_enabled", &0),
            "keyspace" => {
                for line in &keyspace_lines {
                    let _ = write!(text, "{line}\r\n");
                }
            }
            _ => {}
        }
    }
    text
}

/// A digest of every live key, value and expiry in every database: equal digests mean equal
/// data (with overwhelming probability), whatever the order of insertion. 40 hex digits, all
/// zeros for an empty keyspace, like Redis's DEBUG DIGEST (the values themselves differ).
pub fn digest(ks: &Keyspace) -> String {
    const CRC: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_XZ);
    let now = now_ms();
    let mut parts = [0u64; 3];
    for index in 0..ks.databases() {
        for (key, entry) in ks.db(index).iter() {
            if entry.is_expired(now) {
                continue;
            }
            let mut record = Vec::with_capacity(key.len() + 32);
            record.extend_from_slice(&(index as u64).to_le_bytes());
            record.extend_from_slice(&(key.len() as u64).to_le_bytes());
            record.extend_from_slice(key);
            record.extend_from_slice(&entry.expire_at_ms.to_le_bytes());
            record.extend_from_slice(&engine::serialize_value(entry.value));
            for (salt, part) in parts.iter_mut().enumerate() {
                let mut digest = CRC.digest();
                digest.update(&[salt as u8]);
                digest.update(&record);
                *part ^= digest.finalize();
            }
        }
    }
    let hex = format!("{:016x}{:016x}{:016x}", parts[0], parts[1], parts[2]);
    hex[..40].to_string()
}
