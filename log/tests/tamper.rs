//! Tampering with any single byte of any stored op is caught by verification, and the error names
//! the tampered op.

mod common;

use std::collections::BTreeMap;

use auroradb_log::{Hash, LogConfig, LogError, OpId, verify_ops};
use common::{build, merged, script};
use proptest::prelude::*;
use proptest::sample::Index;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_single_byte_change_is_caught(
        script in script(3, 16).prop_filter("a log with ops", |s| !s.is_empty()),
        which in any::<Index>(),
        at in any::<Index>(),
        mask in 1..=255u8,
    ) {
        let ops = build(&script);
        let log = merged(&ops, 3, LogConfig::default());
        let recorded: BTreeMap<OpId, Hash> = log.ids(..).map(|(i, h)| (*i, *h)).collect();
        let mut stored: BTreeMap<OpId, Vec<u8>> = log.range(..).map(|(i, b, _)| (i, b.to_vec())).collect();
        let verify = |stored: &BTreeMap<OpId, Vec<u8>>| {
            verify_ops(stored.iter().map(|(i, b)| Ok((*i, b.as_slice()))), &recorded, log.heads())
        };
        prop_assert_eq!(verify(&stored).unwrap(), log.verify().unwrap());

        let target = *which.get(&recorded.keys().copied().collect::<Vec<_>>());
        let bytes = stored.get_mut(&target).unwrap();
        let at = at.index(bytes.len());
        bytes[at] ^= mask;
        match verify(&stored) {
            Ok(report) => prop_assert!(false, "byte {} of {} changed, yet verified: {:?}", at, target, report),
            Err(LogError::BrokenChain { id, .. } | LogError::InvalidOp { id, .. }) => prop_assert_eq!(id, target),
            Err(LogError::Corrupt { what: "op", reason }) => {
                prop_assert!(reason.contains(&target.to_string()), "{}", reason)
            }
            Err(other) => prop_assert!(false, "unexpected error {:?}", other),
        }
    }
}
