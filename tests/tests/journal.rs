//! Writing every kind of entry and reading it back through the real CLI.

use crate::common::{TestEnv, fake_editor};
use serde_json::Value;

fn kinds(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect()
}

#[test]
fn every_kind_round_trips_with_author_device_and_day() {
    let env = TestEnv::initialised();
    env.ok(&[
        "checkin",
        "--mood",
        "4",
        "--energy",
        "tired",
        "--need",
        "talk",
        "long day @work",
    ]);
    env.ok(&["highlow", "--high", "sun", "--low", "rain"]);
    env.ok(&["thanks", "--to", "Ben", "for the coffee"]);
    env.ok_stdin(&["note"], "a piped note @plans\n");
    env.ok_stdin(&["repair", "start-over"], "can we redo breakfast?");
    env.ok(&[
        "repair",
        "debrief",
        "--happened",
        "argued",
        "--felt",
        "tired",
        "--my-part",
        "rushed",
        "--need",
        "time",
        "--agree",
        "pause first",
        "--agree",
        "talk sunday",
    ]);
    env.ok_stdin(&["prompt", "answer"], "more walks");

    let all = env.entries();
    assert_eq!(
        kinds(&all),
        [
            "checkin",
            "highlow",
            "gratitude",
            "note",
            "repair",
            "repair",
            "answer"
        ]
    );
    for e in &all {
        assert_eq!(e["author_name"], "Ana");
        assert_eq!(
            e["device"].as_str().unwrap().len(),
            64,
            "the device id is its public key"
        );
        assert_eq!(e["day"], "2026-11-25");
        assert_eq!(e["created"], "2026-11-25T21:30:00+01:00");
        assert!(
            e["id"]
                .as_str()
                .unwrap()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
    }
    assert_eq!(all[0]["mood"], 4);
    assert_eq!(all[0]["energy"], 2);
    assert_eq!(all[0]["need"], "talk");
    assert_eq!(all[0]["tags"], serde_json::json!(["work"]));
    assert_eq!(all[3]["text"], "a piped note @plans");
    assert_eq!(all[4]["tender"], true, "repairs are tender by default");
    assert_eq!(
        all[5]["agreements"],
        serde_json::json!(["pause first", "talk sunday"])
    );
    assert!(all[6]["prompt"].as_str().unwrap().len() > 3);
}

#[test]
fn the_day_boundary_puts_late_nights_on_the_day_before() {
    let mut env = TestEnv::initialised();
    env.now = "2026-11-26T02:30:00+01:00".into();
    env.ok(&["note", "after midnight"]);
    let all = env.entries();
    assert_eq!(all[0]["day"], "2026-11-25");
    let today = env.ok(&["log", "--since", "today", "--json"]);
    assert_eq!(
        today.lines().count(),
        1,
        "at 2:30 am, today is still the 25th"
    );
}

#[test]
fn log_filters_combine() {
    let mut env = TestEnv::initialised();
    for (now, args) in [
        ("2026-11-20T20:00:00+01:00", vec!["note", "old walk @park"]),
        (
            "2026-11-23T20:00:00+01:00",
            vec!["checkin", "--mood", "2", "rough monday"],
        ),
        (
            "2026-11-24T20:00:00+01:00",
            vec!["note", "--star", "dinner @park"],
        ),
        (
            "2026-11-25T20:00:00+01:00",
            vec!["thanks", "--to", "Ben", "the dishes"],
        ),
    ] {
        env.now = now.into();
        env.ok(&args);
    }
    env.now = "2026-11-25T21:00:00+01:00".into();
    let count = |args: &[&str]| {
        let mut a = vec!["log", "--json"];
        a.extend_from_slice(args);
        env.ok(&a).lines().count()
    };
    assert_eq!(count(&[]), 4);
    assert_eq!(count(&["--kind", "note"]), 2);
    assert_eq!(count(&["--tag", "park"]), 2);
    assert_eq!(count(&["--tag", "park", "--starred"]), 1);
    assert_eq!(count(&["--since", "last monday"]), 3);
    assert_eq!(count(&["--since", "2026-11-21", "--until", "yesterday"]), 2);
    assert_eq!(count(&["--contains", "DISHES"]), 1);
    assert_eq!(count(&["--author", "me"]), 4);
    assert_eq!(count(&["--author", "ana"]), 4);
    assert_eq!(count(&["-n", "2"]), 2);
    let newest = env.ok(&["log", "--json", "-n", "1"]);
    assert!(newest.contains("the dishes"), "-n keeps the newest");
    let human = env.ok(&["log"]);
    assert!(
        human.contains("Fri 20 Nov 2026") && human.contains("Wed 25 Nov 2026"),
        "{human}"
    );
}

#[test]
fn show_accepts_a_unique_prefix_and_edit_and_delete_work() {
    let env = TestEnv::initialised();
    env.ok(&["note", "first version @draft"]);
    let id = env.entries()[0]["id"].as_str().unwrap().to_string();
    let shown = env.ok(&["show", &id[..12]]);
    assert!(shown.contains("first version"), "{shown}");
    let json: Value =
        serde_json::from_str(&env.ok(&["show", &id.to_uppercase(), "--json"])).unwrap();
    assert_eq!(json["id"], id.as_str());

    // Editing through the editor: the draft holds the current text.
    let (editor, seen) = fake_editor(env.home(), "ed", "[text]\nsecond version @final\n");
    let out = env
        .cmd()
        .args(["edit", "-e", &id[..12]])
        .env("VISUAL", &editor)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::read_to_string(&seen)
            .unwrap()
            .contains("first version @draft")
    );
    let e = &env.entries()[0];
    assert_eq!(e["text"], "second version @final");
    assert!(e["edited"].is_string());
    assert_eq!(
        e["tags"],
        serde_json::json!(["draft", "final"]),
        "tags are added from the new text"
    );

    // Editing from stdin, and flags.
    env.ok_stdin(&["edit", &id], "[text]\nthird version\n");
    env.ok(&["edit", &id, "--star", "--untag", "draft"]);
    let e = &env.entries()[0];
    assert_eq!(e["text"], "third version");
    assert_eq!(e["starred"], true);
    assert_eq!(e["tags"], serde_json::json!(["final"]));

    env.ok(&["delete", &id]);
    assert!(
        env.ok(&["log", "--json"]).is_empty(),
        "deleted entries are hidden"
    );
    // A delete forgets the words: not even `log --deleted` has them.
    assert!(env.entries().is_empty());
    env.fails(&["delete", &id], 1);
}

#[test]
fn text_comes_from_the_editor_when_not_given() {
    let env = TestEnv::initialised();
    let (editor, seen) = fake_editor(
        env.home(),
        "note",
        "HEARTH: ignored\nwritten in the editor\n",
    );
    // A terminal stdin is what opens the editor; under test stdin is not a
    // terminal, so -e asks for the editor explicitly.
    let out = env
        .cmd()
        .args(["note", "-e"])
        .env("VISUAL", &editor)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::read_to_string(seen)
            .unwrap()
            .starts_with("HEARTH:")
    );
    assert_eq!(env.entries()[0]["text"], "written in the editor");

    let (editor, _) = fake_editor(env.home(), "hl", "[high]\nthe sea\n[low]\nthe train\n");
    let out = env
        .cmd()
        .args(["highlow", "-e"])
        .env("VISUAL", &editor)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let e = &env.entries()[1];
    assert_eq!(
        (e["high"].as_str(), e["low"].as_str()),
        (Some("the sea"), Some("the train"))
    );
}

#[test]
fn an_editor_that_fails_writes_nothing() {
    let env = TestEnv::initialised();
    let out = env
        .cmd()
        .args(["note", "-e"])
        .env("VISUAL", "false")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(env.entries().is_empty());
}

#[test]
fn rituals_are_due_and_completed_by_their_entries() {
    let mut env = TestEnv::initialised();
    // Added on Sunday, so this week's state of the union is already due.
    let sunday = "2026-11-22T10:00:00+01:00";
    env.ok_at(
        sunday,
        &[
            "ritual",
            "add",
            "Evening check-in",
            "--cadence",
            "daily",
            "--fulfilled-by",
            "checkin",
        ],
    );
    env.ok_at(
        sunday,
        &[
            "ritual",
            "add",
            "State of the union",
            "--cadence",
            "weekly:sun",
            "--owner",
            "together",
        ],
    );
    let due: Value = serde_json::from_str(&env.ok(&["due", "--json"])).unwrap();
    let is_due = |d: &Value, name: &str| {
        d["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["ritual"]["name"] == name)
            .unwrap()["due"]
            .as_bool()
            .unwrap()
    };
    assert!(is_due(&due, "Evening check-in") && is_due(&due, "State of the union"));
    let out = env.ok(&["checkin", "--mood", "good"]);
    assert!(out.contains("completes Evening check-in"), "{out}");
    // The completion names the entry that fulfilled it.
    let checkin = env
        .entries()
        .into_iter()
        .find(|e| e["kind"] == "checkin")
        .unwrap();
    let list: Value = serde_json::from_str(&env.ok(&["ritual", "list", "--json"])).unwrap();
    let line = &list["log"][0];
    assert_eq!(line["entry"], checkin["id"], "{list}");
    assert_eq!(line["occurrence"], "2026-11-25");
    env.ok(&["ritual", "done", "union"]);
    let due: Value = serde_json::from_str(&env.ok(&["ritual", "due", "--json"])).unwrap();
    assert!(!is_due(&due, "Evening check-in") && !is_due(&due, "State of the union"));
    // The next day the daily one is due again; the weekly one is not.
    env.now = "2026-11-26T21:30:00+01:00".into();
    let due: Value = serde_json::from_str(&env.ok(&["due", "--json"])).unwrap();
    assert!(is_due(&due, "Evening check-in") && !is_due(&due, "State of the union"));
    env.fails(&["ritual", "done", "nonexistent"], 1);
    env.fails(
        &["ritual", "add", "Evening check-in", "--cadence", "daily"],
        1,
    );
}

#[test]
fn the_prompt_is_stable_for_the_day_and_answers_link_to_it() {
    let mut env = TestEnv::initialised();
    let p1: Value = serde_json::from_str(&env.ok(&["prompt", "--json"])).unwrap();
    let p2: Value = serde_json::from_str(&env.ok(&["prompt", "--json"])).unwrap();
    assert_eq!(p1["prompt"]["id"], p2["prompt"]["id"]);
    assert!(p1["mine"].is_null());
    env.ok_stdin(&["prompt", "answer"], "my answer");
    let p3: Value = serde_json::from_str(&env.ok(&["prompt", "--json"])).unwrap();
    assert_eq!(p3["mine"]["text"], "my answer");
    assert_eq!(p3["mine"]["prompt"], p1["prompt"]["id"]);
    // Over a fortnight the deck turns.
    let mut ids = std::collections::BTreeSet::new();
    for d in 1..=14 {
        env.now = format!("2026-12-{d:02}T12:00:00+01:00");
        let p: Value = serde_json::from_str(&env.ok(&["prompt", "--json"])).unwrap();
        ids.insert(p["prompt"]["id"].as_str().unwrap().to_string());
    }
    assert!(ids.len() > 5, "{ids:?}");
    env.ok(&[
        "prompt",
        "add",
        "What song is stuck in your head?",
        "--theme",
        "day",
    ]);
    env.fails(&["prompt", "add", "x", "--theme", "weather"], 1);
}

#[test]
fn today_status_and_json_shapes() {
    let env = TestEnv::initialised();
    env.ok(&["note", "hello"]);
    let t: Value = serde_json::from_str(&env.ok(&["today", "--json"])).unwrap();
    assert_eq!(t["day"], "2026-11-25");
    assert_eq!(t["entries"].as_array().unwrap().len(), 1);
    assert!(t["prompt"]["prompt"]["text"].is_string());
    let s: Value = serde_json::from_str(&env.ok(&["status", "--json"])).unwrap();
    assert_eq!(s["entries"], 1);
    assert_eq!(s["me"][1], "Ana");
    assert_eq!(s["protocol"], hearth_ipc::PROTOCOL_VERSION);
}

#[test]
fn completions_and_man_page_are_generated() {
    let env = TestEnv::new();
    // The hooks ask hearth itself for candidates (tests/tests/settings.rs).
    assert!(
        env.ok(&["completions", "bash"])
            .contains("COMPLETE=\"bash\"")
    );
    assert!(env.ok(&["completions", "zsh"]).contains("COMPLETE=\"zsh\""));
    let man = env.ok(&["man"]);
    assert!(man.contains(".TH") && man.contains("hearth"));
}
