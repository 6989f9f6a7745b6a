//! Fixed keys and small builders for the records tests: every key comes from
//! a seed, so every signature is the same on every run.

use std::collections::BTreeSet;

use automerge::ChangeHash;
use ed25519_dalek::SigningKey;

use super::couple::StoredRecord;
use super::ids::{DeviceKey, PartnerCode};
use super::record::{Approve, Body, Cert, Record, Remove, SignedRecord};

/// A device whose secret key is 32 copies of `seed`.
pub struct Device {
    pub signing: SigningKey,
    pub key: DeviceKey,
}

impl Device {
    pub fn new(seed: u8) -> Device {
        let signing = SigningKey::from_bytes(&[seed; 32]);
        let key = DeviceKey(signing.verifying_key().to_bytes());
        Device { signing, key }
    }

    pub fn sign(&self, at: i64, body: Body) -> SignedRecord {
        Record {
            signer: self.key,
            at,
            body,
        }
        .sign(&self.signing)
        .expect("test records are well formed")
    }

    /// The partner this device founds when it is a root.
    pub fn root_partner(&self) -> PartnerCode {
        PartnerCode::of_root(&self.key)
    }

    pub fn root_cert(&self, name: &str) -> SignedRecord {
        self.cert(self.root_partner(), self, name)
    }

    pub fn cert(&self, partner: PartnerCode, subject: &Device, name: &str) -> SignedRecord {
        self.sign(
            1,
            Body::Cert(Cert {
                partner,
                subject: subject.key,
                name: name.into(),
            }),
        )
    }

    pub fn approve(&self, subject: &Device, partner: PartnerCode) -> SignedRecord {
        self.sign(
            1,
            Body::Approve(Approve {
                subject: subject.key,
                partner,
            }),
        )
    }

    pub fn remove(&self, subject: &Device, seen: &[ChangeHash]) -> SignedRecord {
        self.sign(
            1,
            Body::Remove(Remove {
                subject: subject.key,
                seen: seen.iter().copied().collect::<BTreeSet<_>>(),
            }),
        )
    }
}

/// A change hash for tests: 32 copies of `n`.
pub fn change(n: u8) -> ChangeHash {
    ChangeHash([n; 32])
}

/// `signed` as found in the document, put by change `put_by`.
pub fn stored(signed: &SignedRecord, put_by: ChangeHash) -> StoredRecord {
    StoredRecord {
        key: signed.key().to_hex(),
        value: signed.to_bytes(),
        put_by,
    }
}

/// A history that is one line: change n comes after every change below n.
pub fn linear(change: &ChangeHash, heads: &BTreeSet<ChangeHash>) -> bool {
    heads.iter().any(|h| change.0[0] <= h.0[0])
}

/// A history given as parents per change, for merges and concurrency.
#[derive(Default)]
pub struct Dag {
    parents: std::collections::BTreeMap<ChangeHash, Vec<ChangeHash>>,
}

impl Dag {
    pub fn add(mut self, child: ChangeHash, parents: &[ChangeHash]) -> Dag {
        self.parents.insert(child, parents.to_vec());
        self
    }

    pub fn is_within(&self, change: &ChangeHash, heads: &BTreeSet<ChangeHash>) -> bool {
        if !self.parents.contains_key(change) {
            return false;
        }
        let mut stack: Vec<ChangeHash> = heads
            .iter()
            .filter(|h| self.parents.contains_key(*h))
            .copied()
            .collect();
        let mut seen = BTreeSet::new();
        while let Some(h) = stack.pop() {
            if h == *change {
                return true;
            }
            if seen.insert(h) {
                stack.extend(self.parents.get(&h).into_iter().flatten().copied());
            }
        }
        false
    }
}

impl super::history::Ancestry for Dag {
    fn is_within(&self, change: &ChangeHash, heads: &BTreeSet<ChangeHash>) -> bool {
        Dag::is_within(self, change, heads)
    }
}
