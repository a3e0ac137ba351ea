//! The ring buffers records go through: a fixed set of ring maps in the
//! object (`EVENTS0` ..), of which the loader uses one per group of
//! `cpus_per_ring` CPUs. A program reserves in ring `cpu / cpus_per_ring`,
//! so CPUs in different groups never take the same ring's lock.

/// Ring buffer maps in the eBPF object; the loader sizes the ones it uses
/// and shrinks the rest to one page.
pub const MAX_RINGS: usize = 16;

/// The smallest ring the loader makes when it splits the total size across
/// rings (a smaller total gets one ring of that size).
pub const MIN_RING_BYTES: u32 = 64 << 10;

/// The ring a program on `cpu` reserves in, given the loader's
/// `cpus_per_ring` (0 is taken as 1), clamped to the last ring.
#[inline(always)]
pub const fn ring_of(cpu: u32, cpus_per_ring: u32) -> u32 {
    let per = if cpus_per_ring == 0 { 1 } else { cpus_per_ring };
    let ring = cpu / per;
    if ring >= MAX_RINGS as u32 {
        MAX_RINGS as u32 - 1
    } else {
        ring
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpus_map_to_rings() {
        assert_eq!(ring_of(0, 1), 0);
        assert_eq!(ring_of(1, 1), 1);
        assert_eq!(ring_of(5, 2), 2);
        assert_eq!(ring_of(7, 0), 7);
        assert_eq!(ring_of(200, 1), MAX_RINGS as u32 - 1);
    }
}
