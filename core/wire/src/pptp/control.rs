//! Control-connection management messages (RFC 2637 §2.1-2.6): Start- and
//! Stop-Control-Connection, Echo.

use super::codes::{
    BearerCapabilities, EchoResult, FramingCapabilities, GeneralError, MessageType, StartResult,
    StopReason, StopResult,
};
use super::{Body, FixedStr, Reader, Result, Writer};

/// Start-Control-Connection-Request (RFC 2637 §2.1), 156 octets: opens the control
/// connection; either side may send it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StartControlConnectionRequest {
    /// Protocol Version: [`PROTOCOL_VERSION`](super::PROTOCOL_VERSION) (0x0100).
    pub protocol_version: u16,
    /// Framing Capabilities of the sender.
    pub framing_capabilities: FramingCapabilities,
    /// Bearer Capabilities of the sender.
    pub bearer_capabilities: BearerCapabilities,
    /// Maximum Channels: the calls a PAC can support (0 from a PNS).
    pub maximum_channels: u16,
    /// Firmware Revision of the sender (a PAC's firmware or a PNS's driver version).
    pub firmware_revision: u16,
    /// Host Name: the sender's DNS name, NUL-padded.
    pub host_name: FixedStr<64>,
    /// Vendor String: vendor-specific, NUL-padded.
    pub vendor: FixedStr<64>,
}

impl Body for StartControlConnectionRequest {
    const TYPE: MessageType = MessageType::StartControlConnectionRequest;

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let protocol_version = r.u16()?;
        r.reserved::<2>()?;
        Ok(StartControlConnectionRequest {
            protocol_version,
            framing_capabilities: FramingCapabilities(r.u32()?),
            bearer_capabilities: BearerCapabilities(r.u32()?),
            maximum_channels: r.u16()?,
            firmware_revision: r.u16()?,
            host_name: FixedStr::from_array(r.array()?),
            vendor: FixedStr::from_array(r.array()?),
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.protocol_version)?;
        w.reserved::<2>()?;
        w.u32(self.framing_capabilities.bits())?;
        w.u32(self.bearer_capabilities.bits())?;
        w.u16(self.maximum_channels)?;
        w.u16(self.firmware_revision)?;
        w.put(self.host_name.as_array())?;
        w.put(self.vendor.as_array())
    }
}

/// Start-Control-Connection-Reply (RFC 2637 §2.2), 156 octets: the answer to a
/// Start-Control-Connection-Request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StartControlConnectionReply {
    /// Protocol Version: [`PROTOCOL_VERSION`](super::PROTOCOL_VERSION) (0x0100).
    pub protocol_version: u16,
    /// Result Code.
    pub result: StartResult,
    /// Error Code: [`GeneralError::None`] unless `result` is a general error.
    pub error: GeneralError,
    /// Framing Capabilities of the sender.
    pub framing_capabilities: FramingCapabilities,
    /// Bearer Capabilities of the sender.
    pub bearer_capabilities: BearerCapabilities,
    /// Maximum Channels: the calls a PAC can support (0 from a PNS).
    pub maximum_channels: u16,
    /// Firmware Revision of the sender.
    pub firmware_revision: u16,
    /// Host Name: the sender's DNS name, NUL-padded.
    pub host_name: FixedStr<64>,
    /// Vendor String: vendor-specific, NUL-padded.
    pub vendor: FixedStr<64>,
}

impl Body for StartControlConnectionReply {
    const TYPE: MessageType = MessageType::StartControlConnectionReply;

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(StartControlConnectionReply {
            protocol_version: r.u16()?,
            result: StartResult::from(r.u8()?),
            error: GeneralError::from(r.u8()?),
            framing_capabilities: FramingCapabilities(r.u32()?),
            bearer_capabilities: BearerCapabilities(r.u32()?),
            maximum_channels: r.u16()?,
            firmware_revision: r.u16()?,
            host_name: FixedStr::from_array(r.array()?),
            vendor: FixedStr::from_array(r.array()?),
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.protocol_version)?;
        w.u8(self.result.into())?;
        w.u8(self.error.into())?;
        w.u32(self.framing_capabilities.bits())?;
        w.u32(self.bearer_capabilities.bits())?;
        w.u16(self.maximum_channels)?;
        w.u16(self.firmware_revision)?;
        w.put(self.host_name.as_array())?;
        w.put(self.vendor.as_array())
    }
}

/// Stop-Control-Connection-Request (RFC 2637 §2.3), 16 octets: closes the control
/// connection and implicitly clears every call on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StopControlConnectionRequest {
    /// Reason.
    pub reason: StopReason,
}

impl Body for StopControlConnectionRequest {
    const TYPE: MessageType = MessageType::StopControlConnectionRequest;

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let reason = StopReason::from(r.u8()?);
        r.reserved::<1>()?;
        r.reserved::<2>()?;
        Ok(StopControlConnectionRequest { reason })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u8(self.reason.into())?;
        w.reserved::<1>()?;
        w.reserved::<2>()
    }
}

/// Stop-Control-Connection-Reply (RFC 2637 §2.4), 16 octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StopControlConnectionReply {
    /// Result Code.
    pub result: StopResult,
    /// Error Code: [`GeneralError::None`] unless `result` is a general error.
    pub error: GeneralError,
}

impl Body for StopControlConnectionReply {
    const TYPE: MessageType = MessageType::StopControlConnectionReply;

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let result = StopResult::from(r.u8()?);
        let error = GeneralError::from(r.u8()?);
        r.reserved::<2>()?;
        Ok(StopControlConnectionReply { result, error })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u8(self.result.into())?;
        w.u8(self.error.into())?;
        w.reserved::<2>()
    }
}

/// Echo-Request (RFC 2637 §2.5), 16 octets: the keep-alive, sent after 60 s without a
/// control message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EchoRequest {
    /// Identifier, echoed by the Echo-Reply.
    pub identifier: u32,
}

impl Body for EchoRequest {
    const TYPE: MessageType = MessageType::EchoRequest;

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(EchoRequest {
            identifier: r.u32()?,
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u32(self.identifier)
    }
}

/// Echo-Reply (RFC 2637 §2.6), 20 octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EchoReply {
    /// Identifier of the Echo-Request answered.
    pub identifier: u32,
    /// Result Code.
    pub result: EchoResult,
    /// Error Code: [`GeneralError::None`] unless `result` is a general error.
    pub error: GeneralError,
}

impl Body for EchoReply {
    const TYPE: MessageType = MessageType::EchoReply;

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let identifier = r.u32()?;
        let result = EchoResult::from(r.u8()?);
        let error = GeneralError::from(r.u8()?);
        r.reserved::<2>()?;
        Ok(EchoReply {
            identifier,
            result,
            error,
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u32(self.identifier)?;
        w.u8(self.result.into())?;
        w.u8(self.error.into())?;
        w.reserved::<2>()
    }
}
