//! The `tracer.ancestors` attribute, encoded once per chain: a task's
//! ancestors change only at fork, exec and rename, while a busy task sends
//! thousands of records with the same chain. A small direct-mapped cache,
//! keyed by the chain itself (compared in full, so a hit is always the
//! same chain), holds each chain's encoded attribute.

use std::hash::{DefaultHasher, Hash as _, Hasher as _};

use opentelemetry_proto::tonic::common::v1::KeyValue;

use super::{fields, wire};
use crate::model::tasks::Ancestor;

/// Chains kept: more than the tasks that send most records at once.
const SLOTS: usize = 256;

pub(super) struct AncestryCache {
    slots: Vec<Option<Slot>>,
    /// The attribute being built on a miss (its strings reused).
    kv: KeyValue,
}

struct Slot {
    chain: Vec<Ancestor>,
    encoded: Vec<u8>,
}

impl AncestryCache {
    pub(super) fn new() -> AncestryCache {
        AncestryCache {
            slots: (0..SLOTS).map(|_| None).collect(),
            kv: KeyValue::default(),
        }
    }

    /// `chain` as a LogRecord attribute (field 6, `tracer.ancestors`),
    /// encoded.
    pub(super) fn encoded(&mut self, chain: &[Ancestor]) -> &[u8] {
        let slot = &mut self.slots[index(chain)];
        let hit = slot.as_ref().is_some_and(|s| s.chain == chain);
        if !hit {
            let s = slot.get_or_insert_with(|| Slot {
                chain: Vec::new(),
                encoded: Vec::new(),
            });
            s.chain.clear();
            s.chain.extend_from_slice(chain);
            fields::ancestors(chain, &mut self.kv);
            wire::attribute(&self.kv, &mut s.encoded);
        }
        match slot {
            Some(s) => &s.encoded,
            None => unreachable!("the slot was just filled"),
        }
    }
}

/// The slot of a chain: by its nearest ancestor (most chains differ
/// there), and its length.
fn index(chain: &[Ancestor]) -> usize {
    let mut h = DefaultHasher::new();
    chain.len().hash(&mut h);
    if let Some(parent) = chain.first() {
        parent.task_id.hash(&mut h);
    }
    (h.finish() % SLOTS as u64) as usize
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::logs::v1::LogRecord;
    use prost::Message as _;

    use super::*;
    use crate::model::{classify::Kind, task_id::BootKey};

    fn chain(comms: &[&str]) -> Vec<Ancestor> {
        let boot = BootKey::new("m", "b");
        comms
            .iter()
            .enumerate()
            .map(|(i, c)| Ancestor {
                task_id: boot.task(i as u64, i as u32 + 1),
                pid: i as u32 + 1,
                comm: (*c).into(),
                kind: Kind::User,
            })
            .collect()
    }

    fn decoded(bytes: &[u8]) -> KeyValue {
        let mut rec = LogRecord::decode(bytes).expect("a LogRecord's field 6");
        assert_eq!(rec.attributes.len(), 1);
        rec.attributes.remove(0)
    }

    #[test]
    fn a_chain_is_encoded_as_built_and_a_changed_chain_again() {
        let mut cache = AncestryCache::new();
        for comms in [
            &["bash", "sshd", "systemd"][..],
            &["bash", "sshd", "systemd"],
            // Same parent id, renamed: not the cached chain.
            &["sh", "sshd", "systemd"],
            &["sh", "sshd"],
            &[],
        ] {
            let c = chain(comms);
            let mut want = KeyValue::default();
            fields::ancestors(&c, &mut want);
            assert_eq!(decoded(cache.encoded(&c)), want, "{comms:?}");
        }
    }
}
