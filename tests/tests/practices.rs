//! Rituals, rhythm, prompts, reviews, look-backs, export and import, all
//! with the clock pinned per command.

use serde_json::Value;

use crate::common::TestEnv;

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

fn ritual<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["rituals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no ritual {name}: {list}"))
}

#[test]
fn templates_are_enabled_with_one_command_and_adjusted() {
    let env = TestEnv::initialised();
    let t = json(&env.ok(&["ritual", "templates", "--json"]));
    let keys: Vec<&str> = t
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "evening-checkin",
            "high-low",
            "morning-gratitude",
            "state-of-the-union",
            "date-night",
            "relationship-review",
            "digital-detox"
        ]
    );
    for k in &keys {
        env.ok(&["ritual", "add", k]);
    }
    env.ok(&["ritual", "remove", "state of the union"]);
    env.ok(&[
        "ritual",
        "add",
        "state-of-the-union",
        "--on",
        "wed",
        "--owner",
        "both",
    ]);
    env.ok(&[
        "ritual",
        "add",
        "Sunday walk",
        "--cadence",
        "weekly:sun",
        "--owner",
        "together",
    ]);
    let list = json(&env.ok(&["ritual", "list", "--json"]));
    assert_eq!(list["rituals"].as_array().unwrap().len(), 8);
    let sotu = ritual(&list, "State of the union");
    assert_eq!(sotu["cadence"], "weekly:wed");
    assert_eq!(sotu["owner"], "both");
    assert_eq!(sotu["kind"], "state-of-the-union");
    assert_eq!(ritual(&list, "Evening check-in")["fulfilled_by"], "checkin");
    assert_eq!(
        ritual(&list, "Morning gratitude")["fulfilled_by"],
        "gratitude"
    );
    assert_eq!(ritual(&list, "Date night")["cadence"], "monthly:1");
    assert_eq!(ritual(&list, "Sunday walk")["kind"], "custom");

    env.ok(&[
        "ritual",
        "change",
        "date night",
        "--on",
        "15",
        "--owner",
        "me",
    ]);
    env.ok(&[
        "ritual",
        "change",
        "evening check",
        "--manual",
        "--name",
        "Evening talk",
    ]);
    let list = json(&env.ok(&["ritual", "list", "--json"]));
    let date = ritual(&list, "Date night");
    assert_eq!(date["cadence"], "monthly:15");
    assert!(date["owner"]["partner"].is_string(), "{date}");
    assert!(ritual(&list, "Evening talk")["fulfilled_by"].is_null());

    // Bad shapes are usage errors and write nothing.
    let before = env.ok(&["ritual", "list", "--json"]);
    for (args, code, says) in [
        (
            &["ritual", "add", "evening-checkin", "--on", "mon"][..],
            2,
            "daily ritual has no day",
        ),
        (
            &["ritual", "add", "date-night", "--on", "32"][..],
            2,
            "1-31",
        ),
        (
            &["ritual", "add", "state-of-the-union", "--on", "funday"][..],
            2,
            "weekday",
        ),
        (&["ritual", "add", "Knitting"][..], 2, "needs --cadence"),
        (
            &[
                "ritual",
                "add",
                "Knitting",
                "--name",
                "x",
                "--cadence",
                "daily",
            ][..],
            2,
            "not one",
        ),
        (
            &["ritual", "change", "date night"][..],
            1,
            "nothing to change",
        ),
        (
            &["ritual", "change", "nope", "--cadence", "daily"][..],
            1,
            "no ritual",
        ),
        (
            &["ritual", "change", "date night", "--name", "Sunday walk"][..],
            1,
            "already exists",
        ),
        (&["ritual", "remove", "nope"][..], 1, "no ritual"),
    ] {
        let err = env.fails(args, code);
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    assert_eq!(env.ok(&["ritual", "list", "--json"]), before);
}

#[test]
fn rhythm_follows_the_day_boundary_and_time_zones() {
    let mut env = TestEnv::initialised();
    env.ok_at(
        "2026-11-16T09:00:00+01:00",
        &["ritual", "add", "evening-checkin"],
    );
    // Monday to Sunday, 16-22 November, with gaps on Wed and Sat.
    for now in [
        "2026-11-16T21:00:00+01:00",
        "2026-11-17T21:00:00+01:00",
        // 01:30 on the 19th belongs to journal day the 18th (day starts 4am).
        "2026-11-19T01:30:00+01:00",
        // Written while travelling: 20:00 in New York is 02:00 on the 21st
        // at home, but the day is the writer's own evening of the 20th.
        "2026-11-20T20:00:00-05:00",
        "2026-11-22T22:00:00+01:00",
    ] {
        env.ok_at(now, &["checkin", "--mood", "good"]);
    }
    let days: Vec<String> = env
        .entries()
        .iter()
        .map(|e| e["day"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        days,
        [
            "2026-11-16",
            "2026-11-17",
            "2026-11-18",
            "2026-11-20",
            "2026-11-22"
        ]
    );
    env.now = "2026-11-23T12:00:00+01:00".into();
    let rh = json(&env.ok(&["ritual", "rhythm", "--json"]));
    let lane = &rh[0]["lanes"][0];
    let marks: String = lane["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(
            |w| match (w["done"].as_bool().unwrap(), w["open"].as_bool().unwrap()) {
                (true, _) => 'x',
                (false, true) => '.',
                (false, false) => 'o',
            },
        )
        .collect();
    // The ritual began on the 16th: seven closed days and today, still open.
    assert_eq!(marks, "xxxoxox.");
    assert_eq!(
        (lane["done"].as_u64(), lane["counted"].as_u64()),
        (Some(5), Some(7))
    );
    let text = env.ok(&["ritual", "list"]);
    assert!(text.contains("done 5 of the last 7 days"), "{text}");
    // A missed day lowers the ratio; it never resets it.
    env.now = "2026-11-25T12:00:00+01:00".into();
    let text = env.ok(&["ritual", "rhythm"]);
    assert!(text.contains("done 5 of the last 9 days"), "{text}");
}

#[test]
fn a_skipped_prompt_is_replaced_the_same_way_everywhere() {
    let env = TestEnv::initialised();
    let first = json(&env.ok(&["prompt", "--json"]));
    let second = json(&env.ok(&["prompt", "skip", "--json"]));
    assert_ne!(first["prompt"]["id"], second["prompt"]["id"]);
    assert_eq!(
        json(&env.ok(&["prompt", "--json"]))["prompt"],
        second["prompt"]
    );
    let third = json(&env.ok(&["prompt", "draw", "--json"]));
    assert_ne!(third["prompt"]["id"], second["prompt"]["id"]);
    assert_ne!(third["prompt"]["id"], first["prompt"]["id"]);
    // The answer goes to the prompt now showing.
    env.ok(&["prompt", "answer", "A walk by the river"]);
    let e = &env.entries()[0];
    assert_eq!(e["prompt"], third["prompt"]["id"]);
}

#[test]
fn onthisday_reaches_back_years_and_a_month_and_keeps_tender_out() {
    let mut env = TestEnv::initialised();
    env.ok_at(
        "2024-11-25T20:00:00+01:00",
        &["note", "Two years ago today"],
    );
    env.ok_at("2025-11-25T20:00:00+01:00", &["note", "A year ago today"]);
    env.ok_at(
        "2025-11-25T21:00:00+01:00",
        &["note", "--tender", "A hard evening"],
    );
    env.ok_at("2025-11-26T20:00:00+01:00", &["note", "The day after"]);
    // 25 October 2026 is a Sunday: last month's week is 19-25 October.
    env.ok_at(
        "2026-10-19T20:00:00+01:00",
        &["thanks", "--to", "Ben", "Monday soup"],
    );
    env.ok_at(
        "2026-10-26T20:00:00+01:00",
        &["note", "Too late for that week"],
    );
    let o = json(&env.ok(&["onthisday", "--json"]));
    let years: Vec<(u64, usize)> = o["years"]
        .as_array()
        .unwrap()
        .iter()
        .map(|y| {
            (
                y["years"].as_u64().unwrap(),
                y["entries"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(years, [(1, 1), (2, 1)]);
    assert_eq!(o["last_month"]["from"], "2026-10-19");
    assert_eq!(o["last_month"]["entries"].as_array().unwrap().len(), 1);
    let text = env.ok(&["onthisday"]);
    assert!(
        text.contains("A year ago today") && !text.contains("A hard evening"),
        "{text}"
    );
    let text = env.ok(&["onthisday", "--include-tender"]);
    assert!(text.contains("A hard evening"), "{text}");
}

#[test]
fn mood_charts_plain_when_piped_and_in_colour_when_asked() {
    let mut env = TestEnv::initialised();
    for (now, mood) in [
        ("2026-11-23T21:00:00+01:00", "rough"),
        ("2026-11-24T21:00:00+01:00", "okay"),
        ("2026-11-25T08:00:00+01:00", "good"),
        ("2026-11-25T21:00:00+01:00", "great"),
    ] {
        env.ok_at(now, &["checkin", "--mood", mood]);
    }
    let m = json(&env.ok(&["mood", "--weeks", "2", "--json"]));
    assert_eq!(m["from"], "2026-11-16", "two whole weeks, Monday first");
    assert_eq!(m["to"], "2026-11-25");
    let days = m["series"][0]["days"].as_array().unwrap();
    assert_eq!(days.len(), 10);
    assert_eq!(days[7]["mood"], 1.0);
    assert_eq!(days[9]["mood"], 4.5);
    assert_eq!(days[9]["checkins"], 2);
    assert_eq!(m["series"][0]["trend"], "rising");
    let plain = env.ok(&["mood", "--heatmap", "--weeks", "2"]);
    assert!(!plain.contains('\x1b'), "{plain}");
    assert!(
        plain.contains("Mon · 1") && plain.contains("Wed · 5"),
        "{plain}"
    );
    let coloured = env.ok(&["--color", "always", "mood"]);
    assert!(coloured.contains("\x1b["), "{coloured}");
    env.fails(&["mood", "--weeks", "0"], 2);
}

#[test]
fn a_settled_repair_leaves_the_review() {
    let env = TestEnv::initialised();
    env.ok(&[
        "repair",
        "debrief",
        "--happened",
        "the dishes",
        "--agree",
        "Ask first",
        "--agree",
        "Rinse",
    ]);
    env.ok(&["note", "not a repair"]);
    let r = json(&env.ok(&["review", "--json"]));
    let open: Vec<&str> = r["open_agreements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["text"].as_str().unwrap())
        .collect();
    assert_eq!(open, ["Ask first", "Rinse"]);
    let id = r["open_agreements"][0]["entry"]
        .as_str()
        .unwrap()
        .to_string();
    let note = env.entries().iter().find(|e| e["kind"] == "note").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let err = env.fails(&["repair", "resolve", &note], 1);
    assert!(err.contains("not a repair"), "{err}");
    env.ok(&["repair", "resolve", &id]);
    let r = json(&env.ok(&["review", "--json"]));
    assert!(r["open_agreements"].as_array().unwrap().is_empty());
    // A review of an earlier week, and none of a week to come.
    let r = json(&env.ok(&["review", "--until", "2026-11-22", "--json"]));
    assert_eq!(
        (r["from"].as_str(), r["to"].as_str()),
        (Some("2026-11-16"), Some("2026-11-22"))
    );
    assert!(r["people"][0]["highs"].as_array().unwrap().is_empty());
    let err = env.fails(&["review", "--until", "2026-12-01"], 1);
    assert!(err.contains("after today"), "{err}");
    let err = env.fails(&["review", "--until=-262143-01-01"], 1);
    assert!(err.contains("invalid date"), "{err}");
    env.ok(&["repair", "resolve", "--reopen", &id]);
    let r = json(&env.ok(&["review", "--month", "--json"]));
    assert_eq!(r["open_agreements"].as_array().unwrap().len(), 2);
    assert_eq!(r["span"], "month");
    assert_eq!(
        (r["from"].as_str(), r["to"].as_str()),
        (Some("2026-10-26"), Some("2026-11-25"))
    );
    let r = json(&env.ok(&["review", "--year", "--json"]));
    assert_eq!(
        (r["from"].as_str(), r["to"].as_str()),
        (Some("2025-11-26"), Some("2026-11-25"))
    );
    assert_eq!(r["open_agreements"].as_array().unwrap().len(), 2);
    let text = env.ok(&["review", "--year"]);
    assert!(
        text.starts_with("The year: Wed 26 Nov to Wed 25 Nov 2026"),
        "{text}"
    );
    env.fails(&["review", "--week", "--month"], 2);
}

#[test]
fn the_id_printed_after_saving_names_only_that_entry() {
    let env = TestEnv::initialised();
    // The pinned clock puts both in one millisecond: the first ten
    // characters of their ids are the same.
    env.ok(&["note", "first"]);
    let out = env.ok(&["note", "second"]);
    let id = out.split_whitespace().nth(2).unwrap();
    assert!(id.len() > 10, "{out}");
    let shown = json(&env.ok(&["show", id, "--json"]));
    assert_eq!(shown["text"], "second");
}

#[test]
fn answered_prompts_stay_put_and_late_answers_name_their_prompt() {
    let mut env = TestEnv::initialised();
    let today = json(&env.ok(&["prompt", "--json"]))["prompt"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The draw depends on the couple, which is random: an earlier day may
    // have drawn today's prompt too. Take the latest one that did not.
    let id = ["2026-11-24", "2026-11-23", "2026-11-22", "2026-11-21"]
        .iter()
        .map(|day| {
            let p = json(&env.ok_at(&format!("{day}T21:00:00+01:00"), &["prompt", "--json"]));
            p["prompt"]["id"].as_str().unwrap().to_string()
        })
        .find(|id| *id != today)
        .expect("four days in a row drew today's prompt");
    // Wednesday: answer an earlier day's prompt late.
    env.ok(&["prompt", "answer", "--prompt", &id, "Late, but here"]);
    let p = json(&env.ok(&["prompt", "--prompt", &id, "--json"]));
    assert_eq!(p["mine"]["text"], "Late, but here");
    let before = env.entries().len();
    let err = env.fails(&["prompt", "answer", "--prompt", "no-such-prompt", "x"], 1);
    assert!(err.contains("no prompt matches"), "{err}");
    assert_eq!(env.entries().len(), before, "nothing written");
    env.fails(&["prompt", "skip", "--prompt", &id], 2);
    // Once today's prompt has an answer, it is not skipped from under it.
    env.ok(&["prompt", "answer", "Today's answer"]);
    let err = env.fails(&["prompt", "skip"], 1);
    assert!(err.contains("answered today's prompt already"), "{err}");
}

#[test]
fn a_weekly_ritual_added_midweek_starts_next_week() {
    let mut env = TestEnv::initialised();
    // Wednesday 25th; state of the union on Sundays.
    env.ok(&["ritual", "add", "state-of-the-union", "--on", "sun"]);
    let due = json(&env.ok(&["due", "--json"]));
    assert_eq!(due["items"][0]["due"], false);
    assert_eq!(due["items"][0]["starts"], "2026-11-29");
    assert!(
        env.ok(&["due"])
            .contains("the first one is from Sun 29 Nov")
    );
    let rhythm = env.ok(&["ritual", "rhythm"]);
    assert!(
        rhythm.contains("new: the first one is from Sun 29 Nov"),
        "{rhythm}"
    );
    let rh = json(&env.ok(&["ritual", "rhythm", "--json"]));
    assert_eq!(rh[0]["starts"], "2026-11-29");
    let due = json(&env.ok_at("2026-11-29T10:00:00+01:00", &["due", "--json"]));
    assert_eq!(due["items"][0]["due"], true);
}

#[test]
fn repair_prompts_are_listed_and_answered_by_id_not_drawn() {
    let env = TestEnv::initialised();
    let repair = json(&env.ok(&["prompt", "list", "--theme", "repair", "--json"]));
    let ids: Vec<&str> = repair
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(
        !ids.is_empty() && ids.iter().all(|id| id.starts_with("repair-")),
        "{ids:?}"
    );
    let all = json(&env.ok(&["prompt", "list", "--json"]));
    assert!(all.as_array().unwrap().len() > ids.len());
    env.fails(&["prompt", "list", "--theme", "gossip"], 2);
    env.ok(&["prompt", "answer", "--prompt", ids[0], "I felt unheard."]);
    let p = json(&env.ok(&["prompt", "--prompt", ids[0], "--json"]));
    assert_eq!(p["mine"]["text"], "I felt unheard.");
    // `skip` takes no --prompt at all.
    env.fails(&["prompt", "skip", "--prompt", ids[0]], 2);
    // A JSON reader that stops early (`| head`) is not an error.
    let mut child = env
        .std_cmd()
        .args(["prompt", "list", "--json"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
}

#[test]
fn only_agreements_can_be_settled_and_imports_can_be_tender() {
    let env = TestEnv::initialised();
    env.ok(&["repair", "start-over", "The keys, this morning"]);
    let id = env.entries()[0]["id"].as_str().unwrap().to_string();
    let err = env.fails(&["repair", "resolve", &id], 1);
    assert!(err.contains("no agreements to settle"), "{err}");
    let file = env.home().join("j.json");
    std::fs::write(
        &file,
        r#"{"entries": [{"title": "Old.", "body": "", "date": "2020-01-02", "time": "10:00"}]}"#,
    )
    .unwrap();
    env.ok(&[
        "import",
        "--format",
        "jrnl",
        "--tender",
        file.to_str().unwrap(),
    ]);
    let imported = env
        .entries()
        .into_iter()
        .find(|e| e["text"] == "Old.")
        .unwrap();
    assert_eq!(imported["tender"], true);
    let err = env.fails(&["export", "--output", "/nonexistent/dir/x.md"], 1);
    assert!(
        err.contains("the directory /nonexistent/dir does not exist"),
        "{err}"
    );
}
