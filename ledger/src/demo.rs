//! The demo world: the participants and tanks of a development ledger
//! (`pledge-node` started without a genesis file), which the tests and
//! benchmarks use too. Ids, legal names and roles only: a development node
//! makes fresh keys for them; the `testing` feature gives them fixed ones.

use pledge_proto::v1 as pb;

/// A participant of the demo world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoParticipant {
    /// Participant id.
    pub id: &'static str,
    /// Legal name.
    pub name: &'static str,
    /// Roles it is admitted with.
    pub roles: &'static [pb::Role],
}

/// Every demo participant, in genesis order.
pub const PARTICIPANTS: &[DemoParticipant] = &[
    cast(
        "admin",
        "Zhoushan Receipt Registry (operator)",
        &[pb::Role::Admin],
    ),
    cast(
        "wh-1",
        "Zhoushan Bonded Tank Farm No.1",
        &[pb::Role::Warehouse],
    ),
    cast("wh-2", "Daishan Oil Terminal", &[pb::Role::Warehouse]),
    cast(
        "trader-a",
        "Eastern Sea Petroleum Trading",
        &[pb::Role::Holder],
    ),
    cast("trader-b", "Ningbo Bunker Supply", &[pb::Role::Holder]),
    cast("bank-a", "Bank A Zhoushan Branch", &[pb::Role::Bank]),
    cast("bank-b", "Bank B Ningbo Branch", &[pb::Role::Bank]),
    cast(
        "regulator",
        "Zhoushan Intermediate Court",
        &[pb::Role::Regulator],
    ),
    cast("auditor", "Independent Auditor", &[pb::Role::Auditor]),
];

const fn cast(id: &'static str, name: &'static str, roles: &'static [pb::Role]) -> DemoParticipant {
    DemoParticipant { id, name, roles }
}

/// A tank of the demo world, registered right after the genesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoTank {
    /// Tank id.
    pub id: &'static str,
    /// The warehouse that operates it.
    pub warehouse: &'static str,
    /// Capacity in kg.
    pub capacity_kg: u64,
    /// The product it holds.
    pub product: &'static str,
}

/// The demo tanks: one per warehouse.
pub const TANKS: &[DemoTank] = &[
    DemoTank {
        id: "T-101",
        warehouse: "wh-1",
        capacity_kg: 100_000_000,
        product: "VLSFO 0.5%S",
    },
    DemoTank {
        id: "T-201",
        warehouse: "wh-2",
        capacity_kg: 80_000_000,
        product: "HSFO 380cSt",
    },
];

/// The demo participant `id`, if there is one.
pub fn participant(id: &str) -> Option<&'static DemoParticipant> {
    PARTICIPANTS.iter().find(|p| p.id == id)
}
