//! Faults from the machine: a daemon killed under readers and writers, a
//! read-only home, a full disk. The disk tests mount a small tmpfs, which
//! needs root; elsewhere they say so and skip.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::common::TestEnv;

/// A tmpfs mounted over a test's home, unmounted after its daemon stops.
struct Tmpfs<'a> {
    env: &'a TestEnv,
}

impl<'a> Tmpfs<'a> {
    /// Mounts a tmpfs with `options` over the home, or explains why not.
    fn mount(env: &'a TestEnv, options: &str) -> Option<Tmpfs<'a>> {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: mounting a tmpfs needs root");
            return None;
        }
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(env.home())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: could not mount a tmpfs here");
            return None;
        }
        Some(Tmpfs { env })
    }

    /// Remounts with `options`. A daemon that just stopped may hold a file
    /// open for writing a moment longer, so a read-only remount can be
    /// refused at first: try again, for a bounded time.
    fn remount(&self, options: &str) {
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            let status = std::process::Command::new("mount")
                .args(["-o", &format!("remount,{options}")])
                .arg(self.env.home())
                .status()
                .unwrap();
            if status.success() {
                return;
            }
            assert!(Instant::now() < end, "remount {options} kept failing");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmpfs<'_> {
    fn drop(&mut self) {
        let _ = self.env.run(&["daemon", "stop"]);
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.env.home())
            .status();
    }
}

/// kill -9 while readers and writers run. Every read succeeds, against
/// whichever daemon answers; a write cut off by the crash says exactly
/// that, never "connection reset"; and every acknowledged write is there.
#[test]
fn reads_survive_a_crash_and_cut_off_writes_say_so() {
    let env = Arc::new(TestEnv::initialised());
    let mut rng = StdRng::seed_from_u64(20261201);
    let acked: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    for round in 0..3 {
        env.ok(&["daemon", "start"]);
        let pid = env.daemon_pid().expect("daemon running");
        let mut workers = Vec::new();
        for w in 0..2 {
            let (env, acked, failures) = (env.clone(), acked.clone(), failures.clone());
            workers.push(std::thread::spawn(move || {
                for i in 0..25 {
                    let text = format!("round {round} writer {w} entry {i}");
                    let out = env.run(&["note", &text]);
                    if out.status.success() {
                        acked.lock().unwrap().insert(text);
                    } else {
                        let err = String::from_utf8_lossy(&out.stderr).to_string();
                        failures.lock().unwrap().push(err);
                    }
                }
            }));
        }
        for _ in 0..2 {
            let env = env.clone();
            workers.push(std::thread::spawn(move || {
                for _ in 0..25 {
                    let out = env.run(&["log", "--json", "-n", "5"]);
                    let stdout = String::from_utf8_lossy(&out.stdout);
                    assert!(
                        out.status.success(),
                        "a read failed across the crash: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                    for line in stdout.lines() {
                        let e: serde_json::Value = serde_json::from_str(line).unwrap();
                        assert!(e["id"].is_string(), "{line}");
                    }
                }
            }));
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(50..300)));
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(pid).unwrap(),
            rustix::process::Signal::KILL,
        )
        .unwrap();
        for w in workers {
            w.join().unwrap();
        }
        env.ok(&["daemon", "stop"]);
        let present: BTreeSet<String> = env
            .entries()
            .iter()
            .map(|e| e["text"].as_str().unwrap().to_string())
            .collect();
        let lost: Vec<_> = acked
            .lock()
            .unwrap()
            .difference(&present)
            .cloned()
            .collect();
        assert!(
            lost.is_empty(),
            "round {round}: acknowledged but lost: {lost:?}"
        );
    }
    for err in failures.lock().unwrap().iter() {
        assert!(
            err.contains("may or may not be saved") && !err.contains("reset by peer"),
            "a write failed without saying what happened: {err}"
        );
        assert_eq!(err.lines().count(), 2, "one error line and a hint: {err}");
    }
    assert!(acked.lock().unwrap().len() > 20, "the test wrote something");
}

/// A read-only view of another directory: a bind mount remounted
/// read-only, which open files elsewhere cannot hold up.
struct ReadOnlyView {
    dir: tempfile::TempDir,
}

impl ReadOnlyView {
    fn of(source: &std::path::Path) -> Option<ReadOnlyView> {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: a read-only bind mount needs root");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let mount = |args: &[&str]| {
            std::process::Command::new("mount")
                .args(args)
                .status()
                .is_ok_and(|s| s.success())
        };
        let target = dir.path().to_str().unwrap().to_string();
        if !mount(&["--bind", source.to_str().unwrap(), &target]) {
            eprintln!("skipped: could not bind-mount here");
            return None;
        }
        let view = ReadOnlyView { dir };
        if !mount(&["-o", "remount,ro,bind", &target]) {
            eprintln!("skipped: could not make the bind mount read-only");
            return None;
        }
        Some(view)
    }
}

impl Drop for ReadOnlyView {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// A daemon killed a moment before `daemon stop` can still take its
/// connection, and the kernel then resets it: the daemon is gone, which is
/// what was asked, so `stop` says so and succeeds. Here a socket that
/// takes connections and drops them at once, with no daemon holding the
/// pidfile, stands for that moment.
#[test]
fn stopping_a_daemon_that_dies_before_answering_counts_as_stopped() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    let run = env.home().join("run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
    let listener = std::os::unix::net::UnixListener::bind(env.socket()).unwrap();
    let dying = std::thread::spawn(move || {
        // Read the request, then go away without a word.
        let (mut conn, _) = listener.accept().unwrap();
        let mut len = [0u8; 4];
        let _ = std::io::Read::read_exact(&mut conn, &mut len);
    });
    let started = Instant::now();
    let out = env.ok(&["daemon", "stop"]);
    assert!(out.contains("stopped"), "{out}");
    assert!(started.elapsed() < Duration::from_secs(5));
    dying.join().unwrap();
}

#[test]
fn a_read_only_home_is_a_quick_one_line_error() {
    let env = TestEnv::initialised();
    env.ok(&["note", "written before the home went read-only"]);
    env.ok(&["daemon", "stop"]);
    let Some(ro) = ReadOnlyView::of(env.home()) else {
        return;
    };
    // A read needs a daemon, and none can start: the user hears why, fast.
    let started = Instant::now();
    let out = env
        .cmd()
        .env("HEARTH_HOME", ro.dir.path())
        .arg("log")
        .output()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("Read-only file system"), "{err}");
    assert!(err.starts_with("hearth: error:"), "{err}");
    assert_eq!(
        err.lines()
            .filter(|l| l.starts_with("hearth: error:"))
            .count(),
        1,
        "{err}"
    );
}

#[test]
fn a_full_disk_refuses_writes_keeps_what_was_acknowledged_and_recovers() {
    let env = TestEnv::new();
    let Some(disk) = Tmpfs::mount(&env, "size=600k") else {
        return;
    };
    env.ok(&["init", "--name", "Ana"]);
    // A small tmpfs holds some dozens of chunk files.
    let filler = "x".repeat(200);
    let mut acked = 0;
    let err = loop {
        let out = env.run(&["note", &format!("{acked} {filler}")]);
        if !out.status.success() {
            assert_eq!(out.status.code(), Some(4), "exit 4 when storage fails");
            break String::from_utf8_lossy(&out.stderr).to_string();
        }
        acked += 1;
        assert!(acked < 2_000, "the disk never filled");
    };
    assert!(
        err.contains("not saved") && err.contains("No space left"),
        "{err}"
    );
    // Reads still answer while the disk is full.
    assert_eq!(env.entries().len(), acked);
    // Once there is room again, writing works without a restart.
    disk.remount("size=8m");
    env.ok(&["note", "after the disk grew"]);
    env.ok(&["daemon", "stop"]);
    let texts = env.texts();
    assert_eq!(texts.len(), acked + 1, "nothing acknowledged was lost");
    assert!(texts.contains("after the disk grew"));
}
