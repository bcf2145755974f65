#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    icmpkit_wire_fuzz::icmpv6(data);
});
