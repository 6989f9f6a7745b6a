//! Bad input: one line naming the problem, a non-zero exit, nothing written.

use crate::common::TestEnv;

/// The first line says what is wrong; a usage error adds the command's
/// usage line; at most a hint follows.
#[track_caller]
pub fn one_line(stderr: &str, needle: &str) {
    let mut lines: Vec<&str> = stderr.lines().filter(|l| !l.is_empty()).collect();
    if lines.get(1).is_some_and(|l| l.starts_with("usage: ")) {
        lines.remove(1);
    }
    assert!(
        !lines.is_empty() && lines.len() <= 2,
        "not one line: {stderr:?}"
    );
    assert!(lines[0].starts_with("hearth: error: "), "{stderr:?}");
    assert!(
        lines[0].to_lowercase().contains(&needle.to_lowercase()),
        "{needle:?} not in {stderr:?}"
    );
    if let Some(l) = lines.get(1) {
        assert!(l.starts_with("hint: "), "{stderr:?}");
    }
}

#[test]
fn writing_before_init_says_to_run_init() {
    let env = TestEnv::new();
    one_line(&env.fails(&["note", "hello"], 1), "hearth init");
    one_line(&env.fails(&["checkin", "--mood", "3"], 1), "hearth init");
}

#[test]
fn bad_values_are_refused_and_nothing_is_written() {
    let env = TestEnv::initialised();
    env.ok(&["note", "the one good entry"]);
    let cases: &[(&[&str], i32, &str)] = &[
        (&["checkin", "--mood", "7"], 2, "mood"),
        (&["checkin", "--mood", "meh"], 2, "mood"),
        (&["checkin", "--mood", "3", "--energy", "0"], 2, "energy"),
        (&["checkin", "--mood", "3", "--need", ""], 2, "need"),
        (
            &["log", "--since", "the day after never"],
            1,
            "invalid date",
        ),
        (&["log", "--until", "2026-02-30"], 1, "invalid date"),
        (&["log", "--kind", "diary"], 2, "kind"),
        (&["log", "-n", "0"], 1, "-n"),
        (&["log", "-n", "many"], 2, "many"),
        (&["log", "--author", "nobody"], 1, "unknown author"),
        (&["log", "--tag", "two words"], 1, "invalid tag"),
        (&["show", "not-an-id!"], 1, "invalid id"),
        (&["show", "zzzzzzzz"], 1, "no entry matches"),
        (&["edit", "zzzzzzzz", "--star"], 1, "no entry matches"),
        (&["delete", "01"], 1, "ambiguous"),
        (&["note", ""], 1, "empty"),
        (&["note", "   "], 1, "empty"),
        (&["note", "--tag", "bad tag", "text"], 1, "invalid tag"),
        (&["highlow", "--high", "", "--low", ""], 1, "empty"),
        (&["thanks", "--to", "", "x"], 1, "recipient"),
        (&["ritual", "add", "x", "--cadence", "hourly"], 2, "cadence"),
        (
            &["ritual", "add", "x", "--cadence", "yearly:02-30"],
            2,
            "cadence",
        ),
        (
            &[
                "ritual",
                "add",
                "x",
                "--cadence",
                "daily",
                "--fulfilled-by",
                "poem",
            ],
            2,
            "kind",
        ),
        (
            &[
                "ritual",
                "add",
                "x",
                "--cadence",
                "daily",
                "--owner",
                "partner",
            ],
            1,
            "partner has not joined",
        ),
        (&["thanks", "no recipient given"], 1, "--to"),
        (
            &[
                "ritual",
                "add",
                "a ritual name that goes on and on, well past sixty-four bytes in all",
                "--cadence",
                "daily",
            ],
            1,
            "too long",
        ),
        (&["frobnicate"], 2, "frobnicate"),
        (&["log", "--bogus"], 2, "--bogus"),
    ];
    // With two entries, the prefix "01" matches both.
    env.ok(&["note", "a second entry"]);
    for (args, code, needle) in cases {
        let stderr = env.fails(args, *code);
        one_line(&stderr, needle);
    }
    let texts: Vec<String> = env
        .entries()
        .iter()
        .map(|e| e["text"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        texts,
        ["the one good entry", "a second entry"],
        "nothing else was written"
    );
}

#[test]
fn bad_stdin_is_refused_and_nothing_is_written() {
    let env = TestEnv::initialised();
    one_line(&env.fails_stdin(&["note"], "", 1), "empty");
    one_line(&env.fails_stdin(&["note"], "\n\n  \n", 1), "empty");
    one_line(
        &env.fails_stdin(&["note"], vec![b'o', b'k', 0xff, 0xfe], 1),
        "not valid utf-8",
    );
    one_line(
        &env.fails_stdin(&["note"], vec![b'x'; 300 * 1024], 1),
        "larger than",
    );
    one_line(
        &env.fails_stdin(&["note"], "y".repeat(70 * 1024), 1),
        "too long",
    );
    one_line(
        &env.fails_stdin(&["highlow"], "no sections here", 1),
        "section",
    );
    one_line(
        &env.fails_stdin(&["edit", "zzzzzzzz"], "[text]\nx", 1),
        "no entry",
    );
    assert!(env.entries().is_empty());
}

#[test]
fn a_bad_clock_override_is_a_usage_error() {
    let mut env = TestEnv::initialised();
    env.now = "last tuesday-ish".into();
    one_line(&env.fails(&["note", "x"], 2), "HEARTH_NOW");
}
