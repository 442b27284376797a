//! The checker against an independent brute force, on small seeded random histories.
//!
//! The brute force shares nothing with the checker but the history types: it tries every order of
//! the whole multi-key history that respects real time (each unknown operation placed somewhere or
//! left out), replaying it on its own byte-level store written from the Redis documentation, with
//! no partitioning by key, no `Model` and no cache. Histories come from a real sequential execution
//! at random linearization points inside random overlapping intervals (so they must be
//! linearizable), half of them then corrupted in one operation (so they may not be).
//!
//! A failure names its seed; `register_seed(seed)` or `list_seed(seed)` replays it alone.

use std::collections::BTreeMap;
use std::fmt;

use rand_core::{RngCore, SeedableRng};
use rand_pcg::Pcg64Mcg;

use super::*;
use crate::history::{ListInput, ListOutput, Outcome, RegisterInput, RegisterOutput, Value};

/// Seeds per model. Each runs in well under a millisecond.
const SEEDS_COUNT: u64 = 5000;
const OPS_MAX: u64 = 8;
const LONG_OPS_MAX: u64 = 300;

struct Rng(Pcg64Mcg);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(Pcg64Mcg::seed_from_u64(seed))
    }

    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0);
        self.0.next_u64() % bound
    }

    fn one_in(&mut self, count: u64) -> bool {
        self.below(count) == 0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// A store for the brute force and the generator, keyed like Redis.
type Store = BTreeMap<Vec<u8>, Vec<u8>>;
type Lists = BTreeMap<Vec<u8>, Vec<Value>>;

/// A sequential execution of one model's commands, written apart from `model`.
trait Reference {
    type Input: Clone + fmt::Debug;
    type Output: Clone + fmt::Debug + PartialEq;
    type Store: Clone + Default;

    /// Runs `input` on `key`; `None` for an error reply, which changes nothing.
    fn apply(store: &mut Self::Store, key: &[u8], input: &Self::Input) -> Option<Self::Output>;
}

struct StringCommands;

impl Reference for StringCommands {
    type Input = RegisterInput;
    type Output = RegisterOutput;
    type Store = Store;

    fn apply(store: &mut Store, key: &[u8], input: &RegisterInput) -> Option<RegisterOutput> {
        match input {
            RegisterInput::Get => Some(RegisterOutput::Get(
                store.get(key).map(|bytes| Value::from_bytes(bytes)),
            )),
            RegisterInput::Set(value) => {
                store.insert(key.to_vec(), value.to_bytes());
                Some(RegisterOutput::Set)
            }
            RegisterInput::Incr => {
                let current = match store.get(key) {
                    None => 0,
                    Some(bytes) => redis_integer(bytes)?,
                };
                let next = current.checked_add(1)?;
                store.insert(key.to_vec(), next.to_string().into_bytes());
                Some(RegisterOutput::Incr(next))
            }
            RegisterInput::Del => Some(RegisterOutput::Del(u64::from(store.remove(key).is_some()))),
        }
    }
}

/// The integer `INCR` reads from `bytes`: an optional `-`, then `0` alone (unsigned) or digits
/// without a leading zero, in the range of an `i64`.
fn redis_integer(bytes: &[u8]) -> Option<i64> {
    let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
    let negative = digits.len() < bytes.len();
    let well_formed = !digits.is_empty()
        && digits.iter().all(u8::is_ascii_digit)
        && (digits == b"0" && !negative || digits[0] != b'0');
    if !well_formed {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

struct ListCommands;

impl Reference for ListCommands {
    type Input = ListInput;
    type Output = ListOutput;
    type Store = Lists;

    fn apply(store: &mut Lists, key: &[u8], input: &ListInput) -> Option<ListOutput> {
        let list = store.entry(key.to_vec()).or_default();
        Some(match input {
            ListInput::Append(element) => {
                list.push(element.clone());
                ListOutput::Append(list.len() as u64)
            }
            ListInput::Read => ListOutput::Read(list.clone()),
        })
    }
}

/// Whether some order of `history`'s ops consistent with real time, holding every completed op
/// and any subset of the unknown ones, replays on `R` with every completed op's recorded output.
fn brute_force<R: Reference>(history: &History<R::Input, R::Output>) -> bool {
    let mut placed = vec![false; history.len()];
    place_next::<R>(history.ops(), &mut placed, &R::Store::default())
}

fn place_next<R: Reference>(
    ops: &[Op<R::Input, R::Output>],
    placed: &mut [bool],
    store: &R::Store,
) -> bool {
    let completed_all_placed = ops
        .iter()
        .zip(placed.iter())
        .all(|(op, &placed)| placed || op.output().is_none());
    if completed_all_placed {
        return true;
    }
    for (index, op) in ops.iter().enumerate() {
        if placed[index] {
            continue;
        }
        let waits_for_another = ops.iter().zip(placed.iter()).any(|(other, &placed)| {
            !placed
                && other
                    .complete_tick()
                    .is_some_and(|tick| tick < op.invoke_tick)
        });
        if waits_for_another {
            continue;
        }
        let mut next_store = store.clone();
        let output = R::apply(&mut next_store, &op.key, &op.input);
        if op.output().is_some() && output.as_ref() != op.output() {
            continue;
        }
        placed[index] = true;
        if place_next::<R>(ops, placed, &next_store) {
            return true;
        }
        placed[index] = false;
    }
    false
}

/// An op as the generator plans it, before it has an output.
struct Planned<I> {
    process: u32,
    key: &'static [u8],
    input: I,
    invoke_tick: u64,
    /// When it takes effect, `None` for an unknown op that never does.
    effect_tick: Option<u64>,
    complete_tick: Option<u64>,
}

/// Plans 1 to `ops_max` ops from 2 to 4 processes on one or two keys, in intervals that overlap
/// often, each with a point inside its interval where it takes effect.
fn plan<I>(rng: &mut Rng, ops_max: u64, mut input: impl FnMut(&mut Rng) -> I) -> Vec<Planned<I>> {
    let processes_count = 2 + rng.below(3);
    let keys: &[&[u8]] = if rng.one_in(4) {
        &[b"a", b"b"]
    } else {
        &[b"a"]
    };
    let mut next_invoke_tick = vec![0; processes_count as usize];
    let ops_count = 1 + rng.below(ops_max);
    let mut planned: Vec<Planned<I>> = (0..ops_count)
        .map(|_| {
            let process = rng.below(processes_count) as u32;
            let invoke_tick = next_invoke_tick[process as usize] + rng.below(3);
            let (effect_tick, complete_tick) = if rng.one_in(5) {
                // A timeout: the client moves on; the op lands later, or never.
                next_invoke_tick[process as usize] = invoke_tick + 1 + rng.below(4);
                let effect_tick = (!rng.one_in(3)).then(|| invoke_tick + rng.below(12));
                (effect_tick, None)
            } else {
                let effect_tick = invoke_tick + rng.below(4);
                let complete_tick = effect_tick + rng.below(4);
                next_invoke_tick[process as usize] = complete_tick + 1;
                (Some(effect_tick), Some(complete_tick))
            };
            let key = *rng.pick(keys);
            Planned {
                process,
                key,
                input: input(rng),
                invoke_tick,
                effect_tick,
                complete_tick,
            }
        })
        .collect();
    planned.sort_by_key(|op| op.invoke_tick);
    planned
}

/// Runs the planned ops on `R` at their effect ticks (ties in random order) and records what each
/// returned. A completed op that failed is left out, as the simulator leaves out error replies.
fn execute<R: Reference>(
    rng: &mut Rng,
    planned: Vec<Planned<R::Input>>,
) -> History<R::Input, R::Output> {
    let mut order: Vec<(u64, u64, usize)> = planned
        .iter()
        .enumerate()
        .filter_map(|(index, op)| Some((op.effect_tick?, rng.next(), index)))
        .collect();
    order.sort_unstable();
    let mut store = R::Store::default();
    let mut outputs = vec![None; planned.len()];
    for (_, _, index) in order {
        outputs[index] = R::apply(&mut store, planned[index].key, &planned[index].input);
    }
    let mut history = History::new();
    for (op, output) in planned.into_iter().zip(outputs) {
        let outcome = match (op.complete_tick, output) {
            (Some(tick), Some(output)) => Outcome::Returned { tick, output },
            (Some(_), None) => continue,
            (None, _) => Outcome::Unknown,
        };
        history.push(Op {
            process: op.process,
            key: op.key.to_vec(),
            invoke_tick: op.invoke_tick,
            input: op.input,
            outcome,
        });
    }
    history
}

/// Moves one completed op to a random interval, which can put a read before the write it saw or
/// a write after the read that missed it.
fn corrupt_timing<I, O>(rng: &mut Rng, op: &mut Op<I, O>) {
    let Outcome::Returned { tick, .. } = &mut op.outcome else {
        unreachable!("only completed ops are corrupted");
    };
    op.invoke_tick = rng.below(16);
    *tick = op.invoke_tick + rng.below(4);
}

fn corrupt<I: Clone, O: Clone>(
    rng: &mut Rng,
    history: &mut History<I, O>,
    corrupt_output: impl FnOnce(&mut Rng, &mut O),
) {
    let completed: Vec<usize> = (0..history.len())
        .filter(|&index| history.ops()[index].output().is_some())
        .collect();
    if completed.is_empty() {
        return;
    }
    let index = *rng.pick(&completed);
    let mut ops = history.ops().to_vec();
    let op = &mut ops[index];
    if rng.one_in(3) {
        corrupt_timing(rng, op);
    } else if let Outcome::Returned { output, .. } = &mut op.outcome {
        corrupt_output(rng, output);
    }
    *history = History::new();
    for op in ops {
        history.push(op);
    }
}

const REGISTER_VALUES: [&str; 4] = ["0", "1", "2", "x"];

fn register_input(rng: &mut Rng) -> RegisterInput {
    match rng.below(8) {
        0..=2 => RegisterInput::Get,
        3..=4 => RegisterInput::Set(Value::from(*rng.pick(&REGISTER_VALUES))),
        5..=6 => RegisterInput::Incr,
        _ => RegisterInput::Del,
    }
}

fn corrupt_register_output(rng: &mut Rng, output: &mut RegisterOutput) {
    match output {
        RegisterOutput::Get(read) => {
            let mut choices: Vec<Option<Value>> = REGISTER_VALUES
                .iter()
                .map(|&v| Some(Value::from(v)))
                .collect();
            choices.push(None);
            choices.retain(|choice| choice != read);
            *read = rng.pick(&choices).clone();
        }
        // The only reply to SET is OK: give it another command's reply instead.
        RegisterOutput::Set => *output = RegisterOutput::Del(0),
        RegisterOutput::Incr(result) => *result += if rng.one_in(2) { 1 } else { -1 },
        RegisterOutput::Del(deleted) => *deleted = 1 - *deleted,
    }
}

fn list_input(rng: &mut Rng, next_element: &mut i64) -> ListInput {
    if rng.one_in(2) {
        ListInput::Read
    } else {
        *next_element += 1;
        ListInput::Append(Value::from(*next_element))
    }
}

fn corrupt_list_output(rng: &mut Rng, output: &mut ListOutput) {
    match output {
        ListOutput::Append(length) => {
            *length = if *length == 1 || rng.one_in(2) {
                *length + 1
            } else {
                *length - 1
            }
        }
        ListOutput::Read(list) if list.is_empty() => list.push(Value::from(99)),
        ListOutput::Read(list) => {
            let at = rng.below(list.len() as u64) as usize;
            match rng.below(4) {
                0 => {
                    list.remove(at);
                }
                1 => {
                    let duplicate = list[at].clone();
                    list.insert(at, duplicate);
                }
                2 => {
                    let other = rng.below(list.len() as u64) as usize;
                    list.swap(at, other);
                }
                _ => list[at] = Value::from(99),
            }
        }
    }
}

/// A generated history and whether it was corrupted.
struct Generated<I, O> {
    history: History<I, O>,
    corrupted: bool,
}

fn generate_register(seed: u64) -> Generated<RegisterInput, RegisterOutput> {
    let mut rng = Rng::new(seed);
    let planned = plan(&mut rng, OPS_MAX, register_input);
    let mut history = execute::<StringCommands>(&mut rng, planned);
    let corrupted = rng.one_in(2);
    if corrupted {
        corrupt(&mut rng, &mut history, corrupt_register_output);
    }
    Generated { history, corrupted }
}

fn generate_list(seed: u64) -> Generated<ListInput, ListOutput> {
    let mut rng = Rng::new(seed);
    let mut next_element = 0;
    let planned = plan(&mut rng, OPS_MAX, |rng| list_input(rng, &mut next_element));
    let mut history = execute::<ListCommands>(&mut rng, planned);
    let corrupted = rng.one_in(2);
    if corrupted {
        corrupt(&mut rng, &mut history, corrupt_list_output);
    }
    Generated { history, corrupted }
}

fn render<I: fmt::Debug, O: fmt::Debug>(history: &History<I, O>) -> String {
    let mut text = String::new();
    for (index, op) in history.ops().iter().enumerate() {
        let _ = writeln!(text, "  #{index} {op}");
    }
    text
}

/// Compares the checker with the brute force on one generated history; returns whether the
/// history was linearizable.
fn compare<M: Model, R: Reference<Input = M::Input, Output = M::Output>>(
    model: &M,
    seed: u64,
    generated: &Generated<M::Input, M::Output>,
) -> bool {
    let history = &generated.history;
    let verdict = check(model, history, Limits::default());
    let expected = brute_force::<R>(history);
    let context = format!("seed {seed}:\n{}verdict: {verdict}", render(history));
    match &verdict {
        Verdict::Linearizable => assert!(expected, "brute force finds no linearization; {context}"),
        Verdict::Violation(violation) => {
            assert!(!expected, "brute force finds a linearization; {context}");
            let blocked = history.op(violation.blocked);
            assert!(blocked.output().is_some(), "{context}");
            assert_eq!(blocked.key, violation.key, "{context}");
            assert!(
                violation.candidates.contains(&violation.blocked),
                "{context}"
            );
        }
        Verdict::Unknown(_) => panic!("a history this small exhausted the search; {context}"),
    }
    assert!(
        expected || generated.corrupted,
        "an execution's own history is not linearizable; {context}"
    );
    expected
}

fn register_seed(seed: u64) -> bool {
    compare::<Register, StringCommands>(&Register, seed, &generate_register(seed))
}

fn list_seed(seed: u64) -> bool {
    compare::<ListAppend, ListCommands>(&ListAppend, seed, &generate_list(seed))
}

/// Both verdicts must be common, or agreement would prove little.
#[track_caller]
fn assert_both_verdicts_common(linearizable_count: u64) {
    assert!(
        linearizable_count > SEEDS_COUNT / 4,
        "{linearizable_count} of {SEEDS_COUNT} linearizable"
    );
    assert!(
        linearizable_count < SEEDS_COUNT * 3 / 4,
        "{linearizable_count} of {SEEDS_COUNT} linearizable"
    );
}

#[test]
fn register_checker_agrees_with_brute_force() {
    let linearizable_count = (0..SEEDS_COUNT).filter(|&seed| register_seed(seed)).count();
    assert_both_verdicts_common(linearizable_count as u64);
}

#[test]
fn list_append_checker_agrees_with_brute_force() {
    let linearizable_count = (0..SEEDS_COUNT).filter(|&seed| list_seed(seed)).count();
    assert_both_verdicts_common(linearizable_count as u64);
}

#[test]
fn the_reference_reads_integers_as_incr_does() {
    for (text, int) in [
        ("0", Some(0)),
        ("-5", Some(-5)),
        ("17", Some(17)),
        ("-0", None),
        ("05", None),
        ("+5", None),
        ("", None),
        ("-", None),
        ("9223372036854775808", None),
    ] {
        assert_eq!(redis_integer(text.as_bytes()), int, "{text:?}");
    }
}

/// Long executions are out of the brute force's reach; the checker must still find them
/// linearizable, within the default limit.
#[test]
fn long_executions_are_linearizable() {
    for seed in 0..20 {
        let mut rng = Rng::new(seed);
        let planned = plan(&mut rng, LONG_OPS_MAX, register_input);
        let history = execute::<StringCommands>(&mut rng, planned);
        let verdict = check_register(&history);
        assert!(verdict.is_linearizable(), "seed {seed}: {verdict}");

        let mut next_element = 0;
        let planned = plan(&mut rng, LONG_OPS_MAX, |rng| {
            list_input(rng, &mut next_element)
        });
        let history = execute::<ListCommands>(&mut rng, planned);
        let verdict = check_list_append(&history);
        assert!(verdict.is_linearizable(), "seed {seed}: {verdict}");
    }
}
