//! `application/x-www-form-urlencoded` bodies and queries: any bytes parse or fail cleanly, and
//! every parameter read back was sent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sim_http::form::{Params, decode_component};

fuzz_target!(|data: &[u8]| {
    if let Ok(params) = Params::parse(data) {
        for (name, _) in params.pairs() {
            assert!(params.contains(name));
            if let Ok(Some(value)) = params.single(name) {
                assert!(!value.is_empty());
            }
            assert!(params.values(name).all(|value| !value.is_empty()));
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = decode_component(text);
    }
});
