//! The store's write-ahead log: a whole file, one frame's payload, and the payload framed
//! with a correct checksum (re-encoding checked).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    credseal_store::fuzzing::wal(data);
});
