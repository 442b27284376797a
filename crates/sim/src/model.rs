//! Sequential specifications: what one key would do if its commands ran one at a time. The
//! linearizability checker asks a `Model` whether an operation, applied to a state, could have
//! returned what its client saw.
//!
//! The specifications are written from the Redis documentation of each command, for keys that hold
//! only the type the model is about (no `WRONGTYPE`), with no expiry.

use std::fmt::Debug;
use std::hash::Hash;

use crate::history::{ListInput, ListOutput, RegisterInput, RegisterOutput, Value};

/// The sequential specification of one key.
pub trait Model {
    type Input: Debug;
    type Output: Debug;
    /// The key's contents. The checker caches states it has explored, hence `Eq + Hash`.
    type State: Clone + Eq + Hash + Debug;

    /// The state of a key that was never written.
    fn init(&self) -> Self::State;

    /// Applies `input` to `state`. Returns the next state, or `None` when `output` could not have
    /// been returned from `state`. `output` is `None` for an operation whose outcome is unknown, and
    /// then any result is possible, so the step must succeed (a command that would have failed has
    /// no effect).
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Option<Self::State>;

    /// Whether some sequence of steps from `state` could reach a state from which the completed
    /// operation `input` returns `output`. The checker abandons a branch of its search where an
    /// operation that must still be linearized soon cannot be, so `false` must be certain;
    /// `true` is always sound, and is the default.
    fn may_succeed_later(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: &Self::Output,
    ) -> bool {
        let _ = (state, input, output);
        true
    }

    /// Whether `input` never changes the state. The checker drops such operations when their
    /// outcome is unknown: they neither constrain nor affect anything.
    fn is_read_only(&self, input: &Self::Input) -> bool;
}

/// A Redis string key under `GET`, `SET`, `INCR` and `DEL`. The state is the value, `None` for a
/// missing key.
#[derive(Clone, Copy, Debug, Default)]
pub struct Register;

impl Model for Register {
    type Input = RegisterInput;
    type Output = RegisterOutput;
    type State = Option<Value>;

    fn init(&self) -> Option<Value> {
        None
    }

    fn step(
        &self,
        state: &Option<Value>,
        input: &RegisterInput,
        output: Option<&RegisterOutput>,
    ) -> Option<Option<Value>> {
        match (input, output) {
            (RegisterInput::Get, None) => Some(state.clone()),
            (RegisterInput::Get, Some(RegisterOutput::Get(read))) => {
                (read == state).then(|| state.clone())
            }
            (RegisterInput::Set(value), None | Some(RegisterOutput::Set)) => {
                Some(Some(value.clone()))
            }
            (RegisterInput::Incr, output) => incr(state, output),
            (RegisterInput::Del, None) => Some(None),
            (RegisterInput::Del, Some(RegisterOutput::Del(deleted))) => {
                (*deleted == u64::from(state.is_some())).then_some(None)
            }
            (_, Some(_)) => None,
        }
    }

    fn is_read_only(&self, input: &RegisterInput) -> bool {
        matches!(input, RegisterInput::Get)
    }
}

/// `INCR` reads a missing key as 0, and fails, changing nothing, on a value that is not an integer
/// or on overflow.
fn incr(state: &Option<Value>, output: Option<&RegisterOutput>) -> Option<Option<Value>> {
    let current = match state {
        None => Some(0),
        Some(value) => value.as_int(),
    };
    let Some(next) = current.and_then(|int| int.checked_add(1)) else {
        // An error reply is never recorded as a completion (see `history`), so only an operation
        // with an unknown outcome can have failed here.
        return output.is_none().then(|| state.clone());
    };
    match output {
        None => Some(Some(Value::from(next))),
        Some(RegisterOutput::Incr(returned)) if *returned == next => Some(Some(Value::from(next))),
        Some(_) => None,
    }
}

/// A list key under `RPUSH key element` and `LRANGE key 0 -1`. The state is the list, empty for a
/// missing key.
#[derive(Clone, Copy, Debug, Default)]
pub struct ListAppend;

impl Model for ListAppend {
    type Input = ListInput;
    type Output = ListOutput;
    type State = Vec<Value>;

    fn init(&self) -> Vec<Value> {
        Vec::new()
    }

    fn step(
        &self,
        state: &Vec<Value>,
        input: &ListInput,
        output: Option<&ListOutput>,
    ) -> Option<Vec<Value>> {
        match (input, output) {
            (ListInput::Append(element), None | Some(ListOutput::Append(_))) => {
                let length = state.len() as u64 + 1;
                if let Some(ListOutput::Append(returned)) = output
                    && *returned != length
                {
                    return None;
                }
                let mut next = state.clone();
                next.push(element.clone());
                Some(next)
            }
            (ListInput::Read, None) => Some(state.clone()),
            (ListInput::Read, Some(ListOutput::Read(read))) => {
                (read == state).then(|| state.clone())
            }
            (_, Some(_)) => None,
        }
    }

    /// A list only grows, so an append that returned a length the list has reached, or a read
    /// of a list the state is not a prefix of, will never be possible. This is what keeps the
    /// search from trying every order of the unknown appends pending at once.
    fn may_succeed_later(
        &self,
        state: &Vec<Value>,
        input: &ListInput,
        output: &ListOutput,
    ) -> bool {
        match (input, output) {
            (ListInput::Append(_), ListOutput::Append(length)) => (state.len() as u64) < *length,
            (ListInput::Read, ListOutput::Read(read)) => read.starts_with(state),
            (_, _) => false,
        }
    }

    fn is_read_only(&self, input: &ListInput) -> bool {
        matches!(input, ListInput::Read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(value: impl Into<Value>) -> Value {
        value.into()
    }

    #[test]
    fn register_get_sees_the_value_and_nothing_else() {
        let state = Some(v("a"));
        let read_a = RegisterOutput::Get(Some(v("a")));
        let read_b = RegisterOutput::Get(Some(v("b")));
        let read_none = RegisterOutput::Get(None);
        assert_eq!(
            Register.step(&state, &RegisterInput::Get, Some(&read_a)),
            Some(state.clone())
        );
        assert_eq!(
            Register.step(&state, &RegisterInput::Get, Some(&read_b)),
            None
        );
        assert_eq!(
            Register.step(&state, &RegisterInput::Get, Some(&read_none)),
            None
        );
        assert_eq!(
            Register.step(&None, &RegisterInput::Get, Some(&read_none)),
            Some(None)
        );
    }

    #[test]
    fn register_incr_counts_from_zero_and_writes_a_decimal_string() {
        let incr = RegisterInput::Incr;
        assert_eq!(
            Register.step(&None, &incr, Some(&RegisterOutput::Incr(1))),
            Some(Some(v(1)))
        );
        assert_eq!(
            Register.step(&None, &incr, Some(&RegisterOutput::Incr(2))),
            None
        );
        let after = Register.step(&Some(v("41")), &incr, Some(&RegisterOutput::Incr(42)));
        assert_eq!(after, Some(Some(v("42"))));
    }

    #[test]
    fn register_incr_that_would_fail_cannot_have_returned() {
        let incr = RegisterInput::Incr;
        for value in [v("x"), v("07"), v(i64::MAX)] {
            let state = Some(value);
            assert_eq!(
                Register.step(&state, &incr, Some(&RegisterOutput::Incr(1))),
                None
            );
            // With the outcome unknown it may have run, and failed, changing nothing.
            assert_eq!(Register.step(&state, &incr, None), Some(state.clone()));
        }
    }

    #[test]
    fn register_del_counts_what_it_deleted() {
        let del = RegisterInput::Del;
        assert_eq!(
            Register.step(&Some(v(1)), &del, Some(&RegisterOutput::Del(1))),
            Some(None)
        );
        assert_eq!(
            Register.step(&Some(v(1)), &del, Some(&RegisterOutput::Del(0))),
            None
        );
        assert_eq!(
            Register.step(&None, &del, Some(&RegisterOutput::Del(0))),
            Some(None)
        );
        assert_eq!(
            Register.step(&None, &del, Some(&RegisterOutput::Del(1))),
            None
        );
    }

    #[test]
    fn register_output_of_another_command_is_impossible() {
        let set = RegisterInput::Set(v(1));
        assert_eq!(
            Register.step(&None, &set, Some(&RegisterOutput::Set)),
            Some(Some(v(1)))
        );
        assert_eq!(
            Register.step(&None, &set, Some(&RegisterOutput::Del(0))),
            None
        );
        assert_eq!(
            Register.step(&None, &RegisterInput::Get, Some(&RegisterOutput::Set)),
            None
        );
    }

    #[test]
    fn list_append_returns_the_new_length() {
        let append = ListInput::Append(v(7));
        let state = vec![v(5)];
        let after = ListAppend.step(&state, &append, Some(&ListOutput::Append(2)));
        assert_eq!(after, Some(vec![v(5), v(7)]));
        assert_eq!(
            ListAppend.step(&state, &append, Some(&ListOutput::Append(1))),
            None
        );
        assert_eq!(
            ListAppend.step(&state, &append, None),
            Some(vec![v(5), v(7)])
        );
    }

    #[test]
    fn list_observations_ruled_out_for_good_once_the_list_grows_past_them() {
        let state = vec![v(1), v(2)];
        let append = ListInput::Append(v(9));
        let later = |input: &ListInput, output: ListOutput| {
            ListAppend.may_succeed_later(&state, input, &output)
        };
        assert!(later(&append, ListOutput::Append(3)));
        assert!(later(&append, ListOutput::Append(5)));
        assert!(!later(&append, ListOutput::Append(2)));
        assert!(later(&ListInput::Read, ListOutput::Read(vec![v(1), v(2)])));
        assert!(later(
            &ListInput::Read,
            ListOutput::Read(vec![v(1), v(2), v(7)])
        ));
        assert!(!later(&ListInput::Read, ListOutput::Read(vec![v(1)])));
        assert!(!later(
            &ListInput::Read,
            ListOutput::Read(vec![v(2), v(1), v(7)])
        ));
        assert!(!later(&ListInput::Read, ListOutput::Append(3)));
    }

    #[test]
    fn list_read_sees_the_whole_list_in_order() {
        let state = vec![v(1), v(2)];
        let read = |list: Vec<Value>| {
            ListAppend.step(&state, &ListInput::Read, Some(&ListOutput::Read(list)))
        };
        assert_eq!(read(vec![v(1), v(2)]), Some(state.clone()));
        assert_eq!(read(vec![v(2), v(1)]), None);
        assert_eq!(read(vec![v(1)]), None);
        assert_eq!(read(vec![v(1), v(2), v(2)]), None);
    }
}
