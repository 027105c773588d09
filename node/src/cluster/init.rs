//! `pledge-node cluster-init` and `pledge-node dev-cluster`: a local
//! cluster for development and tests.
//!
//! `cluster-init` creates one directory per member, all holding the same
//! initial ledger (a development genesis with the demo participants and
//! tanks, then a membership entry signed by the demo quorum naming every
//! member with its own seal key; committed once and copied, so that every
//! member's chain is the same from entry 0), each member's own key, the
//! demo keys, and one configuration file per member listing them all and
//! the ledger key (member 1's, which sealed the genesis); `initial/` keeps
//! that ledger without any key, for members added later. `dev-cluster`
//! does that (unless the directory exists) and runs the members until
//! ctrl-c. With `--tls` members speak mutual TLS to each other, with a
//! development CA and member certificates made in `tls/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use ed25519_dalek::SigningKey;
use pledge_ledger::crypto;
use pledge_ledger::demo;
use pledge_ledger::envelope::EnvelopeBuilder;
use pledge_ledger::keyfile::KeyFile;
use pledge_ledger::ledger::DiskLedger;
use pledge_ledger::ops;

use crate::bootstrap;
use crate::config::Config;
use crate::dev::DEV_LEDGER_ID;
use crate::pipeline::now_ms;

/// The shape of a local cluster.
#[derive(Debug, Clone, clap::Args)]
pub struct InitArgs {
    /// Directory for the members' data and configuration files.
    #[arg(long, default_value = "pledge-cluster")]
    pub dir: PathBuf,
    /// Number of members (3 or 5 tolerate the loss of one or two).
    #[arg(long, default_value_t = 3)]
    pub nodes: u64,
    /// Member i serves clients on base_port + i - 1 and members on
    /// base_port + 100 + i - 1.
    #[arg(long, default_value_t = 50051)]
    pub base_port: u16,
    /// Explicit client ports, one per member (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub client_ports: Vec<u16>,
    /// Explicit member-to-member ports, one per member (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub cluster_ports: Vec<u16>,
    /// Election timeout range, ms: LOW,HIGH.
    #[arg(long, value_delimiter = ',', default_values_t = [1000, 2000])]
    pub election_timeout_ms: Vec<u64>,
    /// Leader heartbeat period, ms.
    #[arg(long, default_value_t = 250)]
    pub heartbeat_ms: u64,
    /// Mutual TLS between members: a development CA in DIR/tls (ca.pem,
    /// ca-key.pem) and a certificate per member (member-N.pem), https://
    /// member addresses and a [cluster.tls] section in each configuration.
    #[arg(long)]
    pub tls: bool,
}

impl InitArgs {
    /// The scheme members dial each other with.
    fn member_scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }

    fn ports(&self) -> anyhow::Result<Vec<(u16, u16)>> {
        let n = self.nodes as usize;
        if !(1..=9).contains(&n) {
            bail!("--nodes must be between 1 and 9");
        }
        let pick = |given: &[u16], offset: u16, what: &str| -> anyhow::Result<Vec<u16>> {
            match given.len() {
                0 => Ok((0..n as u16).map(|i| self.base_port + offset + i).collect()),
                len if len == n => Ok(given.to_vec()),
                len => bail!("{len} {what} given for {n} members"),
            }
        };
        let clients = pick(&self.client_ports, 0, "client ports")?;
        let members = pick(&self.cluster_ports, 100, "cluster ports")?;
        Ok(clients.into_iter().zip(members).collect())
    }

    /// Member `id`'s configuration file.
    pub fn config_path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("member-{id}.toml"))
    }
}

/// Creates the members' directories and configuration files.
pub fn init(args: &InitArgs) -> anyhow::Result<()> {
    if args.dir.exists() {
        bail!(
            "{} exists already: remove it, or run the members from it",
            args.dir.display()
        );
    }
    let ports = args.ports()?;
    let [low, high] = <[u64; 2]>::try_from(args.election_timeout_ms.as_slice())
        .map_err(|_| anyhow::anyhow!("--election-timeout-ms takes LOW,HIGH"))?;
    std::fs::create_dir_all(&args.dir)?;
    let first = member_dir(&args.dir, 1);
    let seed = Config {
        data_dir: first.clone(),
        ..Config::default()
    };
    let mut opened = bootstrap::open(&seed).context("creating the initial ledger")?;
    let first_key = read_key(&seed.node_key_path())?;
    let mut keys = vec![first_key];
    for _ in 2..=args.nodes {
        keys.push(crypto::generate_signing_key().map_err(|e| anyhow!("random source: {e}"))?);
    }
    let ledger_key = opened.ledger_key;
    write_membership(
        &mut opened.ledger,
        &first,
        &keys,
        &ports,
        args.member_scheme(),
    )?;
    drop(opened);
    // The initial ledger without any key: where a member added later, or
    // one whose data is lost, starts from.
    copy_dir(&first, &args.dir.join("initial"), &seed.node_key_path())?;
    for (index, key) in keys.iter().enumerate().skip(1) {
        let dir = member_dir(&args.dir, index as u64 + 1);
        copy_dir(&first, &dir, &seed.node_key_path())?;
        KeyFile::new("node", key).write(&dir.join("node-key.json"))?;
    }
    let members = members_toml(&ports, args.member_scheme());
    if args.tls {
        member_certificates(&args.dir.join("tls"), args.nodes)?;
    }
    for (index, (client, cluster)) in ports.iter().enumerate() {
        let id = index as u64 + 1;
        let dir = std::path::absolute(member_dir(&args.dir, id))?;
        let text = format!(
            "data_dir = {data_dir:?}\nlisten = \"127.0.0.1:{client}\"\n\n[cluster]\nmember_id = {id}\n\
             ledger_key = \"{ledger_key}\"\n\
             cluster_listen = \"127.0.0.1:{cluster}\"\nelection_timeout_ms = [{low}, {high}]\n\
             heartbeat_interval_ms = {heartbeat}\n{members}{tls}",
            data_dir = dir.display().to_string(),
            heartbeat = args.heartbeat_ms,
            tls = if args.tls {
                tls_toml(&args.dir, id)?
            } else {
                String::new()
            },
        );
        std::fs::write(args.config_path(id), text)?;
    }
    println!(
        "created a cluster of {} members in {}",
        args.nodes,
        args.dir.display()
    );
    for (index, (client, cluster)) in ports.iter().enumerate() {
        println!(
            "  member {}: clients http://127.0.0.1:{client}, members {}://127.0.0.1:{cluster}, config {}",
            index + 1,
            args.member_scheme(),
            args.config_path(index as u64 + 1).display()
        );
    }
    println!(
        "  demo keys:   {}",
        member_dir(&args.dir, 1).join("dev-keys").display()
    );
    Ok(())
}

/// Commits the membership entry naming member i+1 with `keys[i]`, signed
/// by the demo quorum whose keys are in `first/dev-keys`.
fn write_membership(
    ledger: &mut DiskLedger,
    first: &Path,
    keys: &[SigningKey],
    ports: &[(u16, u16)],
    scheme: &str,
) -> anyhow::Result<()> {
    let members = keys
        .iter()
        .zip(ports)
        .enumerate()
        .map(|(index, (key, (_, cluster)))| {
            let id = index as u64 + 1;
            let address = format!("{scheme}://127.0.0.1:{cluster}");
            let name = format!("member-{id}");
            ops::cluster_member(id, &name, &address, &crypto::public_key(key), true)
        })
        .collect();
    let now = now_ms();
    let tx = ops::transaction(
        DEV_LEDGER_ID,
        "cluster-membership-1",
        (now - 60_000, now + 3_600_000),
        ops::change_membership(members, "the cluster's first members (cluster-init)"),
    );
    let mut envelope = EnvelopeBuilder::new(&tx);
    for id in demo::QUORUM {
        let key = read_key(&first.join("dev-keys").join(format!("{id}.json")))?;
        envelope = envelope.sign(id, &key);
    }
    let verified = envelope.build().verify()?;
    let results = ledger.append_group(&[verified], now)?;
    if let Some(Err(rejection)) = results.into_iter().next() {
        bail!("the membership entry was refused: {rejection}");
    }
    Ok(())
}

fn read_key(path: &Path) -> anyhow::Result<SigningKey> {
    KeyFile::read(path)?
        .signing_key()
        .map_err(|reason| anyhow!("{}: {reason}", path.display()))
}

fn member_dir(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("member-{id}"))
}

/// A development CA in `dir` and a certificate for each member, for the
/// loopback addresses they dial each other at.
fn member_certificates(dir: &Path, nodes: u64) -> anyhow::Result<()> {
    use pledge_client::certs;
    certs::create_dev_ca(dir)?;
    let hosts = ["127.0.0.1".to_owned(), "localhost".to_owned()];
    for id in 1..=nodes {
        certs::issue_member(dir, id, &hosts, dir)?;
    }
    Ok(())
}

/// Member `id`'s `[cluster.tls]` section, naming the files
/// [`member_certificates`] wrote.
fn tls_toml(dir: &Path, id: u64) -> anyhow::Result<String> {
    let tls = std::path::absolute(dir.join("tls"))?;
    let file = |name: String| format!("{:?}", tls.join(name).display().to_string());
    Ok(format!(
        "\n[cluster.tls]\ncert_file = {}\nkey_file = {}\nca_file = {}\n",
        file(format!("member-{id}.pem")),
        file(format!("member-{id}-key.pem")),
        file(pledge_client::certs::CA_CERT.to_owned()),
    ))
}

fn members_toml(ports: &[(u16, u16)], scheme: &str) -> String {
    let mut text = String::new();
    for (index, (client, cluster)) in ports.iter().enumerate() {
        let id = index + 1;
        text.push_str(&format!(
            "\n[[cluster.members]]\nid = {id}\nname = \"member-{id}\"\n\
             address = \"{scheme}://127.0.0.1:{cluster}\"\nclient_address = \"http://127.0.0.1:{client}\"\n"
        ));
    }
    text
}

/// Copies `from` to `to`, leaving out the file `except` (a member's key).
fn copy_dir(from: &Path, to: &Path, except: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for item in std::fs::read_dir(from)? {
        let item = item?;
        let target = to.join(item.file_name());
        if item.path() == except {
            continue;
        }
        if item.file_type()?.is_dir() {
            copy_dir(&item.path(), &target, except)?;
        } else {
            std::fs::copy(item.path(), &target)
                .with_context(|| format!("copying {}", item.path().display()))?;
        }
    }
    Ok(())
}

/// Creates the cluster unless it exists, runs every member, and stops them
/// all (SIGTERM) on ctrl-c. A member that exits (or is killed, to
/// watch another take over) leaves the others running.
pub fn dev_cluster(args: &InitArgs) -> anyhow::Result<()> {
    if !args.dir.exists() {
        init(args)?;
    }
    let exe = std::env::current_exe()?;
    let mut children: Vec<(u64, Child)> = Vec::new();
    for id in 1..=args.nodes {
        let log = std::fs::File::create(args.dir.join(format!("member-{id}.log")))?;
        let child = Command::new(&exe)
            .arg("--config")
            .arg(args.config_path(id))
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting member {id}"))?;
        children.push((id, child));
    }
    println!(
        "running {} members (logs in {}/member-N.log); ctrl-c stops them",
        args.nodes,
        args.dir.display()
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        if let Ok(runtime) = runtime {
            let _ = runtime.block_on(tokio::signal::ctrl_c());
        }
        flag.store(true, std::sync::atomic::Ordering::Release);
    });
    while !stop.load(std::sync::atomic::Ordering::Acquire) && !children.is_empty() {
        std::thread::sleep(Duration::from_millis(200));
        children.retain_mut(|(id, child)| match child.try_wait() {
            Ok(Some(status)) => {
                println!("member {id} exited ({status}); the others go on");
                false
            }
            _ => true,
        });
    }
    for (_, child) in &mut children {
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
    }
    for (_, child) in &mut children {
        let _ = child.wait();
    }
    Ok(())
}
