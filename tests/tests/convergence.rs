//! Convergence as a property: 2-4 replicas make random entries, edits,
//! deletes and tags (concurrent edits of one field included), and exchange
//! Automerge sync messages in random interleavings, some dropped (which
//! ends that session, as a reconnect would) and some duplicated. After a
//! final round of clean sessions every replica has the same heads and the
//! same materialised journal, and save/load round-trips it.

use std::collections::BTreeSet;

use automerge::sync::State;
use automerge::{ActorId, Automerge};
use chrono::{Duration, FixedOffset, TimeZone};
use hearth_model::{
    Body, DeviceId, EntryId, EntryPatch, Journal, NewEntry, PartnerId, View, WriteCtx,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Add {
        r: usize,
        text: String,
    },
    Edit {
        r: usize,
        pick: usize,
        text: String,
    },
    Delete {
        r: usize,
        pick: usize,
    },
    Tag {
        r: usize,
        pick: usize,
        tag: String,
    },
    Talk {
        a: usize,
        b: usize,
        steps: usize,
        drop_at: Option<usize>,
        dup_at: Option<usize>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let r = 0usize..4;
    prop_oneof![
        3 => (r.clone(), "[a-z][a-z ]{0,11}").prop_map(|(r, text)| Op::Add { r, text }),
        2 => (r.clone(), any::<usize>(), "[a-z][a-z ]{0,11}").prop_map(|(r, pick, text)| Op::Edit { r, pick, text }),
        1 => (r.clone(), any::<usize>()).prop_map(|(r, pick)| Op::Delete { r, pick }),
        1 => (r.clone(), any::<usize>(), "[a-z]{1,4}").prop_map(|(r, pick, tag)| Op::Tag { r, pick, tag }),
        3 => (r.clone(), r, 1usize..6, proptest::option::of(0usize..6), proptest::option::of(0usize..6))
            .prop_map(|(a, b, steps, drop_at, dup_at)| Op::Talk { a, b, steps, drop_at, dup_at }),
    ]
}

struct Replica {
    journal: Journal,
    ctx: WriteCtx,
    seq: u64,
}

fn replicas(n: usize) -> Vec<Replica> {
    let start = FixedOffset::east_opt(0)
        .unwrap()
        .with_ymd_and_hms(2026, 1, 1, 9, 0, 0)
        .unwrap();
    (0..n)
        .map(|i| Replica {
            journal: Journal::new(ActorId::from(vec![i as u8 + 1; 16])),
            // Replicas 0 and 2 are one partner's two devices: they edit the
            // same entries concurrently.
            ctx: WriteCtx {
                author: PartnerId(format!("p{}", i % 2).into()),
                device: DeviceId(format!("d{i}").into()),
                now: start,
            },
            seq: 0,
        })
        .collect()
}

fn mine(r: &Replica, pick: usize) -> Option<EntryId> {
    let own: Vec<EntryId> = r
        .journal
        .all_entries()
        .0
        .into_iter()
        .filter(|e| e.author == r.ctx.author && e.deleted.is_none())
        .map(|e| e.id)
        .collect();
    (!own.is_empty()).then(|| own[pick % own.len()])
}

/// One session between two replicas: alternate messages, with a fresh
/// sync state on each side, as the daemon does on every connection.
fn talk(
    rs: &mut [Replica],
    a: usize,
    b: usize,
    steps: usize,
    drop_at: Option<usize>,
    dup_at: Option<usize>,
) {
    if a == b {
        return;
    }
    let (mut sa, mut sb) = (State::new(), State::new());
    for step in 0..steps * 2 {
        let (from, to, s_from, s_to) = if step % 2 == 0 {
            (a, b, &mut sa, &mut sb)
        } else {
            (b, a, &mut sb, &mut sa)
        };
        let Some(msg) = rs[from].journal.generate(s_from).expect("our own state") else {
            continue;
        };
        if drop_at == Some(step) {
            // A lost message ends the session; the next one starts afresh.
            return;
        }
        let bytes = msg.encode();
        let times = if dup_at == Some(step) { 2 } else { 1 };
        for _ in 0..times {
            let m = hearth_sync::decode_message(&bytes).expect("our own messages decode");
            rs[to]
                .journal
                .receive(s_to, m, false)
                .expect("valid message applies");
        }
    }
}

fn settle(rs: &mut [Replica]) {
    for _ in 0..10 {
        let before: Vec<_> = rs.iter().map(|r| r.journal.heads()).collect();
        for a in 0..rs.len() {
            for b in 0..rs.len() {
                talk(rs, a, b, 20, None, None);
            }
        }
        let after: Vec<_> = rs.iter().map(|r| r.journal.heads()).collect();
        if before == after && after.iter().all(|h| *h == after[0]) {
            return;
        }
    }
}

fn run(n: usize, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut rs = replicas(n);
    for op in ops {
        match op {
            Op::Add { r, text } if r < n => {
                let rep = &mut rs[r];
                rep.seq += 1;
                rep.ctx.now += Duration::seconds(1);
                let id = EntryId::from_parts(
                    rep.ctx.now.timestamp_millis() as u64,
                    (r as u128) << 64 | u128::from(rep.seq),
                );
                let new = NewEntry {
                    body: Body::Note { text },
                    tags: BTreeSet::new(),
                    starred: false,
                    tender: None,
                };
                rep.journal.add_entry(&rep.ctx, &new, id).unwrap();
            }
            Op::Edit { r, pick, text } if r < n => {
                if let Some(id) = mine(&rs[r], pick) {
                    let rep = &mut rs[r];
                    rep.ctx.now += Duration::seconds(1);
                    let patch = EntryPatch {
                        body: Some(Body::Note { text }),
                        ..Default::default()
                    };
                    rep.journal.edit_entry(&rep.ctx, &id, &patch).unwrap();
                }
            }
            Op::Delete { r, pick } if r < n => {
                if let Some(id) = mine(&rs[r], pick) {
                    let rep = &mut rs[r];
                    rep.ctx.now += Duration::seconds(1);
                    rep.journal.delete_entry(&rep.ctx, &id).unwrap();
                }
            }
            Op::Tag { r, pick, tag } if r < n => {
                if let Some(id) = mine(&rs[r], pick) {
                    let rep = &mut rs[r];
                    rep.ctx.now += Duration::seconds(1);
                    let patch = EntryPatch {
                        tags: Some([tag].into()),
                        ..Default::default()
                    };
                    rep.journal.edit_entry(&rep.ctx, &id, &patch).unwrap();
                }
            }
            Op::Talk {
                a,
                b,
                steps,
                drop_at,
                dup_at,
            } if a < n && b < n => talk(&mut rs, a, b, steps, drop_at, dup_at),
            _ => {}
        }
    }
    settle(&mut rs);
    let heads = rs[0].journal.heads();
    let view = View::build(&rs[0].journal);
    for r in &rs {
        prop_assert_eq!(r.journal.heads(), heads.clone());
        prop_assert_eq!(&View::build(&r.journal).entries, &view.entries);
        let reloaded =
            Journal::from_doc(Automerge::load(&r.journal.doc().save()).unwrap()).unwrap();
        prop_assert_eq!(&View::build(&reloaded).entries, &view.entries);
    }
    Ok(())
}

proptest! {
    // 128 cases in CI; `HEARTH_LONG_CASES=10000` for the long run
    // (docs/RELIABILITY.md).
    #![proptest_config(ProptestConfig::with_cases(crate::common::long_run("HEARTH_LONG_CASES", 128)))]
    #[test]
    fn replicas_converge_whatever_the_interleaving(n in 2usize..=4, ops in proptest::collection::vec(op(), 1..40)) {
        run(n, ops)?;
    }
}
