//! Any text as a filter expression: parsing returns an expression or an error with a place,
//! never a panic, however deep the nesting.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = apiscope::filter::Filter::parse(text);
    }
});
