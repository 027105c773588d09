//! Support for the end-to-end tests: start a real `pledge-node` process on
//! 127.0.0.1:0 with a temporary data directory, find its address, its demo
//! keys and its ledger id, and stop it politely (SIGTERM) or not (SIGKILL).
//! A node started with TLS flags is reached at `https://`. [`proxy`] puts
//! network faults (delay, refusal, lost packets) between cluster members.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

pub mod cluster;
pub mod proxy;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use pledge_client::keys::Signer;
use pledge_client::{ClientError, ConnectOptions, LedgerClient};
use tonic::transport::ClientTlsConfig;

/// The development ledger's id.
pub const DEV_LEDGER_ID: &str = "zhoushan-dev";

/// A binary of the workspace, as built from the current sources: the first
/// call runs `cargo build` for the binaries, so a test never drives a stale
/// `pledge-node` left over from an earlier build.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf(); // target/<profile>
    BUILT.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.args([
            "build",
            "-p",
            "pledge-node",
            "-p",
            "pledgectl",
            "-p",
            "pledge-bench",
            "-p",
            "pledge-witness",
            "--bins",
        ]);
        if dir.ends_with("release") {
            build.arg("--release");
        }
        let output = build.output().unwrap();
        assert!(
            output.status.success(),
            "building the binaries failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    });
    dir.join(name)
}

/// A running `pledge-node`.
#[derive(Debug)]
pub struct Node {
    child: Option<Child>,
    pub address: String,
    pub data_dir: PathBuf,
    /// The node announced TLS (or mutual TLS): its URL is `https://`.
    pub tls: bool,
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
        Node::spawn(Command::new(binary("pledge-node")), data_dir, extra)
    }

    /// Starts a node through `wrapper` (e.g. `prlimit --nofile=…`), which
    /// runs `pledge-node` with the arguments that follow it.
    pub fn start_wrapped(wrapper: &[&str], data_dir: &Path, extra: &[&str]) -> Node {
        let mut command = Command::new(wrapper[0]);
        command.args(&wrapper[1..]).arg(binary("pledge-node"));
        Node::spawn(command, data_dir, extra)
    }

    /// Starts a cluster member from its configuration file, on the
    /// addresses the file gives, with a metrics page on a loopback port.
    pub fn start_member(config: &Path, data_dir: &Path) -> Node {
        let mut command = Command::new(binary("pledge-node"));
        command
            .arg("--config")
            .arg(config)
            .args(["--metrics-listen", "127.0.0.1:0"]);
        Node::spawn_with(command, data_dir)
    }

    fn spawn(mut command: Command, data_dir: &Path, extra: &[&str]) -> Node {
        command
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra);
        Node::spawn_with(command, data_dir)
    }

    fn spawn_with(mut command: Command, data_dir: &Path) -> Node {
        std::fs::create_dir_all(data_dir).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.join("node.log"))
            .unwrap();
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let announced = std::sync::Arc::default();
        let address = read_address(&mut child, data_dir, &announced);
        let mut node = Node {
            child: Some(child),
            address,
            data_dir: data_dir.to_path_buf(),
            tls: false,
            announced,
        };
        node.tls = node
            .announced("transport")
            .is_some_and(|transport| !transport.starts_with("plaintext"));
        node
    }

    /// The gRPC endpoint URL: `https://` when the node runs TLS.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.address)
    }

    /// A connected client.
    pub async fn client(&self) -> LedgerClient {
        LedgerClient::connect(&self.url()).await.unwrap()
    }

    /// A client with these TLS settings (`None`: plaintext), or why it
    /// could not connect.
    pub async fn connect(&self, tls: Option<ClientTlsConfig>) -> Result<LedgerClient, ClientError> {
        let options = ConnectOptions {
            tls,
            ..ConnectOptions::default()
        };
        LedgerClient::connect_with(&self.url(), options).await
    }

    /// A demo participant's signer.
    pub fn signer(&self, id: &str) -> Signer {
        Signer::from_file(&self.data_dir.join("dev-keys").join(format!("{id}.json"))).unwrap()
    }

    /// The node's process id (for signals).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
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

    /// The metrics page of a node started with `--metrics-listen`, as
    /// received (status line, headers, Prometheus text).
    pub fn metrics(&self) -> String {
        use std::io::{Read, Write};
        let url = self
            .announced("metrics")
            .expect("metrics address announced");
        let address = url
            .trim_start_matches("http://")
            .trim_end_matches("/metrics");
        let mut socket = std::net::TcpStream::connect(address).unwrap();
        socket
            .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .unwrap();
        let mut text = String::new();
        socket.read_to_string(&mut text).unwrap();
        text
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

/// A running `pledge-witness`.
#[derive(Debug)]
pub struct WitnessProcess {
    child: Option<Child>,
    /// Its name (C2SP key name).
    pub name: String,
    /// Its `http://` submission URL.
    pub url: String,
    /// Its line for a witness policy file: `witness <name> <key> <url>`.
    pub policy_line: String,
    pub data_dir: PathBuf,
}

impl WitnessProcess {
    /// Starts a witness named `name` on a free loopback port, following the
    /// ledger of `origin` sealed by `node_key` (hex).
    pub fn start(data_dir: &Path, name: &str, origin: &str, node_key: &str) -> WitnessProcess {
        std::fs::create_dir_all(data_dir).unwrap();
        let log = std::fs::File::create(data_dir.join("witness.log")).unwrap();
        let mut child = Command::new(binary("pledge-witness"))
            .args(["--name", name, "--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--log")
            .arg(format!("{origin}={node_key}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            // Keep reading to the end: the witness must never write to a closed pipe.
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if let Some(rest) = line.trim_start().strip_prefix("policy line:") {
                    let _ = sender.send(rest.trim().to_owned());
                }
            }
        });
        let Ok(policy_line) = receiver.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            let log = std::fs::read_to_string(data_dir.join("witness.log")).unwrap_or_default();
            panic!("pledge-witness did not start; its log:\n{log}")
        };
        let url = policy_line.rsplit(' ').next().unwrap().to_owned();
        WitnessProcess {
            child: Some(child),
            name: name.to_owned(),
            url,
            policy_line,
            data_dir: data_dir.to_path_buf(),
        }
    }

    /// The files of refused, contradicting checkpoints it kept.
    pub fn evidence(&self) -> Vec<String> {
        std::fs::read_dir(self.data_dir.join("evidence"))
            .map(|dir| {
                dir.map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs `pledge-node` with exactly `args`, expecting it to refuse to start:
/// its stderr once it exited. Panics if it started (exit status 0) or is
/// still running after 30 s.
pub fn refused_start(args: &[&str]) -> String {
    let mut child = Command::new(binary("pledge-node"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_with_timeout(&mut child, Duration::from_secs(30));
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !output.status.success(),
        "pledge-node {args:?} started: {stderr}"
    );
    stderr
}

/// Runs `pledgectl` with `args`.
pub fn pledgectl(args: &[&str]) -> Output {
    run_to_end("pledgectl", args)
}

/// Runs `pledge-node` with `args` to its end, e.g. one of its commands
/// that exit (`compact-state`).
pub fn pledge_node(args: &[&str]) -> Output {
    run_to_end("pledge-node", args)
}

fn run_to_end(binary_name: &str, args: &[&str]) -> Output {
    Command::new(binary(binary_name))
        .args(args)
        .output()
        .unwrap()
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
