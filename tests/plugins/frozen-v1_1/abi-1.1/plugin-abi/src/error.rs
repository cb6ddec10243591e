//! Errors in both directions. Both enums are frozen for the major version; a message carries
//! the detail.

use std::fmt;

use abi_stable::StableAbi;
use abi_stable::std_types::RString;

/// An error a plugin returns to the host.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub enum PluginError {
    /// The configuration was rejected (from [`crate::PluginModule::new`]); the message names
    /// the field.
    InvalidConfig {
        /// What is wrong.
        message: RString,
    },
    /// The call does not apply to this plugin (a frame for a LAN-protocol plugin, `dial` on a
    /// plugin that only answers, an unknown link).
    Unsupported {
        /// What was not supported.
        message: RString,
    },
    /// The call failed; the instance stays usable.
    Failed {
        /// What failed.
        message: RString,
    },
    /// The plugin panicked (caught by the SDK's shield). Its state is unknown: the host
    /// disables the instance, ends its sessions and may create a new one.
    Panicked {
        /// The panic message.
        message: RString,
    },
}

impl PluginError {
    /// A [`PluginError::InvalidConfig`].
    pub fn invalid_config(message: impl fmt::Display) -> Self {
        PluginError::InvalidConfig {
            message: message.to_string().into(),
        }
    }

    /// A [`PluginError::Unsupported`].
    pub fn unsupported(message: impl fmt::Display) -> Self {
        PluginError::Unsupported {
            message: message.to_string().into(),
        }
    }

    /// A [`PluginError::Failed`].
    pub fn failed(message: impl fmt::Display) -> Self {
        PluginError::Failed {
            message: message.to_string().into(),
        }
    }

    /// The message, whatever the variant.
    pub fn message(&self) -> &str {
        match self {
            PluginError::InvalidConfig { message }
            | PluginError::Unsupported { message }
            | PluginError::Failed { message }
            | PluginError::Panicked { message } => message,
        }
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            PluginError::InvalidConfig { .. } => "invalid configuration",
            PluginError::Unsupported { .. } => "unsupported",
            PluginError::Failed { .. } => "failed",
            PluginError::Panicked { .. } => "panicked",
        };
        write!(f, "{what}: {}", self.message())
    }
}

impl std::error::Error for PluginError {}

/// An error the host returns to a plugin.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub enum HostError {
    /// Backpressure: the host's queue for this handle or link is full and nothing was taken.
    /// For frames, drop and count; for streams, retry after the next event.
    Busy,
    /// The handle, link or session does not exist (any more).
    Closed,
    /// Refused by policy or permissions (a tty the config does not list, a port below 1024
    /// without the capability).
    Denied {
        /// Why.
        message: RString,
    },
    /// An argument was invalid (a path, an address, an ethertype).
    Invalid {
        /// Which and why.
        message: RString,
    },
    /// The operating system refused the operation.
    Io {
        /// The OS error number.
        errno: i32,
        /// The OS error text and context.
        message: RString,
    },
    /// The host does not offer this capability.
    Unsupported {
        /// Which capability.
        message: RString,
    },
    /// The host failed internally (a bug); treat the call as failed.
    Internal {
        /// What failed.
        message: RString,
    },
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::Busy => f.write_str("busy"),
            HostError::Closed => f.write_str("closed"),
            HostError::Denied { message } => write!(f, "denied: {message}"),
            HostError::Invalid { message } => write!(f, "invalid: {message}"),
            HostError::Io { errno, message } => write!(f, "I/O error {errno}: {message}"),
            HostError::Unsupported { message } => write!(f, "unsupported: {message}"),
            HostError::Internal { message } => write!(f, "internal host error: {message}"),
        }
    }
}

impl std::error::Error for HostError {}
