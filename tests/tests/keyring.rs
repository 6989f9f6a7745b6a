//! The storage key in the OS keyring (`hearth init --keyring`), against a
//! Secret Service of the tests' own on a private bus: the journal opens
//! with no passphrase, no file holds the key, and a keyring that does not
//! answer, or has lost the item, leaves the daemon locked and saying why
//! (docs/SECURITY.md, "At rest").

use std::path::Path;
use std::time::Duration;

use crate::at_rest::{all_files, markers_on_disk, write_markers};
use crate::common::TestEnv;
use crate::common::secret_service::FakeKeyring;

const BUS_VAR: &str = "DBUS_SESSION_BUS_ADDRESS";

/// Every call reaches the bus at `address` and has no passphrase at hand.
fn on_bus(address: &str) -> [(&str, Option<&str>); 2] {
    [(BUS_VAR, Some(address)), ("HEARTH_PASSPHRASE", None)]
}

fn key_file(env: &TestEnv) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(env.home().join("data/storage-key")).unwrap()).unwrap()
}

/// A journal of "Quillonfar" whose key went into `keyring`; returns the
/// key file's account.
fn init_in(keyring: &FakeKeyring, env: &TestEnv) -> String {
    let address = keyring.address();
    env.ok_with(
        &on_bus(&address),
        &[
            "init",
            "--keyring",
            "--name",
            "Quillonfar",
            "--device",
            "quell-device-9",
        ],
    );
    key_file(env)["account"].as_str().unwrap().to_string()
}

fn error_lines(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| l.contains("error:"))
        .map(str::to_string)
        .collect()
}

fn status(env: &TestEnv, address: &str) -> serde_json::Value {
    let out = env.ok_with(&on_bus(address), &["status", "--json"]);
    serde_json::from_str(&out).unwrap()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Files under `dir` holding `key`, raw or as hex.
fn files_holding(dir: &Path, key: &[u8]) -> Vec<String> {
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    all_files(dir)
        .into_iter()
        .filter(|p| {
            let bytes = std::fs::read(p).unwrap_or_default();
            contains(&bytes, key) || contains(&bytes.to_ascii_lowercase(), hex.as_bytes())
        })
        .map(|p| p.display().to_string())
        .collect()
}

#[test]
fn a_keyring_journal_opens_without_a_passphrase_and_no_file_holds_its_key() {
    let keyring = FakeKeyring::start();
    let address = keyring.address();
    let bus = on_bus(&address);
    let env = TestEnv::new();
    let account = init_in(&keyring, &env);

    let file = key_file(&env);
    assert_eq!(file["mode"], "keyring", "{file}");
    assert_eq!(file["service"], "hearth");
    assert_eq!(account.len(), 32, "a random id: {account}");
    assert_eq!(
        file.as_object().unwrap().len(),
        3,
        "nothing but where: {file}"
    );
    let items = keyring.items_with(&[("service", "hearth"), ("account", &account)]);
    assert_eq!(items.len(), 1, "{items:?}");
    let key = items[0].secret.clone();
    assert_eq!(key.len(), 32);

    write_markers(&env);
    env.ok_with(&bus, &["daemon", "stop"]);
    // A new daemon reads the key from the keyring: no passphrase anywhere.
    let log = env.ok_with(&bus, &["log"]);
    for m in ["zephyrmoth", "brinkwater", "Mirabeltown", "vantablue"] {
        assert!(log.contains(m), "{m} in {log}");
    }
    assert_eq!(status(&env, &address)["locked"], false);
    assert_eq!(markers_on_disk(&env), Vec::<String>::new());
    // Neither the key nor its hex is in any file: data, logs, run.
    assert_eq!(files_holding(env.home(), &key), Vec::<String>::new());

    // There is no passphrase to change: one line, nothing changed.
    let before = std::fs::read(env.home().join("data/storage-key")).unwrap();
    let out = env.run_with(
        &[
            bus[0],
            bus[1],
            ("HEARTH_NEW_PASSPHRASE", Some("a new and long passphrase")),
        ],
        &["passphrase", "change"],
    );
    assert_eq!(out.status.code(), Some(1));
    let errors = error_lines(&out.stderr);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("OS keyring"), "{errors:?}");
    assert_eq!(
        std::fs::read(env.home().join("data/storage-key")).unwrap(),
        before
    );
    // Unlocking an open keyring journal is not an error.
    env.ok_with(&bus, &["unlock"]);

    // A second journal on the same machine gets an item of its own.
    let other = TestEnv::new();
    let second = init_in(&keyring, &other);
    assert_ne!(second, account);
    assert_eq!(keyring.items_with(&[("service", "hearth")]).len(), 2);
}

#[test]
fn init_with_the_keyring_writes_nothing_when_no_keyring_answers() {
    let nowhere = tempfile::tempdir().unwrap();
    let no_bus = format!("unix:path={}", nowhere.path().join("bus").display());
    // A session bus with no Secret Service on it, as on many servers.
    let bus_only = FakeKeyring::bus_only();
    for address in [no_bus, bus_only.address()] {
        let env = TestEnv::new();
        let out = env.run_with(&on_bus(&address), &["init", "--keyring", "--name", "Ana"]);
        assert_eq!(out.status.code(), Some(1), "{address}");
        let errors = error_lines(&out.stderr);
        assert_eq!(errors.len(), 1, "{address}: {errors:?}");
        assert!(
            errors[0].contains("no OS keyring answers") && errors[0].contains("nothing written"),
            "{errors:?}"
        );
        assert!(!env.home().join("data/storage-key").exists());
        assert!(env.daemon_pid().is_none());
    }
}

#[test]
fn a_daemon_whose_keyring_is_gone_waits_locked_and_opens_when_it_is_back() {
    let mut keyring = FakeKeyring::start();
    let address = keyring.address();
    let bus = on_bus(&address);
    let env = TestEnv::new();
    init_in(&keyring, &env);
    env.ok_with(&bus, &["note", "before the keyring went away"]);
    env.ok_with(&bus, &["daemon", "stop"]);

    keyring.stop();
    let said = env.ok_with(&bus, &["daemon", "start"]);
    assert!(said.contains("locked: no OS keyring answers"), "{said}");
    let s = status(&env, &address);
    assert_eq!(s["locked"], true, "{s}");
    let reason = s["locked_reason"].as_str().unwrap();
    assert!(reason.contains("no OS keyring answers"), "{reason}");
    assert!(!reason.contains('\n'));
    let shown = env.ok_with(&bus, &["status"]);
    assert_eq!(shown.lines().count(), 1, "{shown}");
    assert!(shown.contains("locked: no OS keyring answers"), "{shown}");

    for args in [&["log"][..], &["note", "while locked"], &["unlock"]] {
        let out = env.run_with(&bus, args);
        assert_eq!(out.status.code(), Some(5), "{args:?}");
        let errors = error_lines(&out.stderr);
        assert_eq!(errors.len(), 1, "{args:?}: {errors:?}");
        assert!(errors[0].contains("no OS keyring answers"), "{errors:?}");
        assert!(errors[0].contains("hearth unlock"), "{errors:?}");
    }

    // The keyring is back, at the address the daemon knows.
    keyring.restart();
    let out = env.ok_with(&bus, &["unlock"]);
    assert!(out.contains("Unlocked"), "{out}");
    assert_eq!(status(&env, &address)["locked"], false);
    let texts: Vec<String> = env
        .entries()
        .iter()
        .map(|e| e["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        texts,
        ["before the keyring went away"],
        "nothing was written while locked"
    );
}

#[test]
fn a_daemon_whose_keyring_item_is_gone_waits_locked() {
    let keyring = FakeKeyring::start();
    let address = keyring.address();
    let bus = on_bus(&address);
    let env = TestEnv::new();
    let account = init_in(&keyring, &env);
    env.ok_with(&bus, &["daemon", "stop"]);

    keyring.store.lock().unwrap().items.clear();
    env.ok_with(&bus, &["daemon", "start"]);
    let s = status(&env, &address);
    assert_eq!(s["locked"], true, "{s}");
    let reason = s["locked_reason"].as_str().unwrap();
    assert!(
        reason.contains("holds no key for this journal") && reason.contains(&account),
        "{reason}"
    );
    let out = env.run_with(&bus, &["note", "while locked"]);
    assert_eq!(out.status.code(), Some(5));
    let errors = error_lines(&out.stderr);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("holds no key"), "{errors:?}");
    // Still running, still locked: waiting, not crashed.
    assert!(env.daemon_pid().is_some());
    assert_eq!(status(&env, &address)["locked"], true);
}

#[test]
fn a_keyring_secret_that_is_not_a_key_is_one_line_and_opens_nothing() {
    let keyring = FakeKeyring::start();
    let address = keyring.address();
    let bus = on_bus(&address);
    let env = TestEnv::new();
    init_in(&keyring, &env);
    env.ok_with(&bus, &["note", "kept"]);
    env.ok_with(&bus, &["daemon", "stop"]);

    for item in &mut keyring.store.lock().unwrap().items {
        item.secret = vec![7; 16];
    }
    let out = env.run_with(&bus, &["log"]);
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("kept"));
    let errors = error_lines(&out.stderr);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("16 bytes, not a 32-byte storage key"),
        "{errors:?}"
    );
    env.wait_for(Duration::from_secs(10), "no daemon", || {
        env.daemon_pid().is_none()
    });
}

#[test]
fn a_keyring_that_hangs_leaves_the_daemon_locked_not_stuck() {
    let keyring = FakeKeyring::start();
    let address = keyring.address();
    let bus = on_bus(&address);
    let env = TestEnv::new();
    init_in(&keyring, &env);
    env.ok_with(&bus, &["note", "before the keyring hung"]);
    env.ok_with(&bus, &["daemon", "stop"]);

    keyring.hang(true);
    let said = env.ok_with(&bus, &["daemon", "start"]);
    assert!(
        said.contains("locked: the OS keyring did not answer within 10 seconds"),
        "{said}"
    );
    keyring.hang(false);
    let out = env.ok_with(&bus, &["unlock"]);
    assert!(out.contains("Unlocked"), "{out}");
    let log = env.ok_with(&bus, &["log"]);
    assert!(log.contains("before the keyring hung"), "{log}");
}
