//! The linearizability checker: could every operation of a history have taken effect at one
//! instant between its invoke and its completion, in an order the sequential model allows?
//!
//! Linearizability is compositional (Herlihy and Wing), so a history is split by key and each key
//! is checked alone, which keeps the search exponential only in the concurrency of one key. Each
//! key is checked by the Wing–Gong search as Lowe improved it: walk the invoke and completion
//! events in time order, try to linearize a pending operation next, and back up when an operation's
//! completion is reached before it could be linearized; a cache of (set of operations linearized,
//! model state) pairs already explored keeps the search from doing the same work twice.
//!
//! An operation whose outcome is unknown has no completion event, so it can be linearized at any
//! point after its invoke; the search succeeds once every completed operation is linearized, which
//! covers an unknown operation that never took effect (or took effect after everything observed).
//!
//! Unknown operations are what makes the search expensive: each one pending may or may not have
//! been applied, and in any order with the others. Two refinements, both keeping the search
//! complete, keep that in check. Each scan tries the completed operations before the unknown ones,
//! so no unknown operation is guessed at where none is needed. And a model may say that an
//! operation due soon can never succeed from a state (`Model::may_succeed_later`: a list only
//! grows, so a read the state is not a prefix of never will), which cuts a branch at once instead
//! of after every order of the unknown appends pending.
//!
//! Even so the search is exponential in the worst case (linearizability checking is NP-complete),
//! so it is bounded: past `Limits::explored_states_max` new states on one key it gives up and says
//! `Unknown` rather than run on. Histories stay cheap to check when each key sees a bounded number
//! of operations (rotate keys, as Jepsen does) and few unknown outcomes.

use std::collections::{BTreeMap, HashSet};
use std::fmt::{self, Write as _};

use crate::history::{History, Key, ListHistory, Op, OpId, RegisterHistory};
use crate::model::{ListAppend, Model, Register};

/// The default bound on the states explored for one key. Every state explored stays in the cache
/// (a set of operations and a model state), so this bounds memory as well as time: a key that
/// runs out takes a few seconds in a debug build and some tens of MiB for a register. A list's
/// states are whole lists, which is one more reason to keep list keys short.
pub const EXPLORED_STATES_MAX_DEFAULT: usize = 1 << 18;

/// The last operations of a violation's prefix that the report prints; the `prefix` field has
/// them all.
const REPORT_PREFIX_OPS_MAX: usize = 10;

/// Bounds on the search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// New (linearized set, model state) pairs the search may explore on one key.
    pub explored_states_max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            explored_states_max: EXPLORED_STATES_MAX_DEFAULT,
        }
    }
}

/// The checker's judgement of a history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Linearizable,
    /// A key whose operations have no linearization. When several keys do, the first in byte order.
    Violation(Violation),
    /// No key is known to be non-linearizable, but the search on this key (the first in byte order
    /// to run out) hit `Limits::explored_states_max` before reaching an answer.
    Unknown(Exhausted),
}

impl Verdict {
    pub fn is_linearizable(&self) -> bool {
        matches!(self, Verdict::Linearizable)
    }
}

/// Why a key is not linearizable, in terms of the deepest point the search reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub key: Key,
    /// The longest sequence of the key's operations, in linearization order, that the search
    /// could linearize (the first such, if several are as long).
    pub prefix: Vec<OpId>,
    /// The completed operation that had to take effect next, before its completion, after `prefix`.
    pub blocked: OpId,
    /// Every operation that could have come next after `prefix` (invoked before `blocked`
    /// completed, and not in `prefix`). None of them can: from the state `prefix` leads to, the
    /// model either rejects it or, for an unknown operation, says an operation due soon after it
    /// could then never succeed (`Model::may_succeed_later`). `blocked` is among them.
    pub candidates: Vec<OpId>,
    /// The completed operations that, by the model, could never succeed after one of the unknown
    /// `candidates`: what rules those candidates out. Sorted, without repeats.
    pub doomed: Vec<OpId>,
    /// The above, with the operations and the state spelled out.
    report: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.report)
    }
}

/// A key on which the search ran out of its bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exhausted {
    pub key: Key,
    pub explored_states: usize,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Linearizable => f.write_str("linearizable"),
            Verdict::Violation(violation) => violation.fmt(f),
            Verdict::Unknown(exhausted) => write!(
                f,
                "unknown: the search on key \"{}\" explored {} states without an answer",
                exhausted.key.escape_ascii(),
                exhausted.explored_states
            ),
        }
    }
}

/// Checks a history of Redis string commands, with the default limits.
pub fn check_register(history: &RegisterHistory) -> Verdict {
    check(&Register, history, Limits::default())
}

/// Checks a history of list appends and reads, with the default limits.
pub fn check_list_append(history: &ListHistory) -> Verdict {
    check(&ListAppend, history, Limits::default())
}

/// Checks that `history` is linearizable with respect to `model`, key by key.
pub fn check<M: Model>(
    model: &M,
    history: &History<M::Input, M::Output>,
    limits: Limits,
) -> Verdict {
    let mut ids_by_key: BTreeMap<&[u8], Vec<OpId>> = BTreeMap::new();
    for (index, op) in history.ops().iter().enumerate() {
        // A read that may or may not have happened constrains nothing and changes nothing.
        if op.output().is_none() && model.is_read_only(&op.input) {
            continue;
        }
        ids_by_key.entry(&op.key).or_default().push(OpId(index));
    }
    let mut first_exhausted = None;
    for (key, ids) in ids_by_key {
        match check_key(model, history, &ids, limits) {
            KeyVerdict::Linearizable => {}
            KeyVerdict::Violation(violation) => return Verdict::Violation(violation),
            KeyVerdict::Exhausted { explored_states } => {
                // Go on: a violation on another key is still a definite answer.
                first_exhausted.get_or_insert(Exhausted {
                    key: key.to_vec(),
                    explored_states,
                });
            }
        }
    }
    match first_exhausted {
        Some(exhausted) => Verdict::Unknown(exhausted),
        None => Verdict::Linearizable,
    }
}

enum KeyVerdict {
    Linearizable,
    Violation(Violation),
    Exhausted { explored_states: usize },
}

/// The deepest point of the search so far: what a violation report explains.
struct Deepest<S> {
    /// Local indices of the ops linearized, in order.
    prefix: Vec<usize>,
    state: S,
    /// The first completion the search ran into from that point, if it has yet.
    blocked: Option<usize>,
}

/// The Wing–Gong–Lowe search on the operations of one key, which it calls by local index.
struct Search<'h, M: Model> {
    model: &'h M,
    ids: &'h [OpId],
    ops: Vec<&'h Op<M::Input, M::Output>>,
    events: EventList,
    state: M::State,
    linearized: OpSet,
    linearized_completed: usize,
    completed_total: usize,
    /// The ops linearized, in order: the way back.
    stack: Vec<Linearized<M::State>>,
    explored: HashSet<(OpSet, M::State)>,
    explored_states_max: usize,
    deepest: Deepest<M::State>,
}

/// The search ran past `Limits::explored_states_max`.
struct OutOfStates;

/// The search on the operations `ids` of one key.
fn check_key<M: Model>(
    model: &M,
    history: &History<M::Input, M::Output>,
    ids: &[OpId],
    limits: Limits,
) -> KeyVerdict {
    let ops: Vec<&Op<M::Input, M::Output>> = ids.iter().map(|&id| history.op(id)).collect();
    let state = model.init();
    let search = Search {
        model,
        ids,
        events: EventList::new(&ops),
        linearized: OpSet::new(ops.len()),
        linearized_completed: 0,
        completed_total: ops.iter().filter(|op| op.output().is_some()).count(),
        ops,
        stack: Vec::new(),
        explored: HashSet::new(),
        explored_states_max: limits.explored_states_max,
        deepest: Deepest {
            prefix: Vec::new(),
            state: state.clone(),
            blocked: None,
        },
        state,
    };
    search.run()
}

impl<M: Model> Search<'_, M> {
    /// Scans the event list from the front, linearizing the first op it can and starting over,
    /// and backing up when it reaches the completion of an op it could not linearize in time.
    fn run(mut self) -> KeyVerdict {
        let mut node = self.events.first();
        let mut pass = Pass::Completed;
        // Unknown ops left over may take effect after everything observed, or never.
        while self.linearized_completed < self.completed_total {
            match self.events.node(node) {
                Node::Call(op) if pass.tries(self.ops[op]) => match self.linearize(op, pass) {
                    Ok(true) => (node, pass) = (self.events.first(), Pass::Completed),
                    Ok(false) => node = self.events.next(node),
                    Err(OutOfStates) => {
                        return KeyVerdict::Exhausted {
                            explored_states: self.explored.len(),
                        };
                    }
                },
                Node::Call(_) => node = self.events.next(node),
                // The same candidates again, the unknown ops this time.
                Node::Return(_) if pass == Pass::Completed => {
                    (node, pass) = (self.events.first(), Pass::Unknown);
                }
                Node::Return(op) => {
                    // `op` had to be linearized before its completion and was not.
                    self.deepest.blocked.get_or_insert(op);
                    let Some((undone, undone_pass)) = self.back_up() else {
                        return KeyVerdict::Violation(self.violation());
                    };
                    node = self.events.next(self.events.call_node[undone]);
                    pass = undone_pass;
                }
                Node::Head | Node::Tail => {
                    unreachable!("a completed op not linearized keeps its completion in the list")
                }
            }
        }
        KeyVerdict::Linearizable
    }

    /// Linearizes `op` next if the model allows it and the result is new to the search.
    fn linearize(&mut self, op: usize, pass: Pass) -> Result<bool, OutOfStates> {
        let Some(next_state) = self
            .model
            .step(&self.state, &self.ops[op].input, self.ops[op].output())
            .filter(|next_state| !self.dooms_an_op_due_soon(op, next_state))
        else {
            return Ok(false);
        };
        let mut next_linearized = self.linearized.clone();
        next_linearized.insert(op);
        if !self
            .explored
            .insert((next_linearized.clone(), next_state.clone()))
        {
            return Ok(false);
        }
        if self.explored.len() > self.explored_states_max {
            return Err(OutOfStates);
        }
        let state_before = std::mem::replace(&mut self.state, next_state);
        self.stack.push(Linearized {
            op,
            state_before,
            pass,
        });
        self.linearized = next_linearized;
        if self.ops[op].output().is_some() {
            self.linearized_completed += 1;
        }
        self.events.lift(op);
        if self.stack.len() > self.deepest.prefix.len() {
            self.deepest = Deepest {
                prefix: self.stack.iter().map(|entry| entry.op).collect(),
                state: self.state.clone(),
                blocked: None,
            };
        }
        Ok(true)
    }

    /// Undoes the last op linearized, and returns it with the pass that linearized it: where to
    /// resume. `None` when there is nothing to undo.
    fn back_up(&mut self) -> Option<(usize, Pass)> {
        let undone = self.stack.pop()?;
        self.state = undone.state_before;
        self.linearized.remove(undone.op);
        if self.ops[undone.op].output().is_some() {
            self.linearized_completed -= 1;
        }
        self.events.unlift(undone.op);
        Some((undone.op, undone.pass))
    }

    /// Whether linearizing `op` into `next_state` leaves a completed op due soon (invoked before
    /// the next completion) that the model says could never succeed. Only unknown ops are checked:
    /// a completed op is due anyway, so cutting it short saves little and would move the blame for
    /// a violation from the op that shows it onto the one before.
    fn dooms_an_op_due_soon(&self, op: usize, next_state: &M::State) -> bool {
        if self.ops[op].output().is_some() {
            return false;
        }
        self.events.window_without(op).any(|other| {
            let output = self.ops[other]
                .output()
                .expect("the window holds completed ops");
            !self
                .model
                .may_succeed_later(next_state, &self.ops[other].input, output)
        })
    }

    fn violation(self) -> Violation {
        violation(self.model, self.ids, &self.ops, &self.events, self.deepest)
    }
}

/// Which of the ops that could be linearized next a scan of the event list tries. Every scan
/// tries the completed ops first, then the unknown ones: the same candidates, so the search is as
/// complete, but it reaches a linearization without guessing at unknown ops when none is needed
/// (each unknown op applied where it is not needed is a branch to explore and abandon).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pass {
    Completed,
    Unknown,
}

impl Pass {
    fn tries<I, O>(self, op: &Op<I, O>) -> bool {
        match self {
            Pass::Completed => op.output().is_some(),
            Pass::Unknown => op.output().is_none(),
        }
    }
}

/// An op on the search's stack: what to restore, and where to resume, when backing up.
struct Linearized<S> {
    op: usize,
    state_before: S,
    pass: Pass,
}

fn violation<M: Model>(
    model: &M,
    ids: &[OpId],
    ops: &[&Op<M::Input, M::Output>],
    events: &EventList,
    deepest: Deepest<M::State>,
) -> Violation {
    // The first completion reached after the deepest point was reached is where that point failed.
    let blocked = deepest
        .blocked
        .expect("the search fails only at a completion");
    let return_node = events.return_node[blocked].expect("a blocking op is completed");
    let pending: Vec<usize> = (0..ops.len())
        .filter(|op| !deepest.prefix.contains(op))
        .collect();
    let candidates: Vec<usize> = pending
        .iter()
        .copied()
        .filter(|&op| events.call_node[op] < return_node)
        .collect();
    let reasons: Vec<Reason> = candidates
        .iter()
        .map(|&candidate| why_not_next(model, ops, events, &pending, &deepest.state, candidate))
        .collect();
    let key = ops[blocked].key.clone();

    // Writing to a String does not fail.
    let mut report = String::new();
    let _ = writeln!(
        report,
        "key \"{}\" is not linearizable: op #{} cannot take effect by its completion.",
        key.escape_ascii(),
        ids[blocked].0
    );
    let shown = deepest.prefix.len().min(REPORT_PREFIX_OPS_MAX);
    let _ = writeln!(
        report,
        "The longest linearizable prefix found has {} ops (the last {shown} shown):",
        deepest.prefix.len()
    );
    for &op in &deepest.prefix[deepest.prefix.len() - shown..] {
        let _ = writeln!(report, "  #{} {}", ids[op].0, ops[op]);
    }
    let _ = writeln!(
        report,
        "leading to state {:?}, after which none of the ops that could come next is possible:",
        deepest.state
    );
    for (&op, reason) in candidates.iter().zip(&reasons) {
        let _ = write!(report, "  #{} {}: ", ids[op].0, ops[op]);
        let _ = match reason {
            Reason::Rejected => writeln!(report, "impossible from that state"),
            Reason::Dooms(other) => writeln!(report, "then #{} could never succeed", ids[*other].0),
            Reason::Explored => writeln!(report, "leads only to states already explored"),
        };
    }

    let mut doomed: Vec<OpId> = reasons
        .iter()
        .filter_map(|reason| match reason {
            Reason::Dooms(other) => Some(ids[*other]),
            Reason::Rejected | Reason::Explored => None,
        })
        .collect();
    doomed.sort_unstable();
    doomed.dedup();
    Violation {
        key,
        prefix: deepest.prefix.iter().map(|&op| ids[op]).collect(),
        blocked: ids[blocked],
        candidates: candidates.iter().map(|&op| ids[op]).collect(),
        doomed,
        report,
    }
}

/// Why a candidate could not be linearized next, for the report.
enum Reason {
    /// The model says its output is impossible from the state.
    Rejected,
    /// It is an unknown op, and after it this completed op could never succeed.
    Dooms(usize),
    /// Its successor state was explored before. The deepest point of the search cannot have such
    /// a candidate (that state would have been deeper still), but the report does not rely on it.
    Explored,
}

/// Replays, for the report, the search's judgement of `candidate` as the next op after the ops not
/// in `pending`, from `state`. The event list is back to its start by then, so the window of ops
/// due soon is worked out from node positions instead of walked.
fn why_not_next<M: Model>(
    model: &M,
    ops: &[&Op<M::Input, M::Output>],
    events: &EventList,
    pending: &[usize],
    state: &M::State,
    candidate: usize,
) -> Reason {
    let op = ops[candidate];
    let Some(next_state) = model.step(state, &op.input, op.output()) else {
        return Reason::Rejected;
    };
    if op.output().is_some() {
        return Reason::Explored;
    }
    let first_return = pending
        .iter()
        .filter(|&&other| other != candidate)
        .filter_map(|&other| events.return_node[other])
        .min()
        .unwrap_or(usize::MAX);
    let doomed = pending.iter().copied().find(|&other| {
        other != candidate
            && events.call_node[other] < first_return
            && ops[other].output().is_some_and(|output| {
                !model.may_succeed_later(&next_state, &ops[other].input, output)
            })
    });
    doomed.map_or(Reason::Explored, Reason::Dooms)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    Head,
    Call(usize),
    Return(usize),
    Tail,
}

/// The invoke and completion events of one key's ops in time order, as a doubly linked list from
/// which a linearized op's events are lifted and, on backing up, put back (dancing links: a lifted
/// node keeps its own links, so undoing lifts in reverse order restores the list exactly).
struct EventList {
    nodes: Vec<Node>,
    next: Vec<usize>,
    prev: Vec<usize>,
    /// Node indices grow with time, which the violation report relies on.
    call_node: Vec<usize>,
    return_node: Vec<Option<usize>>,
}

const HEAD: usize = 0;

impl EventList {
    fn new<I, O>(ops: &[&Op<I, O>]) -> EventList {
        // Sort key: tick, then invokes before completions, so that ops sharing a tick are
        // concurrent; then the op, for a deterministic order.
        let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * ops.len());
        for (op, entry) in ops.iter().enumerate() {
            events.push((entry.invoke_tick, false, op));
            if let Some(tick) = entry.complete_tick() {
                events.push((tick, true, op));
            }
        }
        events.sort_unstable();

        let mut nodes = vec![Node::Head];
        let mut call_node = vec![usize::MAX; ops.len()];
        let mut return_node = vec![None; ops.len()];
        for (_, is_return, op) in events {
            if is_return {
                return_node[op] = Some(nodes.len());
                nodes.push(Node::Return(op));
            } else {
                call_node[op] = nodes.len();
                nodes.push(Node::Call(op));
            }
        }
        nodes.push(Node::Tail);
        let count = nodes.len();
        EventList {
            nodes,
            next: (1..=count).collect(),
            prev: (0..count).map(|node| node.wrapping_sub(1)).collect(),
            call_node,
            return_node,
        }
    }

    fn first(&self) -> usize {
        self.next[HEAD]
    }

    fn next(&self, node: usize) -> usize {
        self.next[node]
    }

    fn node(&self, node: usize) -> Node {
        self.nodes[node]
    }

    /// The completed ops, other than `op`, invoked before the first completion in the list that
    /// is not `op`'s: the ops that must be linearized soonest after `op`.
    fn window_without(&self, op: usize) -> impl Iterator<Item = usize> {
        let mut node = self.first();
        std::iter::from_fn(move || {
            loop {
                match self.nodes[node] {
                    Node::Call(other) => {
                        node = self.next[node];
                        if other != op && self.return_node[other].is_some() {
                            return Some(other);
                        }
                    }
                    Node::Return(other) if other == op => node = self.next[node],
                    Node::Return(_) | Node::Head | Node::Tail => return None,
                }
            }
        })
    }

    fn lift(&mut self, op: usize) {
        self.unlink(self.call_node[op]);
        if let Some(node) = self.return_node[op] {
            self.unlink(node);
        }
    }

    fn unlift(&mut self, op: usize) {
        if let Some(node) = self.return_node[op] {
            self.relink(node);
        }
        self.relink(self.call_node[op]);
    }

    fn unlink(&mut self, node: usize) {
        assert!(node != HEAD);
        assert!(node != self.nodes.len() - 1);
        let (prev, next) = (self.prev[node], self.next[node]);
        self.next[prev] = next;
        self.prev[next] = prev;
    }

    fn relink(&mut self, node: usize) {
        let (prev, next) = (self.prev[node], self.next[node]);
        self.next[prev] = node;
        self.prev[next] = node;
    }
}

/// A set of a key's ops, by local index.
#[derive(Clone, PartialEq, Eq, Hash)]
struct OpSet(Box<[u64]>);

impl OpSet {
    fn new(len: usize) -> OpSet {
        OpSet(vec![0; len.div_ceil(64)].into_boxed_slice())
    }

    fn insert(&mut self, op: usize) {
        self.0[op / 64] |= 1 << (op % 64);
    }

    fn remove(&mut self, op: usize) {
        self.0[op / 64] &= !(1 << (op % 64));
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod cross_check;
