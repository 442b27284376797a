//! Hand-made histories, each pinning one behaviour of the checker: anomalies a broken store shows
//! (stale reads, lost writes, phantom values, reordered or duplicated list elements) are
//! violations; concurrency and unknown outcomes allow exactly the orders they should.

use super::*;
use crate::history::{ListInput, ListOutput, RegisterInput, RegisterOutput, Value};

/// Builds a history of commands on string keys; ticks are `(invoke, completion)`.
#[derive(Default)]
struct Strings(RegisterHistory);

impl Strings {
    fn op(
        &mut self,
        process: u32,
        key: &str,
        (invoke_tick, complete_tick): (u64, u64),
        input: RegisterInput,
        output: RegisterOutput,
    ) -> OpId {
        let id = self.0.invoke(process, key.as_bytes(), invoke_tick, input);
        self.0.complete(id, complete_tick, output);
        id
    }

    fn set(&mut self, process: u32, ticks: (u64, u64), value: impl Into<Value>) -> OpId {
        let input = RegisterInput::Set(value.into());
        self.op(process, "k", ticks, input, RegisterOutput::Set)
    }

    fn get(&mut self, process: u32, ticks: (u64, u64), value: impl Into<Value>) -> OpId {
        let output = RegisterOutput::Get(Some(value.into()));
        self.op(process, "k", ticks, RegisterInput::Get, output)
    }

    fn get_missing(&mut self, process: u32, ticks: (u64, u64)) -> OpId {
        self.op(
            process,
            "k",
            ticks,
            RegisterInput::Get,
            RegisterOutput::Get(None),
        )
    }

    fn incr(&mut self, process: u32, ticks: (u64, u64), result: i64) -> OpId {
        self.op(
            process,
            "k",
            ticks,
            RegisterInput::Incr,
            RegisterOutput::Incr(result),
        )
    }

    fn del(&mut self, process: u32, ticks: (u64, u64), deleted: u64) -> OpId {
        self.op(
            process,
            "k",
            ticks,
            RegisterInput::Del,
            RegisterOutput::Del(deleted),
        )
    }

    fn set_unknown(&mut self, process: u32, invoke_tick: u64, value: impl Into<Value>) -> OpId {
        self.0
            .invoke(process, b"k", invoke_tick, RegisterInput::Set(value.into()))
    }

    fn incr_unknown(&mut self, process: u32, invoke_tick: u64) -> OpId {
        self.0
            .invoke(process, b"k", invoke_tick, RegisterInput::Incr)
    }

    fn verdict(&self) -> Verdict {
        check_register(&self.0)
    }
}

/// Builds a history of appends to and reads of list keys; ticks are `(invoke, completion)`.
#[derive(Default)]
struct Lists(ListHistory);

impl Lists {
    fn append(&mut self, process: u32, ticks: (u64, u64), element: i64, length: u64) -> OpId {
        let id = self
            .0
            .invoke(process, b"l", ticks.0, ListInput::Append(element.into()));
        self.0.complete(id, ticks.1, ListOutput::Append(length));
        id
    }

    fn append_unknown(&mut self, process: u32, invoke_tick: u64, element: i64) -> OpId {
        self.0.invoke(
            process,
            b"l",
            invoke_tick,
            ListInput::Append(element.into()),
        )
    }

    fn read(&mut self, process: u32, ticks: (u64, u64), list: &[i64]) -> OpId {
        let id = self.0.invoke(process, b"l", ticks.0, ListInput::Read);
        let list = list.iter().map(|&element| Value::from(element)).collect();
        self.0.complete(id, ticks.1, ListOutput::Read(list));
        id
    }

    fn verdict(&self) -> Verdict {
        check_list_append(&self.0)
    }
}

#[track_caller]
fn assert_linearizable(verdict: Verdict) {
    assert_eq!(verdict, Verdict::Linearizable, "{verdict}");
}

#[track_caller]
fn assert_violation(verdict: Verdict, blocked: OpId) -> Violation {
    match verdict {
        Verdict::Violation(violation) => {
            assert_eq!(violation.blocked, blocked, "{violation}");
            assert!(violation.candidates.contains(&blocked), "{violation}");
            assert!(!violation.prefix.contains(&blocked), "{violation}");
            violation
        }
        verdict => panic!("expected a violation blocked at {blocked:?}, got {verdict}"),
    }
}

#[test]
fn an_empty_history_is_linearizable() {
    assert_linearizable(Strings::default().verdict());
    assert_linearizable(Lists::default().verdict());
}

#[test]
fn sequential_commands_that_agree_are_linearizable() {
    let mut h = Strings::default();
    h.get_missing(0, (0, 1));
    h.set(0, (2, 3), 1);
    h.get(1, (4, 5), 1);
    h.incr(0, (6, 7), 2);
    h.get(1, (8, 9), "2");
    h.del(0, (10, 11), 1);
    h.get_missing(1, (12, 13));
    h.del(0, (14, 15), 0);
    h.incr(1, (16, 17), 1);
    assert_linearizable(h.verdict());
}

#[test]
fn a_stale_read_after_an_acknowledged_write_is_a_violation() {
    let mut h = Strings::default();
    let set_1 = h.set(0, (0, 1), 1);
    let set_2 = h.set(0, (2, 3), 2);
    let stale = h.get(1, (4, 5), 1);
    let violation = assert_violation(h.verdict(), stale);
    assert_eq!(violation.key, b"k");
    assert_eq!(violation.prefix, [set_1, set_2]);
    assert_eq!(violation.candidates, [stale]);
}

#[test]
fn a_lost_acknowledged_write_is_a_violation() {
    let mut h = Strings::default();
    h.set(0, (0, 1), 1);
    let lost = h.get_missing(1, (2, 3));
    assert_violation(h.verdict(), lost);
}

#[test]
fn a_lost_acknowledged_increment_is_a_violation() {
    let mut h = Strings::default();
    h.incr(0, (0, 1), 1);
    h.incr(1, (2, 3), 2);
    let lost = h.get(2, (4, 5), 1);
    assert_violation(h.verdict(), lost);
}

#[test]
fn two_increments_that_return_the_same_value_are_a_violation() {
    let mut h = Strings::default();
    h.incr(0, (0, 3), 1);
    let second = h.incr(1, (1, 4), 1);
    assert_violation(h.verdict(), second);
}

#[test]
fn a_read_of_a_value_never_written_is_a_violation() {
    let mut h = Strings::default();
    let set = h.set(0, (0, 5), 1);
    let phantom = h.get(1, (1, 3), 7);
    let violation = assert_violation(h.verdict(), phantom);
    assert_eq!(violation.prefix, [set], "{violation}");
}

#[test]
fn a_read_concurrent_with_a_write_may_see_either_value() {
    let mut before = Strings::default();
    before.set(0, (0, 10), 1);
    before.get_missing(1, (2, 3));
    assert_linearizable(before.verdict());

    let mut after = Strings::default();
    after.set(0, (0, 10), 1);
    after.get(1, (2, 3), 1);
    assert_linearizable(after.verdict());
}

#[test]
fn a_write_seen_once_cannot_be_unseen() {
    let mut h = Strings::default();
    h.set(0, (0, 10), 1);
    h.get(1, (2, 3), 1);
    let unseen = h.get_missing(1, (4, 5));
    assert_violation(h.verdict(), unseen);
}

#[test]
fn concurrent_writes_may_land_in_either_order_but_only_one() {
    for last in [1, 2] {
        let mut h = Strings::default();
        h.set(0, (0, 5), 1);
        h.set(1, (1, 6), 2);
        h.get(2, (7, 8), last);
        h.get(2, (9, 10), last);
        assert_linearizable(h.verdict());
    }
    let mut both = Strings::default();
    both.set(0, (0, 5), 1);
    both.set(1, (1, 6), 2);
    both.get(2, (7, 8), 1);
    let flip = both.get(2, (9, 10), 2);
    assert_violation(both.verdict(), flip);
}

#[test]
fn ops_that_share_a_tick_are_concurrent() {
    let mut shared = Strings::default();
    shared.set(0, (0, 5), 1);
    shared.get_missing(1, (5, 6));
    assert_linearizable(shared.verdict());

    let mut after = Strings::default();
    after.set(0, (0, 5), 1);
    let late = after.get_missing(1, (6, 7));
    assert_violation(after.verdict(), late);
}

#[test]
fn an_unknown_write_may_take_effect_late_or_never() {
    let mut never = Strings::default();
    never.set_unknown(0, 0, 1);
    never.get_missing(1, (2, 3));
    never.get_missing(1, (40, 41));
    assert_linearizable(never.verdict());

    let mut late = Strings::default();
    late.set_unknown(0, 0, 1);
    late.get_missing(1, (2, 3));
    late.get(1, (40, 41), 1);
    assert_linearizable(late.verdict());
}

#[test]
fn an_unknown_write_once_seen_cannot_be_unseen() {
    let mut h = Strings::default();
    h.set_unknown(0, 0, 1);
    h.get(1, (2, 3), 1);
    let unseen = h.get_missing(1, (4, 5));
    assert_violation(h.verdict(), unseen);
}

#[test]
fn an_unknown_write_cannot_take_effect_before_it_was_sent() {
    let mut h = Strings::default();
    let early = h.get(1, (0, 1), 1);
    h.set_unknown(0, 2, 1);
    assert_violation(h.verdict(), early);
}

#[test]
fn an_unknown_increment_counts_if_and_only_if_seen() {
    for seen in [5, 6] {
        let mut h = Strings::default();
        h.set(0, (0, 1), 5);
        h.incr_unknown(0, 2);
        h.get(1, (3, 4), seen);
        assert_linearizable(h.verdict());
    }
    let mut twice = Strings::default();
    twice.set(0, (0, 1), 5);
    twice.incr_unknown(0, 2);
    let too_many = twice.get(1, (3, 4), 7);
    assert_violation(twice.verdict(), too_many);
}

#[test]
fn a_read_after_increment_sees_a_decimal_string() {
    let mut h = Strings::default();
    h.incr(0, (0, 1), 1);
    h.get(1, (2, 3), "1");
    h.set(0, (4, 5), "41");
    h.incr(1, (6, 7), 42);
    assert_linearizable(h.verdict());
}

#[test]
fn an_increment_of_a_non_integer_cannot_succeed() {
    for value in ["x", "01", "9223372036854775807"] {
        let mut h = Strings::default();
        h.set(0, (0, 1), value);
        let incr = h.incr(1, (2, 3), 1);
        assert_violation(h.verdict(), incr);
    }
}

#[test]
fn an_unknown_increment_of_a_non_integer_changes_nothing() {
    let mut h = Strings::default();
    h.set(0, (0, 1), "x");
    h.incr_unknown(1, 2);
    h.get(0, (3, 4), "x");
    assert_linearizable(h.verdict());
}

#[test]
fn del_counts_the_key_only_if_present() {
    let mut h = Strings::default();
    h.set(0, (0, 1), 1);
    let del = h.del(1, (2, 3), 0);
    assert_violation(h.verdict(), del);
}

#[test]
fn an_output_of_another_commands_kind_is_a_violation() {
    let mut h = Strings::default();
    let get = h.op(0, "k", (0, 1), RegisterInput::Get, RegisterOutput::Incr(1));
    assert_violation(h.verdict(), get);
}

#[test]
fn keys_are_checked_alone_and_the_violating_key_is_named() {
    let mut h = Strings::default();
    // Across keys nothing is ordered: "a" set before "b" is read says nothing about "b".
    h.op(
        0,
        "a",
        (0, 1),
        RegisterInput::Set(1.into()),
        RegisterOutput::Set,
    );
    h.op(
        1,
        "b",
        (2, 3),
        RegisterInput::Get,
        RegisterOutput::Get(None),
    );
    h.op(
        1,
        "a",
        (4, 5),
        RegisterInput::Get,
        RegisterOutput::Get(Some(1.into())),
    );
    assert_linearizable(h.verdict());

    h.op(
        0,
        "c",
        (6, 7),
        RegisterInput::Set(1.into()),
        RegisterOutput::Set,
    );
    let stale = h.op(
        1,
        "c",
        (8, 9),
        RegisterInput::Get,
        RegisterOutput::Get(None),
    );
    let violation = assert_violation(h.verdict(), stale);
    assert_eq!(violation.key, b"c");
    let report = violation.to_string();
    assert!(
        report.starts_with("key \"c\" is not linearizable: op #4"),
        "{report}"
    );
    assert!(
        report.contains("#3 p0 \"c\" [6, 7] Set(1) -> Set"),
        "{report}"
    );
    assert!(report.contains("leading to state Some(1)"), "{report}");
    assert!(
        report.contains("#4 p1 \"c\" [8, 9] Get -> Get(None)"),
        "{report}"
    );
}

/// Eight writes all concurrent, then a read: finding that the read's value was written last takes
/// more than a handful of states.
fn concurrent_writes_then_a_read(h: &mut Strings) {
    for value in 0..8 {
        h.set(value as u32, (0, 10), value);
    }
    h.get(8, (11, 12), 0);
}

#[test]
fn the_search_gives_up_past_its_limit() {
    let mut h = Strings::default();
    concurrent_writes_then_a_read(&mut h);
    let limits = Limits {
        explored_states_max: 4,
    };
    assert_eq!(
        check(&Register, &h.0, limits),
        Verdict::Unknown(Exhausted {
            key: b"k".to_vec(),
            explored_states: 5,
        })
    );
    assert_linearizable(h.verdict());
}

#[test]
fn a_violation_on_another_key_is_reported_even_when_a_key_runs_out() {
    let mut h = Strings::default();
    concurrent_writes_then_a_read(&mut h);
    h.op(
        0,
        "z",
        (0, 1),
        RegisterInput::Set(1.into()),
        RegisterOutput::Set,
    );
    let stale = h.op(
        1,
        "z",
        (2, 3),
        RegisterInput::Get,
        RegisterOutput::Get(None),
    );
    let limits = Limits {
        explored_states_max: 4,
    };
    assert_violation(check(&Register, &h.0, limits), stale);
}

#[test]
fn unknown_reads_are_left_out_of_the_search() {
    let mut h = Strings::default();
    h.set(0, (0, 1), 1);
    for process in 1..50 {
        h.0.invoke(process, b"k", 0, RegisterInput::Get);
    }
    // One state per write is all the search needs; 49 optional reads would need far more.
    let limits = Limits {
        explored_states_max: 1,
    };
    assert_linearizable(check(&Register, &h.0, limits));
}

#[test]
fn appends_and_reads_in_order_are_linearizable() {
    let mut h = Lists::default();
    h.read(0, (0, 1), &[]);
    h.append(0, (2, 3), 1, 1);
    h.read(1, (4, 5), &[1]);
    h.append(1, (6, 7), 2, 2);
    h.read(0, (8, 9), &[1, 2]);
    assert_linearizable(h.verdict());
}

#[test]
fn a_read_that_skips_an_acknowledged_append_is_a_violation() {
    for read in [&[1][..], &[2]] {
        let mut h = Lists::default();
        h.append(0, (0, 1), 1, 1);
        h.append(0, (2, 3), 2, 2);
        let skips = h.read(1, (4, 5), read);
        assert_violation(h.verdict(), skips);
    }
}

#[test]
fn a_read_that_reorders_appends_is_a_violation() {
    let mut h = Lists::default();
    h.append(0, (0, 1), 1, 1);
    h.append(0, (2, 3), 2, 2);
    let reordered = h.read(1, (4, 5), &[2, 1]);
    assert_violation(h.verdict(), reordered);
}

#[test]
fn a_read_with_a_duplicate_element_is_a_violation() {
    let mut h = Lists::default();
    h.append(0, (0, 1), 1, 1);
    let duplicate = h.read(1, (2, 3), &[1, 1]);
    assert_violation(h.verdict(), duplicate);
}

#[test]
fn a_read_of_an_element_never_appended_is_a_violation() {
    let mut h = Lists::default();
    h.append(0, (0, 1), 1, 1);
    let phantom = h.read(1, (2, 3), &[1, 9]);
    assert_violation(h.verdict(), phantom);
}

#[test]
fn an_append_must_return_the_new_length() {
    let mut h = Lists::default();
    h.append(0, (0, 1), 1, 1);
    let wrong = h.append(0, (2, 3), 2, 3);
    assert_violation(h.verdict(), wrong);
}

#[test]
fn concurrent_appends_may_land_in_either_order_that_their_lengths_allow() {
    let mut one_first = Lists::default();
    one_first.append(0, (0, 5), 1, 1);
    one_first.append(1, (1, 6), 2, 2);
    one_first.read(2, (7, 8), &[1, 2]);
    assert_linearizable(one_first.verdict());

    let mut two_first = Lists::default();
    two_first.append(0, (0, 5), 1, 2);
    two_first.append(1, (1, 6), 2, 1);
    two_first.read(2, (7, 8), &[2, 1]);
    assert_linearizable(two_first.verdict());

    let mut contradicts = Lists::default();
    contradicts.append(0, (0, 5), 1, 1);
    contradicts.append(1, (1, 6), 2, 2);
    let read = contradicts.read(2, (7, 8), &[2, 1]);
    assert_violation(contradicts.verdict(), read);
}

#[test]
fn an_unknown_append_may_appear_late_or_never() {
    for read in [&[1][..], &[1, 3]] {
        let mut h = Lists::default();
        h.append_unknown(0, 0, 3);
        h.append(1, (2, 3), 1, 1);
        h.read(1, (4, 5), read);
        assert_linearizable(h.verdict());
    }
}

#[test]
fn an_unknown_append_cannot_appear_where_lengths_rule_it_out() {
    let mut h = Lists::default();
    h.append_unknown(0, 0, 3);
    // The append of 1 made the list one long, so 3 came after it.
    h.append(1, (2, 3), 1, 1);
    let read = h.read(1, (4, 5), &[3, 1]);
    assert_violation(h.verdict(), read);
}

#[test]
fn unknown_writes_are_not_guessed_at_where_none_is_needed() {
    let mut h = Strings::default();
    h.set(0, (0, 1), 1);
    for process in 1..=10 {
        h.set_unknown(process, 2, 100 + i64::from(process));
    }
    h.get(0, (3, 4), 1);
    h.get(0, (5, 6), 1);
    // Applying any of the unknown writes before the reads dooms the branch; trying them first
    // would explore every subset of them before finding the three steps that work.
    let limits = Limits {
        explored_states_max: 3,
    };
    assert_linearizable(check(&Register, &h.0, limits));
}

/// Eight appends pending with unknown outcomes, then two acknowledged appends and a read.
fn pending_unknown_appends_then_a_read(read: &[i64]) -> (Lists, OpId) {
    let mut h = Lists::default();
    for process in 0..8 {
        h.append_unknown(process, 0, 100 + i64::from(process));
    }
    h.append(8, (1, 2), 1, 1);
    h.append(8, (3, 4), 2, 2);
    let read = h.read(8, (5, 6), read);
    (h, read)
}

#[test]
fn pending_unknown_appends_are_not_tried_in_every_order() {
    // The one order that works applies 103 last. Every other order of unknown appends is cut as
    // soon as the list stops being a prefix of what was read.
    let limits = Limits {
        explored_states_max: 64,
    };
    let (h, _) = pending_unknown_appends_then_a_read(&[1, 2, 103]);
    assert_linearizable(check(&ListAppend, &h.0, limits));

    let (h, read) = pending_unknown_appends_then_a_read(&[1, 103, 2]);
    let violation = assert_violation(check(&ListAppend, &h.0, limits), read);
    assert_eq!(violation.doomed, [read], "{violation}");
    let report = violation.to_string();
    assert!(
        report.contains("Append(103) -> ?: then #10 could never succeed"),
        "{report}"
    );
    assert!(
        report.contains("Read([1, 103, 2]): impossible from that state"),
        "{report}"
    );
}
