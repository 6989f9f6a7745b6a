//! Man pages: hearth(1) with ENVIRONMENT, FILES and EXIT STATUS, and one
//! page per command (hearth-init(1), hearth-ritual-add(1), ...), so every
//! page a page names exists.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

use crate::args::{Cli, ManArgs};
use crate::error::{CliError, Result};

/// The command tree as the pages show it: built, so every command knows
/// its page name, and without clap's `help` command, which has no page.
fn tree() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// A page for `cmd`, each credited to hearth and its version (clap would
/// name a subcommand's page after the subcommand alone).
fn page(cmd: clap::Command) -> clap_mangen::Man {
    clap_mangen::Man::new(cmd).source(format!("hearth {}", env!("CARGO_PKG_VERSION")))
}

/// Escapes text for roff: backslashes, hyphens (so they are not taken
/// for line-break hyphens) and a leading control character.
fn esc(s: &str) -> String {
    let s = s.replace('\\', "\\\\").replace('-', "\\-");
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}

/// A section of tagged paragraphs: a bold tag, then its text.
fn section(out: &mut dyn Write, title: &str, items: &[(String, String)]) -> std::io::Result<()> {
    writeln!(out, ".SH \"{title}\"")?;
    for (tag, text) in items {
        writeln!(out, ".TP\n\\fB{}\\fR\n{}", esc(tag), esc(text))?;
    }
    Ok(())
}

/// hearth(1): clap's page, then what clap cannot know.
fn main_page(out: &mut dyn Write) -> std::io::Result<()> {
    page(tree()).render(out)?;
    let vars: Vec<(String, String)> = crate::config::VARIABLES
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    section(out, "ENVIRONMENT", &vars)?;
    writeln!(
        out,
        ".PP\nFlags win over HEARTH_* variables, which win over config.toml, which wins over VISUAL, EDITOR, PAGER and NO_COLOR, which win over the built\\-in defaults. \\fBhearth config\\fR shows each value in effect and where it came from."
    )?;
    let files = [
        (
            "<config>/config.toml",
            "Settings: net, relay, day_start, editor, color and pager (see ENVIRONMENT for the variables that win over it). A bad file is refused with its line and key, and nothing is written.",
        ),
        (
            "<data>/journal/",
            "The journal: snapshots, change chunks and a view cache, each encrypted with the journal's key. Only the daemon writes here.",
        ),
        (
            "<data>/identity",
            "This device's secret key and id, and the partner it writes as; encrypted like the journal.",
        ),
        (
            "<data>/storage-key",
            "The journal's key, locked by the passphrase (argon2id); or where the OS keyring keeps it, for a journal made with --keyring; or in the clear, for one made with --no-passphrase.",
        ),
        ("<data>/logs/", "The daemon's daily logs, 14 kept."),
        (
            "<runtime>/hearth.sock, <runtime>/hearth.pid",
            "The daemon's socket (mode 0600) and pidfile.",
        ),
        (
            "HEARTH_HOME=H",
            "Puts <config>, <data> and <runtime> at H/config, H/data and H/run. Otherwise they are the platform's directories: on Linux $XDG_CONFIG_HOME/hearth, $XDG_DATA_HOME/hearth and $XDG_RUNTIME_DIR/hearth.",
        ),
    ];
    let files: Vec<(String, String)> = files
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    section(out, "FILES", &files)?;
    let codes: Vec<(String, String)> = crate::error::exit_statuses()
        .into_iter()
        .map(|(c, m)| (c.to_string(), m.to_string()))
        .collect();
    section(out, "EXIT STATUS", &codes)?;
    writeln!(
        out,
        ".SH \"SEE ALSO\"\nEach command has its own page, named as in COMMANDS above: \\fBhearth\\-init\\fR(1), \\fBhearth\\-ritual\\-add\\fR(1) and so on. \\fBhearth man \\-\\-out DIR\\fR writes them all."
    )
}

/// Writes every page into `dir`: hearth.1, then one per command, nested
/// commands included.
fn write_all(dir: &Path) -> Result<()> {
    let fail =
        |e: std::io::Error| CliError::user(format!("cannot write to {}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(fail)?;
    fn pages(cmd: &clap::Command, dir: &Path) -> std::io::Result<()> {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let man = page(sub.clone());
            let mut f = std::fs::File::create(dir.join(man.get_filename()))?;
            man.render(&mut f)?;
            pages(sub, dir)?;
        }
        Ok(())
    }
    let mut main = std::fs::File::create(dir.join("hearth.1")).map_err(fail)?;
    main_page(&mut main).map_err(fail)?;
    pages(&tree(), dir).map_err(fail)?;
    Ok(())
}

/// `hearth man`: the main page, one command's page, or all of them.
pub fn man(a: ManArgs) -> Result<()> {
    if let Some(dir) = a.out {
        return write_all(&dir);
    }
    let mut out = std::io::stdout().lock();
    if a.command.is_empty() {
        main_page(&mut out)?;
        return Ok(());
    }
    let root = tree();
    let mut cmd = &root;
    for name in &a.command {
        cmd = cmd
            .get_subcommands()
            .find(|s| s.get_name() == name || s.get_all_aliases().any(|al| al == name))
            .ok_or_else(|| {
                CliError::user(format!(
                    "no command `{}`; `hearth --help` lists them",
                    a.command.join(" ")
                ))
            })?;
    }
    page(cmd.clone()).render(&mut out)?;
    Ok(())
}
