//! routerd: configuration, plugin host, sessions, data plane and management API.
