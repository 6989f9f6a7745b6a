//! The daemon's lifecycle, its socket and its files.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use hearth_ipc::frame::{read_sync, write_sync};
use hearth_ipc::{Envelope, ErrorKind, PROTOCOL_VERSION, Request, Response};

use crate::common::TestEnv;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn start_status_stop_restart() {
    // A home with no journal starts no daemon: there is nothing to open.
    let fresh = TestEnv::new();
    let err = fresh.fails(&["daemon", "start"], 1);
    assert!(err.contains("run `hearth init`"), "{err}");
    assert!(fresh.daemon_pid().is_none());

    let env = TestEnv::initialised();
    env.ok(&["daemon", "stop"]);
    let err = env.fails(&["daemon", "status"], 3);
    assert!(err.contains("not running"), "{err}");
    assert!(env.ok(&["daemon", "start"]).contains("started"));
    assert!(env.ok(&["daemon", "start"]).contains("already running"));
    let pid1 = env.daemon_pid().unwrap();
    assert!(env.ok(&["daemon", "status"]).contains(&pid1.to_string()));
    assert!(env.ok(&["daemon", "restart"]).contains("restarted"));
    let pid2 = env.daemon_pid().unwrap();
    assert_ne!(pid1, pid2);
    assert!(env.ok(&["daemon", "stop"]).contains("stopped"));
    assert!(!env.socket().exists());
    assert!(env.ok(&["daemon", "stop"]).contains("not running"));
}

#[test]
fn the_cli_starts_the_daemon_when_needed() {
    let env = TestEnv::new();
    assert!(!env.socket().exists());
    env.ok(&["init", "--name", "Ana"]);
    assert!(env.socket().exists());
    env.ok(&["note", "hello"]);
    assert_eq!(env.entries().len(), 1);
}

#[test]
fn files_and_socket_are_owner_only() {
    let env = TestEnv::initialised();
    env.ok(&["note", "private"]);
    assert_eq!(mode(&env.home().join("run")), 0o700);
    assert_eq!(mode(&env.socket()), 0o600);
    assert_eq!(mode(&env.home().join("data")), 0o700);
    assert_eq!(mode(&env.journal_dir()), 0o700);
    assert_eq!(mode(&env.home().join("data/identity")), 0o600);
    for f in std::fs::read_dir(env.journal_dir()).unwrap() {
        let p = f.unwrap().path();
        if p.is_file() {
            assert_eq!(mode(&p), 0o600, "{}", p.display());
        }
    }
}

#[test]
fn sigterm_stops_cleanly_and_keeps_everything() {
    let env = TestEnv::initialised();
    env.ok(&["note", "before the signal"]);
    let pid = env.daemon_pid().unwrap();
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    env.wait_for(Duration::from_secs(20), "the daemon to exit", || {
        !env.socket().exists()
    });
    env.wait_for(Duration::from_secs(20), "the pid to go", || {
        rustix::process::test_kill_process(rustix::process::Pid::from_raw(pid).unwrap()).is_err()
    });
    // A clean stop compacts: each document is one snapshot.
    let names: Vec<String> = std::fs::read_dir(env.journal_dir())
        .unwrap()
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n.ends_with(".snap")), "{names:?}");
    assert!(!names.iter().any(|n| n.ends_with(".chunk")), "{names:?}");
    assert_eq!(env.entries().len(), 1);
}

#[test]
fn a_stale_socket_and_pidfile_do_not_block_a_start() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.home().join("run")).unwrap();
    std::fs::write(env.socket(), b"").unwrap();
    std::fs::write(env.home().join("run/hearth.pid"), b"999999\n").unwrap();
    env.ok(&["init", "--name", "Ana"]);
    assert_ne!(env.daemon_pid(), Some(999999));
}

#[test]
fn a_second_daemon_refuses_to_run() {
    let env = TestEnv::initialised();
    assert!(env.ok(&["daemon", "start"]).contains("already running"));
    let err = env.fails(&["daemon", "run"], 3);
    assert!(err.contains("already running"), "{err}");
}

fn raw(env: &TestEnv) -> UnixStream {
    let s = UnixStream::connect(env.socket()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

#[test]
fn wrong_protocol_and_garbage_get_answers_not_crashes() {
    let env = TestEnv::initialised();
    let mut s = raw(&env);
    write_sync(
        &mut s,
        &Envelope {
            protocol: PROTOCOL_VERSION + 98,
            request: Request::Status,
        },
    )
    .unwrap();
    match read_sync::<Response>(&mut s, 1 << 20).unwrap() {
        Response::Error(e) => {
            assert_eq!(e.kind, ErrorKind::Incompatible);
            assert!(e.message.contains("hearth daemon restart"), "{}", e.message);
        }
        r => panic!("{r:?}"),
    }
    // Not JSON at all: an error reply, and the connection still works.
    let junk = b"{not json";
    s.write_all(&(junk.len() as u32).to_be_bytes()).unwrap();
    s.write_all(junk).unwrap();
    assert!(
        matches!(read_sync::<Response>(&mut s, 1 << 20).unwrap(), Response::Error(e) if e.kind == ErrorKind::BadRequest)
    );
    // A request for an impossible op.
    let bad = br#"{"protocol":1,"request":{"op":"format-disk"}}"#;
    s.write_all(&(bad.len() as u32).to_be_bytes()).unwrap();
    s.write_all(bad).unwrap();
    assert!(matches!(
        read_sync::<Response>(&mut s, 1 << 20).unwrap(),
        Response::Error(_)
    ));
    write_sync(
        &mut s,
        &Envelope {
            protocol: PROTOCOL_VERSION,
            request: Request::Status,
        },
    )
    .unwrap();
    assert!(matches!(
        read_sync::<Response>(&mut s, 1 << 20).unwrap(),
        Response::Status(_)
    ));

    // An oversized frame is refused and that connection dropped.
    let mut s2 = raw(&env);
    s2.write_all(&u32::MAX.to_be_bytes()).unwrap();
    assert!(matches!(
        read_sync::<Response>(&mut s2, 1 << 20).unwrap(),
        Response::Error(_)
    ));
    let mut rest = Vec::new();
    assert_eq!(s2.read_to_end(&mut rest).unwrap_or(0), 0, "closed");

    // A client that connects and goes silent does not block others.
    let _idle = raw(&env);
    env.ok(&["note", "still serving"]);
    assert_eq!(env.entries().len(), 1);
}

#[test]
fn logs_never_contain_entry_text() {
    let env = TestEnv::initialised();
    let secret = "our-very-private-sentence-42";
    env.ok(&["note", secret]);
    env.ok(&["checkin", "--mood", "3", secret]);
    env.ok(&["log", "--contains", secret]);
    env.ok(&["daemon", "stop"]);
    let mut logs = String::new();
    for f in std::fs::read_dir(env.home().join("data/logs")).unwrap() {
        logs.push_str(&std::fs::read_to_string(f.unwrap().path()).unwrap());
    }
    assert!(
        logs.contains("hearth daemon starting"),
        "debug logging was on: {logs}"
    );
    assert!(!logs.contains(secret));
}

#[test]
fn a_daemon_of_another_version_can_still_be_stopped() {
    let env = TestEnv::initialised();
    let mut s = raw(&env);
    let stop = br#"{"protocol":999,"request":{"op":"shutdown"}}"#;
    s.write_all(&(stop.len() as u32).to_be_bytes()).unwrap();
    s.write_all(stop).unwrap();
    assert!(matches!(
        read_sync::<Response>(&mut s, 1 << 20).unwrap(),
        Response::Ok
    ));
    env.wait_for(Duration::from_secs(20), "the daemon to stop", || {
        !env.socket().exists()
    });
}
