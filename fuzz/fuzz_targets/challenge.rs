//! `WWW-Authenticate` challenges: every value, quoted and escaped, reads back as given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sim_http::response::challenge;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let values: Vec<&str> = text.split('\u{0}').take(4).collect();
    let params: Vec<(&str, &str)> = values.iter().map(|value| ("p", *value)).collect();
    let made = challenge("Bearer", &params);
    let mut read = Vec::new();
    let mut chars = made.chars();
    while chars.by_ref().any(|ch| ch == '"') {
        let mut value = String::new();
        while let Some(ch) = chars.next() {
            match ch {
                '\\' => value.extend(chars.next()),
                '"' => break,
                _ => value.push(ch),
            }
        }
        read.push(value);
    }
    assert_eq!(read, values);
});
