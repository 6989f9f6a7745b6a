//! A hermetic environment for running the real `hearth` binary: its own
//! home, a pinned clock and seed, no colour, a scripted editor, and a daemon
//! that is always stopped when the test ends.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use assert_cmd::Command;

pub mod netns;
pub mod proxy;
#[cfg(target_os = "linux")]
pub mod secret_service;

/// The default pinned time: a Wednesday evening in UTC+1.
pub const NOW: &str = "2026-11-25T21:30:00+01:00";
/// Upper bound for any one CLI call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// The `hearth` binary under test: this crate's copy of it, which cargo
/// builds with the tests (see tests/Cargo.toml).
/// The passphrase of every test journal.
pub const PASSPHRASE: &str = "correct horse battery staple";

pub fn hearth_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_hearth-under-test"))
}

/// How many rounds or cases a test runs: `default` in CI, or what the
/// variable `name` says, for the long runs that docs/RELIABILITY.md records.
pub fn long_run(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub now: String,
    /// Each environment draws its own ids: two devices with one seed and
    /// one pinned clock would mint the same entry ids.
    pub seed: u64,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let dir = tempfile::Builder::new()
            .prefix("hearth-test-")
            .tempdir()
            .unwrap();
        static NEXT_SEED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        TestEnv {
            dir,
            now: NOW.to_string(),
            seed: NEXT_SEED.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// A set-up journal for "Ana".
    pub fn initialised() -> TestEnv {
        TestEnv::named("Ana", "laptop")
    }

    pub fn named(name: &str, device: &str) -> TestEnv {
        let env = TestEnv::new();
        env.ok(&["init", "--name", name, "--device", device]);
        env
    }

    /// This device's id.
    pub fn device_id(&self) -> String {
        let s: serde_json::Value = serde_json::from_str(&self.ok(&["status", "--json"])).unwrap();
        s["device"].as_str().unwrap().to_string()
    }

    /// The document heads, for comparing replicas.
    pub fn heads(&self) -> Vec<String> {
        let s: serde_json::Value = serde_json::from_str(&self.ok(&["status", "--json"])).unwrap();
        s["heads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap().to_string())
            .collect()
    }

    pub fn texts(&self) -> std::collections::BTreeSet<String> {
        self.entries()
            .iter()
            .filter_map(|e| e["text"].as_str().map(str::to_string))
            .collect()
    }

    /// Starts `hearth pair invite` in the background and returns the
    /// process and the ticket it printed.
    pub fn invite(&self) -> (std::process::Child, String, std::thread::JoinHandle<String>) {
        use std::io::{BufRead, BufReader};
        use std::os::unix::process::CommandExt;
        let mut cmd = self.std_cmd();
        cmd.args(["pair", "invite", "--yes"]);
        // Ctrl-C must reach it as it would at a terminal, even when this test
        // runs under a shell that started it in the background (which ignores
        // SIGINT for its children, and the ignoring is inherited).
        // SAFETY: signal() is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                Ok(())
            });
        }
        let mut child = cmd
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ticket = loop {
            let line = lines.next().expect("invite printed a ticket").unwrap();
            if let Some(t) = line.split_whitespace().find(|w| w.starts_with("hearth1")) {
                break t.to_string();
            }
        };
        // Keep draining stdout so the process never blocks on a full pipe.
        let rest =
            std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>().join("\n"));
        (child, ticket, rest)
    }

    /// Pairs `self` (inviting) with `other` (joining); returns the safety
    /// number both printed.
    #[track_caller]
    pub fn pair_with(&self, other: &TestEnv) -> String {
        let (mut child, ticket, rest) = self.invite();
        let joined = other.ok(&["pair", "join", "--yes", &ticket]);
        let status = child.wait().unwrap();
        assert!(status.success(), "invite failed");
        let safety = |out: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix("Safety number: "))
                .expect("safety number printed")
                .split("  ")
                .next()
                .unwrap()
                .to_string()
        };
        let theirs = safety(&joined);
        assert_eq!(
            safety(&rest.join().unwrap()),
            theirs,
            "both sides show one safety number"
        );
        theirs
    }

    pub fn home(&self) -> &Path {
        self.dir.path()
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::from_std(self.std_cmd());
        c.timeout(CALL_TIMEOUT);
        c
    }

    /// The environment every call runs in, as a plain
    /// `std::process::Command`, for tests that spawn and hold the pipes.
    /// The journal is locked with [`PASSPHRASE`], passed as scripts pass it.
    pub fn std_cmd(&self) -> std::process::Command {
        let mut c = std::process::Command::new(hearth_bin());
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HEARTH_HOME", self.home())
            .env("HEARTH_PASSPHRASE", PASSPHRASE)
            .env("HEARTH_NOW", &self.now)
            .env("HEARTH_SEED", self.seed.to_string())
            .env("HEARTH_LOG", "debug")
            .env("NO_COLOR", "1")
            .env("HEARTH_NET", "test")
            .env("VISUAL", "false");
        c
    }

    /// Runs with some variables changed: `Some` sets one, `None` removes it.
    pub fn run_with(&self, vars: &[(&str, Option<&str>)], args: &[&str]) -> Output {
        let mut c = self.cmd();
        for (k, v) in vars {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c.args(args).write_stdin("").output().unwrap()
    }

    /// [`TestEnv::run_with`] that must succeed; returns stdout.
    #[track_caller]
    pub fn ok_with(&self, vars: &[(&str, Option<&str>)], args: &[&str]) -> String {
        let out = self.run_with(vars, args);
        assert!(
            out.status.success(),
            "hearth {args:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).write_stdin("").output().unwrap()
    }

    pub fn run_stdin(&self, args: &[&str], stdin: impl Into<Vec<u8>>) -> Output {
        self.cmd().args(args).write_stdin(stdin).output().unwrap()
    }

    /// Runs `args` as if at `now` (RFC 3339), requiring success.
    #[track_caller]
    pub fn ok_at(&mut self, now: &str, args: &[&str]) -> String {
        let saved = std::mem::replace(&mut self.now, now.to_string());
        let out = self.ok(args);
        self.now = saved;
        out
    }

    /// Runs and requires success; returns stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "hearth {args:?} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            self.daemon_tail()
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The end of the daemon's log and start-up errors, for a failure
    /// message: the home is gone once the test has failed.
    pub fn daemon_tail(&self) -> String {
        let mut lines = Vec::new();
        for dir in [self.home().join("data/logs"), self.home().join("run")] {
            let Ok(files) = std::fs::read_dir(&dir) else {
                continue;
            };
            for f in files.flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                if name.ends_with(".sock") || name.ends_with(".pid") {
                    continue;
                }
                let text = std::fs::read_to_string(f.path()).unwrap_or_default();
                let all: Vec<&str> = text.lines().collect();
                let tail = &all[all.len().saturating_sub(40)..];
                lines.push(format!("--- {name} (last {} lines)", tail.len()));
                lines.extend(tail.iter().map(|l| l.to_string()));
            }
        }
        lines.join("\n")
    }

    #[track_caller]
    pub fn ok_stdin(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run_stdin(args, stdin);
        assert!(
            out.status.success(),
            "hearth {args:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and requires failure with `code`; returns stderr.
    #[track_caller]
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        self.check_failure(args, out, code)
    }

    #[track_caller]
    pub fn fails_stdin(&self, args: &[&str], stdin: impl Into<Vec<u8>>, code: i32) -> String {
        let out = self.run_stdin(args, stdin);
        self.check_failure(args, out, code)
    }

    #[track_caller]
    fn check_failure(&self, args: &[&str], out: Output, code: i32) -> String {
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "hearth {args:?}: stderr was {stderr}"
        );
        stderr
    }

    /// Every entry, as JSON.
    pub fn entries(&self) -> Vec<serde_json::Value> {
        self.ok(&["log", "--json", "--deleted"])
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    pub fn socket(&self) -> PathBuf {
        self.home().join("run/hearth.sock")
    }

    /// Where the documents' files are (docs/SCHEMA.md, "Encrypted files").
    pub fn journal_dir(&self) -> PathBuf {
        self.home().join("data/docs")
    }

    /// Stops the daemon (`init` may have started one) and starts it again
    /// with `vars` set, the test hooks a daemon reads only at start.
    #[track_caller]
    pub fn restart_daemon_with(&self, vars: &[(&str, &str)]) {
        self.ok(&["daemon", "stop"]);
        let mut cmd = self.cmd();
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let out = cmd
            .args(["daemon", "start"])
            .write_stdin("")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "daemon start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Lines of the daemon's log that contain `needle`.
    pub fn log_lines(&self, needle: &str) -> usize {
        let Ok(dir) = std::fs::read_dir(self.home().join("data/logs")) else {
            return 0;
        };
        dir.filter_map(|f| std::fs::read_to_string(f.ok()?.path()).ok())
            .map(|text| text.lines().filter(|l| l.contains(needle)).count())
            .sum()
    }

    pub fn daemon_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.home().join("run/hearth.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Waits until `f` holds, or panics after `limit`.
    #[track_caller]
    pub fn wait_for(&self, limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
        let end = Instant::now() + limit;
        while !f() {
            assert!(
                Instant::now() < end,
                "timed out waiting for {what}\n{}",
                self.daemon_tail()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl TestEnv {
    /// When a test fails and `HEARTH_TEST_KEEP_LOGS` names a directory, the
    /// daemon's logs are copied there before the home goes: a failure seen
    /// once in many full runs can then be read afterwards. With
    /// `HEARTH_TEST_KEEP_ALL_LOGS` set too, every test's are kept.
    fn keep_logs_of_a_failure(&self) {
        let Some(keep) = std::env::var_os("HEARTH_TEST_KEEP_LOGS") else {
            return;
        };
        if !std::thread::panicking() && std::env::var_os("HEARTH_TEST_KEEP_ALL_LOGS").is_none() {
            return;
        }
        let home = self.home().file_name().unwrap_or_default().to_owned();
        let to = Path::new(&keep).join(home);
        let Ok(files) = std::fs::read_dir(self.home().join("data/logs")) else {
            return;
        };
        let _ = std::fs::create_dir_all(&to);
        for f in files.flatten() {
            let _ = std::fs::copy(f.path(), to.join(f.file_name()));
        }
    }
}

impl Drop for TestEnv {
    /// Stops the test's daemon with signals alone, so cleanup works even
    /// when the test failed before the binary could be built.
    fn drop(&mut self) {
        use rustix::process::{Pid, Signal, kill_process, test_kill_process};
        self.keep_logs_of_a_failure();
        let Some(pid) = self.daemon_pid().and_then(Pid::from_raw) else {
            return;
        };
        if kill_process(pid, Signal::TERM).is_err() {
            return;
        }
        let end = Instant::now() + Duration::from_secs(10);
        while test_kill_process(pid).is_ok() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = kill_process(pid, Signal::KILL);
    }
}

/// Waits for `child` to exit, killing it and panicking after `limit`.
#[track_caller]
pub fn wait_bounded(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let end = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() >= end {
            let _ = child.kill();
            panic!("the process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// [`wait_bounded`], then everything the child wrote to its piped stderr.
pub fn finish(
    child: &mut std::process::Child,
    limit: Duration,
) -> (std::process::ExitStatus, String) {
    use std::io::Read;
    let status = wait_bounded(child, limit);
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        pipe.read_to_string(&mut stderr).unwrap();
    }
    (status, stderr)
}

/// Writes an executable script that acts as `$VISUAL`: it replaces the
/// draft with `content` after saving the draft it was given to `seen`.
pub fn fake_editor(dir: &Path, name: &str, content: &str) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let content_path = dir.join(format!("{name}.content"));
    let seen = dir.join(format!("{name}.seen"));
    std::fs::write(&content_path, content).unwrap();
    let script = dir.join(format!("{name}.sh"));
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncp \"$1\" '{}'\ncat '{}' > \"$1\"\n",
            seen.display(),
            content_path.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, seen)
}

/// A bare iroh endpoint on loopback, for tests that play a device speaking
/// raw protocol at a daemon.
pub async fn loopback_endpoint() -> iroh::Endpoint {
    iroh::Endpoint::builder(iroh::endpoint::presets::Minimal)
        .clear_ip_transports()
        .bind_addr((std::net::Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .bind()
        .await
        .unwrap()
}

/// Where `env`'s daemon listens, from its own `peers list`.
pub fn endpoint_addr(env: &TestEnv) -> iroh::EndpointAddr {
    let list: serde_json::Value =
        serde_json::from_str(&env.ok(&["peers", "list", "--json"])).unwrap();
    let id: iroh::EndpointId = list["me"].as_str().unwrap().parse().unwrap();
    let addrs = list["addrs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| iroh::TransportAddr::Ip(a.as_str().unwrap().parse().unwrap()));
    iroh::EndpointAddr::from_parts(id, addrs)
}

/// A pseudo-terminal: the parent writes to `master`, the child gets the
/// other end as its stdin, so it sees a terminal.
pub fn pty() -> (std::fs::File, std::fs::File) {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let name = ptsname(&master, Vec::new()).unwrap();
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_str().unwrap())
        .unwrap();
    (std::fs::File::from(master), slave)
}
