//! Connects to `echo_server`, requires its attestation, and sends one message.
//!
//! ```text
//! cargo run -p atls-quic --example echo_client [ADDR] [MESSAGE]
//! ```
//!
//! Trusts the CA the running `echo_server` saved to the temporary directory.

mod common;

use common::*;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| DEFAULT_ADDR.into()).parse()?;
    let message = args
        .next()
        .unwrap_or_else(|| "hello over attested QUIC".into());
    echo_once(addr, saved_roots()?, &message).await
}
