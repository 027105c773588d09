//! A local cluster of real `pledge-node` members on loopback, made with
//! `pledge-node cluster-init` on free ports, each member its own process
//! with its own data directory. Members can be killed (SIGKILL) and
//! started again; [`Cluster::isolate`] cuts one member off through fault
//! proxies on every link to and from it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use pledge_client::{ConnectOptions, Failover, LedgerClient};
use pledge_proto::v1 as pb;

use crate::proxy::{Fault, Proxy};
use crate::{Node, binary};

/// A running cluster.
#[derive(Debug)]
pub struct Cluster {
    pub dir: PathBuf,
    pub size: u64,
    running: BTreeMap<u64, Node>,
    cluster_ports: Vec<u16>,
    /// Proxies on the links (from, to), when started with proxies.
    links: BTreeMap<(u64, u64), Proxy>,
}

/// How a cluster is made, beyond the defaults.
#[derive(Debug, Clone, Copy)]
enum Options {
    /// A snapshot every `.0` Raft entries, `.1` kept behind it.
    Snapshots(u64, u64),
    /// Mutual TLS between members.
    Tls,
}

/// A port for a member to listen on, free when chosen. `cluster-init`
/// needs every member's ports before any member starts, so a port is
/// released between choosing and binding. A port from the kernel's
/// ephemeral range (`bind(":0")`) could meanwhile be handed to any other
/// socket (a fault proxy, an outgoing connection) and the member would then
/// fail to start; below that range only another explicit bind can take it.
/// Each test process walks its own stretch of that range (by process id)
/// so parallel test processes rarely try the same port.
fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let (first, span) = (10_000u32, ephemeral_start().saturating_sub(10_000).max(1));
    let offset = std::process::id().wrapping_mul(7_919) % span;
    for _ in 0..span {
        let step = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = u16::try_from(first + (offset + step) % span).unwrap();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port below the ephemeral range");
}

/// The first port of the kernel's ephemeral range (Linux's
/// `ip_local_port_range`; 32768, Linux's default, where it cannot be read).
fn ephemeral_start() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

fn joined(ports: &[u16]) -> String {
    ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

impl Cluster {
    /// Creates and starts `size` members in `dir` (which must not exist),
    /// with a short election timeout (500–1000 ms, heartbeat 100 ms).
    pub async fn start(dir: &Path, size: u64) -> Cluster {
        Cluster::create(dir, size, false, None).await
    }

    /// As [`Cluster::start`], members speaking mutual TLS to each other
    /// (`cluster-init --tls`: a development CA and member certificates in
    /// `dir/tls`).
    pub async fn start_tls(dir: &Path, size: u64) -> Cluster {
        Cluster::create(dir, size, false, Some(Options::Tls)).await
    }

    /// As [`Cluster::start`], every member-to-member link through a proxy.
    pub async fn start_with_proxies(dir: &Path, size: u64) -> Cluster {
        Cluster::create(dir, size, true, None).await
    }

    /// As [`Cluster::start`], each member building a snapshot every
    /// `every` Raft entries and keeping `keep` entries behind it, so that
    /// a member far behind catches up by snapshot.
    pub async fn start_snapshotting(dir: &Path, size: u64, every: u64, keep: u64) -> Cluster {
        Cluster::create(dir, size, false, Some(Options::Snapshots(every, keep))).await
    }

    async fn create(dir: &Path, size: u64, proxied: bool, options: Option<Options>) -> Cluster {
        let client_ports: Vec<u16> = (0..size).map(|_| free_port()).collect();
        let cluster_ports: Vec<u16> = (0..size).map(|_| free_port()).collect();
        let output = Command::new(binary("pledge-node"))
            .arg("cluster-init")
            .arg("--dir")
            .arg(dir)
            .args(["--nodes", &size.to_string()])
            .args(["--client-ports", &joined(&client_ports)])
            .args(["--cluster-ports", &joined(&cluster_ports)])
            .args(["--election-timeout-ms", "500,1000", "--heartbeat-ms", "100"])
            .args(matches!(options, Some(Options::Tls)).then_some("--tls"))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "cluster-init failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        if let Some(Options::Snapshots(every, keep)) = options {
            for id in 1..=size {
                let path = dir.join(format!("member-{id}.toml"));
                let text = std::fs::read_to_string(&path).unwrap().replace(
                    "heartbeat_interval_ms = 100\n",
                    &format!(
                        "heartbeat_interval_ms = 100\nsnapshot_every_entries = {every}\n\
                         keep_entries_after_snapshot = {keep}\n"
                    ),
                );
                std::fs::write(&path, text).unwrap();
            }
        }
        let mut cluster = Cluster {
            dir: dir.to_path_buf(),
            size,
            running: BTreeMap::new(),
            cluster_ports,
            links: BTreeMap::new(),
        };
        if proxied {
            cluster.add_proxies().await;
        }
        for id in 1..=size {
            cluster.start_member(id);
        }
        cluster
    }

    /// Puts a proxy on every link and tells each member to dial through it.
    async fn add_proxies(&mut self) {
        for from in 1..=self.size {
            let mut dial = String::from("\n[cluster.dial]\n");
            for to in (1..=self.size).filter(|to| *to != from) {
                let target: SocketAddr =
                    format!("127.0.0.1:{}", self.cluster_ports[to as usize - 1])
                        .parse()
                        .unwrap();
                let proxy = Proxy::start(target).await.unwrap();
                dial.push_str(&format!("{to} = \"http://{}\"\n", proxy.address));
                self.links.insert((from, to), proxy);
            }
            let path = self.config_path(from);
            let mut text = std::fs::read_to_string(&path).unwrap();
            text.push_str(&dial);
            std::fs::write(&path, text).unwrap();
        }
    }

    /// Prepares member `id`, not yet a member: the initial ledger that
    /// `cluster-init` kept, a fresh
    /// member key, and a configuration listing the first members and it
    /// (no proxies on its links). Returns its key file and its member
    /// address; `pledgectl cluster add` makes it a member, then
    /// [`Cluster::start_member`] runs it.
    pub fn prepare_member(&mut self, id: u64) -> (PathBuf, String) {
        let data_dir = self.data_dir(id);
        copy_dir(&self.dir.join("initial"), &data_dir, "node-key.json");
        let key = pledge_ledger::crypto::generate_signing_key().unwrap();
        let key_file = data_dir.join("node-key.json");
        pledge_ledger::keyfile::KeyFile::new("node", &key)
            .write(&key_file)
            .unwrap();
        let (client, cluster) = (free_port(), free_port());
        let first = std::fs::read_to_string(self.config_path(1)).unwrap();
        let ledger_key = first
            .lines()
            .find(|l| l.starts_with("ledger_key"))
            .unwrap()
            .to_owned();
        let mut members = first[first.find("\n[[cluster.members]]").unwrap()..].to_owned();
        if let Some(dial) = members.find("\n[cluster.dial]") {
            members.truncate(dial);
        }
        let address = format!("http://127.0.0.1:{cluster}");
        let text = format!(
            "data_dir = {data_dir:?}\nlisten = \"127.0.0.1:{client}\"\n\n[cluster]\nmember_id = {id}\n\
             {ledger_key}\ncluster_listen = \"127.0.0.1:{cluster}\"\nelection_timeout_ms = [500, 1000]\n\
             heartbeat_interval_ms = 100\n{members}\n[[cluster.members]]\nid = {id}\nname = \"member-{id}\"\n\
             address = \"{address}\"\nclient_address = \"http://127.0.0.1:{client}\"\n",
            data_dir = std::path::absolute(&data_dir)
                .unwrap()
                .display()
                .to_string(),
        );
        std::fs::write(self.config_path(id), text).unwrap();
        (key_file, address)
    }

    pub fn config_path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("member-{id}.toml"))
    }

    /// Member `id`'s member-to-member port.
    pub fn cluster_port(&self, id: u64) -> u16 {
        self.cluster_ports[id as usize - 1]
    }

    pub fn data_dir(&self, id: u64) -> PathBuf {
        self.dir.join(format!("member-{id}"))
    }

    /// Starts member `id` (again).
    pub fn start_member(&mut self, id: u64) {
        assert!(!self.running.contains_key(&id), "member {id} is running");
        let node = Node::start_member(&self.config_path(id), &self.data_dir(id));
        self.running.insert(id, node);
    }

    /// Replaces stopped member `id`'s data with the initial ledger, keeping
    /// only its key: a disk lost and the member restored.
    pub fn wipe(&mut self, id: u64) {
        assert!(!self.running.contains_key(&id), "member {id} is running");
        let data_dir = self.data_dir(id);
        let key = std::fs::read(data_dir.join("node-key.json")).unwrap();
        std::fs::remove_dir_all(&data_dir).unwrap();
        copy_dir(&self.dir.join("initial"), &data_dir, "node-key.json");
        // Restored as an operator would: only its user may read it (the
        // node refuses a key others may read).
        let path = data_dir.join("node-key.json");
        std::fs::write(&path, key).unwrap();
        let private = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o600);
        std::fs::set_permissions(&path, private).unwrap();
    }

    /// Kills member `id` with SIGKILL, as a crash would.
    pub fn kill(&mut self, id: u64) {
        self.running.remove(&id).expect("a running member").kill();
    }

    /// The running member `id`.
    pub fn member(&self, id: u64) -> &Node {
        &self.running[&id]
    }

    /// The running members' ids.
    pub fn running(&self) -> Vec<u64> {
        self.running.keys().copied().collect()
    }

    /// Cuts member `id` off from every other member (both directions), or
    /// heals it.
    pub fn isolate(&self, id: u64, cut: bool) {
        let fault = if cut { Fault::Blackhole } else { Fault::Pass };
        for ((from, to), proxy) in &self.links {
            if *from == id || *to == id {
                proxy.set(fault);
            }
        }
    }

    /// A client of member `id` alone: it never resends elsewhere, so what
    /// it reads is member `id`'s and its refusals reach the test.
    pub async fn client(&self, id: u64) -> LedgerClient {
        let options = ConnectOptions {
            failover: Failover::never(),
            ..ConnectOptions::default()
        };
        LedgerClient::connect_with(&self.member(id).url(), options)
            .await
            .unwrap()
    }

    /// A client given every running member's address, `first` first, that
    /// follows the leader as a bank's client would.
    pub async fn client_of_all(&self, first: u64) -> LedgerClient {
        let mut ids = self.running();
        ids.sort_by_key(|id| *id != first);
        let urls: Vec<String> = ids.iter().map(|id| self.member(*id).url()).collect();
        LedgerClient::connect_any(&urls, ConnectOptions::default())
            .await
            .unwrap()
    }

    /// Sets `fault` on the link from member `from` to member `to` (a
    /// cluster started with proxies).
    pub fn fault(&self, from: u64, to: u64, fault: Fault) {
        self.links[&(from, to)].set(fault);
    }

    /// Member `id`'s view of the cluster.
    pub async fn info(&self, id: u64) -> Option<pb::ClusterInfo> {
        let client = LedgerClient::connect(&self.member(id).url()).await.ok()?;
        client.node_info().await.ok()?.cluster
    }

    /// The member that leads and takes writes (`leader_ready`: it has
    /// heard from a majority and applied the entries of earlier terms),
    /// once every running member knows it as the leader (so that any of
    /// them forwards a write to it), waiting up to `within`.
    pub async fn leader(&self, within: Duration) -> u64 {
        let deadline = Instant::now() + within;
        loop {
            let mut views = Vec::new();
            for id in self.running() {
                views.push((id, self.info(id).await));
            }
            let ready = views.iter().find_map(|(id, info)| {
                let info = info.as_ref()?;
                let leads = info.role == pb::MemberRole::Leader as i32 && info.member_id == *id;
                (leads && info.leader_ready).then_some(*id)
            });
            let known_by_all = |leader: u64| {
                views
                    .iter()
                    .all(|(_, info)| info.as_ref().is_some_and(|i| i.leader_id == leader))
            };
            if let Some(leader) = ready.filter(|leader| known_by_all(*leader)) {
                return leader;
            }
            assert!(
                Instant::now() < deadline,
                "no leader ready and known to all of {:?} within {within:?}",
                self.running()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until every running member's head equals `size` entries, and
    /// returns the heads.
    pub async fn converged(&self, size: u64, within: Duration) -> Vec<pb::Head> {
        let deadline = Instant::now() + within;
        loop {
            let mut heads = Vec::new();
            for id in self.running() {
                if let Ok(head) = self.client(id).await.head().await {
                    heads.push(head);
                }
            }
            if heads.len() == self.running.len() && heads.iter().all(|h| h.size >= size) {
                return heads;
            }
            assert!(
                Instant::now() < deadline,
                "members did not reach {size} entries within {within:?}: {:?}",
                heads.iter().map(|h| h.size).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Copies `from` to `to`, leaving out files named `except`.
fn copy_dir(from: &Path, to: &Path, except: &str) {
    std::fs::create_dir_all(to).unwrap();
    for item in std::fs::read_dir(from).unwrap() {
        let item = item.unwrap();
        if item.file_name() == except {
            continue;
        }
        let target = to.join(item.file_name());
        match item.file_type().unwrap().is_dir() {
            true => copy_dir(&item.path(), &target, except),
            false => {
                std::fs::copy(item.path(), &target).unwrap();
            }
        }
    }
}
