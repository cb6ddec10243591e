//! Call-management and error-reporting messages (RFC 2637 §2.7-2.15).
//!
//! Every call has two Call IDs, one chosen by each side: a message carries its sender's own
//! (`call_id`) and, once known, the receiver's (`peer_call_id`). The GRE packets of the
//! call carry the receiver's Call ID in their Key field (RFC 2637 §4.1).

use super::codes::{
    BearerType, DisconnectResult, FramingType, GeneralError, IncomingCallResult, MessageType,
    OutgoingCallResult,
};
use super::{Body, FixedStr, Reader, Result, Writer};

/// The first `len` octets of a fixed-size number field (`len` clamped to the field).
fn counted<const N: usize>(field: &FixedStr<N>, len: u16) -> &[u8] {
    let bytes = field.as_array();
    bytes.get(..usize::from(len)).unwrap_or(bytes)
}

/// Outgoing-Call-Request (RFC 2637 §2.7), 168 octets: the PNS asks the PAC to place a call
/// (real clients, playing the PNS, send it to a server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OutgoingCallRequest {
    /// Call ID: the PNS's own, carried by GRE packets the PAC sends for this call.
    pub call_id: u16,
    /// Call Serial Number: identifies the call in logs on both sides.
    pub call_serial_number: u16,
    /// Minimum BPS acceptable.
    pub minimum_bps: u32,
    /// Maximum BPS acceptable.
    pub maximum_bps: u32,
    /// Bearer Type.
    pub bearer_type: BearerType,
    /// Framing Type.
    pub framing_type: FramingType,
    /// Packet Recv. Window Size: the PNS's receive window, in packets (§4.2).
    pub receive_window: u16,
    /// Packet Processing Delay, in 1/10 s (§4.4).
    pub processing_delay: u16,
    /// Phone Number Length: the octets of `phone_number` that count.
    pub phone_number_len: u16,
    /// Phone Number: the number to dial, NUL-padded.
    pub phone_number: FixedStr<64>,
    /// Subaddress: additional dialing information, NUL-padded.
    pub subaddress: FixedStr<64>,
}

impl OutgoingCallRequest {
    /// The number to dial: the first Phone Number Length octets of the field.
    pub fn phone_number(&self) -> &[u8] {
        counted(&self.phone_number, self.phone_number_len)
    }
}

impl Body for OutgoingCallRequest {
    const TYPE: MessageType = MessageType::OutgoingCallRequest;

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let call_id = r.u16()?;
        let call_serial_number = r.u16()?;
        let minimum_bps = r.u32()?;
        let maximum_bps = r.u32()?;
        let bearer_type = BearerType::from(r.u32()?);
        let framing_type = FramingType::from(r.u32()?);
        let receive_window = r.u16()?;
        let processing_delay = r.u16()?;
        let phone_number_len = r.u16()?;
        r.reserved::<2>()?;
        Ok(OutgoingCallRequest {
            call_id,
            call_serial_number,
            minimum_bps,
            maximum_bps,
            bearer_type,
            framing_type,
            receive_window,
            processing_delay,
            phone_number_len,
            phone_number: FixedStr::from_array(r.array()?),
            subaddress: FixedStr::from_array(r.array()?),
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.call_id)?;
        w.u16(self.call_serial_number)?;
        w.u32(self.minimum_bps)?;
        w.u32(self.maximum_bps)?;
        w.u32(self.bearer_type.into())?;
        w.u32(self.framing_type.into())?;
        w.u16(self.receive_window)?;
        w.u16(self.processing_delay)?;
        w.u16(self.phone_number_len)?;
        w.reserved::<2>()?;
        w.put(self.phone_number.as_array())?;
        w.put(self.subaddress.as_array())
    }
}

/// Outgoing-Call-Reply (RFC 2637 §2.8), 32 octets: the PAC's answer to an
/// Outgoing-Call-Request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OutgoingCallReply {
    /// Call ID: the PAC's own (pptpd sends 0).
    pub call_id: u16,
    /// Peer's Call ID: the Call ID of the Outgoing-Call-Request answered.
    pub peer_call_id: u16,
    /// Result Code.
    pub result: OutgoingCallResult,
    /// Error Code: [`GeneralError::None`] unless `result` is a general error.
    pub error: GeneralError,
    /// Cause Code: additional failure information (e.g. a Q.931 cause).
    pub cause_code: u16,
    /// Connect Speed, in bits per second.
    pub connect_speed: u32,
    /// Packet Recv. Window Size: the PAC's receive window, in packets (§4.2).
    pub receive_window: u16,
    /// Packet Processing Delay, in 1/10 s (§4.4).
    pub processing_delay: u16,
    /// Physical Channel ID: vendor-specific, for logging.
    pub physical_channel_id: u32,
}

impl Body for OutgoingCallReply {
    const TYPE: MessageType = MessageType::OutgoingCallReply;

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(OutgoingCallReply {
            call_id: r.u16()?,
            peer_call_id: r.u16()?,
            result: OutgoingCallResult::from(r.u8()?),
            error: GeneralError::from(r.u8()?),
            cause_code: r.u16()?,
            connect_speed: r.u32()?,
            receive_window: r.u16()?,
            processing_delay: r.u16()?,
            physical_channel_id: r.u32()?,
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.call_id)?;
        w.u16(self.peer_call_id)?;
        w.u8(self.result.into())?;
        w.u8(self.error.into())?;
        w.u16(self.cause_code)?;
        w.u32(self.connect_speed)?;
        w.u16(self.receive_window)?;
        w.u16(self.processing_delay)?;
        w.u32(self.physical_channel_id)
    }
}

/// Incoming-Call-Request (RFC 2637 §2.9), 220 octets: the PAC tells the PNS of a call
/// arriving on one of its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IncomingCallRequest {
    /// Call ID: the PAC's own.
    pub call_id: u16,
    /// Call Serial Number: identifies the call in logs on both sides.
    pub call_serial_number: u16,
    /// Call Bearer Type: analog or digital.
    pub bearer_type: BearerType,
    /// Physical Channel ID: vendor-specific, for logging.
    pub physical_channel_id: u32,
    /// Dialed Number Length: the octets of `dialed_number` that count.
    pub dialed_number_len: u16,
    /// Dialing Number Length: the octets of `dialing_number` that count.
    pub dialing_number_len: u16,
    /// Dialed Number (DNIS), NUL-padded.
    pub dialed_number: FixedStr<64>,
    /// Dialing Number (CLID), NUL-padded.
    pub dialing_number: FixedStr<64>,
    /// Subaddress, NUL-padded.
    pub subaddress: FixedStr<64>,
}

impl IncomingCallRequest {
    /// The number dialed: the first Dialed Number Length octets of the field.
    pub fn dialed_number(&self) -> &[u8] {
        counted(&self.dialed_number, self.dialed_number_len)
    }

    /// The caller's number: the first Dialing Number Length octets of the field.
    pub fn dialing_number(&self) -> &[u8] {
        counted(&self.dialing_number, self.dialing_number_len)
    }
}

impl Body for IncomingCallRequest {
    const TYPE: MessageType = MessageType::IncomingCallRequest;

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(IncomingCallRequest {
            call_id: r.u16()?,
            call_serial_number: r.u16()?,
            bearer_type: BearerType::from(r.u32()?),
            physical_channel_id: r.u32()?,
            dialed_number_len: r.u16()?,
            dialing_number_len: r.u16()?,
            dialed_number: FixedStr::from_array(r.array()?),
            dialing_number: FixedStr::from_array(r.array()?),
            subaddress: FixedStr::from_array(r.array()?),
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.call_id)?;
        w.u16(self.call_serial_number)?;
        w.u32(self.bearer_type.into())?;
        w.u32(self.physical_channel_id)?;
        w.u16(self.dialed_number_len)?;
        w.u16(self.dialing_number_len)?;
        w.put(self.dialed_number.as_array())?;
        w.put(self.dialing_number.as_array())?;
        w.put(self.subaddress.as_array())
    }
}

/// Incoming-Call-Reply (RFC 2637 §2.10), 24 octets: the PNS's answer to an
/// Incoming-Call-Request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IncomingCallReply {
    /// Call ID: the PNS's own.
    pub call_id: u16,
    /// Peer's Call ID: the Call ID of the Incoming-Call-Request answered.
    pub peer_call_id: u16,
    /// Result Code.
    pub result: IncomingCallResult,
    /// Error Code: [`GeneralError::None`] unless `result` is a general error.
    pub error: GeneralError,
    /// Packet Recv. Window Size: the PNS's receive window, in packets (§4.2).
    pub receive_window: u16,
    /// Packet Transmit Delay, in 1/10 s (§4.4).
    pub transmit_delay: u16,
}

impl Body for IncomingCallReply {
    const TYPE: MessageType = MessageType::IncomingCallReply;

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let m = IncomingCallReply {
            call_id: r.u16()?,
            peer_call_id: r.u16()?,
            result: IncomingCallResult::from(r.u8()?),
            error: GeneralError::from(r.u8()?),
            receive_window: r.u16()?,
            transmit_delay: r.u16()?,
        };
        r.reserved::<2>()?;
        Ok(m)
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.call_id)?;
        w.u16(self.peer_call_id)?;
        w.u8(self.result.into())?;
        w.u8(self.error.into())?;
        w.u16(self.receive_window)?;
        w.u16(self.transmit_delay)?;
        w.reserved::<2>()
    }
}

/// Incoming-Call-Connected (RFC 2637 §2.11), 28 octets: the PAC has answered the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IncomingCallConnected {
    /// Peer's Call ID: the PNS's Call ID from its Incoming-Call-Reply.
    pub peer_call_id: u16,
    /// Connect Speed, in bits per second.
    pub connect_speed: u32,
    /// Packet Recv. Window Size: the PAC's receive window, in packets (§4.2).
    pub receive_window: u16,
    /// Packet Transmit Delay, in 1/10 s (§4.4).
    pub transmit_delay: u16,
    /// Framing Type: the framing the call uses.
    pub framing_type: FramingType,
}

impl Body for IncomingCallConnected {
    const TYPE: MessageType = MessageType::IncomingCallConnected;

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let peer_call_id = r.u16()?;
        r.reserved::<2>()?;
        Ok(IncomingCallConnected {
            peer_call_id,
            connect_speed: r.u32()?,
            receive_window: r.u16()?,
            transmit_delay: r.u16()?,
            framing_type: FramingType::from(r.u32()?),
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.peer_call_id)?;
        w.reserved::<2>()?;
        w.u32(self.connect_speed)?;
        w.u16(self.receive_window)?;
        w.u16(self.transmit_delay)?;
        w.u32(self.framing_type.into())
    }
}

/// Call-Clear-Request (RFC 2637 §2.12), 16 octets: the PNS asks the PAC to disconnect a
/// call; the PAC answers with Call-Disconnect-Notify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallClearRequest {
    /// Call ID: the PNS's own Call ID of the call to clear.
    pub call_id: u16,
}

impl Body for CallClearRequest {
    const TYPE: MessageType = MessageType::CallClearRequest;

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let call_id = r.u16()?;
        r.reserved::<2>()?;
        Ok(CallClearRequest { call_id })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.call_id)?;
        w.reserved::<2>()
    }
}

/// Call-Disconnect-Notify (RFC 2637 §2.13), 148 octets: the PAC reports that a call is
/// gone, whether asked by a Call-Clear-Request or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallDisconnectNotify {
    /// Call ID: the PAC's own Call ID of the call.
    pub call_id: u16,
    /// Result Code.
    pub result: DisconnectResult,
    /// Error Code: [`GeneralError::None`] unless `result` is a general error.
    pub error: GeneralError,
    /// Cause Code: additional disconnect information (e.g. a Q.931 cause).
    pub cause_code: u16,
    /// Call Statistics: vendor-specific ASCII text for logs, NUL-padded.
    pub call_statistics: FixedStr<128>,
}

impl Body for CallDisconnectNotify {
    const TYPE: MessageType = MessageType::CallDisconnectNotify;

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let call_id = r.u16()?;
        let result = DisconnectResult::from(r.u8()?);
        let error = GeneralError::from(r.u8()?);
        let cause_code = r.u16()?;
        r.reserved::<2>()?;
        Ok(CallDisconnectNotify {
            call_id,
            result,
            error,
            cause_code,
            call_statistics: FixedStr::from_array(r.array()?),
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.call_id)?;
        w.u8(self.result.into())?;
        w.u8(self.error.into())?;
        w.u16(self.cause_code)?;
        w.reserved::<2>()?;
        w.put(self.call_statistics.as_array())
    }
}

/// WAN-Error-Notify (RFC 2637 §2.14), 40 octets: the PAC's cumulative error counters for
/// a call, sent at most once every 60 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WanErrorNotify {
    /// Peer's Call ID: the PNS's Call ID of the call.
    pub peer_call_id: u16,
    /// CRC Errors: PPP frames received with a bad CRC.
    pub crc_errors: u32,
    /// Framing Errors: improperly framed PPP packets received.
    pub framing_errors: u32,
    /// Hardware Overruns: receive buffer overruns.
    pub hardware_overruns: u32,
    /// Buffer Overruns: buffer overruns detected.
    pub buffer_overruns: u32,
    /// Time-out Errors.
    pub timeout_errors: u32,
    /// Alignment Errors.
    pub alignment_errors: u32,
}

impl Body for WanErrorNotify {
    const TYPE: MessageType = MessageType::WanErrorNotify;

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let peer_call_id = r.u16()?;
        r.reserved::<2>()?;
        Ok(WanErrorNotify {
            peer_call_id,
            crc_errors: r.u32()?,
            framing_errors: r.u32()?,
            hardware_overruns: r.u32()?,
            buffer_overruns: r.u32()?,
            timeout_errors: r.u32()?,
            alignment_errors: r.u32()?,
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.peer_call_id)?;
        w.reserved::<2>()?;
        w.u32(self.crc_errors)?;
        w.u32(self.framing_errors)?;
        w.u32(self.hardware_overruns)?;
        w.u32(self.buffer_overruns)?;
        w.u32(self.timeout_errors)?;
        w.u32(self.alignment_errors)
    }
}

/// Set-Link-Info (RFC 2637 §2.15), 24 octets: the PNS tells the PAC the async control
/// character maps PPP negotiated (LCP ACCM), for the PAC's framing on the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SetLinkInfo {
    /// Peer's Call ID: the PAC's Call ID of the call.
    pub peer_call_id: u16,
    /// Send ACCM: the map the PAC uses sending to the client (default 0xFFFFFFFF).
    pub send_accm: u32,
    /// Receive ACCM: the map the PAC uses receiving from the client (default 0xFFFFFFFF).
    pub receive_accm: u32,
}

impl Body for SetLinkInfo {
    const TYPE: MessageType = MessageType::SetLinkInfo;

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let peer_call_id = r.u16()?;
        r.reserved::<2>()?;
        Ok(SetLinkInfo {
            peer_call_id,
            send_accm: r.u32()?,
            receive_accm: r.u32()?,
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u16(self.peer_call_id)?;
        w.reserved::<2>()?;
        w.u32(self.send_accm)?;
        w.u32(self.receive_accm)
    }
}
