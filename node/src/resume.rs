//! Resuming writes after a store failure, without an operator.
//!
//! ```text
//!   store failure ──▶ writes refused, health NOT_SERVING (server.rs)
//!         │
//!         └─▶ every second: room again? (free space, the file-size limit,
//!                  │                     a probe file written and synced)
//!                  ▼ yes
//!   stop as on SIGTERM: streams ended, requests drained, pipeline joined
//!                  ▼
//!   exec the same binary, same arguments and environment, on the ports it
//!   had: the same process (same pid) starts again and recovers from the
//!   entry log as every start does (a torn final group is cut)
//! ```
//!
//! Restarting rather than reopening the stores in place keeps one recovery
//! path: the one every start and every crash already takes. Every file and
//! socket the node opens is close-on-exec (Rust's standard library and
//! tokio open them so), so nothing leaks into the new image; the listeners
//! re-bind their ports with `SO_REUSEADDR` (tokio's default), so closing
//! connections' `TIME_WAIT` does not stand in the way.

use std::ffi::OsString;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Room a restart needs: free space on the data directory's file system,
/// and space under the file-size limit past the largest data file.
/// Without it a restart would fail its next write at once.
pub const HEADROOM: u64 = 64 * 1024 * 1024;
/// How often the node looks for room once writes are refused.
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// The probe file, written, synced and removed at each look.
const PROBE_FILE: &str = ".write-probe";
const PROBE_BYTES: usize = 64 * 1024;

/// Why a write would still fail.
#[derive(Debug, thiserror::Error)]
pub enum NoRoom {
    /// The file system has too little space free.
    #[error("{free} bytes free on the data directory's file system, fewer than {needed}")]
    FreeSpace {
        /// Bytes free for the node's user.
        free: u64,
        /// [`HEADROOM`].
        needed: u64,
    },
    /// The process's file-size limit (`ulimit -f`) leaves too little room.
    #[error(
        "the file-size limit ({limit} bytes) leaves less than {needed} bytes past the largest \
         data file ({largest} bytes)"
    )]
    FileSizeLimit {
        /// The soft limit.
        limit: u64,
        /// The largest file under the data directory.
        largest: u64,
        /// [`HEADROOM`].
        needed: u64,
    },
    /// Reading the file system's figures, or writing the probe, failed.
    #[error("{what} {path}: {error}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        error: std::io::Error,
    },
}

fn io_error(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> NoRoom {
    let path = path.to_path_buf();
    move |error| NoRoom::Io { what, path, error }
}

/// Whether a write into `data_dir` would now succeed, with [`HEADROOM`] to
/// spare.
pub fn room(data_dir: &Path) -> Result<(), NoRoom> {
    free_space(data_dir)?;
    under_file_size_limit(data_dir)?;
    probe_write(data_dir)
}

fn free_space(data_dir: &Path) -> Result<(), NoRoom> {
    let figures = rustix::fs::statvfs(data_dir)
        .map_err(|e| io_error("cannot read the free space of", data_dir)(e.into()))?;
    let free = figures.f_bavail.saturating_mul(figures.f_frsize);
    if free < HEADROOM {
        return Err(NoRoom::FreeSpace {
            free,
            needed: HEADROOM,
        });
    }
    Ok(())
}

fn under_file_size_limit(data_dir: &Path) -> Result<(), NoRoom> {
    let Some(limit) = rustix::process::getrlimit(rustix::process::Resource::Fsize).current else {
        return Ok(());
    };
    let largest = largest_file(data_dir).map_err(io_error("cannot list", data_dir))?;
    if limit < largest.saturating_add(HEADROOM) {
        return Err(NoRoom::FileSizeLimit {
            limit,
            largest,
            needed: HEADROOM,
        });
    }
    Ok(())
}

/// The size of the largest file under `dir`, at any depth.
fn largest_file(dir: &Path) -> std::io::Result<u64> {
    let mut largest = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let size = if kind.is_dir() {
            largest_file(&entry.path())?
        } else {
            entry.metadata()?.len()
        };
        largest = largest.max(size);
    }
    Ok(largest)
}

fn probe_write(data_dir: &Path) -> Result<(), NoRoom> {
    let path = data_dir.join(PROBE_FILE);
    let written = std::fs::File::create(&path).and_then(|mut file| {
        file.write_all(&[0; PROBE_BYTES])?;
        file.sync_all()
    });
    let removed = std::fs::remove_file(&path);
    written.map_err(io_error("cannot write the probe file", &path))?;
    removed.map_err(io_error("cannot remove the probe file", &path))
}

/// Looks for room every second until there is; says once why there is not.
pub async fn wait_for_room(data_dir: PathBuf) {
    let mut ticks = tokio::time::interval(PROBE_EVERY);
    let mut said = false;
    loop {
        ticks.tick().await;
        let dir = data_dir.clone();
        match tokio::task::spawn_blocking(move || room(&dir)).await {
            Ok(Ok(())) => return,
            Ok(Err(why)) if !said => {
                tracing::warn!(%why, "writes stay refused until there is room again (looking every second)");
                said = true;
            }
            Ok(Err(why)) => tracing::debug!(%why, "no room yet"),
            Err(error) => tracing::warn!(%error, "looking for room failed"),
        }
    }
}

/// What the node had bound, for the restart to bind again: with port 0 in
/// its configuration it would otherwise come back on other ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    /// The gRPC listener.
    pub listen: SocketAddr,
    /// The metrics page, if served.
    pub metrics: Option<SocketAddr>,
    /// The web explorer, if served.
    pub http: Option<SocketAddr>,
    /// Restarts after a store failure so far, this one included.
    pub restarts: u64,
}

/// The hidden flag that carries the count of restarts after a store
/// failure into the restarted node (for its metrics).
pub const RESTARTS_FLAG: &str = "--restarts-after-store-failure";

/// Replaces the running node with a fresh start of the same binary, with
/// the same arguments and environment except the addresses it had bound;
/// returns only if that failed.
#[cfg(unix)]
pub fn restart_in_place(bound: &Bound) -> anyhow::Error {
    use std::os::unix::process::CommandExt;
    let mut args = std::env::args_os();
    let program = args.next().unwrap_or_else(|| OsString::from("pledge-node"));
    let args = restart_arguments(args.collect(), bound);
    tracing::warn!(?args, "restarting in place to resume writes");
    let error = std::process::Command::new("/proc/self/exe")
        .arg0(program)
        .args(args)
        .exec();
    anyhow::anyhow!("restarting in place (exec /proc/self/exe) failed: {error}")
}

#[cfg(not(unix))]
pub fn restart_in_place(_bound: &Bound) -> anyhow::Error {
    anyhow::anyhow!("restarting in place is supported on Unix only: restart the node")
}

/// `args` with the flags for what was bound set to it.
fn restart_arguments(args: Vec<OsString>, bound: &Bound) -> Vec<OsString> {
    let mut args = with_flag(args, "--listen", &bound.listen.to_string());
    if let Some(metrics) = bound.metrics {
        args = with_flag(args, "--metrics-listen", &metrics.to_string());
    }
    if let Some(http) = bound.http {
        args = with_flag(args, "--http-listen", &http.to_string());
    }
    with_flag(args, RESTARTS_FLAG, &bound.restarts.to_string())
}

/// `args` with every `flag VALUE` and `flag=VALUE` removed and `flag value`
/// appended.
fn with_flag(args: Vec<OsString>, flag: &str, value: &str) -> Vec<OsString> {
    let joined = format!("{flag}=");
    let mut kept = Vec::with_capacity(args.len() + 2);
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == flag {
            args.next();
        } else if !arg.to_string_lossy().starts_with(&joined) {
            kept.push(arg);
        }
    }
    kept.extend([OsString::from(flag), OsString::from(value)]);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_restart_binds_what_was_bound_and_keeps_the_rest() {
        let bound = Bound {
            listen: "127.0.0.1:4100".parse().unwrap(),
            metrics: Some("127.0.0.1:4101".parse().unwrap()),
            http: None,
            restarts: 2,
        };
        let args = strings(&[
            "--data-dir",
            "d",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen=127.0.0.1:0",
            "--restarts-after-store-failure",
            "1",
        ]);
        assert_eq!(
            restart_arguments(args, &bound),
            strings(&[
                "--data-dir",
                "d",
                "--listen",
                "127.0.0.1:4100",
                "--metrics-listen",
                "127.0.0.1:4101",
                "--restarts-after-store-failure",
                "2",
            ])
        );
    }

    #[test]
    fn a_directory_with_room_passes_and_leaves_no_probe_behind() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("ledger")).unwrap();
        std::fs::write(dir.path().join("ledger").join("big"), [0; 5000]).unwrap();
        assert_eq!(largest_file(dir.path()).unwrap(), 5000);
        room(dir.path()).unwrap();
        assert!(!dir.path().join(PROBE_FILE).exists());
    }

    #[test]
    fn a_missing_directory_has_no_room() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone");
        assert!(matches!(room(&gone), Err(NoRoom::Io { .. })));
    }
}
