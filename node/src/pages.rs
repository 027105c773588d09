//! Paged answers: list fields whose length grows with the ledger are served a
//! page at a time, behind a token that names where the page ended.
//!
//! A page token is the id of the last object the page listed (or looked at).
//! Ids are never reused and pages run in id order, so a token stays valid
//! across writes: every object present for the whole listing is listed once.
//! Clients treat the token as opaque.

use pledge_ledger::store::ReceiptFilter;
use pledge_ledger::text::check_id;
use pledge_ledger::view::LedgerRead;
use tonic::Status;

use crate::status;

/// Default and largest page of a tank's live receipt ids (`GetTank`).
pub const DEFAULT_TANK_PAGE: usize = 1_000;
pub const MAX_TANK_PAGE: usize = 5_000;

/// Receipts (live or not) read at most per answer, as a multiple of the
/// page size: a tank whose receipts are mostly spent answers a short page
/// and a token rather than scanning its whole history in one request.
const SCAN_FACTOR: usize = 4;

/// One page of a list: the items, and the token of the next page ("" when
/// this page is the last).
#[derive(Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_token: String,
}

/// The page size a request asked for: 0 means `default`, above `max` is
/// refused.
pub fn size(field: &str, asked: u32, default: usize, max: usize) -> Result<usize, Status> {
    match asked as usize {
        0 => Ok(default),
        n if n <= max => Ok(n),
        n => Err(status::bad_request(format!(
            "{field} {n} is above the largest page, {max}"
        ))),
    }
}

/// The position a page token names ("" for the first page).
pub fn position(token: &str) -> Result<&str, Status> {
    if token.is_empty() {
        return Ok(token);
    }
    check_id("page_token", token).map_err(|_| {
        status::bad_request(format!(
            "page_token {token:?} is not a token this node gave: pass the \
             previous answer's next_page_token unchanged"
        ))
    })?;
    Ok(token)
}

/// One page of the ids of the live receipts drawn on `tank_id`, after the
/// position `after` ("" for the first).
pub fn live_receipts_on_tank(
    store: &impl LedgerRead,
    tank_id: &str,
    after: &str,
    page_size: usize,
) -> Result<Page<String>, Status> {
    let filter = ReceiptFilter::Tank(tank_id.to_owned());
    let mut items = Vec::new();
    let mut cursor = after.to_owned();
    let mut budget = page_size.saturating_mul(SCAN_FACTOR);
    while budget > 0 {
        let asked = page_size.min(budget);
        let chunk = store
            .receipts(&filter, &cursor, asked)
            .map_err(|e| status::store(&e))?;
        let exhausted = chunk.len() < asked;
        budget -= chunk.len();
        for receipt in chunk {
            cursor = receipt.id().to_owned();
            if receipt.status.is_live() {
                items.push(cursor.clone());
                if items.len() == page_size {
                    return Ok(Page {
                        items,
                        next_token: cursor,
                    });
                }
            }
        }
        if exhausted {
            return Ok(Page {
                items,
                next_token: String::new(),
            });
        }
    }
    Ok(Page {
        items,
        next_token: cursor,
    })
}
