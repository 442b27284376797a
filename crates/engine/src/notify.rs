//! Keyspace notifications: the classes of events (`notify-keyspace-events`) and the events
//! commands emit. The engine only records events; the server publishes them on
//! `__keyspace@<db>__:<key>` and `__keyevent@<db>__:<event>`.

/// `K`: publish on the key's channel.
pub const KEYSPACE: u32 = 1 << 0;
/// `E`: publish on the event's channel.
pub const KEYEVENT: u32 = 1 << 1;
/// `g`: DEL, EXPIRE, RENAME, ... .
pub const GENERIC: u32 = 1 << 2;
/// `$`: string commands.
pub const STRING: u32 = 1 << 3;
/// `l`: list commands.
pub const LIST: u32 = 1 << 4;
/// `s`: set commands.
pub const SET: u32 = 1 << 5;
/// `h`: hash commands.
pub const HASH: u32 = 1 << 6;
/// `z`: sorted set commands.
pub const ZSET: u32 = 1 << 7;
/// `x`: a key expired.
pub const EXPIRED: u32 = 1 << 8;
/// `e`: a key was evicted (never, without maxmemory).
pub const EVICTED: u32 = 1 << 9;
/// `t`: stream commands.
pub const STREAM: u32 = 1 << 10;
/// `m`: a read missed its key.
pub const KEY_MISS: u32 = 1 << 11;
/// `d`: module events.
pub const MODULE: u32 = 1 << 12;
/// `n`: a key was created.
pub const NEW: u32 = 1 << 13;
/// `A`: every class but `m` and `n`.
pub const ALL: u32 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

const LETTERS: [(char, u32); 13] = [
    ('g', GENERIC),
    ('$', STRING),
    ('l', LIST),
    ('s', SET),
    ('h', HASH),
    ('z', ZSET),
    ('x', EXPIRED),
    ('e', EVICTED),
    ('t', STREAM),
    ('d', MODULE),
    ('K', KEYSPACE),
    ('E', KEYEVENT),
    ('m', KEY_MISS),
];

/// Parses a `notify-keyspace-events` value; None for an unknown letter.
pub fn parse(flags: &str) -> Option<u32> {
    let mut classes = 0;
    for c in flags.chars() {
        classes |= match c {
            'A' => ALL,
            'n' => NEW,
            c => LETTERS.iter().find(|(l, _)| *l == c)?.1,
        };
    }
    Some(classes)
}

/// Formats classes the way CONFIG GET shows them (`A` for all of them, then `K`, `E`...).
pub fn format(classes: u32) -> String {
    let mut text = String::new();
    if classes & ALL == ALL {
        text.push('A');
    } else {
        LETTERS[..10]
            .iter()
            .filter(|(_, f)| classes & f != 0)
            .for_each(|(l, _)| text.push(*l));
    }
    for (letter, flag) in &LETTERS[10..] {
        if classes & flag != 0 {
            text.push(*letter);
        }
    }
    if classes & NEW != 0 {
        text.push('n');
    }
    text
}

/// One event a command emitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub db: usize,
    pub name: &'static str,
    pub key: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip_like_redis() {
        assert_eq!(parse("KEA"), Some(KEYSPACE | KEYEVENT | ALL));
        assert_eq!(format(parse("KEA").unwrap()), "AKE");
        assert_eq!(format(parse("Ex$").unwrap()), "$xE");
        assert_eq!(format(0), "");
        assert_eq!(parse("Kq"), None);
        assert_eq!(format(parse("Knm").unwrap()), "Kmn");
    }
}
