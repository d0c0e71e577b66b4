//! Seeded multi-peer simulations (`auroradb_net::sim`). Each seed draws its own scenario; a
//! failure prints its seed, and `AURORADB_SIM_SEED=<n>` replays exactly that one.
//!
//! `AURORADB_SIM_SEEDS=<n>` sets how many seeds run (default 64, a debug-build budget) and
//! `AURORADB_SIM_FROM=<n>` the first (default 0). The test command runs seeds 0 to 2999 and then
//! a fresh random range of 1,000, printed so a failure can be replayed; 10,000 seeds:
//!
//! ```text
//! AURORADB_SIM_SEEDS=10000 cargo test -p auroradb-net --release --test sim
//! ```

use auroradb_net::sim::{SimOutcome, run_seed};

fn env(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| v.parse().unwrap_or_else(|_| panic!("{name} must be a number")))
}

#[test]
fn peers_converge_whatever_the_seed() {
    let seeds: Vec<u64> = match env("AURORADB_SIM_SEED") {
        Some(one) => vec![one],
        None => {
            let from = env("AURORADB_SIM_FROM").unwrap_or(0);
            (from..from.saturating_add(env("AURORADB_SIM_SEEDS").unwrap_or(64))).collect()
        }
    };
    if let (Some(first), Some(last)) = (seeds.first(), seeds.last()) {
        eprintln!("seeds {first} to {last}");
    }
    let mut total = SimOutcome::default();
    let mut failures = Vec::new();
    for &seed in &seeds {
        match run_seed(seed) {
            Ok(o) => {
                total.ops += o.ops;
                total.frames += o.frames;
                total.bytes += o.bytes;
                total.dropped += o.dropped;
                total.rejected += o.rejected;
                total.sessions += o.sessions;
                total.restarts += o.restarts;
                total.forks += o.forks;
                total.frozen += o.frozen;
            }
            Err(f) => {
                eprintln!("{f}");
                failures.push(f.seed);
            }
        }
    }
    eprintln!("{} seeds: {total:?}", seeds.len());
    assert!(failures.is_empty(), "failing seeds: {failures:?}");
    assert!(total.sessions > 0 && total.ops > 0);
    assert!(seeds.len() < 100 || total.restarts > 0, "no peer restarted in {} seeds", seeds.len());
    assert!(seeds.len() < 100 || total.frozen > 0, "no fork was proven in {} seeds", seeds.len());
}

#[test]
fn a_seed_replays_exactly() {
    assert_eq!(run_seed(7), run_seed(7));
}
