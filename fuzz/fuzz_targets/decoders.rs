//! Every decoder of bytes from outside (frames, the frame stream, segments, ops, hellos).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| auroradb_net::fuzz::decoders(data));
