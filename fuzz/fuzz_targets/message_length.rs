//! `message_length` on arbitrary bytes: never panics, never reports more than it was given,
//! and agrees with itself on every prefix of a framed message.
#![no_main]

use atls_core::message_length;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(Some(n)) = message_length(data) else {
        return;
    };
    assert!(
        (4..=data.len()).contains(&n),
        "framed {n} of {} bytes",
        data.len()
    );
    assert_eq!(message_length(&data[..n]), Ok(Some(n)));
    for cut in 0..n {
        assert_eq!(
            message_length(&data[..cut]),
            Ok(None),
            "prefix {cut} of {n}"
        );
    }
});
