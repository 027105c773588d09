//! `pledge-node`: the gRPC node of the oil receipt-pledge ledger.

fn main() -> anyhow::Result<()> {
    Ok(())
}
