//! Live tests of per-source throttling on the host only (1,000,000
//! renames: minutes under TCG): issue 22's reproduction 2, an unprivileged
//! user's rename storm no longer rotates away the evidence recorded before
//! it, and shows as `throttled` records naming the user; the same storm
//! spread over 64 uids is bounded by the total budget. Also: a log of the
//! build before throttling still replays and reports.

use crate::{common::*, throttle_util::*};

// Reproduction 2: the marker survives `--keep 5` of 1 MiB files, and
/// the storm is said, by uid.
#[test]
fn a_rename_storm_no_longer_rotates_away_the_evidence() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let recording = Recorder::start(&["--dir", d, "--rotate-size", "1M", "--keep", "5"]);
    marker_exec("EVIDENCE-marker");
    storm(&[ATTACKER], 1_000_000);
    let err = recording.stop();
    let events = replay(dir.path());
    assert!(
        has_marker(&events, "EVIDENCE-marker"),
        "the marker exec was rotated away ({} events left): {err}",
        events.len()
    );
    let begins = throttled(&events, "begin");
    assert!(
        begins.iter().any(|v| v["uid"] == ATTACKER
            && v["dropped_kind"] == "rename"
            && v["comm"].as_str().is_some_and(|c| c.starts_with("storm"))),
        "no throttled begin naming uid {ATTACKER}: {begins:?}"
    );
    // Most of the storm was dropped, and counted.
    let dropped = renames_dropped(&events, &[ATTACKER]);
    assert!(dropped > 500_000, "{dropped} renames said dropped");
}

/// The same storm from 64 uids: each source's budget alone would let it
/// through, the total budget does not.
#[test]
fn a_storm_spread_over_64_uids_is_bounded_by_the_total() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let recording = Recorder::start(&["--dir", d, "--rotate-size", "1M", "--keep", "5"]);
    marker_exec("EVIDENCE-marker-64");
    let uids: Vec<u32> = (0..64).map(|i| ATTACKER - 64 + i).collect();
    storm(&uids, 1_000_000);
    let err = recording.stop();
    let events = replay(dir.path());
    assert!(
        has_marker(&events, "EVIDENCE-marker-64"),
        "the marker exec was rotated away ({} events left): {err}",
        events.len()
    );
    let named: std::collections::BTreeSet<u64> = throttled(&events, "begin")
        .iter()
        .filter_map(|v| v["uid"].as_u64())
        .filter(|u| uids.contains(&(*u as u32)))
        .collect();
    assert!(named.len() >= 8, "throttled records name only {named:?}");
    let dropped = renames_dropped(&events, &uids);
    assert!(dropped > 500_000, "{dropped} renames said dropped");
}
