//! `pledgectl tls`: a development CA and its certificates; and the global
//! `--ca`, `--cert`, `--cert-key` flags that make the connection TLS.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use pledge_client::{ConnectOptions, tls};
use serde_json::json;

use super::Context;
use pledge_client::certs;

/// How to reach an `https://` node (global flags).
#[derive(Debug, Clone, Default, Args)]
pub struct TlsArgs {
    /// The CA certificate (PEM) that issued the node's certificate; needed
    /// for an https:// node.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "PLEDGE_CA",
        value_name = "FILE"
    )]
    pub ca: Option<PathBuf>,

    /// This participant's client certificate (PEM), for a node that runs
    /// mutual TLS. Needs --cert-key.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "PLEDGE_CERT",
        value_name = "FILE",
        requires = "cert_key"
    )]
    pub cert: Option<PathBuf>,

    /// The private key (PEM) of --cert. (Not --key: that names the signing
    /// key files of a write.)
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "PLEDGE_CERT_KEY",
        value_name = "FILE",
        requires = "cert"
    )]
    pub cert_key: Option<PathBuf>,
}

impl TlsArgs {
    /// The connection options for `node`: TLS for `https://`, which needs
    /// `--ca`; none for `http://`, where the TLS flags make no sense.
    pub fn connect_options(&self, node: &str) -> anyhow::Result<ConnectOptions> {
        let https = node.starts_with("https://");
        let tls = match (&self.ca, https) {
            (Some(ca), true) => Some(tls::client_config(ca, self.identity())?),
            (None, true) => anyhow::bail!(
                "{node} is an https:// node: give --ca FILE, the CA certificate that issued its \
                 certificate"
            ),
            (_, false) if self.ca.is_some() || self.cert.is_some() => {
                anyhow::bail!("--ca and --cert are for TLS: write the node as https://, not {node}")
            }
            (_, false) => None,
        };
        Ok(ConnectOptions {
            tls,
            ..ConnectOptions::default()
        })
    }

    fn identity(&self) -> Option<(&Path, &Path)> {
        Some((self.cert.as_deref()?, self.cert_key.as_deref()?))
    }
}

/// Development certificates (rcgen): a CA, the node's certificate, and
/// participants' client certificates. Files are PEM; keys are mode 0600.
#[derive(Debug, Subcommand)]
pub enum TlsCommand {
    /// Create a development CA: DIR/ca.pem and DIR/ca-key.pem.
    DevCa {
        /// The directory to write into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Issue the node's certificate: DIR/server.pem and DIR/server-key.pem.
    IssueServer {
        /// The CA directory (from `tls dev-ca`).
        #[arg(long, value_name = "DIR")]
        ca_dir: PathBuf,
        /// A name or IP address clients use to reach the node (repeatable).
        #[arg(long = "host", value_name = "HOST", required = true)]
        hosts: Vec<String>,
        /// The directory to write into.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Issue a participant's client certificate (mutual TLS):
    /// DIR/ID.pem and DIR/ID-key.pem, naming the participant in the URI
    /// subject alternative name pledgeledger:participant:ID.
    IssueClient {
        /// The CA directory (from `tls dev-ca`).
        #[arg(long, value_name = "DIR")]
        ca_dir: PathBuf,
        /// The participant id the certificate is bound to.
        #[arg(long, value_name = "ID")]
        participant: String,
        /// The directory to write into.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Issue a cluster member's certificate (mutual TLS between members):
    /// DIR/member-N.pem and DIR/member-N-key.pem, naming the member in the
    /// URI subject alternative name pledgeledger:member:N and serving the
    /// hosts of its member address.
    IssueMember {
        /// The CA directory (from `tls dev-ca`).
        #[arg(long, value_name = "DIR")]
        ca_dir: PathBuf,
        /// The member id the certificate is bound to.
        #[arg(long, value_name = "N")]
        member_id: u64,
        /// A name or IP address the other members dial it at (repeatable).
        #[arg(long = "host", value_name = "HOST", required = true)]
        hosts: Vec<String>,
        /// The directory to write into.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

/// Runs a certificate command.
pub fn run(ctx: &Context, command: TlsCommand) -> anyhow::Result<ExitCode> {
    let written = match command {
        TlsCommand::DevCa { out } => certs::create_dev_ca(&out)?,
        TlsCommand::IssueServer { ca_dir, hosts, out } => {
            certs::issue_server(&ca_dir, &hosts, &out)?
        }
        TlsCommand::IssueClient {
            ca_dir,
            participant,
            out,
        } => certs::issue_client(&ca_dir, &participant, &out)?,
        TlsCommand::IssueMember {
            ca_dir,
            member_id,
            hosts,
            out,
        } => certs::issue_member(&ca_dir, member_id, &hosts, &out)?,
    };
    ctx.out.either(
        &json!({ "cert": written.cert, "key": written.key }),
        &format!(
            "wrote {} and {} (key, mode 0600)",
            written.cert.display(),
            written.key.display()
        ),
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_https_node_needs_a_ca_and_http_refuses_tls_flags() {
        let none = TlsArgs::default();
        let error = none.connect_options("https://n:1").unwrap_err();
        assert!(error.to_string().contains("--ca"), "{error}");
        assert!(none.connect_options("http://n:1").unwrap().tls.is_none());
        let ca = TlsArgs {
            ca: Some("ca.pem".into()),
            ..TlsArgs::default()
        };
        let error = ca.connect_options("http://n:1").unwrap_err();
        assert!(error.to_string().contains("https://"), "{error}");
    }
}
