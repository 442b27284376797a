//! Settings: from a Redis-style config file, then command-line flags, then CONFIG SET.
//!
//! Each setting is a row of [`SETTINGS`] with its name (Redis's where Redis has one), whether it
//! can change at runtime, and how it is read and written. CONFIG GET, CONFIG SET, the config
//! file and INFO all go through that one table.

use std::path::PathBuf;

use engine::types::{
    HASH_PACK_ENTRIES_MAX, INTSET_ENTRIES_MAX, PACK_ELEMENT_BYTES_MAX, PACK_ENTRIES_MAX,
};

/// Redis's defaults, where Redis has the setting.
pub const PORT_DEFAULT: u16 = 6379;
pub const MAXCLIENTS_DEFAULT: usize = 10_000;
pub const QUERY_BUFFER_BYTES_DEFAULT: usize = 1 << 30;

#[derive(Clone, Debug)]
pub struct Config {
    pub bind: Vec<String>,
    pub port: u16,
    pub dir: PathBuf,
    pub databases: usize,
    pub loglevel: String,
    pub maxclients: usize,
    pub proto_max_bulk_len: usize,
    pub client_query_buffer_limit: usize,
    pub requirepass: String,
    /// Seconds a client may stay idle before it is closed; 0 means never.
    pub timeout_s: u64,
    pub hz: u64,
    /// Keyspace notification classes (`notify-keyspace-events`, engine::notify flags).
    pub notify_keyspace_events: u32,
    /// `client-output-buffer-limit`, per class of client.
    pub output_limits: OutputLimits,
    /// The config file given at startup, for INFO and CONFIG REWRITE.
    pub config_file: Option<PathBuf>,
    /// When the Raft log reaches the disk (Redis's `appendfsync`): always, everysec or no.
    pub appendfsync: replication::FsyncPolicy,
    /// Start as a node waiting to join a cluster, instead of as a cluster of one.
    pub cluster_enabled: bool,
    /// The cluster bus port; 0 means the client port + 10000.
    pub cluster_port: u16,
    /// Raft election timeout (the low end; the high end is twice it), in milliseconds.
    pub election_timeout_ms: u64,
    /// Entries between snapshots of the keyspace.
    pub snapshot_entries: u64,
    /// Take a snapshot when the Raft log's files grow past this many bytes.
    pub snapshot_bytes: u64,
    /// Linearizable reads by leader lease instead of ReadIndex (`read-policy lease`).
    pub lease_reads: bool,
    /// The collection hash seed the nodes of a cluster share (keep it secret: it keys the
    /// hashes that protect collections from crafted collisions).
    pub cluster_secret: u64,
    /// The TLS client port (`tls-port`); 0: no TLS.
    pub tls_port: u16,
    /// PEM files: this server's certificate chain and key, and the CAs client certificates
    /// must chain to.
    pub tls_cert_file: String,
    pub tls_key_file: String,
    pub tls_ca_cert_file: String,
    /// Whether a TLS client must present a certificate (`tls-auth-clients`).
    pub tls_auth_clients: TlsAuthClients,
    /// Mutual TLS on the cluster bus (`tls-cluster`).
    pub tls_cluster: bool,
}

/// `tls-auth-clients`: Redis's default is `yes`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TlsAuthClients {
    #[default]
    Yes,
    Optional,
    No,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: vec!["127.0.0.1".into()],
            port: PORT_DEFAULT,
            dir: PathBuf::from("./data"),
            databases: engine::DATABASES_DEFAULT,
            loglevel: "notice".into(),
            maxclients: MAXCLIENTS_DEFAULT,
            proto_max_bulk_len: resp::BULK_BYTES_MAX,
            client_query_buffer_limit: QUERY_BUFFER_BYTES_DEFAULT,
            requirepass: String::new(),
            timeout_s: 0,
            hz: 10,
            notify_keyspace_events: 0,
            output_limits: OutputLimits::default(),
            config_file: None,
            appendfsync: replication::FsyncPolicy::Always,
            cluster_enabled: false,
            cluster_port: 0,
            election_timeout_ms: 200,
            snapshot_entries: 100_000,
            snapshot_bytes: 256 << 20,
            lease_reads: false,
            cluster_secret: 0x5eed_c011_ec71_0a5e,
            tls_port: 0,
            tls_cert_file: String::new(),
            tls_key_file: String::new(),
            tls_ca_cert_file: String::new(),
            tls_auth_clients: TlsAuthClients::Yes,
            tls_cluster: false,
        }
    }
}

/// One class's `client-output-buffer-limit`: a client whose pending output reaches `hard` bytes
/// is closed at once, one that stays at or over `soft` bytes for more than `soft_seconds` is
/// closed then. 0 turns a limit off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutputLimit {
    pub hard: usize,
    pub soft: usize,
    pub soft_seconds: u64,
}

/// `client-output-buffer-limit` for Redis's three classes. `replica` is kept and reported for
/// config files written for Redis; Redraft's replicas are Raft followers fed from the log, with
/// no output buffer of their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputLimits {
    pub normal: OutputLimit,
    pub replica: OutputLimit,
    pub pubsub: OutputLimit,
}

impl Default for OutputLimits {
    /// Redis's defaults.
    fn default() -> Self {
        OutputLimits {
            normal: OutputLimit::default(),
            replica: OutputLimit {
                hard: 256 << 20,
                soft: 64 << 20,
                soft_seconds: 60,
            },
            pubsub: OutputLimit {
                hard: 32 << 20,
                soft: 8 << 20,
                soft_seconds: 60,
            },
        }
    }
}

impl OutputLimits {
    /// As CONFIG GET shows them (`slave` is Redis's name for the replica class there).
    fn format(&self) -> String {
        [
            ("normal", self.normal),
            ("slave", self.replica),
            ("pubsub", self.pubsub),
        ]
        .iter()
        .map(|(class, l)| format!("{class} {} {} {}", l.hard, l.soft, l.soft_seconds))
        .collect::<Vec<_>>()
        .join(" ")
    }

    /// Sets the classes named in `text` (`<class> <hard> <soft> <soft seconds>`, repeated), all
    /// or none of them.
    fn set(&mut self, text: &str) -> Result<(), String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        if !words.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        let mut next = *self;
        for group in words.chunks_exact(4) {
            let class = match group[0].to_ascii_lowercase().as_str() {
                "normal" => &mut next.normal,
                "replica" | "slave" => &mut next.replica,
                "pubsub" => &mut next.pubsub,
                _ => {
                    return Err(
                        "Invalid client class specified in buffer limit configuration.".into(),
                    );
                }
            };
            let bad =
                || "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
            *class = OutputLimit {
                hard: parse_memory(group[1]).map_err(|_| bad())?,
                soft: parse_memory(group[2]).map_err(|_| bad())?,
                soft_seconds: group[3].parse().map_err(|_| bad())?,
            };
        }
        *self = next;
        Ok(())
    }
}

pub struct Setting {
    pub name: &'static str,
    pub mutable: bool,
    pub get: fn(&Config) -> String,
    pub set: fn(&mut Config, &str) -> Result<(), String>,
}

fn parse_number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| "argument couldn't be parsed into an integer".to_string())
}

fn parse_yes_no(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

fn yes_no(on: bool) -> String {
    if on { "yes" } else { "no" }.to_string()
}

/// Parses a memory size the way Redis does: `512mb`, `1gb`, `64k`, or plain bytes.
pub fn parse_memory(text: &str) -> Result<usize, String> {
    let lower = text.to_ascii_lowercase();
    let units: [(&str, usize); 6] = [
        ("kb", 1 << 10),
        ("mb", 1 << 20),
        ("gb", 1 << 30),
        ("k", 1000),
        ("m", 1_000_000),
        ("g", 1_000_000_000),
    ];
    for (suffix, factor) in units {
        if let Some(digits) = lower.strip_suffix(suffix) {
            let n: usize = digits
                .parse()
                .map_err(|_| "argument must be a memory value".to_string())?;
            return n
                .checked_mul(factor)
                .ok_or_else(|| "argument must be a memory value".to_string());
        }
    }
    lower
        .parse()
        .map_err(|_| "argument must be a memory value".to_string())
}

/// Accepts `text` only if it is the built-in `value`: for limits every replica must share
/// (a collection's representation decides its iteration order), which a config file may still
/// state.
fn fixed(text: &str, value: usize) -> Result<(), String> {
    match parse_number::<usize>(text) {
        Ok(n) if n == value => Ok(()),
        _ => Err(format!(
            "Redraft fixes this at {value}: every replica of a group must pack collections alike"
        )),
    }
}

/// A read-only row for one of the compact-encoding limits (see `engine::compact`).
macro_rules! pack_limit {
    ($name:literal, $value:expr) => {
        Setting {
            name: $name,
            mutable: false,
            get: |_| $value.to_string(),
            set: |_, v| fixed(v, $value),
        }
    };
}

fn bounded(value: usize, low: usize, high: usize) -> Result<usize, String> {
    if (low..=high).contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "argument must be between {low} and {high} inclusive"
        ))
    }
}

pub static SETTINGS: &[Setting] = &[
    Setting {
        name: "appendfsync",
        mutable: false,
        get: |c| c.appendfsync.name().to_string(),
        set: |c, v| {
            c.appendfsync = replication::FsyncPolicy::parse(v).ok_or_else(|| {
                "argument(s) must be one of the following: always, everysec, no".to_string()
            })?;
            Ok(())
        },
    },
    Setting {
        name: "cluster-enabled",
        mutable: false,
        get: |c| yes_no(c.cluster_enabled),
        set: |c, v| {
            c.cluster_enabled = parse_yes_no(v)?;
            Ok(())
        },
    },
    Setting {
        name: "cluster-port",
        mutable: false,
        get: |c| c.cluster_port.to_string(),
        set: |c, v| {
            c.cluster_port = parse_number(v)?;
            Ok(())
        },
    },
    Setting {
        name: "election-timeout",
        mutable: false,
        get: |c| c.election_timeout_ms.to_string(),
        set: |c, v| {
            c.election_timeout_ms = bounded(parse_number(v)?, 10, 60_000)? as u64;
            Ok(())
        },
    },
    Setting {
        name: "read-policy",
        mutable: true,
        get: |c| if c.lease_reads { "lease" } else { "readindex" }.to_string(),
        set: |c, v| {
            c.lease_reads = match v.to_ascii_lowercase().as_str() {
                "lease" => true,
                "readindex" => false,
                _ => return Err("argument must be 'readindex' or 'lease'".into()),
            };
            Ok(())
        },
    },
    Setting {
        name: "cluster-secret",
        mutable: false,
        get: |_| "(hidden)".to_string(),
        set: |c, v| {
            c.cluster_secret = parse_number(v)?;
            Ok(())
        },
    },
    Setting {
        name: "tls-port",
        mutable: false,
        get: |c| c.tls_port.to_string(),
        set: |c, v| {
            c.tls_port = parse_number(v)?;
            Ok(())
        },
    },
    Setting {
        name: "tls-cert-file",
        mutable: false,
        get: |c| c.tls_cert_file.clone(),
        set: |c, v| {
            c.tls_cert_file = v.to_string();
            Ok(())
        },
    },
    Setting {
        name: "tls-key-file",
        mutable: false,
        get: |c| c.tls_key_file.clone(),
        set: |c, v| {
            c.tls_key_file = v.to_string();
            Ok(())
        },
    },
    Setting {
        name: "tls-ca-cert-file",
        mutable: false,
        get: |c| c.tls_ca_cert_file.clone(),
        set: |c, v| {
            c.tls_ca_cert_file = v.to_string();
            Ok(())
        },
    },
    Setting {
        name: "tls-auth-clients",
        mutable: false,
        get: |c| {
            match c.tls_auth_clients {
                TlsAuthClients::Yes => "yes",
                TlsAuthClients::Optional => "optional",
                TlsAuthClients::No => "no",
            }
            .to_string()
        },
        set: |c, v| {
            c.tls_auth_clients = match v.to_ascii_lowercase().as_str() {
                "yes" => TlsAuthClients::Yes,
                "optional" => TlsAuthClients::Optional,
                "no" => TlsAuthClients::No,
                _ => return Err("argument must be 'yes', 'no' or 'optional'".into()),
            };
            Ok(())
        },
    },
    Setting {
        name: "tls-cluster",
        mutable: false,
        get: |c| yes_no(c.tls_cluster),
        set: |c, v| {
            c.tls_cluster = parse_yes_no(v)?;
            Ok(())
        },
    },
    Setting {
        name: "snapshot-entries",
        mutable: false,
        get: |c| c.snapshot_entries.to_string(),
        set: |c, v| {
            c.snapshot_entries = bounded(parse_number(v)?, 100, 1 << 40)? as u64;
            Ok(())
        },
    },
    Setting {
        name: "snapshot-bytes",
        mutable: false,
        get: |c| c.snapshot_bytes.to_string(),
        set: |c, v| {
            c.snapshot_bytes = bounded(parse_number(v)?, 1 << 20, 1 << 50)? as u64;
            Ok(())
        },
    },
    Setting {
        name: "bind",
        mutable: false,
        get: |c| c.bind.join(" "),
        set: |c, v| {
            c.bind = v.split_whitespace().map(String::from).collect();
            if c.bind.is_empty() {
                Err("bind needs at least one address".into())
            } else {
                Ok(())
            }
        },
    },
    Setting {
        name: "port",
        mutable: false,
        get: |c| c.port.to_string(),
        set: |c, v| {
            c.port = parse_number(v)?;
            Ok(())
        },
    },
    Setting {
        name: "dir",
        mutable: false,
        get: |c| c.dir.display().to_string(),
        set: |c, v| {
            c.dir = PathBuf::from(v);
            Ok(())
        },
    },
    Setting {
        name: "databases",
        mutable: false,
        get: |c| c.databases.to_string(),
        set: |c, v| {
            c.databases = bounded(parse_number(v)?, 1, 1 << 20)?;
            Ok(())
        },
    },
    Setting {
        name: "loglevel",
        mutable: true,
        get: |c| c.loglevel.clone(),
        set: |c, v| {
            let v = v.to_ascii_lowercase();
            if !["debug", "verbose", "notice", "warning", "nothing"].contains(&v.as_str()) {
                return Err("argument(s) must be one of the following: debug, verbose, notice, warning, nothing".into());
            }
            c.loglevel = v;
            Ok(())
        },
    },
    Setting {
        name: "maxclients",
        mutable: true,
        get: |c| c.maxclients.to_string(),
        set: |c, v| {
            c.maxclients = bounded(parse_number(v)?, 1, 1 << 20)?;
            Ok(())
        },
    },
    Setting {
        name: "proto-max-bulk-len",
        mutable: true,
        get: |c| c.proto_max_bulk_len.to_string(),
        set: |c, v| {
            c.proto_max_bulk_len = bounded(parse_memory(v)?, 1 << 20, usize::MAX)?;
            Ok(())
        },
    },
    Setting {
        name: "client-query-buffer-limit",
        mutable: true,
        get: |c| c.client_query_buffer_limit.to_string(),
        set: |c, v| {
            c.client_query_buffer_limit = bounded(parse_memory(v)?, 1 << 20, usize::MAX)?;
            Ok(())
        },
    },
    Setting {
        name: "requirepass",
        mutable: true,
        get: |c| c.requirepass.clone(),
        set: |c, v| {
            c.requirepass = v.to_string();
            Ok(())
        },
    },
    Setting {
        name: "timeout",
        mutable: true,
        get: |c| c.timeout_s.to_string(),
        set: |c, v| {
            c.timeout_s = parse_number(v)?;
            Ok(())
        },
    },
    Setting {
        name: "hz",
        mutable: true,
        get: |c| c.hz.to_string(),
        set: |c, v| {
            c.hz = bounded(parse_number(v)?, 1, 500)? as u64;
            Ok(())
        },
    },
    Setting {
        name: "client-output-buffer-limit",
        mutable: true,
        get: |c| c.output_limits.format(),
        set: |c, v| c.output_limits.set(v),
    },
    Setting {
        name: "notify-keyspace-events",
        mutable: true,
        get: |c| engine::notify::format(c.notify_keyspace_events),
        set: |c, v| {
            c.notify_keyspace_events = engine::notify::parse(v)
                .ok_or("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")?;
            Ok(())
        },
    },
    // Persistence arrives with the Raft log; until then these report what is true (no RDB
    // snapshots, no AOF) so that tools which read them (redis-benchmark does) see the truth.
    Setting {
        name: "save",
        mutable: false,
        get: |_| String::new(),
        set: |_, _| Ok(()),
    },
    // Where small collections stop being packed: Redis's defaults, fixed (see `fixed`).
    pack_limit!("hash-max-listpack-entries", HASH_PACK_ENTRIES_MAX),
    pack_limit!("hash-max-listpack-value", PACK_ELEMENT_BYTES_MAX),
    pack_limit!("hash-max-ziplist-entries", HASH_PACK_ENTRIES_MAX),
    pack_limit!("hash-max-ziplist-value", PACK_ELEMENT_BYTES_MAX),
    pack_limit!("set-max-intset-entries", INTSET_ENTRIES_MAX),
    pack_limit!("set-max-listpack-entries", PACK_ENTRIES_MAX),
    pack_limit!("set-max-listpack-value", PACK_ELEMENT_BYTES_MAX),
    pack_limit!("zset-max-listpack-entries", PACK_ENTRIES_MAX),
    pack_limit!("zset-max-listpack-value", PACK_ELEMENT_BYTES_MAX),
    pack_limit!("zset-max-ziplist-entries", PACK_ENTRIES_MAX),
    pack_limit!("zset-max-ziplist-value", PACK_ELEMENT_BYTES_MAX),
    Setting {
        name: "appendonly",
        mutable: false,
        // The Raft log is always on: it is where every write goes first.
        get: |_| "yes".into(),
        set: |_, _| Ok(()),
    },
];

pub fn setting(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

impl Config {
    /// Applies a Redis-style config file: one `name value...` per line, `#` comments, values
    /// may be quoted.
    pub fn apply_file(&mut self, text: &str) -> Result<(), String> {
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, value) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let value = value.trim().trim_matches('"');
            let setting = setting(name)
                .ok_or_else(|| format!("line {}: unknown setting '{name}'", number + 1))?;
            (setting.set)(self, value).map_err(|e| format!("line {}: {name}: {e}", number + 1))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_read_like_redis() {
        assert_eq!(parse_memory("512mb"), Ok(512 << 20));
        assert_eq!(parse_memory("1GB"), Ok(1 << 30));
        assert_eq!(parse_memory("2k"), Ok(2000));
        assert_eq!(parse_memory("100"), Ok(100));
        assert!(parse_memory("lots").is_err());
    }

    #[test]
    fn output_buffer_limits_read_and_print_like_redis() {
        let mut c = Config::default();
        let get = setting("client-output-buffer-limit").unwrap().get;
        let set = setting("client-output-buffer-limit").unwrap().set;
        assert_eq!(
            get(&c),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        assert_eq!(set(&mut c, "pubsub 1mb 256kb 10 REPLICA 1 2 3"), Ok(()));
        assert_eq!(get(&c), "normal 0 0 0 slave 1 2 3 pubsub 1048576 262144 10");
        assert_eq!(set(&mut c, ""), Ok(()), "nothing named, nothing changes");
        for (text, error) in [
            (
                "pubsub 1mb",
                "Wrong number of arguments in buffer limit configuration.",
            ),
            (
                "master 1 1 1",
                "Invalid client class specified in buffer limit configuration.",
            ),
            (
                "pubsub x 1 1",
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
            ),
            (
                "pubsub -1 1 1",
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
            ),
            (
                "normal 1 1 1 pubsub 1 1 -1",
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
            ),
        ] {
            assert_eq!(set(&mut c, text), Err(error.to_string()), "{text}");
        }
        // A refused value changes no class, not even the ones named before the bad one.
        assert_eq!(get(&c), "normal 0 0 0 slave 1 2 3 pubsub 1048576 262144 10");
    }

    #[test]
    fn config_files_set_and_reject() {
        let mut c = Config::default();
        c.apply_file(
            "# comment\nport 7000\n\nmaxclients 5\nbind 127.0.0.1 ::1\ndir \"/tmp/x y\"\n",
        )
        .unwrap();
        assert_eq!((c.port, c.maxclients), (7000, 5));
        assert_eq!(c.bind, vec!["127.0.0.1", "::1"]);
        assert_eq!(c.dir, PathBuf::from("/tmp/x y"));
        assert!(
            c.apply_file("nosuch 1")
                .unwrap_err()
                .contains("unknown setting")
        );
        assert!(c.apply_file("maxclients 0").is_err());
        assert!(c.apply_file("loglevel loud").is_err());
    }

    #[test]
    fn pack_limits_are_reported_and_only_their_own_value_is_accepted() {
        let mut c = Config::default();
        let get = |name: &str| (setting(name).expect("a setting").get)(&Config::default());
        assert_eq!(get("hash-max-listpack-entries"), "512");
        assert_eq!(get("hash-max-ziplist-value"), "64");
        assert_eq!(get("set-max-intset-entries"), "512");
        assert_eq!(get("zset-max-listpack-entries"), "128");
        assert!(!setting("zset-max-listpack-value").unwrap().mutable);
        c.apply_file("hash-max-listpack-entries 512\nset-max-intset-entries 512\n")
            .unwrap();
        let refused = c.apply_file("hash-max-ziplist-entries 128").unwrap_err();
        assert!(refused.contains("fixes this at 512"), "{refused}");
    }
}
