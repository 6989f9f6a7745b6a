//! Every command and flag. Help texts here are the user's manual: the man
//! page and shell completions are generated from them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::engine::ArgValueCompleter;

use crate::complete;
use hearth_model::{Cadence, Energy, Kind, Mood, Need};

#[derive(Debug, Parser)]
#[command(
    name = "hearth",
    // Usage lines say `hearth` whatever the file is called (the test suite runs a copy).
    bin_name = "hearth",
    version,
    about = "A private journal for two: check-ins, gratitude, rituals and repair, synced between your devices.",
    long_about = "hearth is a journal that two partners share. Each of you writes from your own devices; \
a small daemon keeps the journal and writes it safely to disk. Entry text can come from an argument, \
from stdin, or from $VISUAL/$EDITOR, so it never has to land in your shell history.",
    after_help = "Start with `hearth init --name <your name>`, then try `hearth checkin --mood good`."
)]
pub struct Cli {
    /// Keep every hearth file (data, config, socket) under this directory.
    #[arg(long, global = true, env = "HEARTH_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,

    /// When to use colour [default: auto, or `color` in config.toml].
    #[arg(long, global = true, value_enum, value_name = "WHEN")]
    pub color: Option<ColorChoice>,

    /// Print long output directly instead of through the pager
    /// ($HEARTH_PAGER, `pager` in config.toml, $PAGER, else `less -FRX`;
    /// on a terminal only).
    #[arg(long, global = true)]
    pub no_pager: bool,

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Whether this command's output may be long enough for the pager:
    /// the text (not JSON) of the commands that list or show entries.
    pub fn pages(&self) -> bool {
        !self.no_pager
            && match &self.command {
                Command::Log(a) => !a.json,
                Command::Show(a) => !a.json,
                Command::Tags(a) | Command::Today(a) => !a.json,
                Command::Review(a) => !a.json,
                Command::Onthisday(a) => !a.json,
                _ => false,
            }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            ColorChoice::Auto => "auto",
            ColorChoice::Always => "always",
            ColorChoice::Never => "never",
        }
    }
}

/// How the daemon reaches the couple's other devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetChoice {
    /// n0's public relays and address lookup, across the internet.
    Default,
    /// This network only (mDNS), no relays.
    Local,
    /// Loopback only, for tests.
    Test,
}

impl NetChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            NetChoice::Default => "default",
            NetChoice::Local => "local",
            NetChoice::Test => "test",
        }
    }
}

impl std::str::FromStr for NetChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        <NetChoice as ValueEnum>::from_str(s.trim(), false)
            .map_err(|_| "not a network mode: use default, local or test".to_string())
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Set up this device: who writes here.
    Init(InitArgs),
    /// Change the name you write under (your own, never your partner's).
    Rename(RenameArgs),
    /// How are you, really? Record a mood, energy and what you need.
    #[command(alias = "check-in")]
    Checkin(CheckinArgs),
    /// The high point and the low point of your day.
    #[command(alias = "high-low")]
    Highlow(HighlowArgs),
    /// Thank your partner for something, big or small.
    #[command(alias = "gratitude")]
    Thanks(ThanksArgs),
    /// A free-form note.
    Note(NoteArgs),
    /// Repair after a conflict: ask to start over, or debrief.
    #[command(subcommand)]
    Repair(RepairCommand),
    /// Rituals with a rhythm: add them, see what is due, mark them done.
    #[command(subcommand)]
    Ritual(RitualCommand),
    /// What is due today for you, and what your partner has done.
    Due(JsonArg),
    /// Today's conversation prompt, and answering it.
    Prompt(PromptArgs),
    /// List entries, newest last, with filters.
    Log(LogArgs),
    /// Every tag in use, the most recently used first, with how many
    /// entries carry it.
    Tags(JsonArg),
    /// Show one entry in full.
    Show(ShowArgs),
    /// Edit one of your entries (in your editor, or from stdin).
    #[command(
        after_help = "From stdin, a note, an answer or a start-over takes plain text: all of it becomes the new text.\nOther kinds take the form the editor shows, one [section] per field, e.g.\n  printf '[mood]\\n2\\n[need]\\nhug\\n' | hearth edit ID\nA section left out keeps its value; an empty [energy] or [need] clears it."
    )]
    Edit(EditArgs),
    /// Delete one of your entries.
    Delete(DeleteArgs),
    /// Today at a glance: entries, what is due, the prompt.
    Today(JsonArg),
    /// Look back together: the agenda for your weekly state of the union,
    /// or a monthly or yearly review.
    Review(ReviewArgs),
    /// Both partners' moods over time: sparklines, or a calendar heatmap.
    Mood(MoodArgs),
    /// What you wrote on this date in past years, and this week last month.
    #[command(alias = "on-this-day")]
    Onthisday(OnThisDayArgs),
    /// Write the journal out as Markdown, JSON, jrnl text or the raw
    /// Automerge document.
    Export(ExportArgs),
    /// Bring in entries from jrnl's JSON export, as yours.
    Import(ImportArgs),
    /// The state of this device's journal and daemon.
    Status(JsonArg),
    /// Give the daemon the passphrase it needs to open the journal
    /// [or $HEARTH_PASSPHRASE].
    Unlock,
    /// Manage the passphrase that locks this device's journal.
    #[command(subcommand)]
    Passphrase(PassphraseCommand),
    /// Pair this device with another of the couple's devices.
    #[command(subcommand)]
    Pair(PairCommand),
    /// The couple's trusted devices: list, add by id, remove.
    #[command(subcommand)]
    Peers(PeersCommand),
    /// Sync with every trusted device now, and report.
    Sync(SyncArgs),
    /// Run or control the background daemon.
    #[command(subcommand)]
    Daemon(DaemonCommand),
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Every setting in effect, and where each came from: a flag, a
    /// variable, config.toml, or built in.
    Config(JsonArg),
    /// Print the man page (roff), or one command's, or write them all.
    Man(ManArgs),
    /// A self-contained tour in a throwaway home: writes every kind of
    /// entry and reviews them, then cleans up.
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Your name, as your partner will see it.
    #[arg(long)]
    pub name: Option<String>,
    /// A name for this device (defaults to the host name).
    #[arg(long)]
    pub device: Option<String>,
    /// Hour (0-23) at which a journal day starts; entries before it count
    /// for the previous day [or $HEARTH_DAY_START, or `day_start` in
    /// config.toml; else the journal keeps its own, 4 when new].
    #[arg(long, value_name = "HOUR", value_parser = clap::value_parser!(u32).range(0..24))]
    pub day_start: Option<u32>,
    /// Keep the journal's key in a plain file beside it instead of locking
    /// it with a passphrase. Anyone who has the disk can then read the
    /// journal.
    #[arg(long, conflicts_with = "keyring")]
    pub no_passphrase: bool,
    /// Keep the journal's key in the OS keyring (Secret Service on Linux,
    /// the Keychain on macOS) instead of locking it with a passphrase: the
    /// daemon opens the journal while you are logged in, without asking.
    #[arg(long)]
    pub keyring: bool,
}

impl InitArgs {
    pub fn key_choice(&self) -> KeyChoice {
        KeyChoice::from_flags(self.no_passphrase, self.keyring)
    }
}

/// Where a new journal keeps its storage key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyChoice {
    /// Wrapped by a passphrase: the default.
    Passphrase,
    /// In the OS keyring: `--keyring`.
    Keyring,
    /// In the clear: `--no-passphrase`.
    Plain,
}

impl KeyChoice {
    pub fn from_flags(no_passphrase: bool, keyring: bool) -> KeyChoice {
        match (no_passphrase, keyring) {
            (true, _) => KeyChoice::Plain,
            (false, true) => KeyChoice::Keyring,
            (false, false) => KeyChoice::Passphrase,
        }
    }
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    /// Your new name, as your partner will see it. Case is kept.
    pub name: String,
}

/// Flags every new entry takes.
#[derive(Debug, Args)]
pub struct EntryFlags {
    /// Add a tag (repeatable). `#tags` and `@tags` in the text count too.
    #[arg(long = "tag", short = 't', value_name = "TAG")]
    pub tags: Vec<String>,
    /// Star the entry.
    #[arg(long)]
    pub star: bool,
    /// Mark the entry tender: never resurfaced casually.
    #[arg(long, conflicts_with = "not_tender")]
    pub tender: bool,
    /// Do not mark the entry tender (for a repair, which is tender unless
    /// you say otherwise).
    #[arg(long)]
    pub not_tender: bool,
    /// Open $VISUAL/$EDITOR even when text could come from elsewhere.
    #[arg(long, short = 'e')]
    pub edit: bool,
    /// Keep the entry on your own devices: your partner's devices never get
    /// it, nor its key.
    #[arg(long)]
    pub private: bool,
}

#[derive(Debug, Args)]
pub struct CheckinArgs {
    /// 1-5, or rough, low, okay, good, great.
    #[arg(long, short = 'm', add = ArgValueCompleter::new(complete::moods))]
    pub mood: Option<Mood>,
    /// 1-5, or drained, tired, steady, lively, buzzing.
    #[arg(long, add = ArgValueCompleter::new(complete::energies))]
    pub energy: Option<Energy>,
    /// What you need now: talk, space, hug, help, or your own word.
    #[arg(long, add = ArgValueCompleter::new(complete::needs))]
    pub need: Option<Need>,
    /// A note; also read from stdin when piped, or the editor with -e.
    pub note: Option<String>,
    #[command(flatten)]
    pub flags: EntryFlags,
}

#[derive(Debug, Args)]
pub struct HighlowArgs {
    /// The best moment of the day.
    #[arg(long)]
    pub high: Option<String>,
    /// The hardest moment of the day.
    #[arg(long)]
    pub low: Option<String>,
    #[command(flatten)]
    pub flags: EntryFlags,
}

#[derive(Debug, Args)]
pub struct ThanksArgs {
    /// Who you are thanking (defaults to your partner).
    #[arg(long)]
    pub to: Option<String>,
    /// What you are grateful for; or stdin, or the editor.
    pub text: Option<String>,
    #[command(flatten)]
    pub flags: EntryFlags,
}

#[derive(Debug, Args)]
pub struct NoteArgs {
    /// The note; or stdin, or the editor.
    pub text: Option<String>,
    #[command(flatten)]
    pub flags: EntryFlags,
}

#[derive(Debug, Subcommand)]
pub enum RepairCommand {
    /// "Can we start over?": the moment you would like to redo.
    StartOver {
        /// The moment you would like to redo; or stdin, or the editor.
        text: Option<String>,
        #[command(flatten)]
        flags: EntryFlags,
    },
    /// Look back at a conflict: what happened, what you felt, your part,
    /// what you need, and what you agree to.
    Debrief(DebriefArgs),
    /// Mark a debrief's agreements as settled, so reviews stop raising them.
    Resolve {
        /// The repair entry's id (or a unique prefix).
        #[arg(add = ArgValueCompleter::new(complete::entry_ids))]
        id: String,
        /// Open the agreements again instead.
        #[arg(long)]
        reopen: bool,
    },
}

#[derive(Debug, Args)]
pub struct DebriefArgs {
    /// What happened, described without blame.
    #[arg(long)]
    pub happened: Option<String>,
    /// What you felt.
    #[arg(long)]
    pub felt: Option<String>,
    /// Your part in it.
    #[arg(long)]
    pub my_part: Option<String>,
    /// What you need now, or next time.
    #[arg(long)]
    pub need: Option<String>,
    /// Something you agree to (repeatable).
    #[arg(long = "agree", value_name = "AGREEMENT")]
    pub agreements: Vec<String>,
    #[command(flatten)]
    pub flags: EntryFlags,
}

#[derive(Debug, Subcommand)]
pub enum RitualCommand {
    /// Add a ritual: one of the templates, or your own.
    #[command(
        after_help = "Examples:\n  hearth ritual add evening-checkin\n  hearth ritual add state-of-the-union --on sun\n  hearth ritual add date-night --on 15\n  hearth ritual add \"Sunday walk\" --cadence weekly:sun --owner together"
    )]
    Add(RitualAddArgs),
    /// The built-in rituals you can add with one command.
    Templates(JsonArg),
    /// Change a ritual's name, cadence, owner, or what completes it.
    Change(RitualChangeArgs),
    /// Retire a ritual. Its history stays in the journal.
    Remove {
        /// The ritual's name (or a unique part of it) or id.
        #[arg(add = ArgValueCompleter::new(complete::rituals))]
        ritual: String,
    },
    /// List rituals with their rhythm: how often each of you did them lately.
    List(JsonArg),
    /// Each ritual's rhythm over its recent weeks or days, side by side.
    Rhythm(JsonArg),
    /// Mark a ritual done for its current occurrence.
    Done {
        /// The ritual's name (or a unique part of it) or id.
        #[arg(add = ArgValueCompleter::new(complete::rituals))]
        ritual: String,
        /// Link the entry that fulfilled it.
        #[arg(long, add = ArgValueCompleter::new(complete::entry_ids))]
        entry: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// What is due today.
    Due(JsonArg),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OwnerChoice {
    /// Only you.
    Me,
    /// Only your partner.
    Partner,
    /// Each of you does it, for yourself.
    Both,
    /// Done once, together, by either of you.
    Together,
}

/// How a ritual is scheduled and completed; shared by `add` and `change`.
#[derive(Debug, Args)]
pub struct RitualShape {
    /// daily, weekly:<weekday>, monthly[:<1-31>] or yearly[:<MM-DD>].
    #[arg(long, short = 'c')]
    pub cadence: Option<Cadence>,
    /// The day it falls on, keeping the cadence: a weekday for a weekly
    /// ritual, 1-31 for a monthly one, MM-DD for a yearly one.
    #[arg(long, value_name = "DAY")]
    pub on: Option<String>,
    #[arg(long, value_enum)]
    pub owner: Option<OwnerChoice>,
    /// Writing an entry of this kind completes the ritual automatically.
    #[arg(long, value_name = "KIND", conflicts_with = "manual")]
    pub fulfilled_by: Option<Kind>,
    /// Only `hearth ritual done` completes it; no entry kind does.
    #[arg(long)]
    pub manual: bool,
}

#[derive(Debug, Args)]
pub struct RitualAddArgs {
    /// A template name (see `hearth ritual templates`), or a name for a
    /// ritual of your own, e.g. "Sunday walk".
    #[arg(add = ArgValueCompleter::new(complete::templates))]
    pub ritual: String,
    /// Call a template's ritual something else.
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub shape: RitualShape,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RitualChangeArgs {
    /// The ritual's name (or a unique part of it) or id.
    #[arg(add = ArgValueCompleter::new(complete::rituals))]
    pub ritual: String,
    /// A new name.
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub shape: RitualShape,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PromptArgs {
    #[command(subcommand)]
    pub command: Option<PromptCommand>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Another prompt than today's, by id (see `hearth prompt list`): to
    /// read its answers.
    #[arg(long = "prompt", value_name = "ID", add = ArgValueCompleter::new(complete::prompt_ids))]
    pub prompt_id: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum PromptCommand {
    /// Answer today's prompt (or --prompt ID). Your partner's answer stays
    /// sealed until you do.
    Answer {
        /// Your answer; or stdin, or the editor.
        text: Option<String>,
        /// Answer another prompt than today's, by id (late, or one of the
        /// repair prompts).
        #[arg(long = "prompt", value_name = "ID", add = ArgValueCompleter::new(complete::prompt_ids))]
        prompt_id: Option<String>,
        /// If you have answered this prompt already, replace that answer
        /// without asking. Without it, a terminal asks first and a script
        /// is refused.
        #[arg(long)]
        replace: bool,
        #[command(flatten)]
        flags: EntryFlags,
    },
    /// Every prompt in the deck, with its id, theme by theme.
    List {
        /// Only this theme: day, wishes, worries, pride, appreciation,
        /// dreams, memories or repair.
        #[arg(long)]
        theme: Option<String>,
    },
    /// Set today's prompt aside and draw another. Your partner's device
    /// draws the same one once the skip has synced.
    #[command(visible_alias = "draw", alias = "next")]
    Skip,
    /// Add a prompt of your own to the deck.
    Add {
        /// The question, as you would ask it.
        text: String,
        /// day, wishes, worries, pride, appreciation, dreams, memories or repair.
        #[arg(long, default_value = "day")]
        theme: String,
    },
}

#[derive(Debug, Args)]
pub struct JsonArg {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// The last 7 days (the default).
    #[arg(long, conflicts_with_all = ["month", "year"])]
    pub week: bool,
    /// The last month.
    #[arg(long, conflicts_with = "year")]
    pub month: bool,
    /// The last year.
    #[arg(long)]
    pub year: bool,
    /// End the review on this day instead of today: 2026-11-22, "last sunday".
    #[arg(long, value_name = "DAY")]
    pub until: Option<String>,
    /// Include tender entries' highs, lows and thanks.
    #[arg(long)]
    pub include_tender: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MoodArgs {
    /// How many weeks back to chart, this week included.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=520))]
    pub weeks: u32,
    /// A calendar heatmap (a row per weekday) instead of sparklines.
    #[arg(long)]
    pub heatmap: bool,
    /// Print the daily series as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct OnThisDayArgs {
    /// Show tender entries too (repairs, and anything you marked tender).
    #[arg(long)]
    pub include_tender: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// A readable Markdown journal, a section per day.
    Md,
    /// Every entry, ritual and custom prompt as documented JSON.
    Json,
    /// jrnl's journal file format, which `jrnl --import` reads.
    Jrnl,
    /// The raw Automerge document, loadable by any Automerge library.
    Automerge,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(long, short = 'f', value_enum, default_value_t = ExportFormat::Md)]
    pub format: ExportFormat,
    /// Write to this file (created readable by you only) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportFormat {
    /// jrnl's JSON export (`jrnl --format json`).
    Jrnl,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[arg(long, short = 'f', value_enum)]
    pub format: ImportFormat,
    /// The file to read, or - for stdin.
    pub file: PathBuf,
    /// Check the file and say what would be imported, without writing.
    #[arg(long)]
    pub dry_run: bool,
    /// Mark every imported entry tender, so look-backs leave them out.
    /// (Your partner can still read them: the journal is shared.)
    #[arg(long)]
    pub tender: bool,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// From this day: 2026-01-31, yesterday, "last monday", "2 weeks ago".
    #[arg(long, short = 's')]
    pub since: Option<String>,
    /// Up to this day (inclusive).
    #[arg(long, short = 'u')]
    pub until: Option<String>,
    /// Only entries of this kind (repeatable).
    #[arg(long = "kind", short = 'k')]
    pub kinds: Vec<Kind>,
    /// Only entries by me, partner, or a name (repeatable).
    #[arg(long = "author", short = 'a')]
    pub authors: Vec<String>,
    /// Only entries with this tag (repeatable: all must match). `plans`,
    /// `#plans` and `@plans` are the same tag.
    #[arg(long = "tag", short = 't')]
    pub tags: Vec<String>,
    /// Only starred entries.
    #[arg(long)]
    pub starred: bool,
    /// Only entries with this in any text field or tag, whatever its case.
    #[arg(long, short = 'c', value_name = "TEXT")]
    pub contains: Option<String>,
    /// Read --contains as a regular expression (Rust regex syntax; still
    /// case-insensitive unless it starts with `(?-i)`).
    #[arg(long, requires = "contains")]
    pub regex: bool,
    /// Only the newest N entries.
    #[arg(short = 'n', value_name = "N")]
    pub limit: Option<usize>,
    /// Include deleted entries.
    #[arg(long)]
    pub deleted: bool,
    /// Only your private entries (written with --private).
    #[arg(long)]
    pub private: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// An entry id, or a unique prefix of one.
    #[arg(add = ArgValueCompleter::new(complete::entry_ids))]
    pub id: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    /// An entry id, or a unique prefix of one.
    #[arg(add = ArgValueCompleter::new(complete::entry_ids))]
    pub id: String,
    /// Star the entry.
    #[arg(long, conflicts_with = "unstar")]
    pub star: bool,
    /// Remove the star.
    #[arg(long)]
    pub unstar: bool,
    /// Mark tender.
    #[arg(long, conflicts_with = "not_tender")]
    pub tender: bool,
    /// Unmark tender.
    #[arg(long)]
    pub not_tender: bool,
    /// Move the entry to your private entries, which only your own devices
    /// hold. Your partner's devices forget its words, as after a delete,
    /// and the entry gets a new id.
    #[arg(long, conflicts_with = "shared")]
    pub private: bool,
    /// Move a private entry back to the shared journal (it gets a new id).
    #[arg(long)]
    pub shared: bool,
    /// Add a tag (repeatable).
    #[arg(long = "tag")]
    pub add_tags: Vec<String>,
    /// Remove a tag (repeatable).
    #[arg(long = "untag")]
    pub remove_tags: Vec<String>,
    /// Open $VISUAL/$EDITOR even when stdin is not a terminal (as -e does
    /// on every command that writes).
    #[arg(long, short = 'e', alias = "editor")]
    pub edit: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// An entry id, or a unique prefix of one.
    #[arg(add = ArgValueCompleter::new(complete::entry_ids))]
    pub id: String,
    /// Do not ask first (a terminal is asked; scripts are not).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Subcommand)]
pub enum DaemonCommand {
    /// Start the daemon in the background (if it is not running).
    Start(NetArgs),
    /// Stop the daemon.
    Stop,
    /// Is the daemon running?
    Status(JsonArg),
    /// Stop, then start.
    Restart(NetArgs),
    /// Run in the foreground (for systemd, launchd and the like).
    Run(NetArgs),
}

/// How the daemon reaches the couple's other devices. Without a flag,
/// $HEARTH_NET and $HEARTH_RELAY, then `net` and `relay` in config.toml.
#[derive(Debug, Clone, Args)]
pub struct NetArgs {
    /// How to reach the other devices [default: default, or $HEARTH_NET,
    /// or `net` in config.toml].
    #[arg(long, value_enum, value_name = "MODE")]
    pub net: Option<NetChoice>,
    /// Use this self-hosted iroh relay instead of the public ones (default
    /// mode only) [or $HEARTH_RELAY, or `relay` in config.toml].
    #[arg(long, value_name = "URL")]
    pub relay: Option<String>,
    /// In the default mode, also announce this device on the local network
    /// (mDNS) so devices there find each other without the internet.
    /// `local` always does.
    #[arg(long, env = "HEARTH_MDNS", value_parser = clap::builder::FalseyValueParser::new())]
    pub mdns: bool,
}

#[derive(Debug, Subcommand)]
pub enum PairCommand {
    /// Print a one-time invite (and its QR code), then wait for the other
    /// device to join.
    Invite {
        /// How long the invite stays valid, in minutes.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=1440))]
        minutes: u64,
        /// Confirm the safety number without asking, for scripts: only
        /// where you have compared it some other way.
        #[arg(long)]
        yes: bool,
    },
    /// Join the invite printed on another device.
    Join {
        /// The `hearth1...` ticket.
        ticket: String,
        /// On a new device: keep the journal's key in a plain file instead
        /// of locking it with a passphrase (see `hearth init --help`).
        #[arg(long, conflicts_with = "keyring")]
        no_passphrase: bool,
        /// On a new device: keep the journal's key in the OS keyring (see
        /// `hearth init --help`).
        #[arg(long)]
        keyring: bool,
        /// Confirm the safety number without asking, for scripts: only
        /// where you have compared it some other way.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum PassphraseCommand {
    /// Lock the journal with a new passphrase [the old one from
    /// $HEARTH_PASSPHRASE, the new one from $HEARTH_NEW_PASSPHRASE, or asked].
    /// Only the key file is rewritten. On a journal made with
    /// --no-passphrase, this sets one; a journal made with --keyring has
    /// none to change.
    Change,
}

#[derive(Debug, Subcommand)]
pub enum PeersCommand {
    /// Trust a device by its id (run it on both devices).
    Add {
        /// The other device's id, as `hearth peers list` or `hearth status` shows it.
        id: String,
        /// Where to reach it, if it cannot be found otherwise (IP:PORT, repeatable).
        #[arg(long = "addr", value_name = "IP:PORT")]
        addrs: Vec<std::net::SocketAddr>,
    },
    /// The trusted devices, whether they are online, and when they last synced.
    List(JsonArg),
    /// Stop trusting a device, on every device of the couple. It keeps the
    /// copy it already has.
    Remove {
        /// A device id (or unique prefix), or its name.
        id: String,
    },
    /// Approve a new device of your partner's: your devices sync with it
    /// from now on. It shows the device's fingerprint: compare it with the
    /// one `hearth status` shows on that device.
    Approve {
        /// A device id (or unique prefix), or its name.
        id: String,
        /// Approve without asking (scripts); a terminal is asked.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Changes to the couple's devices you have not seen yet: a device
    /// added, approved or removed. On a terminal, every command prints
    /// these on its own after its output.
    Notices {
        /// Show the ones seen before too (this marks none as seen).
        #[arg(long)]
        all: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Give up on devices that have not answered after this many seconds.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The command whose page to print, e.g. `ritual add`; none for the
    /// main page.
    pub command: Vec<String>,
    /// Write every page (hearth.1 and one per command) into this
    /// directory instead.
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo's home directory instead of deleting it.
    #[arg(long)]
    pub keep: bool,
}
