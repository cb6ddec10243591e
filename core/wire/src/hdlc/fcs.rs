//! The PPP Frame Check Sequences of RFC 1662 appendix C.
//!
//! Both are reflected CRCs (bits are processed least significant first, as on an asynchronous
//! line). They are computed with slicing-by-16 tables built at compile time by `const fn`s.
//!
//! To send: `fcs = fcsNN(INIT, frame) ^ INIT`, appended least significant octet first. To check:
//! `fcsNN(INIT, frame_with_fcs) == GOOD`.

/// Initial value of the 16-bit FCS (RFC 1662 appendix C.2, `PPPINITFCS16`).
pub const FCS16_INIT: u16 = 0xffff;
/// Residue of the 16-bit FCS over a frame that includes its own correct FCS
/// (RFC 1662 appendix C.2, `PPPGOODFCS16`).
pub const FCS16_GOOD: u16 = 0xf0b8;
/// Initial value of the 32-bit FCS (RFC 1662 appendix C.3, `PPPINITFCS32`).
pub const FCS32_INIT: u32 = 0xffff_ffff;
/// Residue of the 32-bit FCS over a frame that includes its own correct FCS
/// (RFC 1662 appendix C.3, `PPPGOODFCS32`).
pub const FCS32_GOOD: u32 = 0xdebb_20e3;

/// Reflected generator of the 16-bit FCS: x^16 + x^12 + x^5 + 1 (RFC 1662 appendix C.1).
const POLY16: u32 = 0x8408;
/// Reflected generator of the 32-bit FCS (the Ethernet polynomial, RFC 1662 appendix C.3).
const POLY32: u32 = 0xedb8_8320;

/// Slicing-by-16 tables: `TABLES[0]` is the classic byte table of appendix C; `TABLES[k][i]` is
/// the CRC of byte `i` followed by `k` zero bytes.
const fn tables(poly: u32) -> [[u32; 256]; SLICES] {
    let mut t = [[0u32; 256]; SLICES];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ poly
            } else {
                crc >> 1
            };
            bit += 1;
        }
        t[0][i] = crc;
        i += 1;
    }
    let mut k = 1;
    while k < SLICES {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        k += 1;
    }
    t
}

/// The same tables narrowed to 16 bits, halving their cache footprint.
const fn narrow(wide: [[u32; 256]; SLICES]) -> [[u16; 256]; SLICES] {
    let mut t = [[0u16; 256]; SLICES];
    let mut k = 0;
    while k < SLICES {
        let mut i = 0;
        while i < 256 {
            t[k][i] = wide[k][i] as u16;
            i += 1;
        }
        k += 1;
    }
    t
}

/// Octets consumed per table step.
const SLICES: usize = 16;

static TABLE16: [[u16; 256]; SLICES] = narrow(tables(POLY16));
static TABLE32: [[u32; 256]; SLICES] = tables(POLY32);

/// Continue a 16-bit FCS over `data` (RFC 1662 appendix C.2 `pppfcs16`).
pub fn fcs16(fcs: u16, data: &[u8]) -> u16 {
    let t = &TABLE16;
    let (blocks, rest) = data.as_chunks::<SLICES>();
    let mut crc = u64::from(fcs);
    for block in blocks {
        let [
            a0,
            a1,
            a2,
            a3,
            a4,
            a5,
            a6,
            a7,
            b0,
            b1,
            b2,
            b3,
            b4,
            b5,
            b6,
            b7,
        ] = *block;
        let a = u64::from_le_bytes([a0, a1, a2, a3, a4, a5, a6, a7]) ^ crc;
        crc = u64::from(
            t[15][(a & 0xff) as usize]
                ^ t[14][((a >> 8) & 0xff) as usize]
                ^ t[13][((a >> 16) & 0xff) as usize]
                ^ t[12][((a >> 24) & 0xff) as usize]
                ^ t[11][((a >> 32) & 0xff) as usize]
                ^ t[10][((a >> 40) & 0xff) as usize]
                ^ t[9][((a >> 48) & 0xff) as usize]
                ^ t[8][(a >> 56) as usize]
                ^ t[7][usize::from(b0)]
                ^ t[6][usize::from(b1)]
                ^ t[5][usize::from(b2)]
                ^ t[4][usize::from(b3)]
                ^ t[3][usize::from(b4)]
                ^ t[2][usize::from(b5)]
                ^ t[1][usize::from(b6)]
                ^ t[0][usize::from(b7)],
        );
    }
    let mut crc = crc as u16;
    for &b in rest {
        crc = (crc >> 8) ^ t[0][usize::from((crc as u8) ^ b)];
    }
    crc
}

/// Continue a 32-bit FCS over `data` (RFC 1662 appendix C.3 `pppfcs32`).
pub fn fcs32(fcs: u32, data: &[u8]) -> u32 {
    let t = &TABLE32;
    let (blocks, rest) = data.as_chunks::<SLICES>();
    let mut crc = u64::from(fcs);
    for block in blocks {
        let [
            a0,
            a1,
            a2,
            a3,
            a4,
            a5,
            a6,
            a7,
            b0,
            b1,
            b2,
            b3,
            b4,
            b5,
            b6,
            b7,
        ] = *block;
        let a = u64::from_le_bytes([a0, a1, a2, a3, a4, a5, a6, a7]) ^ crc;
        crc = u64::from(
            t[15][(a & 0xff) as usize]
                ^ t[14][((a >> 8) & 0xff) as usize]
                ^ t[13][((a >> 16) & 0xff) as usize]
                ^ t[12][((a >> 24) & 0xff) as usize]
                ^ t[11][((a >> 32) & 0xff) as usize]
                ^ t[10][((a >> 40) & 0xff) as usize]
                ^ t[9][((a >> 48) & 0xff) as usize]
                ^ t[8][(a >> 56) as usize]
                ^ t[7][usize::from(b0)]
                ^ t[6][usize::from(b1)]
                ^ t[5][usize::from(b2)]
                ^ t[4][usize::from(b3)]
                ^ t[3][usize::from(b4)]
                ^ t[2][usize::from(b5)]
                ^ t[1][usize::from(b6)]
                ^ t[0][usize::from(b7)],
        );
    }
    let mut crc = crc as u32;
    for &b in rest {
        crc = (crc >> 8) ^ t[0][usize::from((crc as u8) ^ b)];
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit-at-a-time reference, straight from the polynomial definition.
    fn slow(poly: u32, mut crc: u32, data: &[u8]) -> u32 {
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ poly
                } else {
                    crc >> 1
                };
            }
        }
        crc
    }

    #[test]
    fn fcs16_table_rfc1662_c2() {
        // First and last rows of the table printed in RFC 1662 appendix C.2.
        assert_eq!(
            &TABLE16[0][..8],
            &[
                0x0000, 0x1189, 0x2312, 0x329b, 0x4624, 0x57ad, 0x6536, 0x74bf
            ]
        );
        assert_eq!(
            &TABLE16[0][248..],
            &[
                0x7bc7, 0x6a4e, 0x58d5, 0x495c, 0x3de3, 0x2c6a, 0x1ef1, 0x0f78
            ]
        );
    }

    #[test]
    fn fcs32_table_rfc1662_c3() {
        // First and last entries of the table printed in RFC 1662 appendix C.3.
        assert_eq!(
            &TABLE32[0][..4],
            &[0x0000_0000, 0x7707_3096, 0xee0e_612c, 0x9909_51ba]
        );
        assert_eq!(TABLE32[0][255], 0x2d02_ef8d);
    }

    #[test]
    fn fcs16_check_value() {
        // The FCS-16 is CRC-16/X-25: check value over "123456789" is 0x906e.
        assert_eq!(fcs16(FCS16_INIT, b"123456789") ^ 0xffff, 0x906e);
    }

    #[test]
    fn fcs32_check_value() {
        // The FCS-32 is the Ethernet CRC-32: check value over "123456789" is 0xcbf43926.
        assert_eq!(fcs32(FCS32_INIT, b"123456789") ^ 0xffff_ffff, 0xcbf4_3926);
    }

    #[test]
    fn good_residue_rfc1662_c2_c3() {
        // Appendix C's tryfcs16/tryfcs32: append the complemented FCS least significant octet
        // first; recomputing over frame + FCS gives the "good" constant.
        for len in 0..40usize {
            let frame: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let f16 = fcs16(FCS16_INIT, &frame) ^ 0xffff;
            let mut with = frame.clone();
            with.extend_from_slice(&f16.to_le_bytes());
            assert_eq!(fcs16(FCS16_INIT, &with), FCS16_GOOD);

            let f32 = fcs32(FCS32_INIT, &frame) ^ 0xffff_ffff;
            let mut with = frame.clone();
            with.extend_from_slice(&f32.to_le_bytes());
            assert_eq!(fcs32(FCS32_INIT, &with), FCS32_GOOD);
        }
    }

    #[test]
    fn sliced_matches_bitwise_and_is_incremental() {
        let data: Vec<u8> = (0..300u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for split in [0, 1, 7, 8, 9, 63, 150, 300] {
            let (a, b) = data.split_at(split);
            let s16 = fcs16(fcs16(FCS16_INIT, a), b);
            assert_eq!(u32::from(s16), slow(POLY16, 0xffff, &data));
            let s32 = fcs32(fcs32(FCS32_INIT, a), b);
            assert_eq!(s32, slow(POLY32, 0xffff_ffff, &data));
        }
    }
}
