//! Numeric fields of PPTP control messages: message types, result and error codes,
//! capabilities (RFC 2637 §2).

use core::fmt;
use core::ops::BitOr;

/// An enum over the values RFC 2637 defines for one field, with an `Unknown` arm for the
/// rest. `From` both ways; `Unknown(v)` with a defined `v` emits `v` but parses back as the
/// named variant.
macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident: $repr:ty {
            $($(#[$vmeta:meta])* $variant:ident = $value:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A value RFC 2637 does not define here.
            Unknown($repr),
        }

        impl From<$repr> for $name {
            fn from(v: $repr) -> Self {
                match v {
                    $($value => $name::$variant,)*
                    other => $name::Unknown(other),
                }
            }
        }

        impl From<$name> for $repr {
            fn from(v: $name) -> Self {
                match v {
                    $($name::$variant => $value,)*
                    $name::Unknown(other) => other,
                }
            }
        }
    };
}

code_enum! {
    /// Control Message Type (RFC 2637 §2).
    pub enum MessageType: u16 {
        /// 1, Start-Control-Connection-Request (§2.1).
        StartControlConnectionRequest = 1,
        /// 2, Start-Control-Connection-Reply (§2.2).
        StartControlConnectionReply = 2,
        /// 3, Stop-Control-Connection-Request (§2.3).
        StopControlConnectionRequest = 3,
        /// 4, Stop-Control-Connection-Reply (§2.4).
        StopControlConnectionReply = 4,
        /// 5, Echo-Request (§2.5).
        EchoRequest = 5,
        /// 6, Echo-Reply (§2.6).
        EchoReply = 6,
        /// 7, Outgoing-Call-Request (§2.7).
        OutgoingCallRequest = 7,
        /// 8, Outgoing-Call-Reply (§2.8).
        OutgoingCallReply = 8,
        /// 9, Incoming-Call-Request (§2.9).
        IncomingCallRequest = 9,
        /// 10, Incoming-Call-Reply (§2.10).
        IncomingCallReply = 10,
        /// 11, Incoming-Call-Connected (§2.11).
        IncomingCallConnected = 11,
        /// 12, Call-Clear-Request (§2.12).
        CallClearRequest = 12,
        /// 13, Call-Disconnect-Notify (§2.13).
        CallDisconnectNotify = 13,
        /// 14, WAN-Error-Notify (§2.14).
        WanErrorNotify = 14,
        /// 15, Set-Link-Info (§2.15).
        SetLinkInfo = 15,
    }
}

impl MessageType {
    /// The fixed length of a message of this type, header included (RFC 2637 §2.1-2.15);
    /// `None` for an unknown type.
    pub const fn fixed_len(self) -> Option<usize> {
        Some(match self {
            MessageType::StartControlConnectionRequest => 156,
            MessageType::StartControlConnectionReply => 156,
            MessageType::StopControlConnectionRequest => 16,
            MessageType::StopControlConnectionReply => 16,
            MessageType::EchoRequest => 16,
            MessageType::EchoReply => 20,
            MessageType::OutgoingCallRequest => 168,
            MessageType::OutgoingCallReply => 32,
            MessageType::IncomingCallRequest => 220,
            MessageType::IncomingCallReply => 24,
            MessageType::IncomingCallConnected => 28,
            MessageType::CallClearRequest => 16,
            MessageType::CallDisconnectNotify => 148,
            MessageType::WanErrorNotify => 40,
            MessageType::SetLinkInfo => 24,
            MessageType::Unknown(_) => return None,
        })
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MessageType::StartControlConnectionRequest => "Start-Control-Connection-Request",
            MessageType::StartControlConnectionReply => "Start-Control-Connection-Reply",
            MessageType::StopControlConnectionRequest => "Stop-Control-Connection-Request",
            MessageType::StopControlConnectionReply => "Stop-Control-Connection-Reply",
            MessageType::EchoRequest => "Echo-Request",
            MessageType::EchoReply => "Echo-Reply",
            MessageType::OutgoingCallRequest => "Outgoing-Call-Request",
            MessageType::OutgoingCallReply => "Outgoing-Call-Reply",
            MessageType::IncomingCallRequest => "Incoming-Call-Request",
            MessageType::IncomingCallReply => "Incoming-Call-Reply",
            MessageType::IncomingCallConnected => "Incoming-Call-Connected",
            MessageType::CallClearRequest => "Call-Clear-Request",
            MessageType::CallDisconnectNotify => "Call-Disconnect-Notify",
            MessageType::WanErrorNotify => "WAN-Error-Notify",
            MessageType::SetLinkInfo => "Set-Link-Info",
            MessageType::Unknown(t) => return write!(f, "Control-Message-Type-{t}"),
        })
    }
}

code_enum! {
    /// General Error Code (RFC 2637 §2.16): the Error Code of a reply whose Result Code is
    /// "General Error", 0 otherwise.
    pub enum GeneralError: u8 {
        /// 0, None: no general error.
        None = 0,
        /// 1, Not-Connected: no control connection exists yet for this PAC-PNS pair.
        NotConnected = 1,
        /// 2, Bad-Format: Length is wrong or Magic Cookie value is incorrect.
        BadFormat = 2,
        /// 3, Bad-Value: a field value was out of range or a reserved field was non-zero.
        BadValue = 3,
        /// 4, No-Resource: insufficient resources to handle this command now.
        NoResource = 4,
        /// 5, Bad-Call ID: the Call ID is invalid in this context.
        BadCallId = 5,
        /// 6, PAC-Error: a generic vendor-specific error occurred in the PAC.
        PacError = 6,
    }
}

code_enum! {
    /// Result Code of Start-Control-Connection-Reply (RFC 2637 §2.2).
    pub enum StartResult: u8 {
        /// 1, Successful channel establishment.
        Success = 1,
        /// 2, General error: see the Error Code.
        GeneralError = 2,
        /// 3, Command channel already exists.
        AlreadyExists = 3,
        /// 4, Requester is not authorized to establish a command channel.
        NotAuthorized = 4,
        /// 5, The protocol version of the requester is not supported.
        UnsupportedVersion = 5,
    }
}

code_enum! {
    /// Reason of Stop-Control-Connection-Request (RFC 2637 §2.3).
    pub enum StopReason: u8 {
        /// 1, None: general request to clear the control connection.
        None = 1,
        /// 2, Stop-Protocol: can't support the peer's version of the protocol.
        StopProtocol = 2,
        /// 3, Stop-Local-Shutdown: requester is being shut down.
        LocalShutdown = 3,
    }
}

code_enum! {
    /// Result Code of Stop-Control-Connection-Reply (RFC 2637 §2.4).
    pub enum StopResult: u8 {
        /// 1, OK: control connection closed.
        Ok = 1,
        /// 2, General Error: control connection not closed, see the Error Code.
        GeneralError = 2,
    }
}

code_enum! {
    /// Result Code of Echo-Reply (RFC 2637 §2.6).
    pub enum EchoResult: u8 {
        /// 1, OK: the Echo-Reply is valid.
        Ok = 1,
        /// 2, General Error: Echo-Request not accepted, see the Error Code.
        GeneralError = 2,
    }
}

/// A 32-bit capability bit set of RFC 2637 §2.1; unknown bits are kept.
macro_rules! capabilities {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $($(#[$cmeta:meta])* const $flag:ident = $bit:literal;)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(pub u32);

        impl $name {
            $($(#[$cmeta])* pub const $flag: $name = $name($bit);)*

            /// No capability.
            pub const fn empty() -> Self {
                $name(0)
            }

            /// The raw bits.
            pub const fn bits(self) -> u32 {
                self.0
            }

            /// Whether every bit of `other` is set.
            pub const fn contains(self, other: Self) -> bool {
                self.0 & other.0 == other.0
            }
        }

        impl BitOr for $name {
            type Output = $name;
            fn bitor(self, rhs: $name) -> $name {
                $name(self.0 | rhs.0)
            }
        }
    };
}

capabilities! {
    /// Framing Capabilities of Start-Control-Connection-Request/Reply (RFC 2637 §2.1): the
    /// framing the sender's PAC side supports.
    pub struct FramingCapabilities {
        /// Asynchronous framing supported.
        const ASYNCHRONOUS = 1;
        /// Synchronous framing supported.
        const SYNCHRONOUS = 2;
    }
}

capabilities! {
    /// Bearer Capabilities of Start-Control-Connection-Request/Reply (RFC 2637 §2.1): the
    /// bearer channels the sender's PAC side supports.
    pub struct BearerCapabilities {
        /// Analog access supported.
        const ANALOG = 1;
        /// Digital access supported.
        const DIGITAL = 2;
    }
}

code_enum! {
    /// Result Code of Outgoing-Call-Reply (RFC 2637 §2.8).
    pub enum OutgoingCallResult: u8 {
        /// 1, Connected: call established with no errors.
        Connected = 1,
        /// 2, General Error: outgoing call not established, see the Error Code.
        GeneralError = 2,
        /// 3, No Carrier: outgoing call failed due to no carrier detected.
        NoCarrier = 3,
        /// 4, Busy: outgoing call failed due to detection of a busy signal.
        Busy = 4,
        /// 5, No Dial Tone: outgoing call failed due to lack of a dial tone.
        NoDialTone = 5,
        /// 6, Time-out: outgoing call not established within the time allotted by the PAC.
        TimeOut = 6,
        /// 7, Do Not Accept: outgoing call administratively prohibited.
        DoNotAccept = 7,
    }
}

code_enum! {
    /// Result Code of Incoming-Call-Reply (RFC 2637 §2.10).
    pub enum IncomingCallResult: u8 {
        /// 1, Connect: the PAC should answer the incoming call.
        Connect = 1,
        /// 2, General Error: the incoming call should not be established, see the Error Code.
        GeneralError = 2,
        /// 3, Do Not Accept: the PAC should not accept the incoming call.
        DoNotAccept = 3,
    }
}

code_enum! {
    /// Result Code of Call-Disconnect-Notify (RFC 2637 §2.13).
    pub enum DisconnectResult: u8 {
        /// 1, Lost Carrier: call disconnected due to loss of carrier.
        LostCarrier = 1,
        /// 2, General Error: call disconnected for the reason in the Error Code.
        GeneralError = 2,
        /// 3, Admin Shutdown: call disconnected for administrative reasons.
        AdminShutdown = 3,
        /// 4, Request: call disconnected due to a received Call-Clear-Request.
        Request = 4,
    }
}

code_enum! {
    /// Bearer Type of Outgoing-Call-Request and Call Bearer Type of Incoming-Call-Request
    /// (RFC 2637 §2.7, §2.9).
    pub enum BearerType: u32 {
        /// 1, the call is (to be) on an analog channel.
        Analog = 1,
        /// 2, the call is (to be) on a digital channel.
        Digital = 2,
        /// 3, any type of channel (Outgoing-Call-Request only).
        Any = 3,
    }
}

code_enum! {
    /// Framing Type of Outgoing-Call-Request and Incoming-Call-Connected (RFC 2637 §2.7,
    /// §2.11).
    pub enum FramingType: u32 {
        /// 1, asynchronous framing.
        Asynchronous = 1,
        /// 2, synchronous framing.
        Synchronous = 2,
        /// 3, either (Outgoing-Call-Request only).
        Any = 3,
    }
}
