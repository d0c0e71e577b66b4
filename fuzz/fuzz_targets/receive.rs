//! The sync engine's receive path: frames from an admitted peer, then honest peers converge.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| auroradb_net::fuzz::receive(data));
