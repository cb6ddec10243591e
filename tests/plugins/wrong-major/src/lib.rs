//! Test plugin `wrong-major`: a library from a future plugin ABI 2.0, whose root module differs
//! from 1.x. The host must refuse it by its version, naming both versions, before looking at
//! its types.

// The StableAbi derive generates `PluginModuleRef` without Debug.
#![allow(missing_debug_implementations)]

use abi_stable::library::RootModule;
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::RStr;
use abi_stable::{StableAbi, export_root_module, sabi_extern_fn};

/// The root module of this "other" ABI.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModuleRef)))]
pub struct PluginModule {
    /// Its name.
    pub name: RStr<'static>,
    /// Creates something.
    #[sabi(last_prefix_field)]
    pub create: extern "C" fn(config: RStr<'_>) -> u64,
}

impl RootModule for PluginModuleRef {
    abi_stable::declare_root_module_statics! {PluginModuleRef}
    const BASE_NAME: &'static str = "dialgate_plugin";
    const NAME: &'static str = "dialgate-plugin";
    const VERSION_STRINGS: VersionStrings = VersionStrings::new("2.0.0");
}

#[sabi_extern_fn]
fn create(config: RStr<'_>) -> u64 {
    config.len() as u64
}

/// The exported root module.
#[export_root_module]
pub fn root_module() -> PluginModuleRef {
    PluginModule {
        name: RStr::from_str("wrong-major"),
        create,
    }
    .leak_into_prefix()
}
