//! The host side of the ABI: loading plugins, version checks, disabling a plugin that fails.
