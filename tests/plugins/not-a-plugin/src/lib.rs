//! Test plugin `not-a-plugin`: a perfectly good shared library that exports nothing of
//! dialgate's (no abi_stable root module). The host must refuse it as "not a dialgate plugin".

/// Some C function, so the library exports something.
#[unsafe(no_mangle)]
pub extern "C" fn not_a_dialgate_plugin(x: u32) -> u32 {
    x.wrapping_mul(2)
}
