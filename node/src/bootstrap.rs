//! Opening the ledger: the node key, the genesis, the store.
//!
//! On first start the store is empty: the genesis envelope is verified and
//! committed as entry 0 (for a development genesis, the demo tanks follow).
//! On later starts the store verifies its chain and the genesis file must be
//! the one entry 0 holds, so a node cannot be pointed at another ledger's data.

use std::path::Path;

use anyhow::{Context, bail};
use ed25519_dalek::SigningKey;
use pledge_ledger::crypto;
use pledge_ledger::envelope::{Envelope, VerifiedEnvelope};
use pledge_ledger::keyfile::KeyFile;
use pledge_ledger::ledger::DiskLedger;
use pledge_ledger::view::LedgerRead;

use crate::config::Config;
use crate::dev;
use crate::pipeline::now_ms;

/// The opened ledger and what start-up did.
#[derive(Debug)]
pub struct Opened {
    /// The ledger, ready for the sequencer.
    pub ledger: DiskLedger,
    /// Where the demo keys are, when a development genesis was created now
    /// or earlier.
    pub dev_keys: Option<std::path::PathBuf>,
    /// The key that sealed the genesis (docs/FORMAT.md §3.1).
    pub ledger_key: crypto::PublicKey,
}

/// Zeros the entry log keeps written ahead of its end, so that a group's
/// `fdatasync` does not also commit a new file size (docs/PERFORMANCE.md).
const LOG_PREALLOCATE: u64 = 4 * 1024 * 1024;

/// Loads (or creates) the node key, opens the store, commits the genesis on
/// first start, and checks it on later starts.
pub fn open(config: &Config) -> anyhow::Result<Opened> {
    let no_genesis = config.genesis_file.is_none() && !config.genesis_path().exists();
    if no_genesis && config.cluster.is_none() {
        // Before anything is written: a refused node leaves no trace.
        config.check_development_ledger_allowed()?;
    }
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    let node_key = node_key(&config.node_key_path())?;
    let ledger_key = match config.cluster.as_ref() {
        Some(cluster) => cluster.ledger_key()?,
        None => None,
    };
    let ledger_key = ledger_key.unwrap_or_else(|| crypto::public_key(&node_key));
    let (mut ledger, report) =
        DiskLedger::open_dir_as(&config.ledger_dir(), node_key, ledger_key, LOG_PREALLOCATE)
            .with_context(|| {
                format!(
                    "cannot open the ledger in {}",
                    config.ledger_dir().display()
                )
            })?;
    if report.dropped_tail_bytes > 0 || report.replayed > 0 || report.rebuilt {
        tracing::warn!(?report, "recovered the store after an unclean stop");
    }
    if ledger.is_empty() && config.cluster.is_some() {
        bail!(
            "{} holds no ledger: every cluster member starts from the cluster's initial ledger \
             (pledge-node cluster-init creates one per member)",
            config.ledger_dir().display()
        );
    }
    let dev_keys_dir = config.data_dir.join("dev-keys");
    let genesis_path = config.genesis_path();
    let created_dev = ledger.is_empty() && config.genesis_file.is_none() && !genesis_path.exists();
    let mut follow_up = Vec::new();
    if created_dev {
        let setup = dev::create(&config.data_dir, &genesis_path, now_ms())?;
        follow_up = setup.tanks;
    }
    let genesis = read_genesis(&genesis_path)?;
    if ledger.is_empty() {
        commit_start(&mut ledger, genesis, follow_up)?;
    } else {
        check_genesis(&ledger, &genesis, &genesis_path)?;
    }
    let dev_keys = dev_keys_dir.exists().then_some(dev_keys_dir);
    Ok(Opened {
        ledger,
        dev_keys,
        ledger_key,
    })
}

fn node_key(path: &Path) -> anyhow::Result<SigningKey> {
    if path.exists() {
        refuse_if_others_may_read(path, "node key", "can seal entries as this node")?;
        let file = KeyFile::read(path)?;
        return file
            .signing_key()
            .map_err(|reason| anyhow::anyhow!("{}: {reason}", path.display()));
    }
    let key = crypto::generate_signing_key().map_err(|e| anyhow::anyhow!("random source: {e}"))?;
    KeyFile::new("node", &key).write(path)?;
    tracing::info!(path = %path.display(), "created a node key");
    Ok(key)
}

/// A private key file that group or others may read (or write) is refused,
/// with the command that mends it: whoever reads the `what` key `can`.
/// The node key seals the chain; a member's TLS key admits it to the
/// other members.
pub fn refuse_if_others_may_read(path: &Path, what: &str, can: &str) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            bail!(
                "the {what} {} has mode {:o}: group or others may read it, and whoever reads \
                 it {can}; run `chmod 600 {}` (and consider the key exposed if others could \
                 reach it)",
                path.display(),
                mode & 0o777,
                path.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = (path, what, can);
    Ok(())
}

fn read_genesis(path: &Path) -> anyhow::Result<VerifiedEnvelope> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read genesis file {}", path.display()))?;
    let envelope =
        Envelope::decode(&bytes).with_context(|| format!("genesis file {}", path.display()))?;
    envelope
        .verify()
        .with_context(|| format!("genesis file {}", path.display()))
}

fn commit_start(
    ledger: &mut DiskLedger,
    genesis: VerifiedEnvelope,
    follow_up: Vec<Envelope>,
) -> anyhow::Result<()> {
    let mut group = vec![genesis];
    for envelope in follow_up {
        group.push(envelope.verify()?);
    }
    let results = ledger.append_group(&group, now_ms())?;
    for result in results {
        if let Err(rejection) = result {
            bail!("the genesis was refused: {rejection}");
        }
    }
    tracing::info!(entries = ledger.len(), "genesis committed");
    Ok(())
}

fn check_genesis(
    ledger: &DiskLedger,
    genesis: &VerifiedEnvelope,
    path: &Path,
) -> anyhow::Result<()> {
    let first = ledger.snapshot().entry(0)?;
    if first.envelope.tx_bytes != genesis.envelope.tx_bytes {
        bail!(
            "the data directory holds another ledger: its entry 0 is not the genesis in {}",
            path.display()
        );
    }
    Ok(())
}
