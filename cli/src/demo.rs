//! `hearth demo`: a guided run in a throwaway home. It drives the real
//! binary, so what it shows is exactly what a user gets.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::args::DemoArgs;
use crate::error::{CliError, Result};
use crate::render;

struct Demo<'a> {
    exe: std::path::PathBuf,
    home: &'a Path,
}

impl Demo<'_> {
    /// Runs `hearth ARGS` (with `stdin` piped in, if any), echoing it like a
    /// terminal session.
    fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<()> {
        let shown: Vec<String> = args
            .iter()
            .map(|a| {
                if a.contains(' ') {
                    format!("{a:?}")
                } else {
                    a.to_string()
                }
            })
            .collect();
        match stdin {
            Some(s) => println!(
                "{} echo {:?} | hearth {}",
                render::dim("$"),
                s,
                shown.join(" ")
            ),
            None => println!("{} hearth {}", render::dim("$"), shown.join(" ")),
        }
        let mut cmd = Command::new(&self.exe);
        cmd.args(args)
            .env("HEARTH_HOME", self.home)
            .env_remove("HEARTH_NOW");
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = cmd
            .spawn()
            .map_err(|e| CliError::internal(format!("cannot run hearth: {e}")))?;
        if let Some(s) = stdin {
            child.stdin.take().expect("piped").write_all(s.as_bytes())?;
        }
        let status = child.wait()?;
        println!();
        if !status.success() {
            return Err(CliError::internal(format!(
                "demo step `hearth {}` failed ({status})",
                args.join(" ")
            )));
        }
        Ok(())
    }
}

pub fn run(a: DemoArgs) -> Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("hearth-demo-")
        .tempdir()
        .map_err(|e| CliError::internal(format!("cannot create a temporary home: {e}")))?;
    let exe = std::env::current_exe().map_err(|e| CliError::internal(e.to_string()))?;
    let demo = Demo {
        exe,
        home: dir.path(),
    };
    println!(
        "{}",
        render::bold(&format!(
            "hearth demo: a throwaway journal in {}",
            dir.path().display()
        ))
    );
    println!(
        "{}\n",
        render::dim(
            "Every step below is the real `hearth` command; the daemon starts on first use."
        )
    );
    let result = steps(&demo);
    // Always stop the daemon, even if a step failed.
    let _ = Command::new(&demo.exe)
        .args(["daemon", "stop"])
        .env("HEARTH_HOME", dir.path())
        .stdout(Stdio::null())
        .status();
    if a.keep {
        let kept = dir.keep();
        println!("Kept the demo home at {}", kept.display());
    } else {
        println!(
            "{}",
            render::dim("Demo finished; its daemon is stopped and its home deleted.")
        );
    }
    result
}

fn steps(d: &Demo) -> Result<()> {
    d.run(
        &["init", "--name", "Robin", "--device", "demo-laptop"],
        None,
    )?;
    d.run(
        &[
            "ritual",
            "add",
            "Evening check-in",
            "--cadence",
            "daily",
            "--fulfilled-by",
            "checkin",
        ],
        None,
    )?;
    d.run(
        &[
            "ritual",
            "add",
            "State of the union",
            "--cadence",
            "weekly:sun",
            "--owner",
            "together",
            "--kind",
            "state-of-the-union",
        ],
        None,
    )?;
    d.run(&["due"], None)?;
    d.run(
        &[
            "checkin",
            "--mood",
            "good",
            "--energy",
            "tired",
            "--need",
            "hug",
            "Long day, glad to be home. @work",
        ],
        None,
    )?;
    d.run(
        &[
            "highlow",
            "--high",
            "Lunch in the sun with Sam",
            "--low",
            "The 6pm meeting ran late",
        ],
        None,
    )?;
    d.run(
        &["thanks", "--to", "Sam", "--star"],
        Some("Thank you for making coffee before my early call."),
    )?;
    d.run(
        &["note"],
        Some("Ideas for the weekend: the coast, or the new bakery. @plans"),
    )?;
    d.run(
        &["repair", "start-over"],
        Some("This morning I snapped about the keys. Can we redo that?"),
    )?;
    d.run(
        &[
            "repair",
            "debrief",
            "--happened",
            "We argued about the visit",
            "--felt",
            "Rushed",
            "--my-part",
            "I decided without asking",
            "--need",
            "To plan together",
            "--agree",
            "Check the calendar together on Sundays",
        ],
        None,
    )?;
    d.run(&["prompt"], None)?;
    d.run(
        &["prompt", "answer"],
        Some("That I need a quiet half hour after work before I can really talk."),
    )?;
    d.run(&["today"], None)?;
    d.run(&["log", "--kind", "checkin", "--kind", "gratitude"], None)?;
    d.run(&["log", "--tag", "plans", "--json"], None)?;
    d.run(&["status"], None)?;
    Ok(())
}
