//! Parse → encode: whenever `Message::decode` accepts the input, encoding gives back exactly
//! the input, and `message_length` frames it as one message.
#![no_main]

use atls_core::{Codec, Message, message_length};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(message) = Message::decode(data) else {
        return;
    };
    let encoded = message.to_bytes();
    assert_eq!(encoded, data, "accepted message does not re-encode");
    assert_eq!(Message::decode(&encoded).as_ref(), Ok(&message));
    assert_eq!(
        message_length(data),
        Ok(Some(data.len())),
        "framing disagrees"
    );
});
