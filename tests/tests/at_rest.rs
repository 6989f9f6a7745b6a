//! Nothing readable at rest: every file the daemon writes is sealed with
//! the journal's key, the key is locked by the passphrase, and a daemon
//! without it opens nothing (docs/SECURITY.md, "At rest").

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::{PASSPHRASE, TestEnv};

/// Words that appear nowhere but in what the test writes.
const MARKERS: &[&str] = &[
    "Quillonfar",     // my name
    "quell-device-9", // this device's name
    "zephyrmoth",     // a note
    "brinkwater",     // a high
    "lowtidecarp",    // a low
    "Mirabeltown",    // whom thanks go to
    "ochrekettle",    // what for
    "vantablue",      // a tag
];

pub(crate) fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(all_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Every marker found in any file under the data directory, with where.
pub(crate) fn markers_on_disk(env: &TestEnv) -> Vec<String> {
    let mut found = Vec::new();
    for path in all_files(&env.home().join("data")) {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let lower = bytes.to_ascii_lowercase();
        for m in MARKERS {
            let m = m.to_ascii_lowercase();
            if lower.windows(m.len()).any(|w| w == m.as_bytes()) {
                found.push(format!("{m} in {}", path.display()));
            }
        }
    }
    found
}

pub(crate) fn write_markers(env: &TestEnv) {
    env.ok(&["note", "zephyrmoth at dusk #vantablue"]);
    env.ok(&["highlow", "--high", "brinkwater", "--low", "lowtidecarp"]);
    env.ok(&["thanks", "--to", "Mirabeltown", "the ochrekettle"]);
}

#[test]
fn no_file_holds_a_word_after_writes_a_clean_stop_and_a_crash() {
    let env = TestEnv::new();
    env.ok(&["init", "--name", "Quillonfar", "--device", "quell-device-9"]);
    write_markers(&env);
    // They are in the journal, for whoever has the key.
    let log = env.ok(&["log"]);
    for m in ["zephyrmoth", "brinkwater", "Mirabeltown", "vantablue"] {
        assert!(log.contains(m), "{m} in {log}");
    }
    assert_eq!(markers_on_disk(&env), Vec::<String>::new(), "while running");

    env.ok(&["daemon", "stop"]); // compaction and the view cache
    assert_eq!(markers_on_disk(&env), Vec::<String>::new(), "after a stop");

    env.ok(&["note", "zephyrmoth again"]);
    let pid = env.daemon_pid().expect("running");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    env.wait_for(Duration::from_secs(10), "the daemon to die", || {
        rustix::process::test_kill_process(rustix::process::Pid::from_raw(pid).unwrap()).is_err()
    });
    assert_eq!(markers_on_disk(&env), Vec::<String>::new(), "after kill -9");
    // And everything is still there with the key.
    assert_eq!(env.entries().len(), 4);
    assert_eq!(
        markers_on_disk(&env),
        Vec::<String>::new(),
        "after a restart"
    );
}

#[test]
fn a_locked_daemon_opens_nothing_until_unlocked() {
    let env = TestEnv::initialised();
    env.ok(&["note", "before the lock"]);
    env.ok(&["daemon", "stop"]);
    let bare = [("HEARTH_PASSPHRASE", None)];
    // Started without the passphrase (say, at login), it waits locked.
    env.ok_with(&bare, &["daemon", "start"]);
    let status: serde_json::Value =
        serde_json::from_slice(&env.run_with(&bare, &["status", "--json"]).stdout).unwrap();
    assert_eq!(status["locked"], true, "{status}");
    assert!(status["me"].is_null(), "a locked daemon knows no names");

    for args in [&["log"][..], &["note", "while locked"]] {
        let out = env.run_with(&bare, args);
        assert_eq!(out.status.code(), Some(5), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("locked"), "{err}");
        assert!(err.contains("hearth unlock"), "{err}");
    }
    // Not on a terminal and no variable: told how, nothing sent.
    let out = env.run_with(&bare, &["unlock"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HEARTH_PASSPHRASE"));
    // A wrong passphrase is one line, and the daemon stays locked.
    let out = env.run_with(
        &[("HEARTH_PASSPHRASE", Some("not the passphrase"))],
        &["unlock"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error: wrong passphrase"), "{err}");
    assert_eq!(
        err.lines().filter(|l| l.contains("error:")).count(),
        1,
        "{err}"
    );
    let status: serde_json::Value =
        serde_json::from_slice(&env.run_with(&bare, &["status", "--json"]).stdout).unwrap();
    assert_eq!(status["locked"], true);

    // With the variable set, any command unlocks it first.
    let texts: Vec<String> = env
        .entries()
        .iter()
        .map(|e| e["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        texts,
        ["before the lock"],
        "nothing was written while locked"
    );
    let status: serde_json::Value =
        serde_json::from_slice(&env.run_with(&bare, &["status", "--json"]).stdout).unwrap();
    assert_eq!(status["locked"], false);
    assert_eq!(status["me"][1], "Ana");
}

#[test]
fn unlock_opens_a_locked_daemon() {
    let env = TestEnv::initialised();
    env.ok(&["daemon", "stop"]);
    let bare = [("HEARTH_PASSPHRASE", None)];
    env.ok_with(&bare, &["daemon", "start"]);
    let out = env.ok(&["unlock"]);
    assert!(out.contains("Unlocked"));
    env.ok_with(&bare, &["note", "after unlocking"]);
    // Unlocking an open daemon is not an error.
    env.ok(&["unlock"]);
}

#[test]
fn a_new_passphrase_opens_the_same_journal_and_the_old_one_does_not() {
    let env = TestEnv::initialised();
    env.ok(&["note", "kept across the change"]);
    env.ok(&["daemon", "stop"]);
    let journal_before = snapshot(&env.journal_dir());
    let new = "a longer and newer passphrase";
    env.ok_with(
        &[("HEARTH_NEW_PASSPHRASE", Some(new))],
        &["passphrase", "change"],
    );
    assert_eq!(
        snapshot(&env.journal_dir()),
        journal_before,
        "no journal file was rewritten"
    );
    // The old passphrase no longer opens it: one line, nothing started.
    let out = env.run(&["log"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("wrong passphrase"), "{err}");
    assert_eq!(
        err.lines().filter(|l| l.contains("error:")).count(),
        1,
        "{err}"
    );
    assert!(env.daemon_pid().is_none());
    // A wrong current passphrase changes nothing.
    let out = env.run_with(
        &[
            ("HEARTH_PASSPHRASE", Some("wrong but long enough")),
            ("HEARTH_NEW_PASSPHRASE", Some("yet another passphrase")),
        ],
        &["passphrase", "change"],
    );
    assert_eq!(out.status.code(), Some(1));
    let with_new = [("HEARTH_PASSPHRASE", Some(new))];
    let out = env.ok_with(&with_new, &["log"]);
    assert!(out.contains("kept across the change"));
}

/// Each file's name and bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v: Vec<_> = all_files(dir)
        .into_iter()
        .filter(|p| !p.ends_with("LOCK"))
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_new_journal_needs_a_passphrase_or_says_plainly_it_has_none() {
    let env = TestEnv::new();
    let bare = [("HEARTH_PASSPHRASE", None)];
    // No terminal to ask on, and no variable: refused, nothing made.
    let out = env.run_with(&bare, &["init", "--name", "Ana"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("HEARTH_PASSPHRASE") && err.contains("--no-passphrase"),
        "{err}"
    );
    assert!(!env.home().join("data/storage-key").exists());
    assert!(env.daemon_pid().is_none());
    // Too short: refused too.
    let out = env.run_with(
        &[("HEARTH_PASSPHRASE", Some("1234"))],
        &["init", "--name", "Ana"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(!env.home().join("data/storage-key").exists());

    // --no-passphrase: the key sits in the clear, and no passphrase is asked.
    env.ok_with(&bare, &["init", "--name", "Ana", "--no-passphrase"]);
    let key_file = std::fs::read_to_string(env.home().join("data/storage-key")).unwrap();
    assert!(key_file.contains("\"plain\""), "{key_file}");
    env.ok_with(&bare, &["note", "no passphrase here"]);
    let out = env.run_with(&bare, &["unlock"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("no passphrase"));
}

#[test]
fn a_passphrase_journal_keeps_no_key_in_the_clear() {
    let env = TestEnv::initialised();
    let key_file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.home().join("data/storage-key")).unwrap())
            .unwrap();
    assert_eq!(key_file["mode"], "passphrase");
    assert_eq!(key_file["kdf"]["alg"], "argon2id");
    assert_eq!(key_file["kdf"]["m_kib"], 65536);
    assert!(key_file.get("key").is_none());
    assert!(!PASSPHRASE.is_empty());
}

#[test]
fn a_journal_of_the_earlier_unencrypted_schema_is_refused_in_one_line() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.home().join("data/journal")).unwrap();
    std::fs::write(env.home().join("data/identity.json"), b"{}").unwrap();
    for args in [&["log"][..], &["init", "--name", "Ana"]] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("earlier hearth"), "{err}");
        assert_eq!(
            err.lines().filter(|l| l.contains("error:")).count(),
            1,
            "{err}"
        );
    }
    assert!(!env.home().join("data/storage-key").exists());
    assert!(env.daemon_pid().is_none());
}

/// Runs `args` on a pseudo-terminal that is the child's controlling
/// terminal (a passphrase is read from /dev/tty, as ssh and gpg read it),
/// answering each prompt in `answers` once it appears. Returns the status,
/// stderr, and what the terminal showed.
fn at_a_terminal(env: &TestEnv, args: &[&str], answers: &[(&str, &str)]) -> (bool, String, String) {
    use std::io::{Read, Write};
    use std::os::unix::process::CommandExt;
    use std::sync::{Arc, Mutex};
    let (mut master, slave) = crate::common::pty();
    let mut cmd = env.std_cmd();
    cmd.args(args)
        .env_remove("HEARTH_PASSPHRASE")
        .stdin(std::process::Stdio::from(slave))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    // SAFETY: setsid and the TIOCSCTTY ioctl are async-signal-safe calls.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::setsid()?;
            rustix::process::ioctl_tiocsctty(std::io::stdin())?;
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let shown = Arc::new(Mutex::new(String::new()));
    let mut reader = master.try_clone().unwrap();
    let sink = shown.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let mut seen = 0;
    for (prompt, answer) in answers {
        env.wait_for(Duration::from_secs(30), prompt, || {
            shown.lock().unwrap()[seen..].contains(prompt)
        });
        seen = shown.lock().unwrap().len();
        master.write_all(format!("{answer}\n").as_bytes()).unwrap();
    }
    let (status, stderr) = crate::common::finish(&mut child, Duration::from_secs(60));
    let shown = shown.lock().unwrap().clone();
    (status.success(), stderr, shown)
}

#[test]
fn init_on_a_terminal_asks_twice_without_echo_and_leaves_the_daemon_open() {
    let env = TestEnv::new();
    let typed = "typed at the terminal";
    let (ok, stderr, shown) = at_a_terminal(
        &env,
        &["init", "--name", "Ana"],
        &[("New passphrase: ", typed), ("The same again: ", typed)],
    );
    assert!(ok, "{stderr}");
    assert!(
        !shown.contains(typed),
        "the passphrase was echoed: {shown:?}"
    );
    assert!(stderr.contains("Choose a passphrase"), "{stderr}");
    // The daemon init started was handed the key: it is open, not locked,
    // though it never saw HEARTH_PASSPHRASE.
    let bare = [("HEARTH_PASSPHRASE", None)];
    env.ok_with(&bare, &["note", "written right after init"]);
    // And the passphrase typed is the journal's.
    env.ok(&["daemon", "stop"]);
    let out = env.run_with(&[("HEARTH_PASSPHRASE", Some(typed))], &["log"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("written right after init"));

    // Two passphrases that differ: refused, nothing made.
    let other = TestEnv::new();
    let (ok, stderr, _) = at_a_terminal(
        &other,
        &["init", "--name", "Ana"],
        &[
            ("New passphrase: ", "one passphrase here"),
            ("The same again: ", "another one there"),
        ],
    );
    assert!(!ok);
    assert!(stderr.contains("differ"), "{stderr}");
    assert!(!other.home().join("data/storage-key").exists());
}

/// A daemon the CLI starts is unlocked by the CLI with the derived key: the
/// passphrase never enters its environment, where it would sit readable in
/// /proc for as long as the daemon runs.
#[test]
fn a_daemon_the_cli_starts_never_holds_the_passphrase_in_its_environment() {
    let env = TestEnv::initialised();
    let said = env.ok(&["daemon", "restart"]);
    assert!(!said.contains("locked"), "{said}");
    let pid = env.daemon_pid().expect("the daemon runs");
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let vars: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
    assert!(
        vars.iter().any(|v| v.starts_with(b"HEARTH_HOME=")),
        "the check reads the daemon's environment"
    );
    assert!(!vars.iter().any(|v| v.starts_with(b"HEARTH_PASSPHRASE")));
    assert!(!contains(&environ, crate::common::PASSPHRASE.as_bytes()));
    // And `daemon restart` left it open, as it said: a status without the
    // variable, which cannot unlock anything, finds it so.
    let out = env.run_with(&[("HEARTH_PASSPHRASE", None)], &["status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["locked"], false, "{status}");
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
