//! CMW decoding (CBOR and JSON, records, tags, collections): never panics, and whatever is
//! accepted re-encodes to exactly the input.
#![no_main]

use atls_evidence::Cmw;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(cmw) = Cmw::decode(data) else {
        return;
    };
    assert_eq!(cmw.encode(), data, "accepted CMW does not re-encode");
    assert_eq!(Cmw::decode(&cmw.encode()).ok().as_ref(), Some(&cmw));
});
