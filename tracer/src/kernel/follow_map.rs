//! The kernel's map of followed thread groups: what a following session
//! (`live::follow`) marks, looks up and forgets there.

use anyhow::{anyhow, Context as _, Result};
use aya::maps::MapData;
use tracer_common::names;

use crate::kernel::loader::Loaded;

impl Loaded {
    /// The kernel's map of followed thread groups (see
    /// `live::follow`).
    fn followed(&mut self) -> Result<aya::maps::HashMap<&mut MapData, u32, u32>> {
        Ok(aya::maps::HashMap::try_from(
            self.ebpf
                .map_mut(names::FOLLOWED)
                .ok_or_else(|| anyhow!("map {} missing from the eBPF object", names::FOLLOWED))?,
        )?)
    }

    /// Follows these thread groups from now on.
    pub fn follow(&mut self, tgids: impl IntoIterator<Item = u32>) -> Result<()> {
        let mut map = self.followed()?;
        for tgid in tgids {
            map.insert(tgid, tracer_common::FOLLOW_LIVE, 0)
                .with_context(|| format!("following thread group {tgid} in the kernel"))?;
        }
        Ok(())
    }

    /// Whether `tgid` is followed: its state, or `None`.
    pub fn followed_state(&mut self, tgid: u32) -> Result<Option<u32>> {
        match self.followed()?.get(&tgid, 0) {
            Ok(state) => Ok(Some(state)),
            Err(aya::maps::MapError::KeyNotFound) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("looking up followed group {tgid}")),
        }
    }

    /// The followed groups: (live ones, dead ones). Stops counting live
    /// groups at `enough`.
    pub fn followed_groups(&mut self, enough: usize) -> Result<(usize, Vec<u32>)> {
        let map = self.followed()?;
        let (mut live, mut dead) = (0, Vec::new());
        for entry in map.iter() {
            // A key deleted while we walk is skipped.
            let Ok((tgid, state)) = entry else { continue };
            if state == tracer_common::FOLLOW_DEAD {
                dead.push(tgid);
            } else {
                live += 1;
                if live >= enough {
                    break;
                }
            }
        }
        Ok((live, dead))
    }

    /// Forgets followed groups that are still dead: their last threads'
    /// exits are long past.
    pub fn unfollow_dead(&mut self, tgids: &[u32]) -> Result<()> {
        let mut map = self.followed()?;
        for &tgid in tgids {
            // Reused meanwhile by a followed fork: keep it.
            if map.get(&tgid, 0).ok() == Some(tracer_common::FOLLOW_DEAD) {
                let _ = map.remove(&tgid);
            }
        }
        Ok(())
    }
}
