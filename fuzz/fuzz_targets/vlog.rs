//! The store's value-log records: inline values and pointers resolved against a small log.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    credseal_store::fuzzing::vlog(data);
});
