//! Local safety (issue 9.7): another user on the same machine cannot plant a
//! socket, a directory or a link for hearth to write through. The cases that
//! need a second user run only as root (CI does) and say so elsewhere.

use std::os::unix::fs::{FileTypeExt, PermissionsExt, symlink};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::TestEnv;

/// The uid and gid of `nobody`, a user that is not us.
const OTHER: u32 = 65534;

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn chown(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).unwrap();
}

/// A failed call's single line of error, its exit code, and that stdout
/// stayed empty.
#[track_caller]
fn refused(env: &TestEnv, args: &[&str]) -> (String, i32) {
    let out = env.run(args);
    assert!(!out.status.success(), "{args:?} should have failed");
    assert!(out.stdout.is_empty(), "nothing printed on stdout");
    let err = String::from_utf8(out.stderr).unwrap();
    let first = err.lines().next().unwrap_or_default().to_string();
    (first, out.status.code().unwrap_or(-1))
}

#[test]
fn export_replaces_an_earlier_export_but_never_a_link_a_device_or_a_directory() {
    let env = TestEnv::initialised();
    env.ok(&["note", "the first snow"]);
    let out_dir = tempfile::tempdir().unwrap();

    // An earlier export at the path is replaced with --force.
    let earlier = out_dir.path().join("journal.json");
    std::fs::write(&earlier, "old").unwrap();
    env.ok(&["export", "-o", earlier.to_str().unwrap(), "--force"]);
    assert!(
        std::fs::read_to_string(&earlier)
            .unwrap()
            .contains("the first snow")
    );

    // A link to someone's file is not followed, not replaced.
    let victim = out_dir.path().join("victim");
    std::fs::write(&victim, "keep me").unwrap();
    let link = out_dir.path().join("link.json");
    symlink(&victim, &link).unwrap();
    let (line, code) = refused(&env, &["export", "-o", link.to_str().unwrap(), "--force"]);
    assert!(line.contains("is a symbolic link"), "{line}");
    assert_eq!(code, 1);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );

    // A pipe stands in for a device node: neither is a file to replace (and
    // a test must never risk the real /dev/null).
    let fifo = out_dir.path().join("pipe");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let (line, _) = refused(&env, &["export", "-o", fifo.to_str().unwrap(), "--force"]);
    assert!(line.contains("not a regular file"), "{line}");
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    let (line, _) = refused(
        &env,
        &["export", "-o", out_dir.path().to_str().unwrap(), "--force"],
    );
    assert!(line.contains("is a directory"), "{line}");
}

#[test]
fn a_data_or_runtime_dir_that_is_a_link_is_refused_and_nothing_is_written_through_it() {
    for which in ["data", "run"] {
        let env = TestEnv::new();
        let elsewhere = tempfile::tempdir().unwrap();
        symlink(elsewhere.path(), env.home().join(which)).unwrap();
        let (line, code) = refused(&env, &["init", "--name", "Ana"]);
        assert!(line.contains("symbolic link"), "{which}: {line}");
        assert_ne!(code, 0);
        let written: Vec<_> = std::fs::read_dir(elsewhere.path()).unwrap().collect();
        assert!(
            written.is_empty(),
            "{which}: wrote {written:?} through the link"
        );
    }
}

#[test]
fn a_data_dir_owned_by_another_user_is_refused() {
    if !is_root() {
        eprintln!("skipped: handing a directory to another user needs root");
        return;
    }
    let env = TestEnv::new();
    let data = env.home().join("data");
    std::fs::create_dir(&data).unwrap();
    chown(&data, OTHER);
    let (line, _) = refused(&env, &["init", "--name", "Ana"]);
    assert!(line.contains(&format!("belongs to uid {OTHER}")), "{line}");
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0);
}

#[test]
fn the_cli_talks_only_to_a_socket_that_is_mine_and_served_by_me() {
    if !is_root() {
        eprintln!("skipped: a socket served by another user needs root");
        return;
    }
    let env = TestEnv::new();
    // A home another user may write in, and a daemon running as that user.
    std::fs::set_permissions(env.home(), std::fs::Permissions::from_mode(0o777)).unwrap();
    use std::os::unix::process::CommandExt;
    // Their journal, made by them.
    for args in [
        &["init", "--name", "Them", "--no-passphrase"][..],
        &["daemon", "stop"],
    ] {
        let out = env
            .std_cmd()
            .args(args)
            .uid(OTHER)
            .gid(OTHER)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut theirs = env
        .std_cmd()
        .args(["daemon", "run"])
        .uid(OTHER)
        .gid(OTHER)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let sock = env.home().join("run").join("hearth.sock");
    let end = Instant::now() + Duration::from_secs(20);
    while !sock.exists() {
        assert!(
            Instant::now() < end,
            "the other user's daemon never made its socket"
        );
        assert!(
            theirs.try_wait().unwrap().is_none(),
            "the other user's daemon exited"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // Their socket file: refused by its owner.
    let (line, code) = refused(&env, &["status"]);
    assert!(line.contains("refusing the socket"), "{line}");
    assert!(line.contains(&format!("belongs to uid {OTHER}")), "{line}");
    assert_eq!(code, 3);

    // The file handed to me, but the listener still theirs: refused by
    // the listener's credentials.
    chown(&sock, 0);
    let (line, _) = refused(&env, &["note", "for my eyes only"]);
    assert!(line.contains(&format!("runs as uid {OTHER}")), "{line}");

    let _ = theirs.kill();
    let _ = theirs.wait();
}

#[test]
fn a_socket_that_is_a_link_is_refused_and_nothing_is_sent_through_it() {
    let env = TestEnv::initialised();
    env.ok(&["daemon", "stop"]);
    // Someone's listening socket elsewhere, linked where ours goes.
    let elsewhere = tempfile::tempdir().unwrap();
    let theirs = elsewhere.path().join("theirs.sock");
    let listener = std::os::unix::net::UnixListener::bind(&theirs).unwrap();
    listener.set_nonblocking(true).unwrap();
    std::os::unix::fs::symlink(&theirs, env.socket()).unwrap();

    let (line, code) = refused(&env, &["note", "for my eyes only"]);
    assert!(line.contains("refusing the socket"), "{line}");
    assert!(line.contains("symbolic link"), "{line}");
    assert_eq!(code, 3);
    assert!(
        listener.accept().is_err(),
        "nobody connected through the link"
    );
    assert!(env.daemon_pid().is_none(), "no daemon was started over it");
}
