//! The whole keyspace as bytes, for Raft snapshots: what a replica needs to continue applying
//! the log exactly as the replica that wrote it would have.
//!
//! `magic "RDKS" · version u16 · databases varint · per database: the WATCH state (version
//! clock, floor, forgotten version, the remembered deletions oldest first as name hash and
//! version), a key count and each key (key, expiry, last write in seconds, WATCH stamp, value
//! as a DUMP payload, a set's table size) · CRC-64/XZ of everything before`. The WATCH state
//! is included because EXEC decides on it, and every replica must decide the same way.
//!
//! Format 3 adds, after the databases, FUNCTION's libraries: a count, then each library's name
//! and code. Formats 1 and 2 hold none.
//!
//! Format 1 (before versions per key) kept 4096 version buckets per database instead; it still
//! loads, with every key counted as changed at the snapshot (a WATCH taken before it breaks).

use crate::cmd::dump::{self, Reader, put_bytes, put_varint};
use crate::db::Keyspace;
use crate::value::{Entry, Value, ValueRef};
use crate::watch::Versions;

const MAGIC: &[u8; 4] = b"RDKS";
const FORMAT_VERSION: u16 = 3;
/// Slice-by-16 tables: the same checksum as the bytewise default, several times faster over a
/// snapshot's hundreds of megabytes.
const CRC64: crc::Crc<u64, crc::Table<16>> = crc::Crc::<u64, crc::Table<16>>::new(&crc::CRC_64_XZ);

const ENDS_EARLY: &str = "snapshot ends early";

/// A length-prefixed byte string (DUMP's encoding).
fn read_bytes<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], String> {
    let len = r.varint().ok_or(ENDS_EARLY)?;
    r.take(usize::try_from(len).map_err(|_| "snapshot length too large")?)
        .ok_or_else(|| ENDS_EARLY.to_string())
}

fn read_varint(r: &mut Reader) -> Result<u64, String> {
    r.varint().ok_or_else(|| ENDS_EARLY.to_string())
}

impl Keyspace {
    /// Appends the whole keyspace to `out`.
    pub fn write_snapshot(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        put_varint(out, self.databases() as u64);
        for index in 0..self.databases() {
            let db = self.db(index);
            let versions = db.versions();
            put_varint(out, versions.clock);
            put_varint(out, versions.floor);
            put_varint(out, versions.forgotten);
            let deletions = versions.deletions();
            put_varint(out, deletions.len() as u64);
            for (hash, version) in deletions {
                out.extend_from_slice(&hash.to_le_bytes());
                put_varint(out, version);
            }
            put_varint(out, db.len() as u64);
            for (key, entry) in db.iter() {
                put_bytes(out, key);
                put_varint(out, entry.expire_at_ms);
                put_varint(out, u64::from(entry.changed_s));
                put_varint(out, u64::from(entry.stamp));
                put_bytes(out, &dump::serialize(entry.value));
                let bits = match entry.value {
                    ValueRef::Set(set) => set.layout_bits(),
                    _ => 0,
                };
                put_varint(out, u64::from(bits));
            }
        }
        put_varint(out, self.libraries.code.len() as u64);
        for (name, code) in &self.libraries.code {
            put_bytes(out, name.as_bytes());
            put_bytes(out, code);
        }
        let crc = CRC64.checksum(&out[start..]);
        out.extend_from_slice(&crc.to_le_bytes());
    }

    /// Replaces every database with the contents of a snapshot made by `write_snapshot`.
    /// Connection-side state (blocked keys, notification settings) stays.
    pub fn read_snapshot(&mut self, data: &[u8]) -> Result<(), String> {
        if data.len() < MAGIC.len() + 2 + 8 {
            return Err("snapshot too short".into());
        }
        let (body, crc) = data.split_at(data.len() - 8);
        if CRC64.checksum(body).to_le_bytes() != crc {
            return Err("snapshot fails its checksum".into());
        }
        let mut r = Reader(body);
        if r.take(4).ok_or(ENDS_EARLY)? != MAGIC {
            return Err("not a keyspace snapshot".into());
        }
        let format = r.take(2).ok_or(ENDS_EARLY)?;
        let format = u16::from_le_bytes([format[0], format[1]]);
        if format > FORMAT_VERSION {
            return Err("snapshot written by a newer version".into());
        }
        let databases = read_varint(&mut r)? as usize;
        if databases != self.databases() {
            return Err(format!(
                "snapshot has {databases} databases, this server {}",
                self.databases()
            ));
        }
        for index in 0..databases {
            let versions = match format {
                1 => {
                    let clock = read_varint(&mut r)?;
                    read_varint(&mut r)?; // cleared-at
                    for _ in 0..read_varint(&mut r)? {
                        read_varint(&mut r)?; // a bucket's version
                    }
                    Versions::restore(clock, clock, clock, [])
                }
                _ => {
                    let clock = read_varint(&mut r)?;
                    let floor = read_varint(&mut r)?;
                    let forgotten = read_varint(&mut r)?;
                    let count = read_varint(&mut r)?;
                    let mut deletions = Vec::new();
                    for _ in 0..count {
                        let hash = r.take(8).ok_or(ENDS_EARLY)?;
                        let hash = u64::from_le_bytes(hash.try_into().expect("8 bytes"));
                        deletions.push((hash, read_varint(&mut r)?));
                    }
                    Versions::restore(clock, floor, forgotten, deletions)
                }
            };
            let db = self.db_mut(index);
            db.clear();
            let keys = read_varint(&mut r)?;
            for _ in 0..keys {
                let key = read_bytes(&mut r)?;
                let expire_at_ms = read_varint(&mut r)?;
                let changed_s = read_varint(&mut r)?;
                let stamp = match format {
                    1 => 0,
                    _ => read_varint(&mut r)? as u32,
                };
                let mut value =
                    dump::deserialize(read_bytes(&mut r)?).map_err(|e| e.to_string())?;
                let bits = read_varint(&mut r)?;
                if let Value::Set(set) = &mut value {
                    set.set_layout_bits(bits as u32);
                }
                db.insert(
                    key,
                    Entry {
                        value,
                        expire_at_ms,
                        changed_ms: changed_s * 1000,
                    },
                );
                db.set_stamp(key, stamp);
            }
            db.forget_new_keys();
            db.set_versions(versions);
        }
        self.libraries.code.clear();
        if format >= 3 {
            for _ in 0..read_varint(&mut r)? {
                let name = String::from_utf8_lossy(read_bytes(&mut r)?).into_owned();
                let code = read_bytes(&mut r)?.to_vec();
                self.libraries.code.insert(name, code);
            }
        }
        self.libraries.changed();
        if !r.0.is_empty() {
            return Err("snapshot has trailing bytes".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::db::Keyspace;
    use crate::exec::Exec;
    use resp::{Protocol, ReplyWriter};

    fn run(ks: &mut Keyspace, db: usize, args: &[&str]) -> Vec<u8> {
        let spec = crate::lookup(args[0].as_bytes()).expect("a command");
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        let mut out = ReplyWriter::new(Protocol::Resp2);
        let mut ex = Exec {
            ks,
            db,
            now_ms: 1_000_000,
            seed: 7,
            out: &mut out,
        };
        ex.run(spec, &args);
        out.buf
    }

    #[test]
    fn a_snapshot_restores_every_type_expiry_and_watch_version() {
        let mut ks = Keyspace::new(4, 1);
        run(&mut ks, 0, &["set", "s", "hello"]);
        run(&mut ks, 0, &["set", "n", "42"]);
        run(&mut ks, 0, &["pexpireat", "n", "5000000"]);
        run(&mut ks, 1, &["rpush", "l", "a", "b", "c"]);
        run(&mut ks, 1, &["hset", "h", "f", "v", "g", "w"]);
        run(&mut ks, 2, &["sadd", "set", "x", "y", "z"]);
        run(&mut ks, 3, &["zadd", "z", "1", "a", "2.5", "b"]);
        run(&mut ks, 0, &["set", "gone", "x"]);
        run(&mut ks, 0, &["del", "gone"]);
        let mut bytes = Vec::new();
        ks.write_snapshot(&mut bytes);

        let mut restored = Keyspace::new(4, 99);
        restored.read_snapshot(&bytes).expect("restore");
        for (db, key) in [(0, "s"), (0, "n"), (1, "l"), (1, "h"), (2, "set"), (3, "z")] {
            assert_eq!(
                run(&mut restored, db, &["dump", key]),
                run(&mut ks, db, &["dump", key]),
                "{key}"
            );
            assert_eq!(
                restored.db(db).version(key.as_bytes()),
                ks.db(db).version(key.as_bytes())
            );
        }
        // A deleted key's version, and the clock, come back too.
        assert_eq!(restored.db(0).version(b"gone"), ks.db(0).version(b"gone"));
        assert!(restored.db(0).version(b"gone") > 0);
        assert_eq!(restored.db(0).watch(), ks.db(0).watch());
        assert_eq!(run(&mut restored, 0, &["pttl", "n"]), b":4000000\r\n");
        assert_eq!(restored.keys(), ks.keys());
    }

    #[test]
    fn a_snapshot_carries_function_libraries_and_replaces_those_there() {
        let mut ks = Keyspace::new(1, 1);
        let code = "#!lua name=counters\n\
                    redis.register_function('bump', function(keys) \
                    return redis.call('INCR', keys[1]) end)";
        assert_eq!(
            run(&mut ks, 0, &["function", "load", code]),
            b"$8\r\ncounters\r\n"
        );
        let mut bytes = Vec::new();
        ks.write_snapshot(&mut bytes);

        let mut restored = Keyspace::new(1, 1);
        let other = "#!lua name=other\nredis.register_function('f', function() return 1 end)";
        run(&mut restored, 0, &["function", "load", other]);
        restored.read_snapshot(&bytes).expect("restore");
        assert_eq!(
            run(&mut restored, 0, &["fcall", "bump", "1", "c"]),
            b":1\r\n"
        );
        assert_eq!(
            run(&mut restored, 0, &["fcall", "bump", "1", "c"]),
            b":2\r\n"
        );
        assert_eq!(
            run(&mut restored, 0, &["fcall", "f", "0"]),
            b"-ERR Function not found\r\n"
        );
    }

    #[test]
    fn spop_picks_the_same_members_after_a_restore() {
        let mut ks = Keyspace::new(1, 1);
        let members: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
        let mut sadd = vec!["sadd", "s"];
        sadd.extend(members.iter().map(String::as_str));
        run(&mut ks, 0, &sadd);
        // Shrink it by removals, so its table is larger than a fresh one of the same size.
        let mut srem = vec!["srem", "s"];
        srem.extend(members[..180].iter().map(String::as_str));
        run(&mut ks, 0, &srem);
        let mut bytes = Vec::new();
        ks.write_snapshot(&mut bytes);
        let mut restored = Keyspace::new(1, 5);
        restored.read_snapshot(&bytes).unwrap();
        for _ in 0..5 {
            assert_eq!(
                run(&mut restored, 0, &["spop", "s", "2"]),
                run(&mut ks, 0, &["spop", "s", "2"])
            );
        }
    }

    #[test]
    fn damaged_snapshots_are_refused() {
        let mut ks = Keyspace::new(2, 1);
        run(&mut ks, 0, &["set", "k", "v"]);
        let mut bytes = Vec::new();
        ks.write_snapshot(&mut bytes);
        let mut flipped = bytes.clone();
        flipped[10] ^= 1;
        assert!(Keyspace::new(2, 1).read_snapshot(&flipped).is_err());
        assert!(
            Keyspace::new(2, 1)
                .read_snapshot(&bytes[..bytes.len() - 1])
                .is_err()
        );
        assert!(Keyspace::new(3, 1).read_snapshot(&bytes).is_err());
    }
}
