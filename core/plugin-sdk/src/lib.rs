//! The plugin side of the ABI: export macro, panic shield, conversions.
