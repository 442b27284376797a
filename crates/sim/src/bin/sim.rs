//! `sim`: runs seeded cluster simulations and checks them.
//!
//! ```text
//! cargo run --release -p sim --bin sim -- --seeds 0..1000 [--workload register|list-append|bank|all]
//!                                         [--seed N] [--duration-ms MS] [--no-faults]
//!                                         [--bug reads-without-barrier|follower-reads|split-transfers|
//!                                               ack-before-fsync|skip-dedup|unwatched-transfers]
//! ```
//! A failure prints its seed and the command that replays it, and the exit status is 1.

use std::collections::BTreeMap;
use std::time::Instant;

use sim::cluster::{Bug, Options, Workload, run};

fn parse_workloads(name: &str) -> Vec<Workload> {
    match name {
        "register" => vec![Workload::Register],
        "list-append" => vec![Workload::ListAppend],
        "bank" => vec![Workload::Bank],
        "all" => vec![Workload::Register, Workload::ListAppend, Workload::Bank],
        other => {
            eprintln!("sim: unknown workload {other} (register, list-append, bank, all)");
            std::process::exit(2);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut seeds = 0..10u64;
    let mut workloads = parse_workloads("all");
    let mut duration_ms = None;
    let mut faults = true;
    let mut bug = None;
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--seed" => {
                let seed: u64 = value.parse().expect("--seed N");
                seeds = seed..seed + 1;
                i += 1;
            }
            "--seeds" => {
                let (a, b) = value.split_once("..").expect("--seeds A..B");
                seeds = a.parse().expect("A")..b.parse().expect("B");
                i += 1;
            }
            "--workload" => {
                workloads = parse_workloads(&value);
                i += 1;
            }
            "--duration-ms" => {
                duration_ms = Some(value.parse().expect("--duration-ms MS"));
                i += 1;
            }
            "--no-faults" => faults = false,
            "--bug" => {
                bug = Some(match value.as_str() {
                    "reads-without-barrier" => Bug::ReadsWithoutBarrier,
                    "follower-reads" => Bug::FollowerReads,
                    "split-transfers" => Bug::SplitTransfers,
                    "ack-before-fsync" => Bug::AckBeforeFsync,
                    "skip-dedup" => Bug::SkipDedup,
                    "unwatched-transfers" => Bug::UnwatchedTransfers,
                    other => {
                        eprintln!("sim: unknown bug {other}");
                        std::process::exit(2);
                    }
                });
                i += 1;
            }
            other => {
                eprintln!("sim: unknown argument {other}");
                std::process::exit(2);
            }
        }
        i += 1;
    }
    let started = Instant::now();
    let mut runs = 0;
    let mut failures = 0;
    let mut simulated_ms = 0;
    let mut operations = 0;
    let mut all_faults: BTreeMap<&'static str, u32> = BTreeMap::new();
    let (mut conn_commands, mut forwarded) = (0u64, 0u64);
    for seed in seeds {
        for &workload in &workloads {
            let mut options = Options::new(seed, workload);
            options.faults = faults;
            options.bug = bug;
            if let Some(ms) = duration_ms {
                options.duration_ms = ms;
            }
            let report = run(&options);
            runs += 1;
            simulated_ms += report.simulated_ms;
            operations += report.operations;
            conn_commands += report.conn_commands;
            forwarded += report.forwarded;
            for (kind, n) in &report.faults {
                *all_faults.entry(kind).or_insert(0) += n;
            }
            if let Some(failure) = &report.failure {
                failures += 1;
                println!("FAIL seed {seed} {workload:?}: {failure}");
                println!("  replay: {}", report.replay_command(&options));
            } else {
                println!(
                    "ok   seed {seed} {workload:?}: {} ops ({} unknown), {} RESP commands ({} forwarded proposals), {} ms simulated, faults {:?}, trace {:016x}",
                    report.operations,
                    report.unknown_outcomes,
                    report.conn_commands,
                    report.forwarded,
                    report.simulated_ms,
                    report.faults,
                    report.trace_hash
                );
            }
        }
    }
    let wall = started.elapsed();
    println!(
        "{runs} runs, {failures} failed; {operations} operations, {conn_commands} RESP commands run by the nodes ({forwarded} proposals forwarded), {:.1} s simulated, faults {all_faults:?}; {:.2} s wall ({:.0} ms per run)",
        simulated_ms as f64 / 1000.0,
        wall.as_secs_f64(),
        wall.as_millis() as f64 / runs.max(1) as f64
    );
    if failures > 0 {
        std::process::exit(1);
    }
}
