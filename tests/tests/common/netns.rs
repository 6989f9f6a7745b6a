//! Two network namespaces joined by a veth pair, for a link that really
//! goes down and up: the daemons inside see their interface change, which
//! the UDP proxy cannot show them. Root only; [`NetnsPair::new`] returns
//! `None` (and the test says it skipped) where namespaces cannot be made.
//!
//! The veth pair is created inside the first namespace, so the machine's
//! own namespace never sees an interface come or go, and daemons of other
//! tests running meanwhile are not disturbed.

use std::ffi::OsStr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use super::TestEnv;

pub struct NetnsPair {
    /// Namespace names, A then B.
    pub names: [String; 2],
}

/// Addresses of A and B on the veth link. Each namespace has its own
/// addresses, so concurrent tests may reuse them.
pub const ADDRS: [&str; 2] = ["10.77.0.1", "10.77.0.2"];

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl NetnsPair {
    /// Makes both namespaces with the link up, or says why it cannot.
    pub fn new() -> Result<NetnsPair, String> {
        if !rustix::process::geteuid().is_root() {
            return Err("network namespaces need root".into());
        }
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let base = format!("hearth-test-{}-{n}", std::process::id());
        let pair = NetnsPair {
            names: [format!("{base}-a"), format!("{base}-b")],
        };
        let [a, b] = [&pair.names[0], &pair.names[1]];
        // `pair` is dropped on any error below, which deletes what exists.
        ip(&["netns", "add", a])?;
        ip(&["netns", "add", b])?;
        ip(&[
            "-n", a, "link", "add", "veth0", "type", "veth", "peer", "name", "veth0", "netns", b,
        ])?;
        for (ns, addr) in [(a, ADDRS[0]), (b, ADDRS[1])] {
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                "veth0",
            ])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            ip(&["-n", ns, "link", "set", "veth0", "up"])?;
        }
        Ok(pair)
    }

    /// Takes A's end of the link down, or brings it back up.
    pub fn link_up(&self, up: bool) {
        ip(&[
            "-n",
            &self.names[0],
            "link",
            "set",
            "veth0",
            if up { "up" } else { "down" },
        ])
        .unwrap();
    }

    /// Runs `hearth args` for `env` inside namespace `side` (0 or 1), with
    /// the env's usual environment plus `extra`: a daemon it starts lives
    /// there, while the CLI reaches it from anywhere through its socket.
    #[track_caller]
    pub fn hearth(&self, side: usize, env: &TestEnv, args: &[&str], extra: &[(&str, &str)]) {
        let plain = env.std_cmd();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.names[side]])
            .arg(plain.get_program())
            .args(args)
            .env_clear();
        for (k, v) in plain.get_envs() {
            if let Some(v) = v {
                cmd.env(k, v);
            }
        }
        cmd.envs(extra.iter().map(|(k, v)| (OsStr::new(k), OsStr::new(v))));
        let out = cmd.stdin(std::process::Stdio::null()).output().unwrap();
        assert!(
            out.status.success(),
            "hearth {args:?} in {}: {}",
            self.names[side],
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for NetnsPair {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth pair in it.
        for ns in &self.names {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}
