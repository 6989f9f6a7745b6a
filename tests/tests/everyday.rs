//! Everyday use without surprises (issue 13): errors that help, output
//! that scripts can rely on, tags in either spelling, search.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::bad_input::one_line;
use crate::common::{TestEnv, wait_bounded};

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

// ----- errors that help ---------------------------------------------------

#[test]
fn usage_errors_keep_clap_details_and_name_the_subcommand_help() {
    let env = TestEnv::new();
    let cases: &[(&[&str], &[&str], &str)] = &[
        (
            &["import", "file.json"],
            &["required arguments were not provided", "--format <FORMAT>"],
            "hearth import",
        ),
        (
            &["export", "--format", "csv"],
            &["'csv'", "possible values: md, json, jrnl, automerge"],
            "hearth export",
        ),
        (
            &["checkin", "--moood", "3"],
            &["'--moood'", "did you mean '--mood'?"],
            "hearth checkin",
        ),
        (
            &["ritual", "dne", "walk"],
            &["'dne'", "did you mean 'due' or 'done'?"],
            "hearth ritual",
        ),
        (
            &["ritual"],
            &[
                "requires a subcommand",
                "[subcommands: add, templates",
                "done",
            ],
            "hearth ritual",
        ),
        (&["frobnicate"], &["'frobnicate'"], "hearth"),
    ];
    for (args, says, command) in cases {
        let stderr = env.fails(args, 2);
        one_line(&stderr, says[0]);
        let first = stderr.lines().next().unwrap();
        for s in *says {
            assert!(
                first.contains(s),
                "{s:?} not on the first line of {stderr:?}"
            );
        }
        let hint = stderr.lines().last().unwrap();
        assert_eq!(hint, format!("hint: see `{command} --help`"), "{stderr:?}");
    }
    // A usage error is refused before anything is set up.
    assert_eq!(std::fs::read_dir(env.home()).unwrap().count(), 0);
}

// ----- scripts ------------------------------------------------------------

/// jrnl's JSON export with `n` notes of about a kilobyte each.
fn big_jrnl(n: usize) -> String {
    let body = "a long line of journal text ".repeat(36);
    let entries: Vec<Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "title": format!("Entry {i}"),
                "body": body,
                "date": format!("2025-{:02}-{:02}", 1 + i % 12, 1 + i % 28),
                "time": format!("{:02}:{:02}", i % 24, i % 60),
                "tags": [],
                "starred": false,
            })
        })
        .collect();
    serde_json::json!({ "tags": {}, "entries": entries }).to_string()
}

#[test]
fn json_into_a_closed_pipe_exits_quietly_every_time() {
    let env = TestEnv::initialised();
    let file = env.home().join("big.json");
    std::fs::write(&file, big_jrnl(300)).unwrap();
    env.ok(&["import", "--format", "jrnl", file.to_str().unwrap()]);
    // Far more than a pipe holds, so the writer is still writing when the
    // reader goes away: `hearth log --json | head -1`.
    for run in 0..50 {
        let mut child = env
            .std_cmd()
            .args(["log", "--json"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert!(line.starts_with('{'), "run {run}: {line:?}");
        drop(out);
        let (status, stderr) = crate::common::finish(&mut child, Duration::from_secs(60));
        assert!(status.success(), "run {run}: {status}, stderr {stderr:?}");
        assert_eq!(stderr, "", "run {run}: a closed pipe is not an error");
    }
}

/// A small JSON Schema checker: enough of draft 2020-12 for
/// docs/json/hearth.schema.json (`$ref`, `type`, `const`, `enum`,
/// `oneOf`, `allOf`, `properties`, `required`, `additionalProperties`,
/// `unevaluatedProperties: false`, `items`).
struct Schema(Value);

impl Schema {
    fn load() -> Schema {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/json/hearth.schema.json"
        );
        Schema(json(&std::fs::read_to_string(path).unwrap()))
    }

    fn def(&self, name: &str) -> &Value {
        let d = &self.0["$defs"][name];
        assert!(d.is_object(), "no $defs/{name} in the schema");
        d
    }

    fn resolve<'a>(&'a self, s: &'a Value) -> &'a Value {
        match s.get("$ref").and_then(Value::as_str) {
            Some(r) => self.resolve(self.def(r.strip_prefix("#/$defs/").expect("local ref"))),
            None => s,
        }
    }

    #[track_caller]
    fn assert_valid(&self, def: &str, v: &Value) {
        if let Err(e) = self.check(self.def(def), v, "$") {
            panic!("output does not match $defs/{def}: {e}\n{v:#}");
        }
    }

    fn check(&self, s: &Value, v: &Value, at: &str) -> Result<(), String> {
        let s = self.resolve(s);
        if let Some(t) = s.get("type") {
            let types: Vec<&str> = match t {
                Value::String(one) => vec![one.as_str()],
                Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                _ => panic!("bad type in schema"),
            };
            let ok = types.iter().any(|t| match *t {
                "object" => v.is_object(),
                "array" => v.is_array(),
                "string" => v.is_string(),
                "integer" => v.is_i64() || v.is_u64(),
                "number" => v.is_number(),
                "boolean" => v.is_boolean(),
                "null" => v.is_null(),
                other => panic!("unknown type {other}"),
            });
            if !ok {
                return Err(format!("{at}: {v} is not {types:?}"));
            }
        }
        if let Some(c) = s.get("const")
            && c != v
        {
            return Err(format!("{at}: {v} is not {c}"));
        }
        if let Some(Value::Array(options)) = s.get("enum")
            && !options.contains(v)
        {
            return Err(format!("{at}: {v} is not one of {options:?}"));
        }
        if let Some(Value::Array(all)) = s.get("allOf") {
            for sub in all {
                self.check(sub, v, at)?;
            }
        }
        if let Some(Value::Array(one)) = s.get("oneOf") {
            let errors: Vec<String> = one
                .iter()
                .filter_map(|sub| self.check(sub, v, at).err())
                .collect();
            if one.len() - errors.len() != 1 {
                return Err(format!(
                    "{at}: matches {} of oneOf ({})",
                    one.len() - errors.len(),
                    errors.join(" | ")
                ));
            }
        }
        if let Value::Object(map) = v {
            let props = s.get("properties").and_then(Value::as_object);
            for key in s
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let key = key.as_str().unwrap();
                if !map.contains_key(key) {
                    return Err(format!("{at}: key {key:?} is missing"));
                }
            }
            let mut known: BTreeSet<&str> = props
                .into_iter()
                .flat_map(|p| p.keys().map(String::as_str))
                .collect();
            if s.get("unevaluatedProperties") == Some(&Value::Bool(false)) {
                for sub in s
                    .get("allOf")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(p) = self
                        .resolve(sub)
                        .get("properties")
                        .and_then(Value::as_object)
                    {
                        known.extend(p.keys().map(String::as_str));
                    }
                }
            }
            for (k, item) in map {
                let here = format!("{at}.{k}");
                match props.and_then(|p| p.get(k)) {
                    Some(sub) => self.check(sub, item, &here)?,
                    None => match s.get("additionalProperties") {
                        Some(Value::Bool(false)) => {
                            return Err(format!("{at}: key {k:?} is not documented"));
                        }
                        Some(sub @ Value::Object(_)) => self.check(sub, item, &here)?,
                        _ if s.get("unevaluatedProperties") == Some(&Value::Bool(false))
                            && !known.contains(k.as_str()) =>
                        {
                            return Err(format!("{at}: key {k:?} is not documented"));
                        }
                        _ => {}
                    },
                }
            }
        }
        if let (Value::Array(items), Some(sub)) = (v, s.get("items")) {
            for (i, item) in items.iter().enumerate() {
                self.check(sub, item, &format!("{at}[{i}]"))?;
            }
        }
        Ok(())
    }
}

#[test]
fn json_output_has_the_documented_keys_with_null_for_absent_fields() {
    let schema = Schema::load();
    let mut env = TestEnv::initialised();
    env.ok(&["checkin", "--mood", "4"]);
    env.ok(&[
        "checkin",
        "--mood",
        "2",
        "--energy",
        "tired",
        "--need",
        "hug",
        "heavy day",
    ]);
    env.ok(&["highlow", "--high", "the sea", "--low", "the train"]);
    env.ok(&["thanks", "--to", "Sam", "for the soup #home"]);
    env.ok(&["note", "--star", "a plain note"]);
    env.ok(&["repair", "start-over", "the kitchen, at six"]);
    env.ok(&[
        "repair",
        "debrief",
        "--happened",
        "we both talked at once",
        "--agree",
        "take turns",
    ]);
    env.ok(&["prompt", "answer", "the walk by the river"]);
    let debrief = env
        .entries()
        .into_iter()
        .find(|e| e["mode"] == "debrief")
        .unwrap();
    env.ok(&["repair", "resolve", debrief["id"].as_str().unwrap()]);
    // A deleted entry's words are forgotten (docs/SCHEMA.md, "Write, edit,
    // delete"): it leaves `log --deleted` too.
    env.ok(&["note", "gone soon"]);
    let note = env
        .entries()
        .into_iter()
        .find(|e| e["text"] == "gone soon")
        .unwrap();
    env.ok(&["delete", note["id"].as_str().unwrap()]);
    assert!(
        !env.ok(&["log", "--json", "--deleted"])
            .contains("gone soon")
    );

    let lines = env.ok(&["log", "--json", "--deleted"]);
    let entries: Vec<Value> = lines.lines().map(json).collect();
    let kinds: BTreeSet<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 6, "every kind is covered: {kinds:?}");
    for e in &entries {
        schema.assert_valid("entry", e);
    }
    // The bare check-in: absent fields are there, as null.
    let bare = &entries[0];
    assert!(bare["energy"].is_null() && bare["need"].is_null(), "{bare}");
    assert!(
        bare["resolved"].is_null() && bare["edited"].is_null(),
        "{bare}"
    );
    assert_eq!(bare["conflicts"], serde_json::json!({}));
    assert!(entries.iter().any(|e| e["resolved"].is_string()));
    let id = entries[1]["id"].as_str().unwrap();
    schema.assert_valid("entry", &json(&env.ok(&["show", id, "--json"])));
    // The socket leaves empty fields out; the answer inside `prompt --json`
    // has them back, like every entry a script reads.
    let prompt = json(&env.ok(&["prompt", "--json"]));
    let mine = &prompt["mine"];
    assert_eq!(mine.get("edited"), Some(&Value::Null), "{prompt}");
    assert_eq!(
        mine.get("conflicts"),
        Some(&serde_json::json!({})),
        "{prompt}"
    );

    for row in json(&env.ok(&["tags", "--json"])).as_array().unwrap() {
        schema.assert_valid("tag", row);
    }

    env.ok(&["ritual", "add", "evening-checkin"]);
    env.ok(&[
        "ritual",
        "add",
        "Sunday walk",
        "--cadence",
        "weekly:sun",
        "--owner",
        "together",
    ]);
    env.ok_at("2026-11-26T21:00:00+01:00", &["ritual", "done", "walk"]);
    let due = json(&env.ok(&["due", "--json"]));
    assert!(due["items"].as_array().unwrap().len() >= 2, "{due}");
    schema.assert_valid("due", &due);

    let running = json(&env.ok(&["daemon", "status", "--json"]));
    schema.assert_valid("daemon-status", &running);
    assert_eq!(running["net"], "test", "{running}");
    schema.assert_valid("config", &json(&env.ok(&["config", "--json"])));
    env.ok(&["daemon", "stop"]);
    let out = env
        .cmd()
        .args(["daemon", "status", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    schema.assert_valid(
        "daemon-status",
        &json(&String::from_utf8(out.stdout).unwrap()),
    );
}

// ----- tags -----------------------------------------------------------------

#[test]
fn hash_and_at_tags_are_one_tag_and_are_listed_newest_first() {
    let mut env = TestEnv::initialised();
    env.ok_at(
        "2026-11-20T09:00:00+01:00",
        &["note", "an old idea #someday"],
    );
    env.ok_stdin(&["note"], "trip to the coast #plans\n");
    env.ok_at(
        "2026-11-25T22:00:00+01:00",
        &[
            "highlow",
            "--high",
            "sun at the @Beach",
            "--low",
            "more #plans, sadly",
        ],
    );
    // Not tags: a heading, a number, an address, a fragment.
    env.ok(&[
        "note",
        "# Heading\nissue #12, me@example.com, page.html#top",
    ]);

    for spelling in ["plans", "#plans", "@plans", "PLANS"] {
        let found: Vec<Value> = env
            .ok(&["log", "--tag", spelling, "--json"])
            .lines()
            .map(json)
            .collect();
        assert_eq!(found.len(), 2, "--tag {spelling}: {found:?}");
    }

    let tags = json(&env.ok(&["tags", "--json"]));
    let rows: Vec<(&str, u64)> = tags
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["tag"].as_str().unwrap(), t["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(rows, [("beach", 1), ("plans", 2), ("someday", 1)]);
    assert_eq!(tags[2]["last_day"], "2026-11-20");

    let text = env.ok(&["tags"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[1].starts_with("2  #plans"), "{text}");
}

#[test]
fn search_looks_in_every_text_field_without_case_and_takes_a_regex() {
    let env = TestEnv::initialised();
    env.ok(&["checkin", "--mood", "3", "--need", "Quiet time"]);
    env.ok(&["note", "Trip to the Coast"]);
    env.ok(&[
        "repair",
        "debrief",
        "--happened",
        "a loud evening",
        "--agree",
        "walk first",
    ]);
    let count = |args: &[&str]| env.ok(args).lines().count();
    assert_eq!(
        count(&["log", "--json", "-c", "QUIET"]),
        1,
        "a need is searched"
    );
    assert_eq!(
        count(&["log", "--json", "-c", "WALK FIRST"]),
        1,
        "agreements too"
    );
    assert_eq!(count(&["log", "--json", "-c", "coast"]), 1);
    assert_eq!(
        count(&["log", "--json", "-c", "co.st"]),
        0,
        "plain text by default"
    );
    assert_eq!(count(&["log", "--json", "-c", "co.st", "--regex"]), 1);
    assert_eq!(
        count(&["log", "--json", "-c", "^trip|^a loud", "--regex"]),
        2
    );
    assert_eq!(count(&["log", "--json", "-c", "(?-i)coast", "--regex"]), 0);
    one_line(
        &env.fails(&["log", "-c", "(unclosed", "--regex"], 1),
        "invalid regular expression",
    );
    one_line(&env.fails(&["log", "--regex"], 2), "--contains");
}

// ----- small frictions --------------------------------------------------------

#[test]
fn read_commands_on_a_home_without_a_journal_create_nothing() {
    let env = TestEnv::new();
    let reads: &[&[&str]] = &[
        &["log"],
        &["log", "--json"],
        &["status"],
        &["tags"],
        &["today"],
        &["show", "01"],
        &["review"],
        &["peers", "list"],
        &["export", "--format", "json"],
        &["note", "hello"],
    ];
    let data = env.home().join("data");
    for args in reads {
        let stderr = env.fails(args, 1);
        one_line(&stderr, &format!("no journal at {}", data.display()));
        assert!(stderr.contains("run `hearth init`"), "{stderr}");
    }
    assert_eq!(
        std::fs::read_dir(env.home()).unwrap().count(),
        0,
        "no daemon, identity or directory was created"
    );
    assert!(env.daemon_pid().is_none());
    // What sets a journal up still works on a fresh home.
    env.fails(&["daemon", "status"], 3);
    assert!(env.ok(&["init", "--name", "Ana"]).contains("Welcome, Ana"));
    assert!(env.ok(&["log"]).contains("No entries"));
    // A daemon needs a journal to open: on a fresh home it is not started.
    let other = TestEnv::new();
    let stderr = other.fails(&["daemon", "start"], 1);
    assert!(stderr.contains("run `hearth init`"), "{stderr}");
    assert!(other.daemon_pid().is_none());
}

#[test]
fn init_says_what_comes_next_for_this_device() {
    let ana = TestEnv::new();
    let out = ana.ok(&["init", "--name", "Ana", "--device", "laptop"]);
    assert!(out.contains("connect your partner's device"), "{out}");

    // A second device of Ana's joins first, then is set up: it is paired.
    let desktop = TestEnv::new();
    ana.pair_with(&desktop);
    // Ana's laptop makes it hers once their couple documents agree; until
    // then `init` says it is waiting.
    let mut out = String::new();
    desktop.wait_for(
        Duration::from_secs(30),
        "the desktop to be made Ana's",
        || {
            let r = desktop.run(&["init", "--name", "Ana", "--device", "desktop"]);
            out = String::from_utf8_lossy(&r.stdout).into_owned();
            r.status.success()
        },
    );
    assert!(!out.contains("connect your partner"), "{out}");
    assert!(out.contains("paired with 1 device already"), "{out}");
}

/// Runs `args` with a terminal on stdin into which `typed` is typed;
/// returns the status and stderr.
fn typed_at_a_terminal(env: &TestEnv, args: &[&str], typed: &str) -> (bool, String) {
    use std::io::Write;
    let (mut master, slave) = crate::common::pty();
    let mut child = env
        .std_cmd()
        .args(args)
        .stdin(Stdio::from(slave))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    master.write_all(typed.as_bytes()).unwrap();
    let (status, stderr) = crate::common::finish(&mut child, Duration::from_secs(60));
    (status.success(), stderr)
}

#[test]
fn a_typo_at_the_mood_prompt_asks_again() {
    let env = TestEnv::initialised();
    let (ok, stderr) = typed_at_a_terminal(&env, &["checkin"], "meh\n4\n");
    assert!(ok, "{stderr}");
    assert!(stderr.contains("invalid mood \"meh\""), "{stderr}");
    assert!(stderr.contains("try again"), "{stderr}");
    assert_eq!(
        stderr.matches("How are you, really?").count(),
        2,
        "{stderr}"
    );
    let entries = env.entries();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["mood"], 4);

    // An empty answer gives up and writes nothing.
    let (ok, stderr) = typed_at_a_terminal(&env, &["checkin"], "\n");
    assert!(!ok, "{stderr}");
    assert!(stderr.contains("nothing written"), "{stderr}");
    assert_eq!(env.entries().len(), 1);
}

#[test]
fn dash_e_means_open_the_editor_on_edit_too() {
    use crate::common::fake_editor;
    let env = TestEnv::initialised();
    env.ok(&["note", "first"]);
    let id = env.entries()[0]["id"].as_str().unwrap().to_string();
    for (flag, text) in [("-e", "second"), ("--edit", "third")] {
        let (editor, _) = fake_editor(
            env.home(),
            flag.trim_start_matches('-'),
            &format!("[text]\n{text}\n"),
        );
        let out = env
            .cmd()
            .args(["edit", flag, &id])
            .env("VISUAL", &editor)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(env.entries()[0]["text"], text);
    }
}

/// Reads the invite's QR code back into modules from the colours it was
/// painted with: `true` for dark. Panics on a module left unpainted.
fn modules(rows: &[String]) -> Vec<Vec<bool>> {
    let mut out = Vec::new();
    for row in rows {
        let (mut fg, mut bg) = (None, None);
        let (mut top, mut bottom) = (Vec::new(), Vec::new());
        let mut chars = row.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\x1b' => {
                    assert_eq!(chars.next(), Some('['));
                    let mut params = String::new();
                    for p in chars.by_ref() {
                        if p == 'm' {
                            break;
                        }
                        params.push(p);
                    }
                    let nums: Vec<u32> = params.split(';').map(|n| n.parse().unwrap()).collect();
                    let mut i = 0;
                    while i < nums.len() {
                        match nums[i] {
                            0 => (fg, bg) = (None, None),
                            38 if nums[i + 1] == 5 => {
                                fg = Some(nums[i + 2]);
                                i += 2;
                            }
                            48 if nums[i + 1] == 5 => {
                                bg = Some(nums[i + 2]);
                                i += 2;
                            }
                            n => panic!("unexpected SGR {n} in {row:?}"),
                        }
                        i += 1;
                    }
                }
                '\u{2580}' => {
                    let dark = |c: Option<u32>| match c {
                        Some(16) => true,
                        Some(231) => false,
                        other => panic!("a module painted {other:?}, not black or white"),
                    };
                    top.push(dark(fg));
                    bottom.push(dark(bg));
                }
                other => panic!("unexpected {other:?} in the QR code"),
            }
        }
        out.push(top);
        out.push(bottom);
    }
    out
}

/// Reads a QR code printed without colour back into modules: a drawn half
/// block is a light module (the terminal's text colour), a blank half a
/// dark one (its background), as on a light-on-dark terminal.
fn plain_modules(rows: &[String]) -> Vec<Vec<bool>> {
    let mut out = Vec::new();
    for row in rows {
        let (mut top, mut bottom) = (Vec::new(), Vec::new());
        for c in row.chars() {
            let (t, b) = match c {
                '\u{2588}' => (false, false),
                '\u{2580}' => (false, true),
                '\u{2584}' => (true, false),
                ' ' => (true, true),
                other => panic!("unexpected {other:?} in the QR code"),
            };
            top.push(t);
            bottom.push(b);
        }
        out.push(top);
        out.push(bottom);
    }
    out
}

/// Runs `pair invite` with `args` before it, and returns the ticket it
/// printed and the lines of its QR code (those `is_row` accepts).
fn invite_qr(env: &TestEnv, args: &[&str], is_row: impl Fn(&str) -> bool) -> (String, Vec<String>) {
    let mut child = env
        .std_cmd()
        .args(args)
        .args(["pair", "invite", "--yes"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut ticket = None;
    let mut rows: Vec<String> = Vec::new();
    loop {
        let line = lines.next().expect("the invite printed a QR code").unwrap();
        if ticket.is_none() {
            ticket = line
                .split_whitespace()
                .find(|w| w.starts_with("hearth1"))
                .map(str::to_string);
        }
        if is_row(&line) {
            rows.push(line);
        } else if !rows.is_empty() {
            break;
        }
    }
    child.kill().unwrap();
    wait_bounded(&mut child, Duration::from_secs(10));
    (ticket.expect("the invite printed a ticket"), rows)
}

/// Checks the quiet zone is light all round, then decodes the modules
/// (`true` for dark) and compares the content with `ticket`.
#[track_caller]
fn decodes_to(px: &[Vec<bool>], ticket: &str) {
    let (w, h) = (px[0].len(), px.len());
    assert!(px.iter().all(|r| r.len() == w), "rows of one width");
    // The quiet zone: four light modules on every side.
    for (y, row) in px.iter().enumerate() {
        for (x, dark) in row.iter().enumerate() {
            if x < 4 || y < 4 || x >= w - 4 || y >= h - 5 {
                assert!(!dark, "module ({x}, {y}) of the quiet zone is dark");
            }
        }
    }
    const SCALE: usize = 4;
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w * SCALE, h * SCALE, |x, y| {
        if px[y / SCALE][x / SCALE] { 0 } else { 255 }
    });
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code found");
    let (_, content) = grids[0].decode().expect("the QR code decodes");
    assert_eq!(content, ticket);
}

#[test]
fn the_pairing_qr_code_paints_light_and_dark_modules_and_decodes() {
    let env = TestEnv::initialised();
    let (ticket, rows) = invite_qr(&env, &["--color", "always"], |l| l.contains('\u{2580}'));
    decodes_to(&modules(&rows), &ticket);
}

#[test]
fn without_colour_the_qr_code_draws_its_light_modules_and_decodes() {
    let env = TestEnv::initialised();
    let is_row = |l: &str| {
        l.chars().count() > 20
            && l.chars()
                .all(|c| matches!(c, '\u{2588}' | '\u{2580}' | '\u{2584}' | ' '))
    };
    // NO_COLOR is set in the test environment; --color never as well.
    for args in [&[][..], &["--color", "never"][..]] {
        let (ticket, rows) = invite_qr(&env, args, is_row);
        // The top quiet-zone row is drawn, not left blank.
        assert!(rows[0].chars().all(|c| c == '\u{2588}'), "{:?}", rows[0]);
        decodes_to(&plain_modules(&rows), &ticket);
    }
}

// ----- editing ----------------------------------------------------------------

#[test]
fn every_checkin_field_can_be_edited_and_single_text_kinds_take_plain_stdin() {
    let env = TestEnv::initialised();
    env.ok(&["checkin", "--mood", "4", "--energy", "2", "a note"]);
    env.ok(&["note", "old text"]);
    let ids: Vec<String> = env
        .entries()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();

    env.ok_stdin(&["edit", &ids[0]], "[mood]\nrough\n[need]\nHug\n");
    let e = &env.entries()[0];
    assert_eq!(e["mood"], 1);
    assert_eq!(e["need"], "hug");
    assert_eq!(e["energy"], 2, "a section left out keeps its value");
    assert_eq!(e["note"], "a note", "so does the note");

    env.ok_stdin(&["edit", &ids[0]], "[energy]\n\n[note]\nbetter now\n");
    let e = &env.entries()[0];
    assert!(e["energy"].is_null(), "an empty section clears it: {e}");
    assert_eq!(e["note"], "better now");

    one_line(
        &env.fails_stdin(&["edit", &ids[0]], "[mood]\n9\n", 1),
        "invalid mood",
    );
    assert_eq!(env.entries()[0]["mood"], 1, "nothing written");

    env.ok_stdin(&["edit", &ids[1]], "new text\nover two lines\n");
    assert_eq!(env.entries()[1]["text"], "new text\nover two lines");
}

#[test]
fn every_field_of_every_kind_can_be_edited() {
    let env = TestEnv::initialised();
    let find = |kind: &str| -> Value {
        env.entries()
            .into_iter()
            .find(|e| e["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind}"))
    };
    let id_of = |kind: &str| find(kind)["id"].as_str().unwrap().to_string();

    // Gratitude: to and text, each on its own; the other is kept.
    env.ok(&["thanks", "--to", "Sam", "for the soup"]);
    let id = id_of("gratitude");
    env.ok_stdin(
        &["edit", &id],
        "[to]
Alex
",
    );
    let e = find("gratitude");
    assert_eq!(
        (&e["to"], &e["text"]),
        (&"Alex".into(), &"for the soup".into())
    );
    env.ok_stdin(
        &["edit", &id],
        "[text]
for the long walk #us
",
    );
    let e = find("gratitude");
    assert_eq!(
        (&e["to"], &e["text"]),
        (&"Alex".into(), &"for the long walk #us".into())
    );
    assert_eq!(
        e["tags"],
        serde_json::json!(["us"]),
        "a #tag in new text is a tag"
    );
    one_line(
        &env.fails_stdin(
            &["edit", &id],
            "[to]

",
            1,
        ),
        "recipient",
    );
    assert_eq!(find("gratitude")["to"], "Alex", "nothing written");

    // Tender, star and tags, on and off.
    env.ok(&["edit", &id, "--tender", "--star", "--tag", "thanks"]);
    let e = find("gratitude");
    assert_eq!((&e["tender"], &e["starred"]), (&true.into(), &true.into()));
    assert_eq!(e["tags"], serde_json::json!(["thanks", "us"]));
    env.ok(&["edit", &id, "--not-tender", "--unstar", "--untag", "thanks"]);
    let e = find("gratitude");
    assert_eq!(
        (&e["tender"], &e["starred"]),
        (&false.into(), &false.into())
    );
    assert_eq!(e["tags"], serde_json::json!(["us"]));

    // High-low: high and low, each on its own.
    env.ok(&["highlow", "--high", "the sea", "--low", "the train"]);
    let id = id_of("highlow");
    env.ok_stdin(
        &["edit", &id],
        "[low]
the queue
",
    );
    let e = find("highlow");
    assert_eq!(
        (&e["high"], &e["low"]),
        (&"the sea".into(), &"the queue".into())
    );
    env.ok_stdin(
        &["edit", &id],
        "[high]
the cliffs
[low]

",
    );
    let e = find("highlow");
    assert_eq!((&e["high"], &e["low"]), (&"the cliffs".into(), &"".into()));

    // Check-in: mood, energy, need and note.
    env.ok(&[
        "checkin", "--mood", "2", "--energy", "1", "--need", "space", "meh",
    ]);
    let id = id_of("checkin");
    env.ok_stdin(
        &["edit", &id],
        "[mood]
great
[energy]
lively
[need]
talk
[note]
much better
",
    );
    let e = find("checkin");
    assert_eq!(
        (&e["mood"], &e["energy"], &e["need"], &e["note"]),
        (&5.into(), &4.into(), &"talk".into(), &"much better".into())
    );

    // A debrief: one section changed, the others kept.
    env.ok(&[
        "repair",
        "debrief",
        "--happened",
        "we both talked at once",
        "--felt",
        "unheard",
        "--agree",
        "take turns",
    ]);
    let id = id_of("repair");
    env.ok_stdin(
        &["edit", &id],
        "[my_part]
I interrupted
",
    );
    let e = find("repair");
    assert_eq!(e["my_part"], "I interrupted");
    assert_eq!(e["happened"], "we both talked at once");
    assert_eq!(e["felt"], "unheard");
    assert_eq!(e["agreements"], serde_json::json!(["take turns"]));
    env.ok_stdin(
        &["edit", &id],
        "[agreements]
- take turns
- pause first
",
    );
    assert_eq!(
        find("repair")["agreements"],
        serde_json::json!(["take turns", "pause first"])
    );

    // Single-text kinds take plain stdin: an answer and a start-over.
    env.ok(&["prompt", "answer", "the walk"]);
    env.ok_stdin(
        &["edit", &id_of("answer")],
        "the walk by the river
",
    );
    assert_eq!(find("answer")["text"], "the walk by the river");
    env.ok(&["repair", "start-over", "the kitchen"]);
    let start_over = env
        .entries()
        .into_iter()
        .find(|e| e["mode"] == "start-over")
        .unwrap();
    env.ok_stdin(
        &["edit", start_over["id"].as_str().unwrap()],
        "the kitchen, at six
",
    );
    let again = env
        .entries()
        .into_iter()
        .find(|e| e["mode"] == "start-over")
        .unwrap();
    assert_eq!(again["happened"], "the kitchen, at six");
}

#[test]
fn a_second_answer_to_a_prompt_replaces_the_first_only_when_asked() {
    let env = TestEnv::initialised();
    env.ok(&["prompt", "answer", "the first answer"]);
    let answers = || -> Vec<Value> {
        env.entries()
            .into_iter()
            .filter(|e| e["kind"] == "answer")
            .collect()
    };
    let id = answers()[0]["id"].as_str().unwrap().to_string();

    // A script is refused, and nothing is written.
    one_line(
        &env.fails(&["prompt", "answer", "a second answer"], 1),
        "answered this prompt already",
    );
    assert_eq!(answers().len(), 1);

    // --replace writes over the first answer, keeping its id.
    env.ok(&["prompt", "answer", "--replace", "the second answer"]);
    let now = answers();
    assert_eq!(now.len(), 1, "{now:?}");
    assert_eq!(now[0]["id"], id.as_str());
    assert_eq!(now[0]["text"], "the second answer");
    assert!(now[0]["edited"].is_string());

    // At a terminal it asks; no keeps the first, a typo asks again.
    let (ok, stderr) = typed_at_a_terminal(&env, &["prompt", "answer", "a third"], "n\n");
    assert!(ok, "{stderr}");
    assert!(stderr.contains("Replace that answer?"), "{stderr}");
    assert_eq!(answers()[0]["text"], "the second answer");
    let (ok, stderr) = typed_at_a_terminal(&env, &["prompt", "answer", "a third"], "yep\ny\n");
    assert!(ok, "{stderr}");
    assert!(stderr.contains("not yes or no"), "{stderr}");
    let now = answers();
    assert_eq!(now.len(), 1);
    assert_eq!(now[0]["text"], "a third");
}

// ----- time zones -------------------------------------------------------------

#[test]
fn log_shows_the_writers_offset_when_it_is_not_the_readers() {
    let mut env = TestEnv::initialised();
    // Written in Los Angeles at 23:30; read in UTC+1.
    env.ok_at(
        "2026-11-24T23:30:00-08:00",
        &["note", "from the west coast"],
    );
    env.ok(&["note", "from home"]);
    let log = env.ok(&["log"]);
    let line = |needle: &str| {
        log.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle} not in {log}"))
            .to_string()
    };
    assert!(line("west coast").contains("23:30 -08:00"), "{log}");
    let home = line("from home");
    assert!(home.contains("21:30 ") && !home.contains("+01:00"), "{log}");
    let id = env.entries()[0]["id"].as_str().unwrap().to_string();
    let shown = env.ok(&["show", &id]);
    assert!(
        shown.contains("Tue 24 Nov 2026 23:30 -08:00 (Wed 25 Nov 08:30 your time)"),
        "{shown}"
    );
}

// ----- the pager ----------------------------------------------------------------

#[test]
fn long_output_goes_through_the_pager_on_a_terminal_only() {
    let env = TestEnv::initialised();
    env.ok(&["note", "a paged note"]);
    let paged = env.home().join("paged.txt");
    let pager = format!("cat > '{}'", paged.display());
    let at_a_terminal = |args: &[&str]| {
        let (master, slave) = crate::common::pty();
        let mut child = env
            .std_cmd()
            .args(args)
            .env("HEARTH_PAGER", &pager)
            .stdin(Stdio::null())
            .stdout(Stdio::from(slave))
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let status = wait_bounded(&mut child, Duration::from_secs(60));
        drop(master);
        assert!(status.success(), "hearth {args:?}: {status}");
    };
    at_a_terminal(&["log"]);
    let got = std::fs::read_to_string(&paged).expect("the pager ran");
    assert!(got.contains("a paged note"), "{got:?}");
    std::fs::remove_file(&paged).unwrap();

    at_a_terminal(&["log", "--no-pager"]);
    assert!(!paged.exists(), "--no-pager prints directly");
    at_a_terminal(&["log", "--json"]);
    assert!(!paged.exists(), "JSON is never paged");

    // Into a pipe: no pager.
    let out = env
        .cmd()
        .args(["log"])
        .env("HEARTH_PAGER", &pager)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("a paged note"));
    assert!(!paged.exists());
}
