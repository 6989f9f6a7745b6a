//! kill -9 at a random moment during a burst of concurrent writes: every
//! write the CLI saw acknowledged must be there after a restart.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::common::TestEnv;

#[test]
fn acknowledged_writes_survive_kill_dash_nine() {
    let env = Arc::new(TestEnv::initialised());
    // The kill moments vary per round but the test is repeatable.
    let mut rng = StdRng::seed_from_u64(20261125);
    let acked: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    // 5 rounds in CI; `HEARTH_LONG_ROUNDS=500` for the long run
    // (docs/RELIABILITY.md).
    let rounds = crate::common::long_run("HEARTH_LONG_ROUNDS", 5);
    for round in 0..rounds {
        env.ok(&["daemon", "start"]);
        let pid = env.daemon_pid().expect("daemon running");
        let mut writers = Vec::new();
        for w in 0..4 {
            let env = Arc::clone(&env);
            let acked = Arc::clone(&acked);
            writers.push(std::thread::spawn(move || {
                for i in 0..40 {
                    let text = format!("round {round} writer {w} entry {i}");
                    // connect_or_start would restart a killed daemon; a
                    // plain attempt that fails is simply unacknowledged.
                    let out = env.run(&["note", &text]);
                    if out.status.success() {
                        acked.lock().unwrap().insert(text);
                    }
                }
            }));
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(50..400)));
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(pid).unwrap(),
            rustix::process::Signal::KILL,
        )
        .unwrap();
        for w in writers {
            w.join().unwrap();
        }
        // Writers may have auto-started a fresh daemon after the kill; stop
        // it so the next round starts from a clean restart too.
        env.ok(&["daemon", "stop"]);
        let present: BTreeSet<String> = env
            .entries()
            .iter()
            .map(|e| e["text"].as_str().unwrap().to_string())
            .collect();
        let acked = acked.lock().unwrap();
        let missing: Vec<&String> = acked.difference(&present).collect();
        assert!(
            missing.is_empty(),
            "round {round}: acknowledged but lost: {missing:?}"
        );
        let status: serde_json::Value =
            serde_json::from_str(&env.ok(&["status", "--json"])).unwrap();
        assert!(
            status["quarantined"].as_array().unwrap().is_empty(),
            "{status}"
        );
        env.ok(&["daemon", "stop"]);
        // A long run reports as it goes, so a run cut short still counts.
        if rounds > 5 && (round + 1) % 25 == 0 {
            eprintln!(
                "kill -9 rounds done: {}, acknowledged so far: {}, lost: 0",
                round + 1,
                acked.len()
            );
        }
    }
    let acked = acked.lock().unwrap().len();
    assert!(acked > 20, "the test wrote something");
    // The figure docs/RELIABILITY.md records for the long run.
    eprintln!("kill -9 rounds: {rounds}, acknowledged entries: {acked}, lost: 0");
}
