//! A whole exchange: the first byte puts a session in a state (see `atls_fuzz::Setup`), the
//! rest arrives as up to four peer messages. Nothing panics; every failure closes the session
//! and drops its output; everything the session sends is well formed; deadlines expire.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(mut ex) = atls_fuzz::run_exchange(data) {
        ex.expire_local();
    }
});
