//! Support for the end-to-end tests: start a real `pledge-node` process on
//! 127.0.0.1:0 with a temporary data directory, find its address, its demo
//! keys and its ledger id, and stop it politely (SIGTERM) or not (SIGKILL).
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use pledge_client::LedgerClient;
use pledge_client::keys::Signer;

/// The development ledger's id.
pub const DEV_LEDGER_ID: &str = "zhoushan-dev";

/// The binaries the end-to-end tests run.
const BINARIES: &[&str] = &["pledge-node", "pledgectl", "pledge-bench"];

/// A binary of the workspace, built if needed (all of [`BINARIES`] at once).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf(); // target/<profile>
    let path = dir.join(name);
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut args = vec!["build"];
        let extra = (!BINARIES.contains(&name)).then_some(name);
        for bin in BINARIES.iter().copied().chain(extra) {
            args.extend(["--bin", bin]);
        }
        let status = Command::new(cargo).args(&args).status().unwrap();
        assert!(status.success(), "cargo {args:?} failed");
    }
    path
}

/// A running `pledge-node`.
#[derive(Debug)]
pub struct Node {
    child: Option<Child>,
    pub address: String,
    pub data_dir: PathBuf,
    announced: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Node {
    /// Starts a node on a free loopback port with its data in `data_dir`
    /// (a development genesis on first start).
    pub fn start(data_dir: &Path) -> Node {
        Node::start_with(data_dir, &[])
    }

    /// Starts a node with extra arguments.
    pub fn start_with(data_dir: &Path, extra: &[&str]) -> Node {
        std::fs::create_dir_all(data_dir).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.join("node.log"))
            .unwrap();
        let mut child = Command::new(binary("pledge-node"))
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let announced = std::sync::Arc::default();
        let address = read_address(&mut child, data_dir, &announced);
        Node {
            child: Some(child),
            address,
            data_dir: data_dir.to_path_buf(),
            announced,
        }
    }

    /// The gRPC endpoint URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// A connected client.
    pub async fn client(&self) -> LedgerClient {
        LedgerClient::connect(&self.url()).await.unwrap()
    }

    /// A demo participant's signer.
    pub fn signer(&self, id: &str) -> Signer {
        Signer::from_file(&self.data_dir.join("dev-keys").join(format!("{id}.json"))).unwrap()
    }

    /// Stops with SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> ExitStatus {
        let mut child = self.child.take().unwrap();
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        wait_with_timeout(&mut child, Duration::from_secs(30))
    }

    /// Kills with SIGKILL, as a crash would.
    pub fn kill(mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// The value of an announced line such as `  metrics:   http://...`,
    /// waiting for it up to ten seconds.
    pub fn announced(&self, label: &str) -> Option<String> {
        let prefix = format!("{label}:");
        for _ in 0..500 {
            let lines = self.announced.lock().unwrap().clone();
            if let Some(line) = lines.iter().find(|l| l.trim_start().starts_with(&prefix)) {
                return Some(line.trim_start()[prefix.len()..].trim().to_owned());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The node's log so far (stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("node.log")).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Reads the "pledge-node listening on ADDR" line; keeps draining stdout
/// into `announced`.
fn read_address(
    child: &mut Child,
    data_dir: &Path,
    announced: &std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) -> String {
    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = mpsc::channel();
    let announced = announced.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            announced.lock().unwrap().push(line.clone());
            if let Some(address) = line.strip_prefix("pledge-node listening on ") {
                let _ = sender.send(address.trim().to_owned());
            }
        }
    });
    match receiver.recv_timeout(Duration::from_secs(60)) {
        Ok(address) => address,
        Err(_) => {
            let log = std::fs::read_to_string(data_dir.join("node.log")).unwrap_or_default();
            let _ = child.kill();
            panic!("pledge-node did not start; its log:\n{log}");
        }
    }
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> ExitStatus {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("pledge-node did not stop within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
