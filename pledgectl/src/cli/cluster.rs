//! `pledgectl cluster status|add|promote|remove`: the registry's members.
//!
//! The members are ledger data (docs/FORMAT.md §3.1): `add`, `promote` and
//! `remove` each write one membership entry, signed by the quorum, stating
//! the complete new member list (the current one, read from the node, with
//! one change). The leader then makes Raft's configuration follow it
//! (docs/REPLICATION.md §7.3): a member added as a voter joins Raft as a
//! learner and becomes a voter there once it has caught up, with no second
//! command. `status` shows both: the ledger's members and Raft's view of
//! them.

use std::process::ExitCode;

use clap::Subcommand;
use pledge_client::{json, ops, pb};
use serde_json::json;

use super::Context;
use super::participant::PublicKeyArgs;
use super::write::{self, WriteArgs};

/// The registry's members.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// The ledger's members and Raft's view of them, as this member sees them.
    Status,
    /// Add a member (signed by the quorum). A voter by default: it catches
    /// up as a learner, then the leader makes it a voter in Raft. One voter
    /// at a time.
    Add {
        /// The new member's id (1 ..= 2^63), unused.
        #[arg(long)]
        member_id: u64,
        /// A name for people.
        #[arg(long)]
        name: String,
        /// URL of its member-to-member service, e.g. http://10.1.0.4:50071.
        #[arg(long)]
        address: String,
        /// Its seal key (its node-key.json).
        #[command(flatten)]
        key: PublicKeyArgs,
        /// Add it as a learner: it receives the log and serves reads, but
        /// neither votes nor seals until `promote`.
        #[arg(long)]
        learner: bool,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Make a member added with `--learner` a voter: it counts towards a majority and may lead,
    /// so seal (signed by the quorum). One voter at a time.
    Promote {
        /// The member.
        #[arg(long)]
        member_id: u64,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Remove a member: it may seal nothing after this entry (signed by the
    /// quorum). One voter at a time.
    Remove {
        /// The member.
        #[arg(long)]
        member_id: u64,
        #[command(flatten)]
        write: WriteArgs,
    },
}

/// Runs a cluster command.
pub async fn run(ctx: &Context, command: ClusterCommand) -> anyhow::Result<ExitCode> {
    let info = ctx.client().await?.node_info().await?;
    let Some(cluster) = info.cluster else {
        anyhow::bail!("this node is a single node, not a member of a registry of several");
    };
    let mut members = cluster.ledger_members.clone();
    let (members, write) = match command {
        ClusterCommand::Status => {
            status(ctx, &cluster);
            return Ok(ExitCode::SUCCESS);
        }
        ClusterCommand::Add {
            member_id,
            name,
            address,
            key,
            learner,
            write,
        } => {
            if members.iter().any(|m| m.member_id == member_id) {
                anyhow::bail!("member {member_id} is already a member");
            }
            members.push(ops::cluster_member(
                member_id,
                &name,
                &address,
                &key.key()?,
                !learner,
            ));
            (members, write)
        }
        ClusterCommand::Promote { member_id, write } => {
            let member = find(&mut members, member_id)?;
            if member.voter {
                anyhow::bail!("member {member_id} is a voter already");
            }
            member.voter = true;
            (members, write)
        }
        ClusterCommand::Remove { member_id, write } => {
            find(&mut members, member_id)?;
            members.retain(|m| m.member_id != member_id);
            (members, write)
        }
    };
    let reason = format!("pledgectl cluster: members {}", ids(&members));
    write::execute(ctx, write, ops::change_membership(members, &reason)).await
}

fn find(members: &mut [pb::MemberSpec], id: u64) -> anyhow::Result<&mut pb::MemberSpec> {
    members
        .iter_mut()
        .find(|m| m.member_id == id)
        .ok_or_else(|| anyhow::anyhow!("member {id} is not a member"))
}

fn ids(members: &[pb::MemberSpec]) -> String {
    let ids: Vec<String> = members.iter().map(|m| m.member_id.to_string()).collect();
    ids.join(", ")
}

fn status(ctx: &Context, cluster: &pb::ClusterInfo) {
    let value = json::cluster_info(cluster);
    let mut text = format!(
        "member {} ({}), term {}, leader {}\nledger membership (entry {}):\n",
        cluster.member_id,
        value["role"].as_str().unwrap_or_default(),
        cluster.term,
        match cluster.leader_id {
            0 => "unknown".to_owned(),
            id => id.to_string(),
        },
        cluster.membership_entry,
    );
    for m in &cluster.ledger_members {
        let role = if m.voter { "voter" } else { "learner" };
        text.push_str(&format!(
            "  {} {:<12} {:<8} {} key {}\n",
            m.member_id,
            m.name,
            role,
            m.address,
            hex::encode(&m.public_key)
        ));
    }
    text.push_str("raft:\n");
    for m in &cluster.members {
        let role = match (m.in_raft, m.voter) {
            (false, _) => "not in raft",
            (true, true) => "voter",
            (true, false) => "learner",
        };
        let matched = m
            .matched_index
            .map_or("-".to_owned(), |index| index.to_string());
        text.push_str(&format!(
            "  {} {:<12} {:<11} matched index {matched}\n",
            m.member_id, m.name, role
        ));
    }
    ctx.out
        .either(&json!({ "cluster": value }), text.trim_end());
}
