//! Export in every format, and importing jrnl's JSON export.

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;

use crate::common::TestEnv;

const JRNL: &str = r#"{
  "tags": {"@garden": 1},
  "entries": [
    {
      "title": "Planted the tulips.",
      "body": "Three rows by the fence. @garden",
      "date": "2025-10-04",
      "time": "17:45",
      "tags": ["@garden"],
      "starred": true
    },
    {
      "title": "Rainy Sunday.",
      "body": "",
      "date": "2025-10-05",
      "time": "10:05",
      "tags": [],
      "starred": false
    }
  ]
}
"#;

fn write_file(env: &TestEnv, name: &str, text: &str) -> String {
    let p = env.home().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn jrnl_imports_once_as_mine_with_tags_and_stars() {
    let env = TestEnv::initialised();
    let file = write_file(&env, "jrnl.json", JRNL);
    let out = env.ok(&["import", "--format", "jrnl", &file, "--dry-run"]);
    assert!(out.contains("2 entries read"), "{out}");
    assert!(env.entries().is_empty(), "a dry run writes nothing");
    let out = env.ok(&["import", "--format", "jrnl", &file]);
    assert!(out.contains("Imported 2 entries"), "{out}");
    let es = env.entries();
    assert_eq!(es.len(), 2);
    assert_eq!(es[0]["kind"], "note");
    assert_eq!(
        es[0]["text"],
        "Planted the tulips.\nThree rows by the fence. @garden"
    );
    assert_eq!(es[0]["author_name"], "Ana");
    assert_eq!(es[0]["starred"], true);
    assert_eq!(es[0]["tags"], serde_json::json!(["garden"]));
    assert_eq!(es[0]["created"], "2025-10-04T17:45:00+01:00");
    assert_eq!(es[0]["day"], "2025-10-04");
    assert_eq!(es[1]["starred"], false);
    // Again: nothing new.
    let out = env.ok(&["import", "--format", "jrnl", &file]);
    assert!(
        out.contains("Imported 0 entries") && out.contains("2 were already here"),
        "{out}"
    );
    assert_eq!(env.entries().len(), 2);
}

#[test]
fn a_malformed_jrnl_file_names_the_problem_and_imports_nothing() {
    let env = TestEnv::initialised();
    let cases = [
        (JRNL.replace("2025-10-05", "2025-13-05"), "entries[1].date"),
        (
            JRNL.replace("\"17:45\"", "\"quarter to six\""),
            "entries[0].time",
        ),
        (
            JRNL.replace("\"title\": \"Rainy Sunday.\",", ""),
            "entries[1]: missing field `title`",
        ),
        (
            JRNL.replace("\"starred\": false", "\"starred\": \"no\""),
            "entries[1].starred",
        ),
        (JRNL[..200].to_string(), "line"),
        ("[1, 2]".to_string(), "not a jrnl JSON export"),
    ];
    for (text, says) in cases {
        let file = write_file(&env, "bad.json", &text);
        let err = env.fails(&["import", "--format", "jrnl", &file], 1);
        assert!(err.contains(says), "wanted {says:?} in {err}");
        assert!(err.contains("nothing imported"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    let err = env.fails(&["import", "--format", "jrnl", "/nonexistent/x.json"], 1);
    assert!(err.contains("cannot read /nonexistent/x.json"), "{err}");
    let file = write_file(&env, "bin.json", "");
    std::fs::write(&file, [0xff, 0xfe, 0x00]).unwrap();
    let err = env.fails(&["import", "--format", "jrnl", &file], 1);
    assert!(err.contains("not UTF-8"), "{err}");
    env.fails(&["import", "--format", "dayone", &file], 2);
    // The daemon refuses the second entry after writing the first: the
    // first is rolled back.
    let early = JRNL.replace("2025-10-05", "1969-12-31");
    let file = write_file(&env, "early.json", &early);
    let err = env.fails(&["import", "--format", "jrnl", &file], 1);
    assert!(
        err.contains("before 1970") && err.contains("nothing imported"),
        "{err}"
    );
    assert!(env.entries().is_empty(), "nothing half-imported");
    let file = write_file(&env, "jrnl.json", JRNL);
    env.ok(&["import", "--format", "jrnl", &file]);
    assert_eq!(env.entries().len(), 2, "and the daemon still writes");
}

#[test]
fn exports_in_every_format() {
    let env = TestEnv::initialised();
    env.ok(&[
        "checkin",
        "--mood",
        "good",
        "--need",
        "hug",
        "Long day @work",
    ]);
    env.ok(&["thanks", "--to", "Ben", "--star", "For the soup."]);
    env.ok(&["note", "[not] a date stamp\nsecond line"]);
    env.ok(&["ritual", "add", "evening-checkin"]);

    let md = env.ok(&["export", "--format", "md"]);
    assert!(md.starts_with("# Ana\n"), "{md}");
    assert!(md.contains("## Wednesday 25 November 2026"), "{md}");
    assert!(md.contains("Mood 4 (good), needs hug."), "{md}");
    assert!(md.contains("Thanks to Ben: For the soup."), "{md}");

    let j: Value = serde_json::from_str(&env.ok(&["export", "--format", "json"])).unwrap();
    assert_eq!(j["format"], "hearth-export");
    assert_eq!(j["entries"].as_array().unwrap().len(), 3);
    assert_eq!(j["entries"][0]["mood"], 4);
    assert_eq!(j["rituals"][0]["name"], "Evening check-in");
    assert_eq!(
        j["ritual_log"].as_array().unwrap().len(),
        0,
        "the check-in came first"
    );

    let t = env.ok(&["export", "--format", "jrnl"]);
    assert!(
        t.starts_with("[2026-11-25 21:30] Ana (check-in): Mood 4 (good), needs hug.\n"),
        "{t}"
    );
    assert!(
        t.contains("] Ana (thanks): Thanks to Ben: For the soup. *\n"),
        "{t}"
    );
    assert!(
        t.contains("] Ana (note): [not] a date stamp\nsecond line\n"),
        "{t}"
    );

    // A file is created private, atomically, and not overwritten by default.
    let path = env.home().join("journal.automerge");
    let p = path.to_str().unwrap();
    env.ok(&["export", "--format", "automerge", "--output", p]);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let doc = automerge::Automerge::load(&std::fs::read(&path).unwrap()).unwrap();
    let journal = hearth_model::Journal::from_doc(doc).unwrap();
    let (entries, bad) = journal.all_entries();
    assert_eq!((entries.len(), bad), (3, 0));
    let err = env.fails(&["export", "--format", "md", "--output", p], 1);
    assert!(err.contains("already exists"), "{err}");
    env.ok(&["export", "--format", "md", "--output", p, "--force"]);
    assert!(std::fs::read_to_string(&path).unwrap().starts_with("# Ana"));
    let err = env.fails(
        &[
            "export",
            "--format",
            "md",
            "--output",
            "/nonexistent/dir/x.md",
        ],
        1,
    );
    assert!(err.contains("cannot write"), "{err}");
}

/// Imports `n` notes an hour and a minute apart from 2025-01-01, "Entry
/// number {i}." each: more than one page of an export (1,000) or a log
/// (2,000) over a hundred days, so pages end in the middle of a day. Every
/// thousandth, from the first, is tagged `milestone`.
fn import_many(env: &TestEnv, n: i64) {
    let entries: Vec<Value> = (0..n)
        .map(|i| {
            let at = chrono::NaiveDate::from_ymd_opt(2025, 1, 1)
                .unwrap()
                .and_hms_opt(6, 0, 0)
                .unwrap()
                + chrono::Duration::minutes(i * 61);
            serde_json::json!({
                "title": format!("Entry number {i}."),
                "body": "",
                "date": at.format("%Y-%m-%d").to_string(),
                "time": at.format("%H:%M").to_string(),
                "tags": if i % 1_000 == 0 { vec!["@milestone"] } else { vec![] },
                "starred": false,
            })
        })
        .collect();
    let file = write_file(
        env,
        "many.json",
        &serde_json::json!({ "tags": {}, "entries": entries }).to_string(),
    );
    env.ok(&["import", "--format", "jrnl", &file]);
}

#[test]
fn an_export_of_many_pages_holds_every_entry_once_in_order_in_every_format() {
    let env = TestEnv::initialised();
    let n = 2_300;
    import_many(&env, n);

    let j: Value = serde_json::from_str(&env.ok(&["export", "--format", "json"])).unwrap();
    let got = j["entries"].as_array().unwrap();
    assert_eq!(got.len(), n as usize);
    let ids: std::collections::BTreeSet<&str> =
        got.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), got.len(), "no entry twice");
    let texts: Vec<&str> = got.iter().map(|e| e["text"].as_str().unwrap()).collect();
    for (i, t) in texts.iter().enumerate() {
        assert_eq!(*t, format!("Entry number {i}."), "oldest first");
    }
    assert_eq!(j["format"], "hearth-export");
    assert_eq!(j["sealed_answers_left_out"], 0);

    let md = env.ok(&["export", "--format", "md"]);
    assert!(md.contains(&format!("{n} entries.")), "{}", &md[..200]);
    assert_eq!(md.matches("\n### ").count(), n as usize);
    // A day's heading once, even where a page ends inside the day.
    let days: std::collections::BTreeSet<String> = got
        .iter()
        .map(|e| e["day"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(md.matches("\n## ").count(), days.len());

    let t = env.ok(&["export", "--format", "jrnl"]);
    let stamped = t.lines().filter(|l| l.starts_with("[2025-")).count();
    assert_eq!(stamped, n as usize);

    let path = env.home().join("all.json");
    let out = env.run(&[
        "export",
        "--format",
        "json",
        "--output",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let bytes = std::fs::read(&path).unwrap();
    let said = String::from_utf8(out.stderr).unwrap();
    assert!(said.contains(&format!("({} bytes)", bytes.len())), "{said}");
    let on_disk: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(on_disk["entries"].as_array().unwrap().len(), n as usize);
}

#[test]
fn a_log_of_many_pages_prints_every_entry_once_under_one_heading_a_day() {
    let env = TestEnv::initialised();
    let n = 4_100;
    import_many(&env, n);
    let got: Vec<Value> = env
        .ok(&["log", "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(got.len(), n as usize);
    for (i, e) in got.iter().enumerate() {
        assert_eq!(
            e["text"],
            format!("Entry number {i}."),
            "oldest first, once each"
        );
    }
    let days: std::collections::BTreeSet<&str> =
        got.iter().map(|e| e["day"].as_str().unwrap()).collect();
    let plain = env.ok(&["log"]);
    for i in [0, 1_999, 2_000, 3_999, 4_000, n - 1] {
        assert_eq!(plain.matches(&format!("Entry number {i}.")).count(), 1);
    }
    // A day's heading once, even where a page ends inside the day.
    let headings = plain.lines().filter(|l| l.ends_with(" 2025")).count();
    assert_eq!(headings, days.len(), "{}", &plain[..300]);
    // `tags` reads every page too.
    let tags: Value = serde_json::from_str(&env.ok(&["tags", "--json"])).unwrap();
    assert_eq!(tags[0]["tag"], "milestone");
    assert_eq!(tags[0]["count"], (n + 999) / 1_000);
    // `-n` still answers the newest, in one reply.
    let last = env.ok(&["log", "-n", "3", "--json"]);
    assert_eq!(last.lines().count(), 3);
    assert!(last.contains(&format!("Entry number {}.", n - 1)));
}
