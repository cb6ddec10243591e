//! Classic pcap files (the libpcap format, not pcapng): a 24-octet global header, then
//! records of a 16-octet header and the captured bytes. Both byte orders, microsecond and
//! nanosecond timestamps.

use std::time::Duration;

use crate::Error;

/// `LINKTYPE_ETHERNET`: IEEE 802.3 frames, the only link type of the reference captures.
pub const LINKTYPE_ETHERNET: u32 = 1;

const GLOBAL_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;

/// A parsed capture: its link type and its records, in file order.
#[derive(Debug, Clone)]
pub struct Capture<'a> {
    /// The link type of every record (`LINKTYPE_*` of the tcpdump.org registry).
    pub link_type: u32,
    /// The records.
    pub records: Vec<Record<'a>>,
}

/// One captured packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// 1-based position in the file, as Wireshark and tshark number frames.
    pub number: usize,
    /// Capture time since the Unix epoch.
    pub timestamp: Duration,
    /// Length of the packet on the wire (at least `data.len()`).
    pub orig_len: u32,
    /// The captured bytes, starting with the link-layer header.
    pub data: &'a [u8],
}

/// Parse a classic pcap file. Any truncation, trailing bytes or unknown magic is an error.
pub fn parse(bytes: &[u8]) -> Result<Capture<'_>, Error> {
    let magic: [u8; 4] = bytes
        .get(..4)
        .and_then(|m| m.try_into().ok())
        .ok_or(Error::NotPcap { magic: 0 })?;
    let (little_endian, nanos) = match u32::from_le_bytes(magic) {
        0xa1b2_c3d4 => (true, false),
        0xa1b2_3c4d => (true, true),
        0xd4c3_b2a1 => (false, false),
        0x4d3c_b2a1 => (false, true),
        _ => {
            return Err(Error::NotPcap {
                magic: u32::from_be_bytes(magic),
            });
        }
    };
    let u16_at = |at: usize| {
        let b: [u8; 2] = bytes.get(at..at + 2)?.try_into().ok()?;
        Some(if little_endian {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let u32_at = |at: usize| {
        let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(if little_endian {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let truncated = |frame: usize| Error::Truncated {
        frame,
        layer: "pcap",
    };

    let major = u16_at(4).ok_or(truncated(0))?;
    let link_type = u32_at(20).ok_or(truncated(0))?;
    if major != 2 {
        return Err(Error::Malformed {
            frame: 0,
            what: "pcap major version is not 2",
        });
    }

    let mut records = Vec::new();
    let mut at = GLOBAL_HEADER_LEN;
    while at < bytes.len() {
        let number = records.len() + 1;
        let field = |offset: usize| u32_at(at + offset).ok_or(truncated(number));
        let (secs, frac, caplen, orig_len) = (field(0)?, field(4)?, field(8)?, field(12)?);
        if caplen > orig_len {
            return Err(Error::Malformed {
                frame: number,
                what: "pcap record longer than the packet on the wire",
            });
        }
        let start = at + RECORD_HEADER_LEN;
        let end = usize::try_from(caplen)
            .ok()
            .and_then(|len| start.checked_add(len))
            .ok_or(truncated(number))?;
        let data = bytes.get(start..end).ok_or(truncated(number))?;
        let frac_nanos = if nanos {
            frac
        } else {
            frac.saturating_mul(1000)
        };
        records.push(Record {
            number,
            timestamp: Duration::new(u64::from(secs), 0) + Duration::from_nanos(frac_nanos.into()),
            orig_len,
            data,
        });
        at = end;
    }
    Ok(Capture { link_type, records })
}

/// Test-only: a classic pcap of `recs` (seconds, fraction, bytes) in either byte order.
#[cfg(test)]
pub(crate) fn build(
    little_endian: bool,
    magic: u32,
    link: u32,
    recs: &[(u32, u32, &[u8])],
) -> Vec<u8> {
    let w32 = |v: u32| {
        if little_endian {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    };
    let w16 = |v: u16| {
        if little_endian {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    };
    let mut out = Vec::new();
    out.extend(w32(magic));
    out.extend(w16(2));
    out.extend(w16(4));
    out.extend([0; 8]);
    out.extend(w32(65535));
    out.extend(w32(link));
    for (secs, frac, data) in recs {
        out.extend(w32(*secs));
        out.extend(w32(*frac));
        out.extend(w32(data.len() as u32));
        out.extend(w32(data.len() as u32 + 4));
        out.extend_from_slice(data);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_byte_orders_and_timestamp_units() {
        let recs: &[(u32, u32, &[u8])] = &[(10, 250_000, b"abc"), (11, 0, b"")];
        for le in [true, false] {
            let micro = build(le, 0xa1b2_c3d4, 1, recs);
            let c = parse(&micro).expect("micro");
            assert_eq!(c.link_type, LINKTYPE_ETHERNET);
            assert_eq!(c.records.len(), 2);
            assert_eq!(c.records[0].number, 1);
            assert_eq!(c.records[0].timestamp, Duration::from_millis(10_250));
            assert_eq!(c.records[0].data, b"abc");
            assert_eq!(c.records[0].orig_len, 7);
            assert_eq!(c.records[1].number, 2);
            assert_eq!(c.records[1].data, b"");

            let nano = build(le, 0xa1b2_3c4d, 101, recs);
            let c = parse(&nano).expect("nano");
            assert_eq!(c.link_type, 101);
            assert_eq!(c.records[0].timestamp, Duration::new(10, 250_000));
        }
    }

    #[test]
    fn truncation_and_garbage_are_errors() {
        let good = build(true, 0xa1b2_c3d4, 1, &[(1, 2, b"0123456789")]);
        for cut in [3, 10, 23, 30, good.len() - 1] {
            assert!(parse(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(
            parse(&trailing).map(|c| c.records.len()),
            Err(Error::Truncated {
                frame: 2,
                layer: "pcap"
            })
        );
        assert!(matches!(
            parse(b"\x0a\x0d\x0d\x0a pcapng, not classic pcap"),
            Err(Error::NotPcap { magic: 0x0a0d_0d0a })
        ));
        // caplen above orig_len.
        let mut bad = good;
        bad[24 + 12..24 + 16].copy_from_slice(&1u32.to_le_bytes());
        assert!(matches!(
            parse(&bad),
            Err(Error::Malformed { frame: 1, .. })
        ));
    }
}
