//! Lua scripting: EVAL script numkeys [key ...] [arg ...], EVALSHA sha1 numkeys ...,
//! EVAL_RO / EVALSHA_RO (the same, refusing writes), SCRIPT LOAD|EXISTS|FLUSH|KILL|HELP.
//!
//! Written from Redis's documentation of its scripting API; Lua 5.1 (as Redis embeds) through
//! mlua. A script is one command: a write script goes into the log like any write and every
//! replica runs it, so what it does must follow from its inputs alone. The engine gives it
//! nothing else: no clock but the entry's (TIME), `math.random` seeded from the entry's seed,
//! no `os`, `io`, `print` or `debug`, and globals that cannot be created. A script that runs
//! away is stopped after [`INSTRUCTION_LIMIT`] Lua instructions on every replica alike (Redis
//! waits for SCRIPT KILL on its one server; a replicated script must stop the same way
//! everywhere, or an entry in the log would hang every replica that applies it, again after
//! each restart).

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

use mlua::{Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState};
use resp::{Frame, Protocol, ReplyWriter, decode_frame};

use crate::db::Keyspace;
use crate::error::Error;
use crate::exec::Exec;
use crate::table::{Flags, Handler, ServerCommand, lookup};

/// Lua instructions a script may run (about a few seconds of Lua here) before it is stopped.
pub const INSTRUCTION_LIMIT: u64 = 1_000_000_000;
const HOOK_EVERY: u32 = 1_000_000;
/// Scripts that EVAL cached (not SCRIPT LOAD) are forgotten oldest first beyond this many, as
/// Redis 7.4 does: an application that builds a new script per call must not grow the cache
/// without bound.
const EVAL_CACHED_MAX: usize = 500;

/// The node's Lua state and script cache. Not part of the replicated state: a replica builds
/// it on first use, a snapshot does not carry it, and a restart empties it (as Redis's).
pub struct Scripts {
    lua: Lua,
    /// What scripts see as globals (read through the environment proxy).
    globals: Table,
    /// The environment of every script: reads go to `globals` (a missing name is an error),
    /// writes are refused.
    env: Table,
    xpcall: Function,
    /// FCALL's entry: calls a function with its keys and arguments under `handler`.
    pub(crate) invoke: Function,
    handler: Function,
    cache: HashMap<Sha, (Function, Arc<[u8]>)>,
    eval_cached: VecDeque<Sha>,
    rng: Arc<AtomicU64>,
    instructions: Arc<AtomicU64>,
    current: Current,
    /// While FUNCTION LOAD runs a library: what it registers.
    registering: Arc<std::sync::Mutex<Option<Vec<Registered>>>>,
    /// The libraries' functions compiled here, for the keyspace's libraries of this version.
    pub(crate) compiled: Option<(u64, super::functions::Compiled)>,
}

/// A function a library registered: its name, flags and description, and its Lua callback.
pub(crate) struct Registered {
    pub name: String,
    pub function: Function,
    pub flags: Vec<String>,
    pub description: Option<String>,
}

/// A script's SHA1 in lower-case hex, as the cache keys it.
type Sha = [u8; 40];

/// `sha` as a cache key: 40 hex digits, in any case.
fn sha_key(sha: &[u8]) -> Option<Sha> {
    let mut key: Sha = sha.try_into().ok()?;
    key.make_ascii_lowercase();
    Some(key)
}

fn sha_text(sha: &Sha) -> &str {
    std::str::from_utf8(sha).unwrap_or("?")
}

/// The running script's context, for redis.call, redis.pcall and redis.setresp, which are made
/// once per Lua state. (Binding them per script with mlua's `scope` made and dropped three
/// callbacks per call, and fed the collector: a quarter of a short read script's time in
/// bench/scripting.sh.) The pointer is set only while a script runs.
#[derive(Clone, Default)]
struct Current(Arc<AtomicPtr<()>>);

/// Clears the pointer when the script's call returns (or unwinds).
struct Running<'a>(&'a Current);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.0.store(std::ptr::null_mut(), Ordering::Release);
    }
}

impl Current {
    fn enter<'a>(&'a self, ctx: &RefCell<Context<'_>>) -> Running<'a> {
        let ptr = ctx as *const RefCell<Context<'_>> as *mut ();
        self.0.store(ptr, Ordering::Release);
        Running(self)
    }

    /// Runs `f` with the running script's context.
    fn with<R>(&self, f: impl FnOnce(&RefCell<Context<'_>>) -> mlua::Result<R>) -> mlua::Result<R> {
        let ptr = self.0.load(Ordering::Acquire) as *const RefCell<Context<'static>>;
        if ptr.is_null() {
            return Err(mlua::Error::RuntimeError(
                "the redis library's commands are not available while a library loads".into(),
            ));
        }
        // SAFETY: `enter` stored a pointer to a context on `run_with`'s stack, which outlives
        // the script's call, and `Running` clears it before that context is dropped. Lua runs
        // these callbacks only from inside that call, on the thread that holds the keyspace
        // (the Lua state lives in it), so the context is alive and nobody else uses it. The
        // lifetime is erased only to pass through the pointer; `f` cannot keep the borrow.
        f(unsafe { &*ptr })
    }
}

impl std::fmt::Debug for Scripts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scripts({} cached)", self.cache.len())
    }
}

/// Lua run once per state: the protections and the redis library's Lua half.
const PRELUDE: &str = r#"
local hidden, globals, real_pcall, real_loadstring, setfenv_, real_rawset, real_setmetatable = ...
local protected = real_setmetatable({}, { __mode = "k" })
local function refuse() error("Attempt to modify a readonly table", 2) end
local function readonly(t)
  local proxy = real_setmetatable({}, { __index = t, __newindex = refuse, __metatable = false })
  protected[proxy] = true
  return proxy
end
local env = real_setmetatable({}, {
  __index = function(_, name)
    local v = globals[name]
    if v == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
    end
    return v
  end,
  __newindex = refuse,
  __metatable = false,
})
protected[env] = true
globals.rawset = function(t, k, v)
  if protected[t] then error("Attempt to modify a readonly table", 0) end
  return real_rawset(t, k, v)
end
globals.setmetatable = function(t, mt)
  if protected[t] then error("Attempt to modify a readonly table", 0) end
  return real_setmetatable(t, mt)
end
local redis = globals.redis
redis.error_reply = function(e)
  if type(e) ~= "string" then error("wrong number or type of arguments", 2) end
  return { err = e }
end
redis.status_reply = function(s)
  if type(s) ~= "string" then error("wrong number or type of arguments", 2) end
  return { ok = s }
end
redis.set_repl = function() end
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
redis.log = function() end
-- A runaway script's error must not be caught by the script: once stopped, pcall rethrows.
local function after_pcall(ok, ...)
  if hidden.stopped() then error(hidden.stop_message(), 0) end
  return ok, ...
end
globals.pcall = function(...) return after_pcall(real_pcall(...)) end
globals.loadstring = function(s, name)
  local f, e = real_loadstring(s, name)
  if f then setfenv_(f, env) end
  return f, e
end
for _, lib in ipairs({ "string", "table", "math", "redis", "cjson", "bit" }) do
  globals[lib] = readonly(globals[lib])
end
globals._G = env
-- FCALL: a function gets its keys and arguments as parameters (xpcall passes none in 5.1;
-- they wait here rather than in a closure made per call, and FCALL cannot nest).
local call_f, call_keys, call_args
local function run() return call_f(call_keys, call_args) end
local function invoke(f, handler, keys, args)
  call_f, call_keys, call_args = f, keys, args
  return xpcall(run, handler)
end
return env, invoke
"#;

impl Scripts {
    fn new() -> mlua::Result<Scripts> {
        let lua = Lua::new_with(
            StdLib::STRING | StdLib::TABLE | StdLib::MATH,
            LuaOptions::new(),
        )?;
        let real = lua.globals();
        let globals = lua.create_table()?;
        for name in [
            "assert",
            "error",
            "ipairs",
            "next",
            "pairs",
            "rawequal",
            "rawget",
            "rawset",
            "select",
            "setmetatable",
            "getmetatable",
            "tonumber",
            "tostring",
            "type",
            "unpack",
            "xpcall",
            "string",
            "table",
            "math",
            "_VERSION",
        ] {
            globals.raw_set(name, real.raw_get::<Value>(name)?)?;
        }
        let rng = Arc::new(AtomicU64::new(0));
        let math = lua.create_table()?;
        for pair in real.raw_get::<Table>("math")?.pairs::<Value, Value>() {
            let (k, v) = pair?;
            math.raw_set(k, v)?;
        }
        let state = rng.clone();
        math.raw_set(
            "random",
            lua.create_function(move |_, args: MultiValue| random(&state, &args))?,
        )?;
        math.raw_set(
            "randomseed",
            lua.create_function(|_, _: MultiValue| Ok(()))?,
        )?;
        globals.raw_set("math", math)?;
        let redis = redis_table(&lua)?;
        globals.raw_set("redis", redis.clone())?;
        globals.raw_set("cjson", cjson_table(&lua)?)?;
        globals.raw_set("bit", bit_table(&lua)?)?;

        let current = Current::default();
        let running = current.clone();
        redis.raw_set(
            "call",
            lua.create_function(move |lua, args: MultiValue| {
                running.with(|ctx| {
                    call(lua, ctx, args)?.map_err(|e| mlua::Error::external(CallError(e)))
                })
            })?,
        )?;
        let running = current.clone();
        redis.raw_set(
            "pcall",
            lua.create_function(move |lua, args: MultiValue| {
                running.with(|ctx| match call(lua, ctx, args)? {
                    Ok(reply) => Ok(reply),
                    Err(text) => {
                        let t = lua.create_table()?;
                        t.raw_set("err", text)?;
                        Ok(Value::Table(t))
                    }
                })
            })?,
        )?;
        let registering: Arc<std::sync::Mutex<Option<Vec<Registered>>>> = Arc::default();
        let collect = registering.clone();
        redis.raw_set(
            "register_function",
            lua.create_function(move |_, args: MultiValue| {
                let mut guard = collect.lock().expect("registering lock");
                let Some(list) = guard.as_mut() else {
                    return Err(mlua::Error::RuntimeError(
                        "redis.register_function can only be called on FUNCTION LOAD command"
                            .into(),
                    ));
                };
                list.push(super::functions::registration(&args, list)?);
                Ok(())
            })?,
        )?;
        let instructions = Arc::new(AtomicU64::new(0));
        let hidden = lua.create_table()?;
        let running = current.clone();
        redis.raw_set(
            "setresp",
            lua.create_function(move |_, v: Value| {
                let resp3 = match v {
                    Value::Integer(2) => false,
                    Value::Integer(3) => true,
                    Value::Number(2.0) => false,
                    Value::Number(3.0) => true,
                    _ => {
                        return Err(mlua::Error::RuntimeError(
                            "RESP version must be 2 or 3.".into(),
                        ));
                    }
                };
                running.with(|ctx| {
                    ctx.borrow_mut().resp3 = resp3;
                    Ok(())
                })
            })?,
        )?;
        let count = instructions.clone();
        hidden.raw_set(
            "stopped",
            lua.create_function(
                move |_, ()| Ok(count.load(Ordering::Relaxed) > INSTRUCTION_LIMIT),
            )?,
        )?;
        hidden.raw_set(
            "stop_message",
            lua.create_function(|_, ()| Ok(stop_message()))?,
        )?;
        let count = instructions.clone();
        lua.set_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |_, _| {
                let ran = count.fetch_add(u64::from(HOOK_EVERY), Ordering::Relaxed);
                if ran + u64::from(HOOK_EVERY) > INSTRUCTION_LIMIT {
                    Err(mlua::Error::RuntimeError(stop_message()))
                } else {
                    Ok(VmState::Continue)
                }
            },
        )?;

        let prelude = lua.load(PRELUDE).set_name("=redraft").into_function()?;
        let (env, invoke): (Table, Function) = prelude.call((
            hidden.clone(),
            globals.clone(),
            real.raw_get::<Function>("pcall")?,
            real.raw_get::<Function>("loadstring")?,
            real.raw_get::<Function>("setfenv")?,
            real.raw_get::<Function>("rawset")?,
            real.raw_get::<Function>("setmetatable")?,
        ))?;
        let handler = lua.create_function(|lua, err: Value| {
            let out = lua.create_table()?;
            out.raw_set("e", err)?;
            out.raw_set("line", user_line(lua))?;
            Ok(out)
        })?;
        let xpcall = real.raw_get::<Function>("xpcall")?;
        Ok(Scripts {
            lua,
            globals,
            env,
            xpcall,
            handler,
            cache: HashMap::new(),
            eval_cached: VecDeque::new(),
            rng,
            instructions,
            current,
            registering,
            compiled: None,
            invoke,
        })
    }

    /// Compiles `body` unless it is cached; `from_eval` marks it as one EVAL may forget.
    fn load(&mut self, body: &[u8], from_eval: bool) -> Result<(Sha, Function), Error> {
        let sha = sha1_key(body);
        if let Some((f, _)) = self.cache.get(&sha) {
            let f = f.clone();
            if !from_eval {
                // SCRIPT LOAD makes a script permanent, even one EVAL cached first.
                self.eval_cached.retain(|s| *s != sha);
            }
            return Ok((sha, f));
        }
        let f = self.compile(body, "@user_script").map_err(|text| {
            Error::msg(format!("ERR Error compiling script (new function): {text}"))
        })?;
        if from_eval {
            if self.eval_cached.len() >= EVAL_CACHED_MAX
                && let Some(old) = self.eval_cached.pop_front()
            {
                self.cache.remove(&old);
            }
            self.eval_cached.push_back(sha);
        }
        self.cache.insert(sha, (f.clone(), body.into()));
        Ok((sha, f))
    }

    fn flush(&mut self) {
        self.cache.clear();
        self.eval_cached.clear();
    }

    /// Compiles user code in the scripts' environment; an error is Lua's message.
    fn compile(&self, code: &[u8], chunk: &str) -> Result<Function, String> {
        self.lua
            .load(code)
            .set_name(chunk)
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| match e {
                mlua::Error::SyntaxError { message, .. } => message,
                other => other.to_string(),
            })
    }

    /// Runs a library's code (FUNCTION LOAD) and returns the functions it registered. Its
    /// first line, the `#!lua name=...` metadata, is made a comment, so line numbers hold.
    pub(crate) fn load_library(&mut self, code: &[u8]) -> Result<Vec<Registered>, Error> {
        let mut text = b"--".to_vec();
        text.extend_from_slice(code);
        let chunk = self
            .compile(&text, "@user_function")
            .map_err(|text| Error::msg(format!("ERR Error compiling function: {text}")))?;
        *self.registering.lock().expect("registering lock") = Some(Vec::new());
        self.instructions.store(0, Ordering::Relaxed);
        let _ = self.globals.raw_set("KEYS", Value::Nil);
        let _ = self.globals.raw_set("ARGV", Value::Nil);
        let ran = self
            .xpcall
            .call::<(bool, Value)>((chunk, self.handler.clone()));
        let registered = self
            .registering
            .lock()
            .expect("registering lock")
            .take()
            .unwrap_or_default();
        let failure = match ran {
            Ok((true, _)) => None,
            Ok((false, value)) => Some(raised_text(&handled(value).0)),
            Err(e) => Some(format!("ERR {e}")),
        };
        if let Some(text) = failure {
            return Err(Error::msg(format!(
                "ERR Error registering functions: {text}"
            )));
        }
        if registered.is_empty() {
            return Err(Error::msg("ERR No functions registered"));
        }
        Ok(registered)
    }

    /// A table of Lua strings (a function's keys or arguments).
    pub(crate) fn strings(&self, items: &[&[u8]]) -> mlua::Result<Table> {
        let t = self.lua.create_table_with_capacity(items.len(), 0)?;
        for (i, item) in items.iter().enumerate() {
            t.raw_set(i + 1, self.lua.create_string(item)?)?;
        }
        Ok(t)
    }

    /// Whether `sha` (40 hex digits, any case) is cached.
    pub fn exists(&self, sha: &[u8]) -> bool {
        sha_key(sha).is_some_and(|key| self.cache.contains_key(&key))
    }

    fn cached(&self, sha: &[u8]) -> Option<(Sha, Function)> {
        let key = sha_key(sha)?;
        self.cache.get(&key).map(|(f, _)| (key, f.clone()))
    }

    /// The text of a cached script: the server sends EVALSHA into the log as EVAL of it.
    pub fn body(&self, sha: &[u8]) -> Option<Arc<[u8]>> {
        self.cache.get(&sha_key(sha)?).map(|(_, body)| body.clone())
    }
}

fn stop_message() -> String {
    format!(
        "Script stopped: it ran more than {INSTRUCTION_LIMIT} Lua instructions (a replicated \
         script must end the same way on every replica)"
    )
}

/// The line of the innermost frame of the user's script on the stack.
fn user_line(lua: &Lua) -> Option<i64> {
    (0..200).find_map(|level| {
        lua.inspect_stack(level, |d| {
            let source = d.source();
            matches!(
                source.source.as_deref(),
                Some("@user_script" | "@user_function")
            )
            .then(|| d.current_line())
            .flatten()
            .map(|l| l as i64)
        })
        .flatten()
    })
}

/// The SHA1 of `body` in lower-case hex, as scripts are named.
fn sha1_key(body: &[u8]) -> Sha {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut key = [0; 40];
    for (i, byte) in sha1_smol::Sha1::from(body)
        .digest()
        .bytes()
        .iter()
        .enumerate()
    {
        key[2 * i] = HEX[usize::from(byte >> 4)];
        key[2 * i + 1] = HEX[usize::from(byte & 15)];
    }
    key
}

/// Redis's math.random: the PRNG is the entry's (seeded from its seed before each script), so
/// every replica draws the same numbers.
fn random(state: &AtomicU64, args: &MultiValue) -> mlua::Result<f64> {
    // splitmix64
    let mut z = state
        .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let r = (z >> 11) as f64 / (1u64 << 53) as f64;
    let num = |v: &Value| match v {
        Value::Integer(i) => Ok(*i as f64),
        Value::Number(n) => Ok(*n),
        Value::String(s) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .ok_or_else(|| {
                mlua::Error::RuntimeError("bad argument to 'random' (number expected)".into())
            }),
        _ => Err(mlua::Error::RuntimeError(
            "bad argument to 'random' (number expected)".into(),
        )),
    };
    let (lo, hi) = match args.len() {
        0 => return Ok(r),
        1 => (1.0, num(&args[0])?.floor()),
        2 => (num(&args[0])?.floor(), num(&args[1])?.floor()),
        _ => {
            return Err(mlua::Error::RuntimeError(
                "wrong number of arguments".into(),
            ));
        }
    };
    if lo > hi {
        return Err(mlua::Error::RuntimeError(
            "bad argument to 'random' (interval is empty)".into(),
        ));
    }
    Ok((r * (hi - lo + 1.0)).floor() + lo)
}

fn redis_table(lua: &Lua) -> mlua::Result<Table> {
    let redis = lua.create_table()?;
    redis.raw_set(
        "sha1hex",
        lua.create_function(|lua, s: mlua::String| lua.create_string(sha1_key(&s.as_bytes())))?,
    )?;
    redis.raw_set("REDIS_VERSION", "7.2.0")?;
    redis.raw_set("REDIS_VERSION_NUM", 0x0007_0200)?;
    for (name, level) in [
        ("LOG_DEBUG", 0),
        ("LOG_VERBOSE", 1),
        ("LOG_NOTICE", 2),
        ("LOG_WARNING", 3),
    ] {
        redis.raw_set(name, level)?;
    }
    for (name, v) in [
        ("REPL_NONE", 0),
        ("REPL_AOF", 1),
        ("REPL_SLAVE", 2),
        ("REPL_REPLICA", 2),
        ("REPL_ALL", 3),
    ] {
        redis.raw_set(name, v)?;
    }
    Ok(redis)
}

/// LuaBitOp's functions, on 32-bit integers as it defines them.
fn bit_table(lua: &Lua) -> mlua::Result<Table> {
    fn tobit(v: f64) -> i32 {
        // LuaBitOp normalises through a double: the low 32 bits of the integral part.
        (v.trunc().rem_euclid(4_294_967_296.0) as u64 as u32) as i32
    }
    let bit = lua.create_table()?;
    bit.raw_set("tobit", lua.create_function(|_, v: f64| Ok(tobit(v)))?)?;
    bit.raw_set("bnot", lua.create_function(|_, v: f64| Ok(!tobit(v)))?)?;
    type Fold = fn(i32, i32) -> i32;
    for (name, op) in [
        ("band", (|a, b| a & b) as Fold),
        ("bor", |a, b| a | b),
        ("bxor", |a, b| a ^ b),
    ] {
        bit.raw_set(
            name,
            lua.create_function(move |_, vs: mlua::Variadic<f64>| {
                Ok(vs.iter().map(|&v| tobit(v)).reduce(op).unwrap_or(0))
            })?,
        )?;
    }
    type Shift = fn(i32, u32) -> i32;
    for (name, op) in [
        ("lshift", (|a: i32, n| ((a as u32) << n) as i32) as Shift),
        ("rshift", |a, n| ((a as u32) >> n) as i32),
        ("arshift", |a, n| a >> n),
        ("rol", |a, n| (a as u32).rotate_left(n) as i32),
        ("ror", |a, n| (a as u32).rotate_right(n) as i32),
    ] {
        bit.raw_set(
            name,
            lua.create_function(move |_, (a, n): (f64, f64)| {
                Ok(op(tobit(a), tobit(n) as u32 & 31))
            })?,
        )?;
    }
    bit.raw_set(
        "bswap",
        lua.create_function(|_, v: f64| Ok(tobit(v).swap_bytes()))?,
    )?;
    bit.raw_set(
        "tohex",
        lua.create_function(|_, (v, n): (f64, Option<f64>)| {
            let x = tobit(v) as u32;
            let n = n.map_or(8, |n| n as i32);
            let (upper, width) = (n < 0, n.unsigned_abs().min(8) as usize);
            let text = if upper {
                format!("{x:08X}")
            } else {
                format!("{x:08x}")
            };
            Ok(text[8 - width..].to_string())
        })?,
    )?;
    Ok(bit)
}

/// cjson.encode and cjson.decode, with lua-cjson's conventions: a table whose keys are exactly
/// 1..n is an array, any other an object (an empty table is `{}`), numbers as `%.14g`, `/`
/// escaped, and JSON's null as `cjson.null`.
fn cjson_table(lua: &Lua) -> mlua::Result<Table> {
    let cjson = lua.create_table()?;
    cjson.raw_set("null", Value::NULL)?;
    cjson.raw_set(
        "encode",
        lua.create_function(|lua, v: Value| {
            let mut out = Vec::new();
            json_encode(&v, &mut out, 0)?;
            lua.create_string(&out)
        })?,
    )?;
    cjson.raw_set(
        "decode",
        lua.create_function(|lua, s: mlua::String| {
            let parsed: serde_json::Value = serde_json::from_slice(&s.as_bytes()).map_err(|e| {
                mlua::Error::RuntimeError(format!("Expected value but found invalid token: {e}"))
            })?;
            json_to_lua(lua, &parsed)
        })?,
    )?;
    Ok(cjson)
}

fn json_encode(v: &Value, out: &mut Vec<u8>, depth: usize) -> mlua::Result<()> {
    if depth > 1000 {
        return Err(mlua::Error::RuntimeError(
            "Cannot serialise, excessive nesting (1001)".into(),
        ));
    }
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::Number(n) => {
            if !n.is_finite() {
                return Err(mlua::Error::RuntimeError(
                    "Cannot serialise number: must not be NaN or Inf".into(),
                ));
            }
            out.extend_from_slice(format_g(*n, 14).as_bytes());
        }
        Value::String(s) => json_string(&s.as_bytes(), out),
        Value::Table(t) => {
            let mut max = 0i64;
            let mut count = 0i64;
            let mut array = true;
            for pair in t.clone().pairs::<Value, Value>() {
                let (k, _) = pair?;
                count += 1;
                match k {
                    Value::Integer(i) if i >= 1 => max = max.max(i),
                    Value::Number(n) if n >= 1.0 && n.fract() == 0.0 => max = max.max(n as i64),
                    _ => array = false,
                }
            }
            if array && count > 0 && max == count {
                out.push(b'[');
                for i in 1..=max {
                    if i > 1 {
                        out.push(b',');
                    }
                    json_encode(&t.raw_get::<Value>(i)?, out, depth + 1)?;
                }
                out.push(b']');
            } else {
                out.push(b'{');
                let mut first = true;
                for pair in t.clone().pairs::<Value, Value>() {
                    let (k, v) = pair?;
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    match k {
                        Value::String(s) => json_string(&s.as_bytes(), out),
                        Value::Integer(i) => json_string(i.to_string().as_bytes(), out),
                        Value::Number(n) => json_string(format_g(n, 14).as_bytes(), out),
                        _ => {
                            return Err(mlua::Error::RuntimeError(
                                "Cannot serialise table: table key must be a number or string"
                                    .into(),
                            ));
                        }
                    }
                    out.push(b':');
                    json_encode(&v, out, depth + 1)?;
                }
                out.push(b'}');
            }
        }
        other => {
            return Err(mlua::Error::RuntimeError(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            )));
        }
    }
    Ok(())
}

fn json_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b if b < 0x20 || b == 0x7f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            b => out.push(b),
        }
    }
    out.push(b'"');
}

fn json_to_lua(lua: &Lua, v: &serde_json::Value) -> mlua::Result<Value> {
    Ok(match v {
        serde_json::Value::Null => Value::NULL,
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::String(lua.create_string(s)?),
        serde_json::Value::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, json_to_lua(lua, item)?)?;
            }
            Value::Table(t)
        }
        serde_json::Value::Object(fields) => {
            let t = lua.create_table_with_capacity(0, fields.len())?;
            for (k, item) in fields {
                t.raw_set(k.as_str(), json_to_lua(lua, item)?)?;
            }
            Value::Table(t)
        }
    })
}

/// C's `%.<precision>g`.
pub fn format_g(v: f64, precision: usize) -> String {
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    if v.is_nan() {
        return if v.is_sign_negative() { "-nan" } else { "nan" }.to_string();
    }
    if v.is_infinite() {
        return if v < 0.0 { "-inf" } else { "inf" }.to_string();
    }
    let sci = format!("{:.*e}", precision - 1, v);
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("an integer exponent");
    if exp < -4 || exp >= precision as i32 {
        let mantissa = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (precision as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{v:.decimals$}")).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// What a running script may touch: the keyspace (through its commands), its database, the
/// entry's clock and seed, and the protocol of the replies it reads.
struct Context<'a> {
    ks: &'a mut Keyspace,
    db: usize,
    now_ms: u64,
    seed: u64,
    calls: u64,
    read_only: bool,
    resp3: bool,
}

/// An error reply that redis.call raises: the script's reply if the script does not catch it.
#[derive(Debug)]
struct CallError(String);

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CallError {}

/// redis.call / redis.pcall: runs one command; its reply, or its error reply's text.
/// redis.call raises the error (as a Rust function, so that the script's frame stays on the
/// stack for the error's line even when the script tail-calls it); redis.pcall returns it as
/// an error table.
fn call(
    lua: &Lua,
    ctx: &RefCell<Context<'_>>,
    args: MultiValue,
) -> mlua::Result<Result<Value, String>> {
    let fail = |text: &str| Ok(Err(text.to_string()));
    if args.is_empty() {
        return fail("ERR Please specify at least one argument for this redis lib call");
    }
    let mut owned: Vec<Vec<u8>> = Vec::with_capacity(args.len());
    for v in args.iter() {
        match v {
            Value::String(s) => owned.push(s.as_bytes().to_vec()),
            Value::Integer(i) => owned.push(i.to_string().into_bytes()),
            Value::Number(n) => owned.push(format_g(*n, 17).into_bytes()),
            _ => return fail("ERR Lua redis lib command arguments must be strings or integers"),
        }
    }
    let argv: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
    let Some(spec) = lookup(argv[0]) else {
        return fail("ERR Unknown Redis command called from script");
    };
    if !spec.arity_ok(argv.len()) {
        return fail("ERR Wrong number of args calling Redis command from script");
    }
    let mut ctx = ctx.borrow_mut();
    let proto = if ctx.resp3 {
        Protocol::Resp3
    } else {
        Protocol::Resp2
    };
    let mut out = ReplyWriter::new(proto);
    match spec.handler {
        Handler::Server(ServerCommand::Ping) => match argv.len() {
            1 => out.simple("PONG"),
            2 => out.bulk(argv[1]),
            _ => out.error(&Error::WrongArity("ping").to_string()),
        },
        Handler::Server(ServerCommand::Echo) => out.bulk(argv[1]),
        Handler::Server(ServerCommand::Time) => {
            out.array(2);
            out.bulk((ctx.now_ms / 1000).to_string().as_bytes());
            out.bulk(((ctx.now_ms % 1000) * 1000).to_string().as_bytes());
        }
        Handler::Server(ServerCommand::Select) => {
            match crate::exec::arg_db(ctx.ks, argv[1], Error::NotInteger) {
                Ok(db) => {
                    ctx.db = db;
                    out.ok();
                }
                Err(e) => out.error(&e.to_string()),
            }
        }
        Handler::Server(command @ (ServerCommand::Publish | ServerCommand::Spublish)) => {
            if ctx.read_only {
                return fail("ERR Write commands are not allowed from read-only scripts.");
            }
            let shard = command == ServerCommand::Spublish;
            out.int(ctx.ks.publish(shard, argv[1], argv[2]) as i64);
        }
        Handler::Server(_) => return fail("ERR This Redis command is not allowed from script"),
        Handler::Engine(_) => {
            if spec.flags.contains(Flags::NOSCRIPT) || spec.flags.contains(Flags::BLOCKING) {
                return fail("ERR This Redis command is not allowed from script");
            }
            if ctx.read_only && spec.is_write() {
                return fail("ERR Write commands are not allowed from read-only scripts.");
            }
            ctx.calls += 1;
            let seed = ctx.seed.wrapping_add(ctx.calls.wrapping_mul(0x9E37_79B9));
            let (db, now_ms) = (ctx.db, ctx.now_ms);
            let mut ex = Exec {
                ks: ctx.ks,
                db,
                now_ms,
                seed,
                out: &mut out,
            };
            ex.run(spec, &argv);
        }
    }
    drop(ctx);
    let frame = match decode_frame(&out.buf) {
        Ok(Some((frame, _))) => frame,
        _ => return fail("ERR the command's reply could not be read"),
    };
    if let Frame::Error(text) | Frame::BulkError(text) = &frame {
        return fail(&String::from_utf8_lossy(text));
    }
    Ok(Ok(frame_to_lua(lua, frame, proto == Protocol::Resp3)?))
}

/// A command's reply as a script sees it (Redis's RESP-to-Lua conversion).
fn frame_to_lua(lua: &Lua, frame: Frame, resp3: bool) -> mlua::Result<Value> {
    let field = |name: &str, v: Value| -> mlua::Result<Value> {
        let t = lua.create_table()?;
        t.raw_set(name, v)?;
        Ok(Value::Table(t))
    };
    Ok(match frame {
        Frame::Simple(s) => field("ok", Value::String(lua.create_string(&s)?))?,
        Frame::Error(s) | Frame::BulkError(s) => {
            field("err", Value::String(lua.create_string(&s)?))?
        }
        Frame::Integer(n) => Value::Integer(n),
        Frame::Bulk(b) => Value::String(lua.create_string(&b)?),
        Frame::Null if resp3 => Value::Nil,
        Frame::Null => Value::Boolean(false),
        Frame::Array(items) | Frame::Push(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.into_iter().enumerate() {
                t.raw_set(i + 1, frame_to_lua(lua, item, resp3)?)?;
            }
            Value::Table(t)
        }
        Frame::Map(pairs) => {
            let t = lua.create_table_with_capacity(0, pairs.len())?;
            for (k, v) in pairs {
                t.raw_set(frame_to_lua(lua, k, resp3)?, frame_to_lua(lua, v, resp3)?)?;
            }
            field("map", Value::Table(t))?
        }
        Frame::Set(items) => {
            let t = lua.create_table_with_capacity(0, items.len())?;
            for item in items {
                t.raw_set(frame_to_lua(lua, item, resp3)?, true)?;
            }
            field("set", Value::Table(t))?
        }
        Frame::Double(d) => field("double", Value::Number(d))?,
        Frame::Boolean(b) => Value::Boolean(b),
        Frame::BigNumber(digits) => {
            field("big_number", Value::String(lua.create_string(&digits)?))?
        }
        Frame::Verbatim { format, text } => {
            let t = lua.create_table()?;
            t.raw_set("format", lua.create_string(format)?)?;
            t.raw_set("string", lua.create_string(&text)?)?;
            field("verbatim_string", Value::Table(t))?
        }
    })
}

/// A script's return value as the client's reply (Redis's Lua-to-RESP conversion).
fn write_value(out: &mut ReplyWriter, v: &Value, depth: usize) -> mlua::Result<()> {
    match v {
        Value::Nil => out.null(),
        Value::Boolean(false) => out.null(),
        Value::Boolean(true) => out.int(1),
        Value::Integer(i) => out.int(*i),
        // C's cast, as Redis does it: the integral part, and the "integer indefinite" value
        // (i64::MIN) for what does not fit.
        Value::Number(n) => out.int(if n.is_finite() && n.abs() < 9.2e18 {
            *n as i64
        } else {
            i64::MIN
        }),
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Table(t) => {
            if depth > 1000 {
                out.error("ERR reached lua stack limit");
                return Ok(());
            }
            if let Value::String(e) = t.raw_get::<Value>("err")? {
                out.error(&String::from_utf8_lossy(&e.as_bytes()));
                return Ok(());
            }
            if let Value::String(s) = t.raw_get::<Value>("ok")? {
                out.simple(&String::from_utf8_lossy(&s.as_bytes()).replace(['\r', '\n'], " "));
                return Ok(());
            }
            if let Value::Table(m) = t.raw_get::<Value>("map")? {
                let pairs: Vec<(Value, Value)> = m.pairs().collect::<mlua::Result<_>>()?;
                out.map(pairs.len());
                for (k, v) in &pairs {
                    write_value(out, k, depth + 1)?;
                    write_value(out, v, depth + 1)?;
                }
                return Ok(());
            }
            if let Value::Table(s) = t.raw_get::<Value>("set")? {
                let members: Vec<(Value, Value)> = s.pairs().collect::<mlua::Result<_>>()?;
                out.set(members.len());
                for (k, _) in &members {
                    write_value(out, k, depth + 1)?;
                }
                return Ok(());
            }
            match t.raw_get::<Value>("double")? {
                Value::Number(d) => {
                    out.double(d);
                    return Ok(());
                }
                Value::Integer(i) => {
                    out.double(i as f64);
                    return Ok(());
                }
                _ => {}
            }
            let mut items = Vec::new();
            for i in 1.. {
                match t.raw_get::<Value>(i)? {
                    Value::Nil => break,
                    v => items.push(v),
                }
            }
            out.array(items.len());
            for item in &items {
                write_value(out, item, depth + 1)?;
            }
        }
        _ => out.null(),
    }
    Ok(())
}

/// Parses numkeys and splits the rest into KEYS and ARGV.
type Args<'a> = &'a [&'a [u8]];

pub(crate) fn split_keys<'a>(args: Args<'a>) -> Result<(Args<'a>, Args<'a>), Error> {
    let numkeys = crate::exec::arg_i64(args[2])?;
    if numkeys < 0 {
        return Err(Error::msg("ERR Number of keys can't be negative"));
    }
    let rest = &args[3..];
    if numkeys as u64 > rest.len() as u64 {
        return Err(Error::msg(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    Ok(rest.split_at(numkeys as usize))
}

enum Source<'a> {
    Text(&'a [u8]),
    Sha(&'a [u8]),
}

fn run(
    exec: &mut Exec<'_>,
    args: &[&[u8]],
    source: Source<'_>,
    read_only: bool,
) -> Result<(), Error> {
    let (keys, argv) = split_keys(args)?;
    let mut scripts = exec.ks.take_scripts();
    let result = run_with(exec, &mut scripts, keys, argv, source, read_only);
    exec.ks.put_scripts(scripts);
    result
}

fn run_with(
    exec: &mut Exec<'_>,
    scripts: &mut Scripts,
    keys: &[&[u8]],
    argv: &[&[u8]],
    source: Source<'_>,
    read_only: bool,
) -> Result<(), Error> {
    let (sha, function) = match source {
        Source::Text(body) => scripts.load(body, true)?,
        Source::Sha(sha) => scripts
            .cached(sha)
            .ok_or_else(|| Error::msg("NOSCRIPT No matching script. Please use EVAL."))?,
    };
    let lua_err = |e: mlua::Error| Error::msg(format!("ERR {e}"));
    for (name, items) in [("KEYS", keys), ("ARGV", argv)] {
        let table = scripts.strings(items).map_err(lua_err)?;
        scripts.globals.raw_set(name, table).map_err(lua_err)?;
    }
    execute(
        exec,
        scripts,
        (function, None),
        sha_text(&sha),
        "@user_script",
        read_only,
    )
}

/// Runs a script (`args` None: it reads KEYS and ARGV) or a function (`args`: its keys and
/// arguments) and writes its reply; `label` and `chunk` name it in an error
/// (`... script: <label>, on <chunk>:<line>.`).
pub(crate) fn execute(
    exec: &mut Exec<'_>,
    scripts: &mut Scripts,
    (function, args): (Function, Option<(Table, Table)>),
    label: &str,
    chunk: &str,
    read_only: bool,
) -> Result<(), Error> {
    scripts.rng.store(exec.seed, Ordering::Relaxed);
    scripts.instructions.store(0, Ordering::Relaxed);
    let ctx = RefCell::new(Context {
        ks: &mut *exec.ks,
        db: exec.db,
        now_ms: exec.now_ms,
        seed: exec.seed,
        calls: 0,
        read_only,
        resp3: false,
    });
    let outcome = {
        let _running = scripts.current.enter(&ctx);
        let called = match args {
            None => scripts
                .xpcall
                .call::<(bool, Value)>((function, scripts.handler.clone())),
            Some((keys, args)) => scripts.invoke.call::<(bool, Value)>((
                function,
                scripts.handler.clone(),
                keys,
                args,
            )),
        };
        match called {
            Ok((true, value)) => {
                let mark = exec.out.len();
                match write_value(exec.out, &value, 0) {
                    Ok(()) => Ok(()),
                    Err(e) => {
                        exec.out.truncate(mark);
                        Err(e)
                    }
                }
                .map_err(|e| format!("ERR Error running script: {e} script: {label}"))
            }
            Ok((false, value)) => Err(describe_failure(value, label, chunk)),
            Err(e) => Err(format!(
                "ERR Error running script: {} script: {label}",
                e.to_string().lines().next().unwrap_or_default(),
            )),
        }
    };
    outcome.map_err(Error::msg)
}

/// What `handler` made of an error: the value raised, and the user code's line it was raised
/// at.
fn handled(value: Value) -> (Value, Option<i64>) {
    match value {
        Value::Table(t) => (
            t.raw_get::<Value>("e").unwrap_or(Value::Nil),
            t.raw_get::<Option<i64>>("line").ok().flatten(),
        ),
        other => (other, None),
    }
}

/// The reply text of a raised error, its code first: redis.call's error reply as it was, an
/// error table's `err`, and Lua's or a library's message after `ERR`.
fn raised_text(err: &Value) -> String {
    match err {
        Value::Table(t) => match t.raw_get::<Value>("err") {
            Ok(Value::String(s)) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
            _ => "ERR unknown error".to_string(),
        },
        Value::String(s) => format!("ERR {}", String::from_utf8_lossy(&s.as_bytes())),
        Value::Error(e) => {
            let mut inner = e.as_ref();
            while let mlua::Error::CallbackError { cause, .. } = inner {
                inner = cause.as_ref();
            }
            if let mlua::Error::ExternalError(external) = inner
                && let Some(CallError(text)) = external.downcast_ref::<CallError>()
            {
                return text.clone();
            }
            let text = match inner {
                mlua::Error::RuntimeError(message) => message.clone(),
                other => other.to_string(),
            };
            let text = text.lines().next().unwrap_or_default();
            if text.starts_with("ERR ") {
                text.to_string()
            } else {
                format!("ERR {text}")
            }
        }
        Value::Nil => "ERR unknown error".to_string(),
        other => format!("ERR {}", other.type_name()),
    }
}

/// The reply for a script that raised an error: Redis's text, then which script and where.
fn describe_failure(value: Value, label: &str, chunk: &str) -> String {
    let (err, line) = handled(value);
    let at = line.map_or_else(|| "?".to_string(), |l| l.to_string());
    format!("{} script: {label}, on {chunk}:{at}.", raised_text(&err))
}

pub fn eval(exec: &mut Exec<'_>, args: &[&[u8]]) -> Result<(), Error> {
    run(exec, args, Source::Text(args[1]), false)
}

pub fn eval_ro(exec: &mut Exec<'_>, args: &[&[u8]]) -> Result<(), Error> {
    run(exec, args, Source::Text(args[1]), true)
}

pub fn evalsha(exec: &mut Exec<'_>, args: &[&[u8]]) -> Result<(), Error> {
    run(exec, args, Source::Sha(args[1]), false)
}

pub fn evalsha_ro(exec: &mut Exec<'_>, args: &[&[u8]]) -> Result<(), Error> {
    run(exec, args, Source::Sha(args[1]), true)
}

/// SCRIPT LOAD|EXISTS|FLUSH|KILL|HELP. Every replica applies SCRIPT, so a script loaded
/// through one node is cached on all of them.
pub fn script(exec: &mut Exec<'_>, args: &[&[u8]]) -> Result<(), Error> {
    let arity = || super::sub_arity("SCRIPT", args[1]);
    match args[1].to_ascii_lowercase().as_slice() {
        b"load" => {
            if args.len() != 3 {
                return Err(arity());
            }
            let mut scripts = exec.ks.take_scripts();
            let loaded = scripts.load(args[2], false);
            exec.ks.put_scripts(scripts);
            exec.out.bulk(&loaded?.0);
        }
        b"exists" => {
            if args.len() < 3 {
                return Err(arity());
            }
            let scripts = exec.ks.scripts();
            let found: Vec<bool> = args[2..].iter().map(|sha| scripts.exists(sha)).collect();
            exec.out.array(found.len());
            for f in found {
                exec.out.int(i64::from(f));
            }
        }
        b"flush" => {
            super::flush_mode(
                args,
                "SCRIPT",
                "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
            )?;
            exec.ks.scripts().flush();
            exec.out.ok();
        }
        b"kill" => {
            if args.len() != 2 {
                return Err(arity());
            }
            return Err(Error::msg("NOTBUSY No scripts in execution right now."));
        }
        b"help" => super::help(exec, SCRIPT_HELP),
        _ => return Err(super::unknown_subcommand("SCRIPT", args[1])),
    }
    Ok(())
}

const SCRIPT_HELP: &[&str] = &[
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script (Redraft stops a runaway script itself).",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Print this help.",
];

/// The Lua state in `slot`, made on first use (for callers that hold other parts of the
/// keyspace meanwhile).
pub(crate) fn state(slot: &mut Option<Box<Scripts>>) -> &mut Scripts {
    slot.get_or_insert_with(|| Box::new(Scripts::new().expect("a Lua state")))
}

impl Keyspace {
    /// The node's Lua state, made on first use.
    pub fn scripts(&mut self) -> &mut Scripts {
        state(&mut self.scripts)
    }

    pub(crate) fn take_scripts(&mut self) -> Box<Scripts> {
        self.scripts();
        self.scripts.take().expect("just made")
    }

    pub(crate) fn put_scripts(&mut self, scripts: Box<Scripts>) {
        self.scripts = Some(scripts);
    }

    /// The text of the script with this SHA1, if it is cached here (for EVALSHA, see
    /// [`Scripts::body`]).
    pub fn script_body(&self, sha: &[u8]) -> Option<Arc<[u8]>> {
        self.scripts.as_ref()?.body(sha)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_g_matches_c() {
        assert_eq!(format_g(3.7, 17), "3.7000000000000002");
        assert_eq!(format_g(3.0, 17), "3");
        assert_eq!(format_g(1e20, 17), "1e+20");
        assert_eq!(format_g(0.0001, 14), "0.0001");
        assert_eq!(format_g(0.00001, 14), "1e-05");
        assert_eq!(format_g(123456.5, 14), "123456.5");
        assert_eq!(format_g(-2.5, 14), "-2.5");
    }
}
