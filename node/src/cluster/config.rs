//! The `[cluster]` section: this member's id, where its member-to-member
//! service listens, Raft's timing, and the members (docs/REPLICATION.md §10).
//!
//! ```toml
//! [cluster]
//! member_id = 2
//! ledger_key = "9f3c…"                   # hex: the key that sealed the genesis (member 1's, from cluster-init)
//! cluster_listen = "10.1.0.2:50071"      # member-to-member gRPC (Raft, forwarding); not for clients
//! election_timeout_ms = [1000, 2000]
//! heartbeat_interval_ms = 250
//! snapshot_every_entries = 10000
//! keep_entries_after_snapshot = 1000
//!
//! plaintext = false                      # without [cluster.tls], true is needed off loopback
//!
//! [cluster.tls]                          # mutual TLS between members; absent = plaintext gRPC
//! cert_file = "tls/member-2.pem"         # this member's certificate: URI SAN pledgeledger:member:2,
//!                                        #   DNS/IP SAN of the host in its address
//! key_file = "tls/member-2-key.pem"
//! ca_file = "tls/members-ca.pem"         # the CA that issues the members' certificates
//!
//! [[cluster.members]]
//! id = 1
//! name = "zs-1"
//! address = "https://10.1.0.1:50071"     # its member-to-member service (https:// under [cluster.tls])
//! client_address = "http://10.1.0.1:50051"
//! # … one [[cluster.members]] per member, the same list on every member
//!
//! [cluster.dial]                          # optional: reach member 3 at another address from here
//! 3 = "http://127.0.0.1:60073"
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use pledge_ledger::crypto::{PublicKey, decode_lower_hex};
use serde::Deserialize;

/// The `[cluster]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// This member's id (1 ..= 2⁶³).
    pub member_id: u64,
    /// The ledger key, hex: the key that sealed the genesis and every
    /// entry up to the first membership entry (docs/FORMAT.md §3.1). When
    /// absent, this member's own key (the member that created the ledger).
    #[serde(default)]
    pub ledger_key: Option<String>,
    /// Where the member-to-member service listens.
    pub cluster_listen: SocketAddr,
    /// A follower waits a random time in this range before an election.
    #[serde(default = "default_election_timeout")]
    pub election_timeout_ms: [u64; 2],
    /// The leader's heartbeat period.
    #[serde(default = "default_heartbeat")]
    pub heartbeat_interval_ms: u64,
    /// Raft entries between two snapshots.
    #[serde(default = "default_snapshot_every")]
    pub snapshot_every_entries: u64,
    /// Raft entries kept behind a snapshot, so that a member briefly down
    /// catches up from the log.
    #[serde(default = "default_keep")]
    pub keep_entries_after_snapshot: u64,
    /// Every member of the cluster, the same list on each.
    pub members: Vec<MemberConfig>,
    /// Addresses that replace a member's listed one when dialled from here.
    #[serde(default)]
    pub dial: BTreeMap<String, String>,
    /// Without `tls`, member-to-member traffic is plaintext gRPC: a
    /// non-loopback `cluster_listen` is then refused unless this says so
    /// outright (a private network only).
    #[serde(default)]
    pub plaintext: bool,
    /// Mutual TLS between members; `None`: plaintext.
    #[serde(default)]
    pub tls: Option<MemberTlsFiles>,
}

/// The `[cluster.tls]` section: PEM files of this member's certificate and
/// of the CA that issues every member's. The member listener accepts only
/// a client certificate from that CA naming a listed member; this member
/// dials the others with its own certificate and accepts only a server
/// certificate from that CA for the host it dials (docs/REPLICATION.md §11).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberTlsFiles {
    /// This member's certificate chain, leaf first: URI SAN
    /// `pledgeledger:member:<id>` and the DNS name or IP address of its
    /// member address.
    pub cert_file: PathBuf,
    /// Its private key (a TLS key, not the member's Ed25519 seal key).
    pub key_file: PathBuf,
    /// The CA that issues the members' certificates.
    pub ca_file: PathBuf,
}

/// One member as the cluster lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberConfig {
    /// The member id.
    pub id: u64,
    /// A name for people.
    pub name: String,
    /// URL of its member-to-member service.
    pub address: String,
    /// URL clients reach it at (told to clients when it leads).
    #[serde(default)]
    pub client_address: String,
}

fn default_election_timeout() -> [u64; 2] {
    [1000, 2000]
}

fn default_heartbeat() -> u64 {
    250
}

fn default_snapshot_every() -> u64 {
    10_000
}

fn default_keep() -> u64 {
    1_000
}

impl ClusterConfig {
    /// Checks what TOML cannot: ids, this member among them, timing.
    pub fn check(&self) -> anyhow::Result<()> {
        let mut ids: Vec<u64> = self.members.iter().map(|m| m.id).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() != self.members.len() {
            anyhow::bail!("[cluster] members: a member id is listed twice");
        }
        if ids.first() == Some(&0) {
            anyhow::bail!("[cluster] members: member ids start at 1");
        }
        if !ids.contains(&self.member_id) {
            anyhow::bail!(
                "[cluster] member_id {} is not among the members {ids:?}",
                self.member_id
            );
        }
        let [low, high] = self.election_timeout_ms;
        if low >= high || self.heartbeat_interval_ms == 0 || self.heartbeat_interval_ms >= low {
            anyhow::bail!(
                "[cluster] timing: need heartbeat_interval_ms ({}) < election_timeout_ms[0] ({low}) < election_timeout_ms[1] ({high})",
                self.heartbeat_interval_ms
            );
        }
        if self.tls.is_none() && !self.plaintext && !self.cluster_listen.ip().is_loopback() {
            anyhow::bail!(
                "[cluster] refusing plaintext member-to-member traffic on the non-loopback address {}: \
                 give [cluster.tls] (mutual TLS between members), or set `plaintext = true` in \
                 [cluster] only on a private network",
                self.cluster_listen
            );
        }
        self.check_schemes()?;
        for key in self.dial.keys() {
            let listed = key.parse::<u64>().is_ok_and(|id| ids.contains(&id));
            if !listed {
                anyhow::bail!("[cluster.dial] `{key}` is not a member id");
            }
        }
        Ok(())
    }

    /// Under `[cluster.tls]` every member address is `https://`, without
    /// it `http://`: a member never dials another in the clear by mistake,
    /// nor with TLS that the other does not speak.
    fn check_schemes(&self) -> anyhow::Result<()> {
        let listed = self.members.iter().map(|m| (m.id.to_string(), &m.address));
        let dialled = self.dial.iter().map(|(id, a)| (id.clone(), a));
        for (id, address) in listed.chain(dialled) {
            check_scheme(self.tls.is_some(), address)
                .map_err(|why| anyhow::anyhow!("[cluster] member {id}: {why}"))?;
        }
        Ok(())
    }

    /// The ledger key, when the configuration names one.
    pub fn ledger_key(&self) -> anyhow::Result<Option<PublicKey>> {
        self.ledger_key
            .as_deref()
            .map(|hex| {
                decode_lower_hex(hex)
                    .and_then(|bytes| PublicKey::from_slice(&bytes))
                    .ok_or_else(|| {
                        anyhow::anyhow!("[cluster] ledger_key is not 32 bytes of lower-case hex")
                    })
            })
            .transpose()
    }

    /// The address to dial member `id` at from here.
    pub fn dial_address(&self, id: u64) -> Option<String> {
        if let Some(address) = self.dial.get(&id.to_string()) {
            return Some(address.clone());
        }
        self.member(id).map(|m| m.address.clone())
    }

    /// Member `id` as listed.
    pub fn member(&self, id: u64) -> Option<&MemberConfig> {
        self.members.iter().find(|m| m.id == id)
    }
}

/// Is `address` dialled the way this member speaks to members (`https://`
/// with TLS, `http://` without)? The reason when not.
pub fn check_scheme(tls: bool, address: &str) -> Result<(), String> {
    match (tls, address.split_once("://").map(|(scheme, _)| scheme)) {
        (true, Some("https")) | (false, Some("http")) => Ok(()),
        (true, _) => Err(format!(
            "the address {address} is not https://, but members speak mutual TLS ([cluster.tls])"
        )),
        (false, Some("https")) => Err(format!(
            "the address {address} is https://, but this member has no [cluster.tls] to speak TLS with"
        )),
        (false, _) => Err(format!("the address {address} is not an http:// URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three() -> ClusterConfig {
        toml::from_str(
            "member_id = 2\ncluster_listen = \"127.0.0.1:50072\"\n\
             [[members]]\nid = 1\nname = \"a\"\naddress = \"http://127.0.0.1:50071\"\n\
             [[members]]\nid = 2\nname = \"b\"\naddress = \"http://127.0.0.1:50072\"\n\
             [[members]]\nid = 3\nname = \"c\"\naddress = \"http://127.0.0.1:50073\"\n\
             [dial]\n3 = \"http://127.0.0.1:60073\"\n",
        )
        .unwrap()
    }

    #[test]
    fn a_listed_member_with_defaults_is_accepted_and_dial_overrides_apply() {
        let config = three();
        config.check().unwrap();
        assert_eq!(config.election_timeout_ms, [1000, 2000]);
        assert_eq!(config.dial_address(3).unwrap(), "http://127.0.0.1:60073");
        assert_eq!(config.dial_address(1).unwrap(), "http://127.0.0.1:50071");
        assert_eq!(config.dial_address(4), None);
    }

    #[test]
    fn a_member_id_not_listed_is_refused() {
        let config = ClusterConfig {
            member_id: 9,
            ..three()
        };
        let refusal = config.check().unwrap_err().to_string();
        assert!(refusal.contains("member_id 9"), "{refusal}");
    }

    #[test]
    fn plaintext_between_members_off_loopback_must_be_asked_for() {
        let mut config = ClusterConfig {
            cluster_listen: "10.1.0.2:50071".parse().unwrap(),
            ..three()
        };
        let refusal = config.check().unwrap_err().to_string();
        assert!(refusal.contains("plaintext = true"), "{refusal}");
        config.plaintext = true;
        config.check().unwrap();
    }

    #[test]
    fn tls_between_members_needs_https_addresses_and_allows_any_listen_address() {
        let files = MemberTlsFiles {
            cert_file: "m.pem".into(),
            key_file: "m-key.pem".into(),
            ca_file: "ca.pem".into(),
        };
        let mut config = ClusterConfig {
            cluster_listen: "10.1.0.2:50071".parse().unwrap(),
            tls: Some(files),
            ..three()
        };
        let refusal = config.check().unwrap_err().to_string();
        assert!(refusal.contains("not https://"), "{refusal}");
        for member in &mut config.members {
            member.address = member.address.replace("http://", "https://");
        }
        config.dial.clear();
        config.check().unwrap();
        config.tls = None;
        config.plaintext = true;
        let refusal = config.check().unwrap_err().to_string();
        assert!(refusal.contains("no [cluster.tls]"), "{refusal}");
    }

    #[test]
    fn a_heartbeat_not_below_the_election_timeout_is_refused() {
        let config = ClusterConfig {
            heartbeat_interval_ms: 1500,
            ..three()
        };
        assert!(config.check().is_err());
    }
}
