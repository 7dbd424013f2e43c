//! `atls_tdx::Quote::parse` on arbitrary bytes: never panics, and whatever parses parses
//! again to an equal value, also without its trailing padding; the parsed quote's claims and collateral key (PEM and PCK
//! certificate extension parsing of the quote's own data) do not panic either.
//!
//! Seeds: real quotes from `testdata/tdx/dcap-qvl/` (TDX v4, TDX v5 with TD report 1.5, and
//! an SGX v3 quote that must be refused).
#![no_main]

use atls_tdx::{CollateralKey, Quote};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(quote) = Quote::parse(data) else {
        return;
    };
    assert_eq!(Quote::parse(data).ok().as_ref(), Some(&quote));
    assert!(quote.signed_len() <= quote.len() && quote.len() <= data.len());
    // Only zero padding follows the quote: without it, the same quote.
    let unpadded = data.get(..quote.len()).expect("length within the input");
    assert_eq!(Quote::parse(unpadded).ok().as_ref(), Some(&quote));
    let _ = quote.claims();
    let _ = CollateralKey::for_quote(&quote);
});
