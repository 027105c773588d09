//! The demo world: the participants and tanks of a development ledger
//! (`pledge-node` started without a genesis file), which the tests and
//! benchmarks use too. Ids, legal names, legal identities, roles, the
//! governance quorum and the tanks' physical identities only: a development
//! node makes fresh keys for the participants; the `testing` feature gives
//! them fixed ones.

use pledge_proto::v1::{self as pb, legal_identity::Identifier};

use crate::identity::{lei_check_digits, uscc_check_character};

/// A participant of the demo world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoParticipant {
    /// Participant id.
    pub id: &'static str,
    /// Legal name.
    pub name: &'static str,
    /// Roles it is admitted with.
    pub roles: &'static [pb::Role],
    /// Its legal identity, without the check characters.
    pub legal: LegalCode,
}

/// A legal identity without its check characters, which [`LegalCode::identity`]
/// computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegalCode {
    /// The first 17 characters of a unified social credit code (统一社会信用代码).
    Uscc(&'static str),
    /// The first 18 characters of an ISO 17442 LEI.
    Lei(&'static str),
}

impl LegalCode {
    /// The full legal identity, check characters included.
    pub fn identity(self) -> pb::LegalIdentity {
        let identifier = match self {
            LegalCode::Uscc(first17) => Identifier::UnifiedSocialCreditCode(format!(
                "{first17}{}",
                uscc_check_character(first17).unwrap_or('0')
            )),
            LegalCode::Lei(first18) => Identifier::Lei(format!(
                "{first18}{}",
                lei_check_digits(first18).unwrap_or_default()
            )),
        };
        pb::LegalIdentity {
            identifier: Some(identifier),
        }
    }
}

/// The demo inspection agency: it calibrates the demo tanks and certifies
/// stock.
pub const INSPECTOR: &str = "insp-sgs";

/// The demo price reporter: it assesses grades' prices, which value pledged
/// receipts (a pledge's loan-to-value against its margin level).
pub const PRICE_REPORTER: &str = "price-desk";

/// Every demo participant, in genesis order.
pub const PARTICIPANTS: &[DemoParticipant] = &[
    cast(
        "admin",
        "Zhoushan Receipt Registry (operator)",
        &[pb::Role::Admin],
        LegalCode::Uscc("91330900MA2A00001"),
    ),
    cast(
        "wh-1",
        "Zhoushan Bonded Tank Farm No.1",
        &[pb::Role::Warehouse],
        LegalCode::Uscc("91330900MA2A00002"),
    ),
    cast(
        "wh-2",
        "Daishan Oil Terminal",
        &[pb::Role::Warehouse],
        LegalCode::Uscc("91330921MA2A00003"),
    ),
    cast(
        "trader-a",
        "Eastern Sea Petroleum Trading",
        &[pb::Role::Holder],
        LegalCode::Uscc("91330900MA2A00004"),
    ),
    cast(
        "trader-b",
        "Ningbo Bunker Supply",
        &[pb::Role::Holder],
        LegalCode::Uscc("91330200MA2A00005"),
    ),
    cast(
        "bank-a",
        "Bank A Zhoushan Branch",
        &[pb::Role::Bank],
        LegalCode::Uscc("91330900MA2A00006"),
    ),
    cast(
        "bank-b",
        "Bank B Singapore (Ningbo Branch)",
        &[pb::Role::Bank],
        LegalCode::Lei("529900DEMOBANKB000"),
    ),
    cast(
        "regulator",
        "Zhoushan Intermediate Court",
        &[pb::Role::Regulator],
        LegalCode::Uscc("11330900MB0000008"),
    ),
    cast(
        "auditor",
        "Independent Auditor",
        &[pb::Role::Auditor],
        LegalCode::Uscc("91330900MA2A00009"),
    ),
    cast(
        INSPECTOR,
        "SGS-CSTC Standards Technical Services (Zhoushan)",
        &[pb::Role::Inspector],
        LegalCode::Uscc("91330900MA2A00010"),
    ),
    cast(
        PRICE_REPORTER,
        "Zhoushan Bunker Price Desk",
        &[pb::Role::PriceReporter],
        LegalCode::Uscc("91330900MA2A00011"),
    ),
];

const fn cast(
    id: &'static str,
    name: &'static str,
    roles: &'static [pb::Role],
    legal: LegalCode,
) -> DemoParticipant {
    DemoParticipant {
        id,
        name,
        roles,
        legal,
    }
}

/// The governance quorum of the demo world: the operator and the regulator,
/// both must sign admissions, recoveries, revocations and appointments.
pub const QUORUM: &[&str] = &["admin", "regulator"];
/// How many of [`QUORUM`] must sign.
pub const QUORUM_THRESHOLD: u32 = 2;
/// The longest validity window of the demo world: 30 days.
pub const MAX_VALIDITY_MS: u64 = 30 * 86_400_000;

/// The demo world's governance.
pub fn governance() -> pb::Governance {
    pb::Governance {
        quorum_members: QUORUM.iter().map(|m| (*m).to_owned()).collect(),
        quorum_threshold: QUORUM_THRESHOLD,
        max_validity_ms: MAX_VALIDITY_MS,
    }
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
    /// The bonded facility code of its physical identity.
    pub facility_code: &'static str,
    /// The tank number of its physical identity (as on its calibration certificate).
    pub tank_number: &'static str,
}

impl DemoTank {
    /// Its physical identity.
    pub fn physical_id(&self) -> pb::PhysicalTankId {
        crate::ops::physical_tank_id(self.facility_code, self.tank_number)
    }

    /// The number of its calibration certificate, by [`INSPECTOR`].
    pub fn calibration_certificate_no(&self) -> String {
        format!("CAL-{}", self.tank_number)
    }
}

/// The demo tanks: one per warehouse.
pub const TANKS: &[DemoTank] = &[
    DemoTank {
        id: "T-101",
        warehouse: "wh-1",
        capacity_kg: 100_000_000,
        product: "VLSFO 0.5%S",
        facility_code: "ZS-BONDED-01",
        tank_number: "T-101",
    },
    DemoTank {
        id: "T-201",
        warehouse: "wh-2",
        capacity_kg: 80_000_000,
        product: "HSFO 380cSt",
        facility_code: "DS-BONDED-03",
        tank_number: "TK-201",
    },
];

/// The demo participant `id`, if there is one.
pub fn participant(id: &str) -> Option<&'static DemoParticipant> {
    PARTICIPANTS.iter().find(|p| p.id == id)
}

/// The registration of `tank`, calibrated by [`INSPECTOR`] (signed by the
/// warehouse and the inspector).
pub fn register_tank(tank: &DemoTank) -> pb::transaction::Operation {
    crate::ops::register_tank(
        tank.id,
        tank.warehouse,
        tank.capacity_kg,
        tank.product,
        tank.physical_id(),
        INSPECTOR,
        &tank.calibration_certificate_no(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::LegalId;

    #[test]
    fn every_demo_legal_identity_is_valid_and_distinct() {
        let mut seen = std::collections::BTreeSet::new();
        for p in PARTICIPANTS {
            let parsed = match p.legal.identity().identifier {
                Some(Identifier::UnifiedSocialCreditCode(code)) => LegalId::uscc(&code),
                Some(Identifier::Lei(code)) => LegalId::lei(&code),
                None => panic!("{} has no legal identity", p.id),
            }
            .unwrap_or_else(|e| panic!("{}: {e}", p.id));
            assert!(seen.insert(parsed), "{} repeats a legal identity", p.id);
        }
    }
}
