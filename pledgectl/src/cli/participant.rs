//! `pledgectl participant`: the registry of participants. Admission,
//! recovery and revocation are the quorum's (its members each sign, or sign
//! a draft in turn); a key rotation is the participant's own.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use pledge_client::{json, keys, ops, pb};
use pledge_ledger::crypto::PublicKey;

use super::Context;
use super::write::{self, WriteArgs};

/// Participant commands.
#[derive(Debug, Subcommand)]
pub enum ParticipantCommand {
    /// Admit a participant (signed by the quorum).
    Admit {
        /// The new participant's id, e.g. bank-a.
        #[arg(long)]
        id: String,
        /// Legal name.
        #[arg(long)]
        name: String,
        /// Roles it holds (repeat, or separate with commas).
        #[arg(long = "role", value_enum, value_delimiter = ',', required = true)]
        roles: Vec<RoleArg>,
        #[command(flatten)]
        legal: LegalIdArgs,
        #[command(flatten)]
        public_key: PublicKeyArgs,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Replace your own key (signed by you, with your current key).
    RotateKey {
        /// Whose key: the signer's own.
        #[arg(long)]
        id: String,
        #[command(flatten)]
        public_key: PublicKeyArgs,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Give a participant that lost its key a new one (signed by the quorum).
    RecoverKey {
        /// Whose key.
        #[arg(long)]
        id: String,
        /// Why, e.g. "HSM failure, ticket OPS-4411".
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        public_key: PublicKeyArgs,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Revoke a participant: it can sign nothing from then on (signed by the
    /// quorum). A bank with active pledges needs --successor.
    Revoke {
        /// Who.
        #[arg(long)]
        id: String,
        /// Why.
        #[arg(long)]
        reason: String,
        /// The bank that takes a revoked bank's active pledges over.
        #[arg(long, value_name = "BANK")]
        successor: Option<String>,
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Show a participant.
    Show {
        /// The participant id.
        id: String,
    },
}

/// The participant's public key, as hex or from its key file.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct PublicKeyArgs {
    /// The public key, 64 hex digits.
    #[arg(long, value_name = "HEX")]
    public_key: Option<String>,
    /// A key file (public or secret) holding the public key.
    #[arg(long, value_name = "FILE")]
    public_key_file: Option<PathBuf>,
}

impl PublicKeyArgs {
    pub fn key(&self) -> anyhow::Result<PublicKey> {
        match (&self.public_key, &self.public_key_file) {
            (Some(hex), _) => Ok(keys::parse_public_key(hex)?),
            (None, Some(path)) => Ok(keys::public_key_of_file(path)?.1),
            (None, None) => anyhow::bail!("give --public-key or --public-key-file"),
        }
    }
}

/// The participant's legal identity, with its check characters.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct LegalIdArgs {
    /// Unified social credit code (统一社会信用代码), 18 characters.
    #[arg(long, value_name = "CODE")]
    uscc: Option<String>,
    /// Legal Entity Identifier (ISO 17442), 20 characters.
    #[arg(long, value_name = "CODE")]
    lei: Option<String>,
}

impl LegalIdArgs {
    fn identity(&self) -> anyhow::Result<pb::LegalIdentity> {
        match (&self.uscc, &self.lei) {
            (Some(code), _) => Ok(ops::uscc(code)),
            (None, Some(code)) => Ok(ops::lei(code)),
            (None, None) => anyhow::bail!("give --uscc or --lei"),
        }
    }
}

/// A participant's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Registry operator.
    Admin,
    /// Bonded tank farm.
    Warehouse,
    /// Oil trader.
    Holder,
    /// Lender.
    Bank,
    /// Regulator or court.
    Regulator,
    /// Read-only auditor.
    Auditor,
    /// Independent inspection agency.
    Inspector,
    /// Price reporting agency: assesses grades' prices.
    PriceReporter,
}

impl From<RoleArg> for pb::Role {
    fn from(role: RoleArg) -> pb::Role {
        match role {
            RoleArg::Admin => pb::Role::Admin,
            RoleArg::Warehouse => pb::Role::Warehouse,
            RoleArg::Holder => pb::Role::Holder,
            RoleArg::Bank => pb::Role::Bank,
            RoleArg::Regulator => pb::Role::Regulator,
            RoleArg::Auditor => pb::Role::Auditor,
            RoleArg::Inspector => pb::Role::Inspector,
            RoleArg::PriceReporter => pb::Role::PriceReporter,
        }
    }
}

/// Runs a participant command.
pub async fn run(ctx: &Context, command: ParticipantCommand) -> anyhow::Result<ExitCode> {
    let (operation, args) = match command {
        ParticipantCommand::Admit {
            id,
            name,
            roles,
            legal,
            public_key,
            write,
        } => {
            let roles: Vec<pb::Role> = roles.into_iter().map(pb::Role::from).collect();
            let spec =
                ops::participant_spec(&id, &name, &roles, &public_key.key()?, legal.identity()?);
            (ops::admit_participant(spec), write)
        }
        ParticipantCommand::RotateKey {
            id,
            public_key,
            write,
        } => (ops::rotate_key(&id, &public_key.key()?), write),
        ParticipantCommand::RecoverKey {
            id,
            reason,
            public_key,
            write,
        } => (ops::recover_key(&id, &public_key.key()?, &reason), write),
        ParticipantCommand::Revoke {
            id,
            reason,
            successor,
            write,
        } => (
            ops::revoke_participant(&id, &reason, successor.as_deref()),
            write,
        ),
        ParticipantCommand::Show { id } => {
            let view = ctx.client().await?.participant(&id).await?;
            ctx.out.value(&json::participant(&view));
            return Ok(ExitCode::SUCCESS);
        }
    };
    write::execute(ctx, args, operation).await
}
