//! `hearth demo`: a guided run in a throwaway home. It drives the real
//! binary, so what it shows is exactly what a user gets.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::args::DemoArgs;
use crate::error::{CliError, Result};
use crate::render;

/// One partner's device in the demo: a home of its own.
struct Device<'a> {
    exe: &'a Path,
    who: &'static str,
    home: std::path::PathBuf,
}

impl Device<'_> {
    fn command(&self) -> Command {
        let mut cmd = Command::new(self.exe);
        // Scripts pass the passphrase as restic and borg do; the demo's
        // journals are thrown away, so this one is no secret.
        cmd.env("HEARTH_HOME", &self.home)
            .env("HEARTH_PASSPHRASE", "the demo's passphrase")
            .env("HEARTH_NET", "local")
            .env_remove("HEARTH_NOW")
            .env_remove("HEARTH_RELAY");
        cmd
    }

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
        let prompt = render::dim(&format!("{}$", self.who));
        match stdin {
            Some(s) => println!("{prompt} echo {s:?} | hearth {}", shown.join(" ")),
            None => println!("{prompt} hearth {}", shown.join(" ")),
        }
        let mut cmd = self.command();
        cmd.args(args);
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

    fn stop(&self) {
        let _ = self
            .command()
            .args(["daemon", "stop"])
            .stdout(Stdio::null())
            .status();
    }
}

fn say(text: &str) {
    println!("{}\n", render::bold(&format!("# {text}")));
}

pub fn run(a: DemoArgs) -> Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("hearth-demo-")
        .tempdir()
        .map_err(|e| CliError::internal(format!("cannot create a temporary home: {e}")))?;
    let exe = std::env::current_exe().map_err(|e| CliError::internal(e.to_string()))?;
    let robin = Device {
        exe: &exe,
        who: "robin",
        home: dir.path().join("robin"),
    };
    let sam = Device {
        exe: &exe,
        who: "sam",
        home: dir.path().join("sam"),
    };
    println!(
        "{}",
        render::bold(&format!(
            "hearth demo: two partners' devices in {}",
            dir.path().display()
        ))
    );
    println!(
        "{}\n",
        render::dim(
            "Each runs its own daemon, on this machine's network only (no relays, no internet). Every step is the real `hearth` command."
        )
    );
    let result = steps(&robin, &sam);
    // Always stop both daemons, even if a step failed.
    robin.stop();
    sam.stop();
    if a.keep {
        let kept = dir.keep();
        println!("Kept the demo homes in {}", kept.display());
    } else {
        println!(
            "{}",
            render::dim("Demo finished; both daemons are stopped and their homes deleted.")
        );
    }
    result
}

/// Runs `hearth pair invite` on `inviter` and `hearth pair join` on
/// `joiner`, showing both sides.
fn pair(inviter: &Device, joiner: &Device) -> Result<()> {
    use std::io::{BufRead, BufReader};
    // The demo plays both people, so it confirms the safety number for
    // them; at a real terminal each person compares it and says yes.
    println!(
        "{} hearth pair invite --yes",
        render::dim(&format!("{}$", inviter.who))
    );
    let mut child = inviter
        .command()
        .args(["pair", "invite", "--yes"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| CliError::internal(format!("cannot run hearth: {e}")))?;
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut ticket = None;
    let mut shown = Vec::new();
    for line in lines.by_ref() {
        let line = line?;
        if ticket.is_none() {
            ticket = line
                .split_whitespace()
                .find(|w| w.starts_with("hearth1"))
                .map(str::to_string);
        }
        let waiting = line.contains("Waiting for the other device");
        shown.push(line);
        if waiting {
            break;
        }
    }
    // The QR code is long; the demo shows the ticket line and the wait.
    for l in shown
        .iter()
        .filter(|l| !l.contains('█') && !l.contains('▀') && !l.contains('▄'))
    {
        println!("{l}");
    }
    let ticket = ticket.ok_or_else(|| CliError::internal("the invite printed no ticket"))?;
    joiner.run(&["pair", "join", "--yes", &ticket], None)?;
    for line in lines {
        println!("{}", line?);
    }
    let status = child.wait()?;
    println!();
    if !status.success() {
        return Err(CliError::internal("pairing failed"));
    }
    Ok(())
}

fn steps(robin: &Device, sam: &Device) -> Result<()> {
    say("Each partner sets up their own device.");
    robin.run(
        &["init", "--name", "Robin", "--device", "robin-laptop"],
        None,
    )?;
    sam.run(&["init", "--name", "Sam", "--device", "sam-laptop"], None)?;

    say("They pair once: an invite on one, a join on the other. Both show the same safety number.");
    pair(robin, sam)?;

    say("They switch on two built-in rituals, then write everyday entries from both sides.");
    robin.run(&["ritual", "templates"], None)?;
    robin.run(&["ritual", "add", "evening-checkin"], None)?;
    robin.run(
        &["ritual", "add", "state-of-the-union", "--on", "sun"],
        None,
    )?;
    robin.run(
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
    sam.run(
        &[
            "highlow",
            "--high",
            "Lunch in the sun",
            "--low",
            "The 6pm meeting ran late",
        ],
        None,
    )?;
    sam.run(
        &["thanks", "--star"],
        Some("Thank you for making coffee before my early call."),
    )?;

    say("Sam's laptop goes offline. Robin keeps writing.");
    sam.run(&["daemon", "stop"], None)?;
    robin.run(
        &["note"],
        Some("Ideas for the weekend: the coast, or the new bakery. @plans"),
    )?;
    robin.run(
        &["repair", "start-over"],
        Some("This morning I snapped about the keys. Can we redo that?"),
    )?;
    robin.run(&["peers", "list"], None)?;

    say("Now Robin's is off and Sam's is back: Sam writes, then both are online and catch up.");
    robin.run(&["daemon", "stop"], None)?;
    sam.run(
        &[
            "checkin",
            "--mood",
            "4",
            "--need",
            "talk",
            "Can we talk about the weekend tonight?",
        ],
        None,
    )?;
    robin.run(&["daemon", "start"], None)?;
    sam.run(&["sync"], None)?;

    say(
        "Today's prompt is the same on both devices, drawn without them talking. They pick one from the deck instead: answers stay sealed until both have answered.",
    );
    robin.run(&["prompt"], None)?;
    robin.run(
        &["prompt", "answer", "--prompt", "wishes-06"],
        Some("A quiet half hour after work before we talk about the day."),
    )?;
    sam.run(&["prompt", "--prompt", "wishes-06"], None)?;
    sam.run(
        &["prompt", "answer", "--prompt", "wishes-06"],
        Some("More slow Sunday mornings, just the two of us."),
    )?;
    sam.run(&["prompt", "--prompt", "wishes-06"], None)?;

    say("Each side's journal holds both partners' entries.");
    robin.run(&["sync"], None)?;
    robin.run(&["log"], None)?;
    sam.run(&["log", "--author", "partner"], None)?;
    sam.run(&["due"], None)?;

    say("After the morning's snap, a calm debrief ends in an agreement.");
    sam.run(
        &[
            "repair",
            "debrief",
            "--happened",
            "We argued about the keys before work.",
            "--my-part",
            "I was already late and took it out on you.",
            "--agree",
            "Keys live on the hook by the door",
        ],
        None,
    )?;

    say("Looking back: rhythm (not streaks), the week's agenda for the state of the union, mood.");
    sam.run(&["sync"], None)?;
    robin.run(&["ritual", "rhythm"], None)?;
    robin.run(&["review", "--week"], None)?;
    sam.run(&["mood"], None)?;

    say(
        "Everything can leave in open formats: Markdown, JSON, jrnl, or the raw Automerge document.",
    );
    robin.run(&["export", "--format", "jrnl"], None)?;
    Ok(())
}
