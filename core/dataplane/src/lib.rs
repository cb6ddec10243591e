//! The IP data plane: one TUN device for every session, address -> session table, pools.
