//! Opening the ledger: the node key, the genesis, the store.
//!
//! On first start the store is empty: the genesis envelope is verified and
//! committed as entry 0 (for a development genesis, the demo tanks follow).
//! On later starts the store verifies its chain and the genesis file must be
//! the one entry 0 holds, so a node cannot be pointed at another ledger's data.
//!
//! A single node whose ledger cannot be opened for writing, and that finds
//! no room to write in its data directory (a full disk, or the file-size
//! limit: [`resume::room`]), starts read-only: it opens the entry log
//! without writing ahead, leaves the state database alone (opening it
//! writes), and rebuilds the state from the whole log into a temporary
//! database in memory-backed storage (`/dev/shm` on Linux), deleted when
//! the node stops. The server then refuses writes from the first moment,
//! and restarts the node once there is room. A node that can open its
//! ledger starts as usual even with little room: its first write that
//! fails is a store failure (`resume.rs`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use ed25519_dalek::SigningKey;
use pledge_ledger::crypto;
use pledge_ledger::envelope::{Envelope, VerifiedEnvelope};
use pledge_ledger::keyfile::KeyFile;
use pledge_ledger::ledger::{DiskLedger, OpenReport};
use pledge_ledger::view::LedgerRead;

use crate::config::Config;
use crate::dev;
use crate::pipeline::now_ms;
use crate::resume;

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
    /// Whether the ledger was opened for reading only: there is no room
    /// to write in the data directory.
    pub read_only: Option<ReadOnly>,
}

/// A ledger opened for reading only.
#[derive(Debug, Clone)]
pub struct ReadOnly {
    /// Why there is no room to write.
    pub why: String,
    /// The temporary state database, for the node to remove when it stops
    /// (sled removes it only if every handle on it is dropped first).
    pub state_dir: PathBuf,
}

impl ReadOnly {
    /// Removes the temporary state database; says why not if it cannot.
    pub fn remove_temporary_state(&self) {
        if let Err(error) = std::fs::remove_dir_all(&self.state_dir)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(%error, path = %self.state_dir.display(), "cannot remove the temporary state");
        }
    }
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
    let (mut ledger, read_only) = open_ledger(config, node_key, ledger_key)?;
    if ledger.is_empty() && config.cluster.is_some() {
        bail!(
            "{} holds no ledger: every cluster member starts from the cluster's initial ledger \
             (pledge-node cluster-init creates one per member)",
            config.ledger_dir().display()
        );
    }
    if read_only.is_some() && ledger.is_empty() {
        bail!(
            "{} holds no ledger yet, and there is no room to create one",
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
        read_only,
    })
}

/// Opens the ledger for writing, or for reading only when there is no
/// room to write (with why): at once on a file system with too little
/// free space (opening the state database would write to it), after the
/// open for writing failed otherwise (a file-size limit, a probe file that
/// cannot be written: a node that can open its ledger starts as usual).
/// A cluster member never starts read-only: it must take the leader's
/// entries as they come.
fn open_ledger(
    config: &Config,
    node_key: SigningKey,
    ledger_key: crypto::PublicKey,
) -> anyhow::Result<(DiskLedger, Option<ReadOnly>)> {
    if config.cluster.is_some() {
        return Ok((open_writable(config, node_key, ledger_key)?, None));
    }
    let why = match resume::room(&config.data_dir) {
        Ok(()) => return Ok((open_writable(config, node_key, ledger_key)?, None)),
        Err(why) => why,
    };
    let writable_failed = if matches!(why, resume::NoRoom::FreeSpace { .. }) {
        None
    } else {
        match open_writable(config, node_key.clone(), ledger_key) {
            Ok(ledger) => return Ok((ledger, None)),
            Err(error) => Some(error),
        }
    };
    let state_dir = read_only_state_dir(&config.data_dir)?;
    let ledger = open_read_only(
        config,
        (node_key, ledger_key),
        &state_dir,
        &why,
        writable_failed.as_ref(),
    )?;
    let why = why.to_string();
    Ok((ledger, Some(ReadOnly { why, state_dir })))
}

/// Opens (or creates) the ledger for writing, repairing what an unclean
/// stop left.
fn open_writable(
    config: &Config,
    node_key: SigningKey,
    ledger_key: crypto::PublicKey,
) -> anyhow::Result<DiskLedger> {
    let (ledger, report) =
        DiskLedger::open_dir_as(&config.ledger_dir(), node_key, ledger_key, LOG_PREALLOCATE)
            .with_context(|| {
                format!(
                    "cannot open the ledger in {}",
                    config.ledger_dir().display()
                )
            })?;
    if report.rebuilt {
        tracing::warn!(
            ?report,
            "rebuilt the state from the entry log: it was damaged, or written by another \
             build's layout (docs/OPERATIONS.md §11)"
        );
    } else if report.dropped_tail_bytes > 0 || report.replayed > 0 {
        tracing::warn!(?report, "recovered the store after an unclean stop");
    }
    // The entry log's lock is held: a read-only start's temporary state
    // left by a process that did not stop cleanly is nobody's.
    let stale = read_only_state_dir(&config.data_dir)?;
    if stale.exists() {
        std::fs::remove_dir_all(&stale)
            .with_context(|| format!("cannot remove the stale {}", stale.display()))?;
    }
    Ok(ledger)
}

/// Opens the ledger for reading only, its state rebuilt from the whole
/// entry log into a temporary database ([`read_only_state_dir`]).
fn open_read_only(
    config: &Config,
    (node_key, ledger_key): (SigningKey, crypto::PublicKey),
    state_dir: &Path,
    why: &resume::NoRoom,
    writable_failed: Option<&anyhow::Error>,
) -> anyhow::Result<DiskLedger> {
    let writable_failed = writable_failed.map(|error| format!("{error:#}"));
    let and_then = writable_failed
        .as_ref()
        .map_or_else(String::new, |error| format!(": {error}"));
    let started = Instant::now();
    let (ledger, report) =
        DiskLedger::open_read_only(&config.ledger_dir(), node_key, ledger_key, state_dir)
            .with_context(|| {
                format!(
                    "there is no room to write in {} ({why}){and_then}; and opening the \
                     ledger read-only failed too (its state to be rebuilt in {})",
                    config.data_dir.display(),
                    state_dir.display()
                )
            })?;
    let OpenReport {
        replayed,
        dropped_tail_bytes,
        ..
    } = report;
    tracing::info!(
        writable_failed = writable_failed
            .as_deref()
            .unwrap_or("not tried: the file system is full"),
        entries = replayed,
        dropped_tail_bytes,
        elapsed_ms = started.elapsed().as_millis(),
        state = %state_dir.display(),
        "rebuilt the state from the entry log into a temporary database"
    );
    Ok(ledger)
}

/// Where a read-only start keeps its temporary state: memory-backed
/// storage (`/dev/shm`) where there is some, else the system's temporary
/// directory; one name per data directory (its device and inode), so a
/// start finds what an unclean stop left.
fn read_only_state_dir(data_dir: &Path) -> anyhow::Result<PathBuf> {
    let shared_memory = Path::new("/dev/shm");
    let parent = if shared_memory.is_dir() {
        shared_memory.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let metadata = std::fs::metadata(data_dir)
        .with_context(|| format!("cannot read {}", data_dir.display()))?;
    Ok(parent.join(format!("pledge-node-read-only-{}", directory_id(&metadata))))
}

#[cfg(unix)]
fn directory_id(metadata: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!("{}-{}", metadata.dev(), metadata.ino())
}

#[cfg(not(unix))]
fn directory_id(_metadata: &std::fs::Metadata) -> String {
    std::process::id().to_string()
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
