//! The tokio shell around the engine: listeners, connections, configuration, INFO, and the
//! `redraft` binary. The only crate that touches sockets, files, signals or the wall clock.

pub mod admin;
pub mod blocking;
pub mod busy_poll;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod conn;
#[cfg(target_os = "linux")]
pub mod fork;
pub mod info;
pub mod pubsub;
pub mod replica;
pub mod server;
pub mod stream;
pub mod tls;
