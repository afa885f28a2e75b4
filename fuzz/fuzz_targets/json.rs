//! JSON bodies: any bytes parse or fail cleanly, and whatever the strict parser (which refuses a
//! key named twice) accepts, serde_json reads the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sim_http::form::json_value;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = json_value(data) {
        let plain: serde_json::Value =
            serde_json::from_slice(data).expect("serde_json reads what the strict parser read");
        assert_eq!(value, plain);
    }
});
