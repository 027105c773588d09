//! `pledgectl`: the command line of the oil receipt-pledge ledger.

fn main() -> anyhow::Result<()> {
    Ok(())
}
