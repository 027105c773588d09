//! `pledge-bench proofs`: inclusion and consistency proof generation at the
//! store's size, timed one by one; every proof is checked against the root.

use std::path::Path;
use std::time::Instant;

use anyhow::bail;
use hdrhistogram::Histogram;
use pledge_ledger::crypto::PublicKey;
use pledge_ledger::ledger::recover_dir;
use pledge_ledger::merkle;
use pledge_ledger::view::LedgerRead;

use crate::stats;

/// What the proofs measured.
#[derive(Debug)]
pub struct ProofTimes {
    /// The tree size proved against.
    pub size: u64,
    /// Seconds to open the store (chain check included).
    pub open_seconds: f64,
    /// Inclusion proof generation, µs.
    pub inclusion: Histogram<u64>,
    /// Consistency proof generation, µs.
    pub consistency: Histogram<u64>,
}

/// Opens the store in `dir` and times `samples` proofs of each kind for
/// entries and earlier sizes spread over the whole log.
pub fn proofs(dir: &Path, node_key: PublicKey, samples: u64) -> anyhow::Result<ProofTimes> {
    let started = Instant::now();
    let store = recover_dir(dir, &node_key)?.snapshot();
    let open_seconds = started.elapsed().as_secs_f64();
    let size = store.len();
    if size < 2 {
        bail!("{} holds {size} entries; proofs need two", dir.display());
    }
    let root = store.tree_root(size)?;
    let mut times = ProofTimes {
        size,
        open_seconds,
        inclusion: stats::histogram(),
        consistency: stats::histogram(),
    };
    let mut random = Lcg(0x9e37_79b9_7f4a_7c15);
    for _ in 0..samples {
        let seq = random.below(size);
        let started = Instant::now();
        let proof = merkle::inclusion_proof(seq, size, &store)?;
        stats::record(&mut times.inclusion, started.elapsed());
        let leaf = merkle::leaf_hash(&store.entry(seq)?.body());
        merkle::verify_inclusion(&leaf, seq, size, &proof, &root)?;

        let from = 1 + random.below(size - 1);
        let started = Instant::now();
        let proof = merkle::consistency_proof(from, size, &store)?;
        stats::record(&mut times.consistency, started.elapsed());
        merkle::verify_consistency(from, size, &proof, &store.tree_root(from)?, &root)?;
    }
    Ok(times)
}

/// A small deterministic generator, for reproducible samples.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) % bound
    }
}
