//! `pledgectl keys`: key files (the format of `pledge_ledger::keyfile`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use pledge_client::keys;
use pledge_ledger::keyfile::KeyFile;
use serde_json::json;

use super::Context;

/// Key file commands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a new ed25519 key for a participant (file mode 0600).
    Generate {
        /// The participant id the key is for.
        #[arg(long)]
        id: String,
        /// Where to write the key file (an existing file is not overwritten).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Print a key file's participant id and public key.
    Show {
        /// The key file.
        file: PathBuf,
    },
}

/// Runs a key file command.
pub fn run(ctx: &Context, command: KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Generate { id, out } => {
            let file = keys::generate_key_file(&id, &out)?;
            print_key(ctx, &file, &format!("wrote {}: ", out.display()));
        }
        KeysCommand::Show { file } => {
            let (id, public_key) = keys::public_key_of_file(&file)?;
            let shown = KeyFile {
                id,
                public_key: public_key.to_hex(),
                secret_key: None,
            };
            print_key(ctx, &shown, "");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_key(ctx: &Context, file: &KeyFile, prefix: &str) {
    ctx.out.either(
        &json!({ "id": file.id, "public_key": file.public_key }),
        &format!("{prefix}{} public key {}", file.id, file.public_key),
    );
}
