//! Functions: FUNCTION LOAD [REPLACE] code, FUNCTION DELETE library, FUNCTION FLUSH
//! [ASYNC|SYNC], FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE], FUNCTION DUMP, FUNCTION
//! RESTORE payload [FLUSH|APPEND|REPLACE], FUNCTION STATS, FUNCTION KILL, FUNCTION HELP;
//! FCALL function numkeys [key ...] [arg ...], FCALL_RO.
//!
//! Written from Redis's documentation of its functions. A library is Lua code headed by
//! `#!lua name=<library>` that calls `redis.register_function` for each function it offers.
//! Unlike scripts, libraries are data: the keyspace holds their code (replicated, in
//! snapshots); each node compiles them into its Lua state when a function is first called
//! after a change.

use std::collections::{BTreeMap, HashMap};

use mlua::{Function, MultiValue, Value};

use super::dump::{Reader, put_bytes, put_varint};
use super::scripting::{Registered, execute, split_keys};
use crate::db::Keyspace;
use crate::error::Error;
use crate::exec::Exec;
use crate::glob::glob_match;

/// Redis's function flags.
const FLAGS: [&str; 5] = [
    "no-writes",
    "allow-oom",
    "allow-stale",
    "no-cluster",
    "allow-cross-slot-keys",
];

/// The libraries of a keyspace: the replicated part of functions.
#[derive(Debug, Default)]
pub struct Libraries {
    pub(crate) code: BTreeMap<String, Vec<u8>>,
    /// Changes with every load, delete, flush or restore, so a Lua state knows to recompile.
    pub(crate) version: u64,
}

impl Libraries {
    pub(crate) fn changed(&mut self) {
        self.version += 1;
    }
}

/// A function as FUNCTION LIST shows it: name, description, flags.
type Listed = (String, Option<String>, Vec<String>);

/// A node's compiled functions: by name (with its library, and whether it is `no-writes`),
/// and each library's for FUNCTION LIST.
#[derive(Default)]
pub(crate) struct Compiled {
    functions: HashMap<String, (String, Function, bool)>,
    libraries: BTreeMap<String, Vec<Listed>>,
}

impl Compiled {
    /// Adds (or replaces) a library's functions, unless one of their names is another
    /// library's.
    fn add(&mut self, library: &str, registered: Vec<Registered>) -> Result<(), Error> {
        let taken = registered.iter().find(|r| {
            self.functions
                .get(&r.name)
                .is_some_and(|(owner, ..)| owner != library)
        });
        if let Some(r) = taken {
            return Err(Error::msg(format!(
                "ERR Function {} already exists",
                r.name
            )));
        }
        self.remove(library);
        let mut listed = Vec::with_capacity(registered.len());
        for r in registered {
            let no_writes = r.flags.iter().any(|f| f == "no-writes");
            listed.push((r.name.clone(), r.description, r.flags));
            self.functions
                .insert(r.name, (library.to_string(), r.function, no_writes));
        }
        self.libraries.insert(library.to_string(), listed);
        Ok(())
    }

    fn remove(&mut self, library: &str) {
        for (name, ..) in self.libraries.remove(library).unwrap_or_default() {
            self.functions.remove(&name);
        }
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// One `redis.register_function` call: `(name, callback)` or a table with `function_name`,
/// `callback`, `flags` and `description`.
pub(crate) fn registration(args: &MultiValue, so_far: &[Registered]) -> mlua::Result<Registered> {
    let bad = |text: &str| Err(mlua::Error::RuntimeError(text.to_string()));
    let (name, function, flags, description) = match (args.len(), args.front()) {
        (2, Some(Value::String(name))) => {
            let Some(Value::Function(f)) = args.get(1) else {
                return bad("wrong number of arguments to redis.register_function");
            };
            (name.to_string_lossy(), f.clone(), Vec::new(), None)
        }
        (1, Some(Value::Table(t))) => {
            let mut name = None;
            let mut function = None;
            let mut flags = Vec::new();
            let mut description = None;
            for pair in t.clone().pairs::<String, Value>() {
                let (key, value) = pair?;
                match (key.as_str(), value) {
                    ("function_name", Value::String(s)) => name = Some(s.to_string_lossy()),
                    ("callback", Value::Function(f)) => function = Some(f),
                    ("description", Value::String(s)) => description = Some(s.to_string_lossy()),
                    ("flags", Value::Table(list)) => {
                        for flag in list.sequence_values::<String>() {
                            let flag = flag?;
                            if !FLAGS.contains(&flag.as_str()) {
                                return bad("unknown flag given");
                            }
                            flags.push(flag);
                        }
                    }
                    ("function_name" | "callback" | "description" | "flags", _) => {
                        return bad(&format!(
                            "{key} argument given to redis.register_function has a wrong type"
                        ));
                    }
                    _ => return bad("unknown argument given to redis.register_function"),
                }
            }
            let Some(name) = name else {
                return bad("redis.register_function must get a function name argument");
            };
            let Some(function) = function else {
                return bad("redis.register_function must get a callback argument");
            };
            (name, function, flags, description)
        }
        _ => return bad("wrong number of arguments to redis.register_function"),
    };
    if !valid_name(&name) {
        // (Redis 7.0 says "Library names" here too.)
        return bad(
            "Library names can only contain letters, numbers, or underscores(_) and must be at \
             least one character long",
        );
    }
    if so_far.iter().any(|r| r.name == name) {
        return bad("Function already exists in the library");
    }
    Ok(Registered {
        name,
        function,
        flags,
        description,
    })
}

/// FUNCTION DUMP's payload: `magic "RDFN" · version u16 · count varint · each library's name
/// and code · CRC-64/XZ of everything before`. Redraft's own, as DUMP's is.
const DUMP_MAGIC: &[u8; 4] = b"RDFN";
const DUMP_VERSION: u16 = 1;
const DUMP_CRC: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_XZ);

fn dump_libraries(code: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let mut out = DUMP_MAGIC.to_vec();
    out.extend_from_slice(&DUMP_VERSION.to_le_bytes());
    put_varint(&mut out, code.len() as u64);
    for (name, code) in code {
        put_bytes(&mut out, name.as_bytes());
        put_bytes(&mut out, code);
    }
    let crc = DUMP_CRC.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn read_dump(payload: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    if payload.len() < DUMP_MAGIC.len() + 2 + 8 {
        return None;
    }
    let (body, crc) = payload.split_at(payload.len() - 8);
    if DUMP_CRC.checksum(body).to_le_bytes() != crc {
        return None;
    }
    let mut r = Reader(body);
    if r.take(4)? != DUMP_MAGIC || r.take(2)? != DUMP_VERSION.to_le_bytes() {
        return None;
    }
    let mut libraries = Vec::new();
    for _ in 0..r.varint()? {
        let len = usize::try_from(r.varint()?).ok()?;
        let name = String::from_utf8(r.take(len)?.to_vec()).ok()?;
        let len = usize::try_from(r.varint()?).ok()?;
        libraries.push((name, r.take(len)?.to_vec()));
    }
    r.0.is_empty().then_some(libraries)
}

/// The library name from the first line, `#!lua name=<library>`.
fn library_name(code: &[u8]) -> Result<String, Error> {
    let first = code.split(|&b| b == b'\n').next().unwrap_or_default();
    let Some(header) = first.strip_prefix(b"#!") else {
        return Err(Error::msg("ERR Missing library metadata"));
    };
    let header = String::from_utf8_lossy(header);
    let mut parts = header.split_whitespace();
    let engine = parts.next().unwrap_or_default();
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(Error::msg(format!("ERR Engine '{engine}' not found")));
    }
    let mut name = None;
    for part in parts {
        match part.strip_prefix("name=") {
            Some(value) => name = Some(value.to_string()),
            None => {
                return Err(Error::msg(format!(
                    "ERR Invalid metadata value given: {part}"
                )));
            }
        }
    }
    let name = name.ok_or_else(|| Error::msg("ERR Library name was not given"))?;
    if !valid_name(&name) {
        return Err(Error::msg(
            "ERR Library names can only contain letters, numbers, or underscores(_) and must be \
             at least one character long",
        ));
    }
    Ok(name)
}

impl Keyspace {
    /// The compiled functions, compiling the libraries into this node's Lua state first if
    /// they changed since it last did (a snapshot installed, or the first call after a start).
    fn compiled_functions(&mut self) -> &mut Compiled {
        let Keyspace {
            libraries, scripts, ..
        } = self;
        let scripts = super::scripting::state(scripts);
        if !matches!(&scripts.compiled, Some((v, _)) if *v == libraries.version) {
            let mut compiled = Compiled::default();
            for (library, code) in &libraries.code {
                // It loaded when it was added, so it loads again (the same code, the same Lua).
                if let Ok(registered) = scripts.load_library(code) {
                    let _ = compiled.add(library, registered);
                }
            }
            scripts.compiled = Some((libraries.version, compiled));
        }
        &mut scripts.compiled.as_mut().expect("just compiled").1
    }

    /// Records a change to the libraries that the compiled functions already reflect (made
    /// through `compiled_functions`), so nothing is compiled again.
    fn libraries_changed(&mut self) {
        self.libraries.changed();
        let version = self.libraries.version;
        if let Some((compiled_at, _)) = self.scripts().compiled.as_mut() {
            *compiled_at = version;
        }
    }

    /// Replaces every library and its compiled functions (FLUSH, RESTORE).
    fn replace_libraries(&mut self, code: BTreeMap<String, Vec<u8>>, compiled: Compiled) {
        self.libraries.code = code;
        self.libraries.changed();
        self.scripts().compiled = Some((self.libraries.version, compiled));
    }
}

fn call(exec: &mut Exec<'_>, args: &[&[u8]], read_only: bool) -> Result<(), Error> {
    let name = String::from_utf8_lossy(args[1]).into_owned();
    let (keys, argv) = split_keys(args)?;
    let (function, no_writes) = exec
        .ks
        .compiled_functions()
        .functions
        .get(&name)
        .map(|(_, function, no_writes)| (function.clone(), *no_writes))
        .ok_or_else(|| Error::msg("ERR Function not found"))?;
    if read_only && !no_writes {
        return Err(Error::msg(
            "ERR Can not execute a script with write flag using *_ro command.",
        ));
    }
    let mut scripts = exec.ks.take_scripts();
    let tables = scripts
        .strings(keys)
        .and_then(|k| Ok((k, scripts.strings(argv)?)))
        .map_err(|e| Error::msg(format!("ERR {e}")));
    let result = tables.and_then(|tables| {
        execute(
            exec,
            &mut scripts,
            (function, Some(tables)),
            &name,
            "@user_function",
            read_only || no_writes,
        )
    });
    exec.ks.put_scripts(scripts);
    result
}

pub fn fcall(exec: &mut Exec<'_>, args: &[&[u8]]) -> Result<(), Error> {
    call(exec, args, false)
}

pub fn fcall_ro(exec: &mut Exec<'_>, args: &[&[u8]]) -> Result<(), Error> {
    call(exec, args, true)
}

/// FUNCTION and its subcommands. Every replica applies FUNCTION (it goes through the log), so
/// each holds the same libraries.
pub fn function(exec: &mut Exec<'_>, args: &[&[u8]]) -> Result<(), Error> {
    let arity = || super::sub_arity("FUNCTION", args[1]);
    match args[1].to_ascii_lowercase().as_slice() {
        b"load" => {
            let (replace, code) = match args.len() {
                3 => (false, args[2]),
                4 if args[2].eq_ignore_ascii_case(b"replace") => (true, args[3]),
                4 => {
                    return Err(Error::msg(format!(
                        "ERR Unknown option given: {}",
                        String::from_utf8_lossy(args[2])
                    )));
                }
                _ => return Err(arity()),
            };
            let name = library_name(code)?;
            if !replace && exec.ks.libraries.code.contains_key(&name) {
                return Err(Error::msg(format!("ERR Library '{name}' already exists")));
            }
            let registered = exec.ks.scripts().load_library(code)?;
            exec.ks.compiled_functions().add(&name, registered)?;
            exec.ks.libraries.code.insert(name.clone(), code.to_vec());
            exec.ks.libraries_changed();
            exec.out.bulk(name.as_bytes());
        }
        b"delete" => {
            if args.len() != 3 {
                return Err(arity());
            }
            let name = String::from_utf8_lossy(args[2]).into_owned();
            if !exec.ks.libraries.code.contains_key(&name) {
                return Err(Error::msg("ERR Library not found"));
            }
            exec.ks.compiled_functions().remove(&name);
            exec.ks.libraries.code.remove(&name);
            exec.ks.libraries_changed();
            exec.out.ok();
        }
        b"flush" => {
            super::flush_mode(
                args,
                "FUNCTION",
                "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
            )?;
            exec.ks
                .replace_libraries(BTreeMap::new(), Compiled::default());
            exec.out.ok();
        }
        b"list" => {
            let mut pattern: Option<Vec<u8>> = None;
            let mut with_code = false;
            let mut i = 2;
            while i < args.len() {
                if args[i].eq_ignore_ascii_case(b"withcode") && !with_code {
                    with_code = true;
                    i += 1;
                } else if args[i].eq_ignore_ascii_case(b"libraryname")
                    && pattern.is_none()
                    && i + 1 < args.len()
                {
                    pattern = Some(args[i + 1].to_vec());
                    i += 2;
                } else {
                    return Err(Error::msg(format!(
                        "ERR Unknown argument {}",
                        String::from_utf8_lossy(args[i])
                    )));
                }
            }
            let listed: Vec<(String, Vec<Listed>)> = exec
                .ks
                .compiled_functions()
                .libraries
                .iter()
                .filter(|(name, _)| {
                    pattern
                        .as_deref()
                        .is_none_or(|p| glob_match(p, name.as_bytes()))
                })
                .map(|(name, fns)| (name.clone(), fns.clone()))
                .collect();
            exec.out.array(listed.len());
            for (name, functions) in listed {
                exec.out.map(if with_code { 4 } else { 3 });
                exec.out.bulk(b"library_name");
                exec.out.bulk(name.as_bytes());
                exec.out.bulk(b"engine");
                exec.out.bulk(b"LUA");
                exec.out.bulk(b"functions");
                exec.out.array(functions.len());
                for (fname, description, flags) in functions {
                    exec.out.map(3);
                    exec.out.bulk(b"name");
                    exec.out.bulk(fname.as_bytes());
                    exec.out.bulk(b"description");
                    match description {
                        Some(d) => exec.out.bulk(d.as_bytes()),
                        None => exec.out.null(),
                    }
                    exec.out.bulk(b"flags");
                    exec.out.set(flags.len());
                    for flag in flags {
                        exec.out.bulk(flag.as_bytes());
                    }
                }
                if with_code {
                    exec.out.bulk(b"library_code");
                    let code = exec
                        .ks
                        .libraries
                        .code
                        .get(&name)
                        .cloned()
                        .unwrap_or_default();
                    exec.out.bulk(&code);
                }
            }
        }
        b"dump" => {
            if args.len() != 2 {
                return Err(arity());
            }
            let payload = dump_libraries(&exec.ks.libraries.code);
            exec.out.bulk(&payload);
        }
        b"restore" => {
            let policy = match args.len() {
                3 => b"append".to_vec(),
                4 => args[3].to_ascii_lowercase(),
                _ => return Err(arity()),
            };
            if !matches!(policy.as_slice(), b"append" | b"replace" | b"flush") {
                return Err(Error::msg(
                    "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
                ));
            }
            let restored = read_dump(args[2])
                .ok_or_else(|| Error::msg("ERR DUMP payload version or checksum are wrong"))?;
            // All or nothing: the libraries there after the restore must all load, with no
            // function name in two of them.
            let mut after = match policy.as_slice() {
                b"flush" => BTreeMap::new(),
                _ => exec.ks.libraries.code.clone(),
            };
            for (name, code) in restored {
                if library_name(&code)? != name {
                    return Err(Error::msg("ERR DUMP payload version or checksum are wrong"));
                }
                if policy == b"append" && after.contains_key(&name) {
                    return Err(Error::msg(format!("ERR Library {name} already exists")));
                }
                after.insert(name, code);
            }
            let scripts = exec.ks.scripts();
            let mut compiled = Compiled::default();
            for (name, code) in &after {
                compiled.add(name, scripts.load_library(code)?)?;
            }
            exec.ks.replace_libraries(after, compiled);
            exec.out.ok();
        }
        b"stats" => {
            if args.len() != 2 {
                return Err(arity());
            }
            let compiled = exec.ks.compiled_functions();
            let (libraries, functions) = (compiled.libraries.len(), compiled.functions.len());
            exec.out.map(2);
            exec.out.bulk(b"running_script");
            exec.out.null();
            exec.out.bulk(b"engines");
            exec.out.map(1);
            exec.out.bulk(b"LUA");
            exec.out.map(2);
            exec.out.bulk(b"libraries_count");
            exec.out.int(libraries as i64);
            exec.out.bulk(b"functions_count");
            exec.out.int(functions as i64);
        }
        b"kill" => {
            if args.len() != 2 {
                return Err(arity());
            }
            return Err(Error::msg("NOTBUSY No scripts in execution right now."));
        }
        b"help" => super::help(exec, FUNCTION_HELP),
        _ => return Err(super::unknown_subcommand("FUNCTION", args[1])),
    }
    Ok(())
}

const FUNCTION_HELP: &[&str] = &[
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries.",
    "STATS",
    "    Return information about the current function running.",
    "KILL",
    "    Kill the current running function (Redraft stops a runaway function itself).",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries.",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload.",
    "HELP",
    "    Print this help.",
];
