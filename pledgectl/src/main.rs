//! `pledgectl`: the command line of the oil receipt-pledge ledger, over the
//! `pledge-client` library.
//!
//! Every subcommand is in `cli/` (the development CA of `pledgectl tls` is
//! `pledge_client::certs`); this file sets up logging, runs the
//! command and turns the outcome into an exit code: 0 success, 1 failure,
//! 2 refused by the node, 3 the audit found a bad entry.

mod cli;

use std::process::ExitCode;

use clap::Parser;
use pledge_client::ClientError;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("PLEDGECTL_LOG").unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("pledgectl: {}", error_message(&error));
            ExitCode::from(cli::EXIT_FAILURE)
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let args = cli::Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match runtime.block_on(cli::run(args)) {
        Err(error) => match refusal_of(&error) {
            Some(refusal) => {
                eprintln!("pledgectl: {refusal}");
                Ok(ExitCode::from(cli::EXIT_REFUSED))
            }
            None => Err(error),
        },
        ok => ok,
    }
}

/// The error and its causes, each said once: many errors already carry
/// their cause's text in their own message (`"state: {0}"`), and the
/// alternate form of `anyhow` would print that cause again after it.
fn error_message(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}

/// The node's refusal, if that is what went wrong.
fn refusal_of(error: &anyhow::Error) -> Option<&pledge_client::Refusal> {
    error
        .chain()
        .find_map(|cause| cause.downcast_ref::<ClientError>())
        .and_then(ClientError::refusal)
}

#[cfg(test)]
mod tests {
    use super::error_message;

    #[derive(Debug, thiserror::Error)]
    #[error("the checkpoint is not believed: {0}")]
    struct Untrusted(#[source] Quorum);

    #[derive(Debug, thiserror::Error)]
    #[error("2 of 3 witnesses cosigned, 3 needed")]
    struct Quorum;

    #[test]
    fn a_cause_already_in_its_errors_message_is_said_once() {
        let error = anyhow::Error::new(Untrusted(Quorum)).context("receipt prove");
        assert_eq!(
            error_message(&error),
            "receipt prove: the checkpoint is not believed: 2 of 3 witnesses cosigned, 3 needed"
        );
    }

    #[test]
    fn a_cause_not_in_the_message_is_added() {
        let error = anyhow::Error::new(Quorum).context("receipt prove");
        assert_eq!(
            error_message(&error),
            "receipt prove: 2 of 3 witnesses cosigned, 3 needed"
        );
    }
}
