//! Configuration, shell completion and man pages (issue 13, points 5 and
//! 9): config.toml and the precedence over it, `hearth config`, the
//! network mode in status, dynamic completion, and one page per command.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bad_input::one_line;
use crate::common::TestEnv;

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

fn write_config(env: &TestEnv, text: &str) -> std::path::PathBuf {
    let dir = env.home().join("config");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

// ----- configuration ------------------------------------------------------

#[test]
fn config_shows_each_value_and_where_it_came_from_flags_over_env_over_file() {
    let env = TestEnv::new();
    let path = write_config(
        &env,
        "# mine\nnet = \"local\"\nday_start = 6\neditor = \"nano -w\"\ncolor = \"always\"\npager = \"most\"\n",
    );
    // The test environment sets HEARTH_NET=test, VISUAL=false, NO_COLOR=1.
    let v = json(&env.ok(&["config", "--json"]));
    assert_eq!(v["file"], path.display().to_string());
    assert_eq!(v["file_found"], true);
    let s = &v["settings"];
    let keys: BTreeSet<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from(["net", "relay", "day_start", "editor", "color", "pager"])
    );
    let is = |key: &str, value: Value, source: &str| {
        assert_eq!(s[key]["value"], value, "{key}: {s}");
        assert_eq!(s[key]["source"], source, "{key}: {s}");
    };
    is("net", "test".into(), "env");
    assert_eq!(s["net"]["origin"], "HEARTH_NET");
    is("relay", Value::Null, "default");
    is("day_start", 6.into(), "file");
    // hearth's own file wins over VISUAL and NO_COLOR, meant for every
    // program.
    is("editor", "nano -w".into(), "file");
    is("color", "always".into(), "file");
    is("pager", "most".into(), "file");
    assert!(
        s["day_start"]["origin"]
            .as_str()
            .unwrap()
            .contains("config.toml"),
        "{s}"
    );

    // hearth's variables win over the file; flags over both.
    let out = env
        .cmd()
        .args(["--color", "never", "--no-pager", "config", "--json"])
        .env("HEARTH_EDITOR", "ed")
        .env("HEARTH_COLOR", "auto")
        .env("HEARTH_DAY_START", "3")
        .output()
        .unwrap();
    assert!(out.status.success());
    let s = json(&String::from_utf8(out.stdout).unwrap())["settings"].clone();
    is_in(&s, "editor", "ed".into(), "env");
    is_in(&s, "day_start", 3.into(), "env");
    is_in(&s, "color", "never".into(), "flag");
    is_in(&s, "pager", "".into(), "flag");

    // The text form names the origin of each value.
    let text = env.ok(&["config"]);
    assert!(text.contains(&path.display().to_string()), "{text}");
    let editor = text.lines().find(|l| l.starts_with("editor")).unwrap();
    assert!(
        editor.contains("nano -w") && editor.contains("config.toml (editor)"),
        "{text}"
    );
    let net = text.lines().find(|l| l.starts_with("net")).unwrap();
    assert!(net.contains("test") && net.contains("HEARTH_NET"), "{text}");

    // Without a file, the defaults, and the file is said to be missing.
    std::fs::remove_file(&path).unwrap();
    let v = json(
        &String::from_utf8(
            env.cmd()
                .args(["config", "--json"])
                .env_remove("VISUAL")
                .env_remove("NO_COLOR")
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap(),
    );
    assert_eq!(v["file_found"], false);
    is_in(&v["settings"], "editor", "vi".into(), "default");
    is_in(&v["settings"], "color", "auto".into(), "default");
    is_in(&v["settings"], "day_start", 4.into(), "default");
}

#[track_caller]
fn is_in(s: &Value, key: &str, value: Value, source: &str) {
    assert_eq!(s[key]["value"], value, "{key}: {s}");
    assert_eq!(s[key]["source"], source, "{key}: {s}");
}

#[test]
fn the_editor_named_in_the_file_is_the_one_that_runs() {
    let env = TestEnv::initialised();
    let (editor, _) = crate::common::fake_editor(env.home(), "ed", "from the file's editor\n");
    write_config(&env, &format!("editor = \"{}\"\n", editor.display()));
    // VISUAL=false is set too: were it used, the note would fail.
    env.ok(&["note", "-e"]);
    assert_eq!(env.entries()[0]["text"], "from the file's editor");
}

#[test]
fn an_autostarted_daemon_reads_the_network_mode_from_the_file() {
    let env = TestEnv::new();
    write_config(&env, "net = \"local\"\n");
    let without_env = |args: &[&str]| {
        let out = env
            .cmd()
            .args(args)
            .env_remove("HEARTH_NET")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    // init starts the daemon itself, with nothing on its command line.
    without_env(&["init", "--name", "Robin"]);
    let s = json(&without_env(&["status", "--json"]));
    assert_eq!(s["net"], "local", "{s}");
    assert!(s["relay"].is_null(), "{s}");
    let d = json(&without_env(&["daemon", "status", "--json"]));
    assert_eq!((&d["net"], &d["relay"]), (&"local".into(), &Value::Null));
    let text = without_env(&["status"]);
    let line = text.lines().find(|l| l.starts_with("network")).unwrap();
    assert!(
        line.contains("local") && line.contains("no relay"),
        "{text}"
    );
    assert!(without_env(&["daemon", "status"]).contains("network: local"));

    // A flag wins over the file, and the environment does too.
    without_env(&["daemon", "restart", "--net", "test"]);
    assert_eq!(json(&without_env(&["status", "--json"]))["net"], "test");
    env.ok(&["daemon", "stop"]);
    assert_eq!(json(&env.ok(&["status", "--json"]))["net"], "test");
}

#[test]
fn a_bad_config_file_is_refused_in_one_line_naming_the_file_and_line() {
    let env = TestEnv::initialised();
    env.ok(&["note", "before"]);
    let cases: &[(&str, &[&str])] = &[
        (
            "net = \"local\"\ncolour = \"never\"\n",
            &["line 2", "colour"],
        ),
        ("day_start = 25\n", &["line 1", "25", "0-23"]),
        ("net = \"lan\"\n", &["line 1", "lan"]),
        ("relay = \"relay.example\"\n", &["line 1", "relay.example"]),
        ("\n\neditor = \n", &["line 3"]),
        ("pager = 3\n", &["line 1"]),
    ];
    for (text, needles) in cases {
        let path = write_config(&env, text);
        let err = env.fails(&["note", "after"], 1);
        one_line(&err, &path.display().to_string());
        for n in *needles {
            one_line(&err, n);
        }
        // `hearth config` itself says the same.
        one_line(&env.fails(&["config"], 1), needles[0]);
    }
    std::fs::remove_file(env.home().join("config/config.toml")).unwrap();
    let texts: Vec<String> = env
        .entries()
        .iter()
        .map(|e| e["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(texts, ["before"], "nothing was written");

    // On a new home, init with a bad file creates no journal.
    let fresh = TestEnv::new();
    write_config(&fresh, "colour = \"never\"\n");
    fresh.fails(&["init", "--name", "Sam"], 1);
    assert!(!fresh.home().join("data").exists());

    // A bad value in one of hearth's variables is a usage error.
    one_line(&fresh.fails(&["config"], 1), "colour");
    std::fs::remove_file(fresh.home().join("config/config.toml")).unwrap();
    let out = fresh
        .cmd()
        .args(["config"])
        .env("HEARTH_NET", "lan")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    one_line(&String::from_utf8(out.stderr).unwrap(), "HEARTH_NET");
}

// ----- completion ---------------------------------------------------------

/// What the shell gets back for the word at `index` of `words` (the first
/// word is `hearth`), the way the bash hook clap_complete writes asks.
fn complete(env: &TestEnv, words: &[&str], index: usize) -> (Vec<String>, Duration) {
    let started = Instant::now();
    let out = env
        .cmd()
        .arg("--")
        .args(words)
        .env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", index.to_string())
        .env("_CLAP_COMPLETE_COMP_TYPE", "9")
        .env("_CLAP_COMPLETE_SPACE", "true")
        .env("_CLAP_IFS", "\n")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{words:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect();
    (got, started.elapsed())
}

#[test]
fn completion_offers_moods_ids_rituals_templates_and_prompt_ids() {
    let env = TestEnv::initialised();
    env.ok(&["note", "a note to find"]);
    env.ok(&["ritual", "add", "evening-checkin", "--name", "Night talk"]);
    let id = env.entries()[0]["id"].as_str().unwrap().to_string();

    let (moods, _) = complete(&env, &["hearth", "checkin", "--mood", ""], 3);
    assert_eq!(moods, ["rough", "low", "okay", "good", "great"]);
    let (g, _) = complete(&env, &["hearth", "checkin", "--mood", "g"], 3);
    assert_eq!(g, ["good", "great"]);
    let (energy, _) = complete(&env, &["hearth", "checkin", "--energy", "t"], 3);
    assert_eq!(energy, ["tired"]);

    // An empty word gets the flags as well as the values.
    let values =
        |v: Vec<String>| -> Vec<String> { v.into_iter().filter(|c| !c.starts_with('-')).collect() };
    let (ids, _) = complete(&env, &["hearth", "show", ""], 2);
    assert!(ids.contains(&"--json".to_string()), "{ids:?}");
    assert_eq!(values(ids), std::slice::from_ref(&id));
    let (ids, _) = complete(&env, &["hearth", "edit", &id[..4]], 2);
    assert_eq!(ids, std::slice::from_ref(&id));
    let (none, _) = complete(&env, &["hearth", "delete", "zzzz"], 2);
    assert!(none.is_empty(), "{none:?}");

    let (rituals, _) = complete(&env, &["hearth", "ritual", "done", ""], 3);
    assert_eq!(values(rituals), ["Night talk"]);
    let (templates, _) = complete(&env, &["hearth", "ritual", "add", "state"], 3);
    assert_eq!(templates, ["state-of-the-union"]);
    let (prompts, _) = complete(
        &env,
        &["hearth", "prompt", "answer", "--prompt", "repair-0"],
        4,
    );
    assert!(
        !prompts.is_empty() && prompts.iter().all(|p| p.starts_with("repair-0")),
        "{prompts:?}"
    );

    // Subcommands come from the command tree as before.
    let (subs, _) = complete(&env, &["hearth", "rit"], 1);
    assert_eq!(subs, ["ritual"]);

    // With no daemon, nothing from it, quickly, and no daemon started.
    env.ok(&["daemon", "stop"]);
    let (ids, took) = complete(&env, &["hearth", "show", ""], 2);
    assert!(values(ids.clone()).is_empty(), "{ids:?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(!env.socket().exists(), "completion started a daemon");
    assert!(env.daemon_pid().is_none_or(|p| {
        rustix::process::test_kill_process(rustix::process::Pid::from_raw(p).unwrap()).is_err()
    }));
    // The model's own values need no daemon.
    let (moods, _) = complete(&env, &["hearth", "checkin", "--mood", "r"], 3);
    assert_eq!(moods, ["rough"]);
}

#[test]
fn completions_print_a_hook_that_asks_hearth_itself() {
    let env = TestEnv::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = env.ok(&["completions", shell]);
        assert!(script.contains("COMPLETE"), "{shell}: {script}");
        assert!(script.contains("hearth"), "{shell}: {script}");
    }
    // The registration is what `COMPLETE=bash hearth` prints too.
    let direct = env.cmd().env("COMPLETE", "bash").output().unwrap();
    assert_eq!(
        String::from_utf8(direct.stdout).unwrap(),
        env.ok(&["completions", "bash"])
    );
}

// ----- man pages -----------------------------------------------------------

/// Every `hearth-...(1)` a page names, roff's `\-` read as `-`.
fn pages_named(roff: &str) -> BTreeSet<String> {
    let text = roff.replace("\\-", "-");
    let mut out = BTreeSet::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("hearth-") {
        let tail = &rest[at..];
        let name: String = tail
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '-')
            .collect();
        if tail[name.len()..].starts_with("(1)") {
            out.insert(name.clone());
        }
        rest = &tail[name.len()..];
    }
    out
}

#[test]
fn every_command_has_a_man_page_and_pages_name_only_pages_that_exist() {
    let env = TestEnv::new();
    let dir = env.home().join("man");
    env.ok(&["man", "--out", dir.to_str().unwrap()]);
    let files: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for page in [
        "hearth.1",
        "hearth-init.1",
        "hearth-config.1",
        "hearth-ritual.1",
        "hearth-ritual-add.1",
        "hearth-pair-invite.1",
        "hearth-daemon-start.1",
    ] {
        assert!(files.contains(page), "{page} missing from {files:?}");
    }
    assert!(!files.contains("hearth-help.1"), "{files:?}");
    let mut named_anywhere = BTreeSet::new();
    for f in &files {
        let roff = std::fs::read_to_string(dir.join(f)).unwrap();
        assert!(roff.starts_with(".ie") || roff.contains(".TH"), "{f}");
        for name in pages_named(&roff) {
            assert!(
                files.contains(&format!("{name}.1")),
                "{f} names {name}(1), which does not exist"
            );
            named_anywhere.insert(name);
        }
    }
    assert!(named_anywhere.len() > 20, "{named_anywhere:?}");

    let main = env.ok(&["man"]);
    assert_eq!(main, std::fs::read_to_string(dir.join("hearth.1")).unwrap());
    for section in ["ENVIRONMENT", "FILES", "EXIT STATUS"] {
        assert!(main.contains(&format!(".SH \"{section}\"")), "{section}");
    }
    // The exit statuses listed are the ones hearth gives.
    let exit = &main[main.find(".SH \"EXIT STATUS\"").unwrap()..];
    let exit = &exit[..exit[1..].find(".SH").unwrap() + 1];
    let codes: Vec<&str> = exit
        .lines()
        .filter_map(|l| l.strip_prefix("\\fB")?.strip_suffix("\\fR"))
        .collect();
    assert_eq!(codes, ["0", "1", "2", "3", "4", "5", "255"]);
    let code_of = |args: &[&str]| env.run(args).status.code().unwrap().to_string();
    let says = |code: &str, words: &str| {
        let at = exit.find(&format!("\\fB{code}\\fR\n")).unwrap();
        let line = exit[at..].lines().nth(1).unwrap();
        assert!(line.contains(words), "{code}: {line}");
    };
    says(&code_of(&["--no-such-flag"]), "command line is wrong");
    says(&code_of(&["log"]), "no journal yet");
    says(&code_of(&["daemon", "status"]), "cannot be reached");

    // Every variable the page lists is in docs/CONFIG.md too.
    let config_md =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/CONFIG.md")).unwrap();
    let env_section =
        &main[main.find(".SH \"ENVIRONMENT\"").unwrap()..main.find(".SH \"FILES\"").unwrap()];
    let mut vars = 0;
    for l in env_section.lines() {
        if let Some(tag) = l.strip_prefix("\\fB").and_then(|t| t.strip_suffix("\\fR")) {
            for var in tag.split(", ") {
                let var = var.replace("\\-", "-");
                assert!(
                    config_md.contains(&format!("`{var}`")),
                    "{var} not in CONFIG.md"
                );
                vars += 1;
            }
        }
    }
    assert!(vars >= 10, "{env_section}");

    let sub = env.ok(&["man", "ritual", "add"]);
    assert!(sub.contains(".TH hearth-ritual-add 1"), "{sub}");
    assert!(
        sub.contains("hearth\\-ritual\\-add \\- Add a ritual"),
        "{sub}"
    );
    one_line(&env.fails(&["man", "no-such"], 1), "no command");
}
