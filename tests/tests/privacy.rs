//! The words stay private, checked on the devices' own files with their
//! storage keys (issue 10; docs/SECURITY.md, "Deleting and sealing"): a
//! delete and an edit forget the old words on every device once synced; a
//! still-sealed answer leaves the partner's device no key.

use std::path::Path;
use std::time::Duration;

use automerge::ReadDoc;
use hearth_model::records::content::{VersionKey, open_version};
use hearth_model::records::manifest::DocId;
use hearth_store::docset::{KeyFile as KeySlots, KeyState};
use hearth_store::{DocSet, KeyFile};

use crate::common::{PASSPHRASE, TestEnv};

const CONVERGE: Duration = Duration::from_secs(30);

/// Every key on `env`'s disk, by document, opened with its storage key,
/// and every sealed value (`b`) the documents' histories ever held, by
/// document and entry. The daemon must be stopped: the store is locked.
struct Disk {
    keys: Vec<(String, [u8; 32])>,
    sealed: Vec<(String, hearth_model::EntryId, Vec<u8>)>,
}

fn read_disk(env: &TestEnv) -> Disk {
    let data = env.home().join("data");
    let key = KeyFile::read(&data)
        .unwrap()
        .unwrap()
        .unlock(PASSPHRASE)
        .unwrap();
    let (mut set, _) = DocSet::open(&data, key.file_key(), key.slot_key()).unwrap();
    let actor = automerge::ActorId::from([0u8; 32].as_slice());
    let mut disk = Disk {
        keys: Vec::new(),
        sealed: Vec::new(),
    };
    for doc in set.documents() {
        let DocId::Partner(_) = doc else { continue };
        set.load(doc, &actor, std::time::Instant::now(), || {
            automerge::Automerge::new()
        })
        .unwrap();
        let am = set.doc(&doc).unwrap().clone();
        for change in am.get_changes(&[]) {
            let at = am.fork_at(&[change.hash()]).unwrap();
            let Ok(Some((_, entries))) = at.get(automerge::ROOT, "entries") else {
                continue;
            };
            for k in at.keys(&entries) {
                let Ok(Some((_, map))) = at.get(&entries, k.as_str()) else {
                    continue;
                };
                for (v, _) in at.get_all(&map, "b").unwrap_or_default() {
                    if let Some(b) = v.as_scalar().and_then(|s| s.as_bytes()) {
                        disk.sealed
                            .push((doc.to_string(), k.parse().unwrap(), b.to_vec()));
                    }
                }
            }
        }
        let path = data.join("keys").join(format!("{}.keys", doc.file_id()));
        if !path.exists() {
            continue;
        }
        let kf = key_file(&path, &doc.to_string(), key.slot_key());
        for ((entry, version), _) in kf.live() {
            if let Some(k) = kf.key((entry, version)) {
                disk.keys.push((doc.to_string(), *k));
            }
            assert_eq!(
                kf.state((entry, version))
                    .map(|s| matches!(s, KeyState::Live(_))),
                Some(true)
            );
        }
    }
    disk
}

fn key_file(path: &Path, doc: &str, slot: hearth_store::keyslot::SlotKey) -> KeySlots {
    KeySlots::open(path, doc, slot).unwrap()
}

impl Disk {
    /// Whether any key here opens a sealed value whose plaintext holds
    /// `marker`.
    fn reads(&self, marker: &str) -> bool {
        self.sealed.iter().any(|(doc, entry, b)| {
            self.keys.iter().filter(|(d, _)| d == doc).any(|(_, k)| {
                open_version(&VersionKey(*k), doc, entry, b)
                    .is_ok_and(|plain| String::from_utf8_lossy(&plain).contains(marker))
            })
        })
    }

    /// Whether the history holds a sealed value at all for text of this
    /// length class: the words are there as ciphertext, under no key.
    fn sealed_values(&self) -> usize {
        self.sealed.len()
    }
}

fn pair() -> (TestEnv, TestEnv) {
    let ana = TestEnv::named("Ana", "laptop");
    let ben = TestEnv::named("Ben", "phone");
    ana.pair_with(&ben);
    (ana, ben)
}

fn wait_texts(env: &TestEnv, what: &str, f: impl Fn(&std::collections::BTreeSet<String>) -> bool) {
    env.wait_for(CONVERGE, what, || f(&env.texts()));
}

#[test]
fn a_delete_and_an_edit_forget_the_old_words_on_both_devices_disks() {
    let (ana, ben) = pair();
    ana.ok(&["note", "MARKER-DELETED-7c1 soon gone"]);
    ana.ok(&["note", "MARKER-FIRST-3b9 first draft"]);
    wait_texts(&ben, "both notes on ben", |t| t.len() == 2);
    let ids: Vec<(String, String)> = ana
        .entries()
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_string(),
                e["text"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let id_of = |needle: &str| {
        ids.iter()
            .find(|(_, t)| t.contains(needle))
            .unwrap()
            .0
            .clone()
    };
    ana.ok(&["delete", &id_of("MARKER-DELETED"), "--yes"]);
    ana.ok_stdin(
        &["edit", &id_of("MARKER-FIRST")],
        "MARKER-SECOND-5d2 second draft",
    );
    wait_texts(&ben, "the delete and the edit on ben", |t| {
        t.len() == 1 && t.iter().any(|x| x.contains("MARKER-SECOND"))
    });
    for env in [&ana, &ben] {
        env.ok(&["daemon", "stop"]);
        let disk = read_disk(env);
        assert!(
            disk.sealed_values() >= 3,
            "the history keeps the ciphertexts"
        );
        assert!(disk.reads("MARKER-SECOND"), "the current version reads");
        assert!(
            !disk.reads("MARKER-DELETED"),
            "no key opens the deleted words"
        );
        assert!(
            !disk.reads("MARKER-FIRST"),
            "no key opens the replaced words"
        );
    }
}

#[test]
fn an_answer_the_partner_has_not_matched_leaves_the_partner_no_key() {
    let (ana, ben) = pair();
    ana.ok_stdin(
        &["prompt", "answer"],
        "MARKER-ANSWER-9e4 before ben answers",
    );
    ana.ok(&["note", "MARKER-SHARED-1f0 for both"]);
    wait_texts(&ben, "the shared note on ben", |t| {
        t.iter().any(|x| x.contains("MARKER-SHARED"))
    });
    for env in [&ana, &ben] {
        env.ok(&["daemon", "stop"]);
    }
    let at_ben = read_disk(&ben);
    assert!(at_ben.reads("MARKER-SHARED"));
    assert!(
        !at_ben.reads("MARKER-ANSWER"),
        "ben holds no key for a sealed answer"
    );
    assert!(read_disk(&ana).reads("MARKER-ANSWER"));
}

#[test]
fn a_private_entry_stays_on_its_authors_devices() {
    let (ana, ben) = pair();
    ana.ok(&["note", "--private", "MARKER-PRIVATE-2a8 only mine"]);
    ana.ok(&["note", "MARKER-SHARED-6c3 for both"]);
    wait_texts(&ben, "the shared note on ben", |t| {
        t.iter().any(|x| x.contains("MARKER-SHARED"))
    });
    assert!(!ben.ok(&["log", "--json"]).contains("MARKER-PRIVATE"));
    let mine = ana.ok(&["log", "--private", "--json"]);
    assert!(
        mine.contains("MARKER-PRIVATE") && !mine.contains("MARKER-SHARED"),
        "{mine}"
    );
    assert!(mine.contains("\"private\":true"), "{mine}");
    // An answer is never private: it opens to the partner once both answer.
    let err = ana.fails(&["prompt", "answer", "--private", "a private answer"], 1);
    assert!(err.contains("cannot be private"), "{err}");
    for env in [&ana, &ben] {
        env.ok(&["daemon", "stop"]);
    }
    // No trace on Ben's disk: no private document, no key.
    let docs: Vec<String> = std::fs::read_dir(ben.home().join("data/docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(docs.iter().all(|n| !n.starts_with("v-")), "{docs:?}");
    assert!(!read_disk(&ben).reads("MARKER-PRIVATE"));
    assert!(read_disk(&ana).reads("MARKER-PRIVATE"));
}

/// The id of the one entry of `env` whose text holds `marker`.
fn id_of(env: &TestEnv, marker: &str) -> String {
    let hits: Vec<String> = env
        .entries()
        .iter()
        .filter(|e| e["text"].as_str().is_some_and(|t| t.contains(marker)))
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(hits.len(), 1, "{marker}: {hits:?}");
    hits[0].clone()
}

#[test]
fn an_entry_moved_to_private_is_forgotten_by_the_partner_and_comes_back_when_shared() {
    let (ana, ben) = pair();
    ana.ok(&["note", "MARKER-MOVED-4e1 shared at first"]);
    ana.ok(&["note", "MARKER-STAYS-8b2 shared all along"]);
    wait_texts(&ben, "both notes on ben", |t| t.len() == 2);
    let shared_id = id_of(&ana, "MARKER-MOVED");

    let out = ana.ok(&["edit", &shared_id, "--private"]);
    assert!(out.contains("Moved note to your private entries"), "{out}");
    let private_id = id_of(&ana, "MARKER-MOVED");
    assert_ne!(private_id, shared_id, "a move gives a new id");
    let mine = ana.ok(&["log", "--private", "--json"]);
    assert!(
        mine.contains("MARKER-MOVED") && !mine.contains("MARKER-STAYS"),
        "{mine}"
    );
    // The old id is gone for its author too, as after a delete.
    ana.fails(&["show", &shared_id], 1);
    wait_texts(&ben, "the moved note gone from ben", |t| {
        t.len() == 1 && t.iter().all(|x| x.contains("MARKER-STAYS"))
    });
    assert!(
        !ben.ok(&["log", "--json", "--deleted"])
            .contains("MARKER-MOVED")
    );
    for env in [&ana, &ben] {
        env.ok(&["daemon", "stop"]);
    }
    assert!(
        !read_disk(&ben).reads("MARKER-MOVED"),
        "ben's disk keeps no key that opens the moved words"
    );
    assert!(read_disk(&ana).reads("MARKER-MOVED"));

    // Shared again: Ben reads it once more, under a third id.
    let out = ana.ok(&["edit", &private_id, "--shared"]);
    assert!(out.contains("back to the shared journal"), "{out}");
    wait_texts(&ben, "the note shared again on ben", |t| {
        t.iter().any(|x| x.contains("MARKER-MOVED"))
    });
    let again = id_of(&ben, "MARKER-MOVED");
    assert!(again != shared_id && again != private_id);
    assert_eq!(id_of(&ana, "MARKER-MOVED"), again);
    assert!(
        !ana.ok(&["log", "--private", "--json"])
            .contains("MARKER-MOVED")
    );
    // Nobody moves the partner's words.
    let err = ben.fails(&["edit", &again, "--private"], 1);
    assert!(
        err.contains("not yours") || err.contains("your partner"),
        "{err}"
    );
}
