//! Damaged files on disk: named, set aside, and the rest still loads.

use std::fs;
use std::time::Duration;

use crate::common::TestEnv;

/// `status --json` once the journal has loaded. Status is answered while it
/// still loads, and the quarantine list is only known after: wait, bounded.
fn loaded_status(env: &TestEnv) -> serde_json::Value {
    let mut status = serde_json::Value::Null;
    env.wait_for(
        Duration::from_secs(15),
        "the journal to finish loading",
        || {
            status = serde_json::from_str(&env.ok(&["status", "--json"])).unwrap();
            status["loading"] == false
        },
    );
    status
}

/// The files of this partner's shared document (`p-…`) ending in `suffix`
/// (`.snap` or `.chunk`), oldest first: names carry one growing counter.
fn files(env: &TestEnv, suffix: &str) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = fs::read_dir(env.journal_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with("p-") && n.ends_with(suffix)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_truncated_chunk_is_quarantined_by_name() {
    let env = TestEnv::initialised();
    for i in 0..3 {
        env.ok(&["note", &format!("note {i}")]);
    }
    // Kill rather than stop: a clean stop would compact the chunks away.
    let pid = env.daemon_pid().unwrap();
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    env.wait_for(
        std::time::Duration::from_secs(10),
        "the daemon to die",
        || {
            rustix::process::test_kill_process(rustix::process::Pid::from_raw(pid).unwrap())
                .is_err()
        },
    );
    let chunks = files(&env, ".chunk");
    let last = chunks.last().unwrap();
    let len = fs::metadata(last).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(last)
        .unwrap()
        .set_len(len - 7)
        .unwrap();

    let status = loaded_status(&env);
    let q = status["quarantined"].as_array().unwrap();
    assert_eq!(q.len(), 1, "{status}");
    let name = last.file_name().unwrap().to_string_lossy().to_string();
    assert!(q[0].as_str().unwrap().contains(&name), "{q:?}");
    assert!(q[0].as_str().unwrap().contains("truncated"), "{q:?}");
    assert!(env.journal_dir().join("quarantine").join(&name).exists());
    let texts: Vec<String> = env
        .entries()
        .iter()
        .map(|e| e["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(texts, ["note 0", "note 1"], "the rest loads");
    assert!(env.ok(&["status"]).contains("quarantined"));
    // And the journal goes on working.
    env.ok(&["note", "after the damage"]);
    assert_eq!(env.entries().len(), 3);
}

#[test]
fn a_bit_flipped_snapshot_is_quarantined_and_the_daemon_still_starts() {
    let env = TestEnv::initialised();
    env.ok(&["note", "in the snapshot"]);
    env.ok(&["daemon", "stop"]); // compacts into one snapshot
    let snaps = files(&env, ".snap");
    assert_eq!(snaps.len(), 1);
    let mut bytes = fs::read(&snaps[0]).unwrap();
    let at = bytes.len() - 5;
    bytes[at] ^= 0x01;
    fs::write(&snaps[0], bytes).unwrap();
    let status = loaded_status(&env);
    let q = status["quarantined"].as_array().unwrap();
    assert_eq!(q.len(), 1, "{status}");
    assert!(q[0].as_str().unwrap().contains("does not decrypt"), "{q:?}");
    // Nothing is silently lost: the damaged file is kept for recovery.
    assert!(
        env.journal_dir()
            .join("quarantine")
            .read_dir()
            .unwrap()
            .count()
            == 1
    );
}

#[test]
fn a_new_journal_directory_opened_with_its_key_is_a_complete_automerge_document() {
    use automerge::ReadDoc;
    let env = TestEnv::initialised();
    env.ok(&["note", "hello"]);
    // Whoever has the key can load the directory with any Automerge
    // reader: open each sealed file and load the contents in name order.
    let key = hearth_store::KeyFile::read(&env.home().join("data"))
        .unwrap()
        .unwrap()
        .unlock(crate::common::PASSPHRASE)
        .unwrap()
        .file_key();
    let mut doc = automerge::Automerge::new();
    // A clean stop leaves each document one snapshot.
    env.ok(&["daemon", "stop"]);
    let mut names = files(&env, ".snap");
    names.extend(files(&env, ".chunk"));
    assert!(
        names[0]
            .file_name()
            .unwrap()
            .to_string_lossy()
            .ends_with(".snap"),
        "{names:?}"
    );
    for f in names {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let role = if name.ends_with(".snap") {
            hearth_store::seal::Role::Snapshot
        } else {
            hearth_store::seal::Role::Chunk
        };
        let bytes = fs::read(&f).unwrap();
        let plain = hearth_store::seal::open(&key, role, &format!("docs/{name}"), &bytes).unwrap();
        // Without the key it is noise to Automerge.
        assert!(automerge::Automerge::load(&bytes[hearth_store::seal::HEADER_LEN..]).is_err());
        doc.load_incremental(&plain).unwrap();
    }
    assert!(doc.get(automerge::ROOT, "hearth").unwrap().is_some());
    let (_, entries) = doc.get(automerge::ROOT, "entries").unwrap().unwrap();
    assert_eq!(doc.length(&entries), 1);
}

#[test]
fn a_truncated_snapshot_is_quarantined_by_name() {
    let env = TestEnv::initialised();
    env.ok(&["note", "in the snapshot"]);
    env.ok(&["daemon", "stop"]); // compacts into one snapshot
    let snaps = files(&env, ".snap");
    let len = fs::metadata(&snaps[0]).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&snaps[0])
        .unwrap()
        .set_len(len / 3)
        .unwrap();
    let status = loaded_status(&env);
    let q = status["quarantined"].as_array().unwrap();
    assert_eq!(q.len(), 1, "{status}");
    let name = snaps[0].file_name().unwrap().to_string_lossy().to_string();
    assert!(
        q[0].as_str().unwrap().contains(&name) && q[0].as_str().unwrap().contains("truncated"),
        "{q:?}"
    );
    // The daemon started and still takes writes.
    env.ok(&["note", "after"]);
}
