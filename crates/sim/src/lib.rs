//! Deterministic simulation of whole clusters, and the checkers that judge its histories.
//!
//! Map of the crate:
//! - `history`: what clients saw, operation by operation, with unknown outcomes for timeouts.
//! - `model`: the sequential specifications a key's operations are judged against (a Redis
//!   string register, a list that is appended to and read whole).
//! - `linearizability`: the per-key Wing–Gong–Lowe checker, `check_register` and
//!   `check_list_append`.
//! - `cluster`: the simulator: real nodes (replication and the apply path) in one process under a
//!   paused tokio clock, a seeded network and nemesis, seeded clients; `cluster::run` returns a
//!   report with the faults injected, a trace hash and what the checkers found.
//! - `wire`: RESP clients' connections into the server's real connection code, over in-memory
//!   pipes that stall and partition with the simulated network.
//! - `disk`: the simulated disk (fsync latency, power cuts that tear unsynced tails, a full disk).
//!
//! The checkers are pure: no I/O, no clock, no randomness.

pub mod cluster;
pub mod disk;
pub mod history;
pub mod linearizability;
pub mod model;
pub mod wire;

pub use history::{
    History, Key, ListHistory, ListInput, ListOutput, Op, OpId, Outcome, ProcessId,
    RegisterHistory, RegisterInput, RegisterOutput, Value,
};
pub use linearizability::{
    Exhausted, Limits, Verdict, Violation, check, check_list_append, check_register,
};
pub use model::{ListAppend, Model, Register};
