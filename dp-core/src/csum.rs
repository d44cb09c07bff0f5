//! Internet checksum (RFC 1071) with incremental updates (RFC 1624), the
//! TCP/UDP pseudo-header sums (RFC 793, RFC 768, RFC 8200 section 8.1), and
//! CRC32c for SCTP (RFC 4960 appendix B).
//!
//! # Conventions
//!
//! A checksum is returned as a `u16` holding the **host-order value of the
//! big-endian field**: write it with `u16::to_be_bytes`, read the field with
//! `u16::from_be_bytes`. Data words are likewise the big-endian 16-bit words
//! of the packet as host integers (`0x0a000001` for the address `10.0.0.1`).
//! One's complement arithmetic is byte-order independent, so this is only a
//! matter of how values are passed around.
//!
//! Partial sums ([`add_bytes`], [`pseudo_header_v4`], ...) are `u32`
//! accumulators that may hold carries; [`fold`] reduces them to 16 bits and
//! [`finish`] folds and inverts them into a checksum.
//!
//! A header whose checksum field is correct sums (including the field) to
//! `0xffff`, so [`checksum`] over it returns 0: that is how to verify.

/// Adds `data` to the partial one's complement sum `sum` (RFC 1071 section
/// 4.1): big-endian 16-bit words, an odd trailing byte padded with a zero low
/// byte. Returns an unfolded-or-partially-folded accumulator (always below
/// 2^17) suitable for further calls, [`fold`] or [`finish`].
///
/// `data` must start at an even offset of the checksummed region for the
/// result to be meaningful (as with every Internet checksum computation).
pub fn add_bytes(sum: u32, data: &[u8]) -> u32 {
    let mut acc = sum as u64;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        acc += u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as u64;
    }
    let mut rest = chunks.remainder();
    if rest.len() >= 2 {
        acc += u16::from_be_bytes([rest[0], rest[1]]) as u64;
        rest = &rest[2..];
    }
    if let Some(&b) = rest.first() {
        acc += (b as u64) << 8;
    }
    // Fold 64 -> 32 -> 17 bits.
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    acc = (acc & 0xffff_ffff) + (acc >> 32);
    let s = acc as u32;
    (s & 0xffff) + (s >> 16)
}

/// Folds the carries of a partial sum into 16 bits (end-around carry),
/// without inverting.
#[inline]
pub fn fold(sum: u32) -> u16 {
    let s = (sum & 0xffff) + (sum >> 16);
    let s = (s & 0xffff) + (s >> 16);
    s as u16
}

/// Folds and inverts a partial sum: the checksum value to store (RFC 1071).
#[inline]
pub fn finish(sum: u32) -> u16 {
    !fold(sum)
}

/// RFC 1071 Internet checksum of `data`: the one's complement of the one's
/// complement sum of its big-endian 16-bit words (odd length: zero-padded).
/// Returns the host-order value of the big-endian checksum field. Over data
/// that contains a correct checksum field, the result is 0.
pub fn checksum(data: &[u8]) -> u16 {
    finish(add_bytes(0, data))
}

/// RFC 1624 equation 3: the checksum after a 16-bit word of the covered data
/// changes from `old` to `new`: `HC' = ~(~HC + ~m + m')`. All values are
/// host-order values of big-endian fields.
#[inline]
pub fn csum_update16(csum: u16, old: u16, new: u16) -> u16 {
    let sum = (!csum as u32) + (!old as u32) + new as u32;
    !fold(sum)
}

/// [`csum_update16`] for a 32-bit field (e.g. an IPv4 address, host order
/// value of the big-endian field) that starts at an even offset.
#[inline]
pub fn csum_update32(csum: u16, old: u32, new: u32) -> u16 {
    let sum =
        (!csum as u32) + (!(old >> 16) & 0xffff) + (!old & 0xffff) + (new >> 16) + (new & 0xffff);
    !fold(sum)
}

/// [`csum_update16`] for a 128-bit field (an IPv6 address as `u128`, i.e.
/// the host-order value of the big-endian field) at an even offset.
#[inline]
pub fn csum_update128(csum: u16, old: u128, new: u128) -> u16 {
    let mut sum = !csum as u32;
    for i in 0..8 {
        let sh = 112 - 16 * i;
        sum += (!(old >> sh) as u32) & 0xffff;
        sum += ((new >> sh) as u32) & 0xffff;
    }
    !fold(sum)
}

/// [`csum_update16`] for a byte field at an even offset of the covered data
/// (e.g. a 6-byte MAC address in an ND option). `old` and `new` must have the
/// same length; an odd last byte is treated as the high byte of a word whose
/// low byte does not change.
pub fn csum_update_bytes(csum: u16, old: &[u8], new: &[u8]) -> u16 {
    debug_assert_eq!(old.len(), new.len());
    let s_old = fold(add_bytes(0, old));
    let s_new = fold(add_bytes(0, new));
    csum_update16(csum, s_old, s_new)
}

/// Partial sum of the IPv4 pseudo-header used by TCP and UDP (RFC 793
/// section 3.1, RFC 768): source and destination address (host order `u32`),
/// protocol, and the L4 length in bytes (header + payload).
#[inline]
pub fn pseudo_header_v4(src: u32, dst: u32, proto: u8, l4_len: u16) -> u32 {
    (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto as u32 + l4_len as u32
}

/// Partial sum of the IPv6 pseudo-header (RFC 8200 section 8.1): source and
/// destination address (`u128`, host order value of the big-endian address),
/// upper-layer packet length in bytes, and next header value.
pub fn pseudo_header_v6(src: u128, dst: u128, proto: u8, l4_len: u32) -> u32 {
    let mut sum = proto as u32 + (l4_len >> 16) + (l4_len & 0xffff);
    for a in [src, dst] {
        for i in 0..8 {
            sum += ((a >> (112 - 16 * i)) as u32) & 0xffff;
        }
    }
    sum
}

/// The header checksum of the IPv4 header `hdr` (RFC 791; the whole header
/// including options, `IHL * 4` bytes), computed with the checksum field
/// (bytes 10..12) taken as zero. Returns 0 for a slice shorter than 20 bytes.
pub fn ipv4_header_checksum(hdr: &[u8]) -> u16 {
    if hdr.len() < 20 {
        return 0;
    }
    let s = add_bytes(0, &hdr[..10]);
    finish(add_bytes(s, &hdr[12..]))
}

/// CRC32c (Castagnoli, reflected polynomial `0x82F63B78`) lookup table.
const CRC32C_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82F6_3B78
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// Continues a CRC32c computation: `crc` is the running register value (start
/// with `!0`), the result must be inverted at the end. See [`crc32c`].
pub fn crc32c_update(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        crc = CRC32C_TABLE[((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

/// CRC32c of `data` as used by SCTP (RFC 4960 appendix B, RFC 3309):
/// reflected, initial value `0xffffffff`, final inversion. SCTP stores the
/// result in its checksum field in **little-endian** byte order (so the
/// transmitted bytes of `crc32c(&[0; 32])` = `0x8a9136aa` are `aa 36 91 8a`).
pub fn crc32c(data: &[u8]) -> u32 {
    !crc32c_update(!0, data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: words 0001 f203 f4f5 f6f7 sum to ddf2 (folded).
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(add_bytes(0, &d)), 0xddf2);
        assert_eq!(checksum(&d), !0xddf2);
    }

    #[test]
    fn rfc1624_examples() {
        // RFC 1624 section 4: HC = 0xDD2F, m = 0x5555 -> m' = 0x3285, HC' = 0x0000.
        assert_eq!(csum_update16(0xdd2f, 0x5555, 0x3285), 0x0000);
        // And back again.
        assert_eq!(csum_update16(0x0000, 0x3285, 0x5555), 0xdd2f);
    }

    #[test]
    fn ipv4_header_known() {
        // Classic example header (Wikipedia "IPv4 header checksum").
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(ipv4_header_checksum(&h), 0xb861);
        assert_eq!(checksum(&h), 0);
        assert_eq!(ipv4_header_checksum(&h[..10]), 0);
    }

    #[test]
    fn crc32c_vectors() {
        // RFC 3720 appendix B.4.
        assert_eq!(crc32c(&[0u8; 32]), 0x8a91_36aa);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62a8_ab43);
        let inc: Vec<u8> = (0u8..32).collect();
        assert_eq!(crc32c(&inc), 0x46dd_794e);
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn odd_length() {
        assert_eq!(fold(add_bytes(0, &[0x12, 0x34, 0x56])), 0x1234 + 0x5600);
    }

    fn write16(d: &mut [u8], at: usize, v: u16) {
        d[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }

    proptest! {
        #[test]
        fn incremental16_matches_full(mut data in proptest::collection::vec(any::<u8>(), 4..200),
                                      csum_pos in any::<prop::sample::Index>(),
                                      word_pos in any::<prop::sample::Index>(),
                                      new in any::<u16>()) {
            let words = data.len() / 2;
            let cp = csum_pos.index(words) * 2;
            let mut wp = word_pos.index(words) * 2;
            if wp == cp { wp = (wp + 2) % (words * 2); }
            prop_assume!(wp != cp);
            write16(&mut data, cp, 0);
            let c = checksum(&data);
            write16(&mut data, cp, c);
            prop_assert_eq!(checksum(&data), 0);
            let old = u16::from_be_bytes([data[wp], data[wp + 1]]);
            write16(&mut data, wp, new);
            let inc = csum_update16(c, old, new);
            write16(&mut data, cp, 0);
            let full = checksum(&data);
            // All-zero data is the only case where the two representations of
            // zero differ (full gives 0xffff).
            if data.iter().any(|&b| b != 0) {
                prop_assert_eq!(inc, full);
            }
        }

        #[test]
        fn incremental32_128_match_full(mut data in proptest::collection::vec(any::<u8>(), 40..120),
                                        new32 in any::<u32>(), new128 in any::<u128>()) {
            // Checksum at 0..2, a 32-bit field at 2..6, a 128-bit field at 6..22.
            write16(&mut data, 0, 0);
            let mut c = checksum(&data);
            let old32 = u32::from_be_bytes(data[2..6].try_into().unwrap());
            data[2..6].copy_from_slice(&new32.to_be_bytes());
            c = csum_update32(c, old32, new32);
            let old128 = u128::from_be_bytes(data[6..22].try_into().unwrap());
            data[6..22].copy_from_slice(&new128.to_be_bytes());
            c = csum_update128(c, old128, new128);
            let full = checksum(&data);
            if data.iter().any(|&b| b != 0) {
                prop_assert_eq!(c, full);
            }
            write16(&mut data, 0, c);
            prop_assert_eq!(checksum(&data), 0);
        }

        #[test]
        fn bytes_update_matches_full(mut data in proptest::collection::vec(any::<u8>(), 16..64),
                                     mac in any::<[u8; 6]>()) {
            write16(&mut data, 0, 0);
            let c = checksum(&data);
            let old: [u8; 6] = data[4..10].try_into().unwrap();
            data[4..10].copy_from_slice(&mac);
            let c2 = csum_update_bytes(c, &old, &mac);
            if data.iter().any(|&b| b != 0) {
                prop_assert_eq!(c2, checksum(&data));
            }
        }

        #[test]
        fn pseudo_headers(src in any::<u128>(), dst in any::<u128>(), s4 in any::<u32>(), d4 in any::<u32>(),
                          proto in any::<u8>(), len in any::<u16>()) {
            let mut ph = Vec::new();
            ph.extend_from_slice(&s4.to_be_bytes());
            ph.extend_from_slice(&d4.to_be_bytes());
            ph.extend_from_slice(&[0, proto]);
            ph.extend_from_slice(&len.to_be_bytes());
            prop_assert_eq!(fold(pseudo_header_v4(s4, d4, proto, len)), fold(add_bytes(0, &ph)));
            let mut ph6 = Vec::new();
            ph6.extend_from_slice(&src.to_be_bytes());
            ph6.extend_from_slice(&dst.to_be_bytes());
            ph6.extend_from_slice(&(len as u32).to_be_bytes());
            ph6.extend_from_slice(&[0, 0, 0, proto]);
            prop_assert_eq!(fold(pseudo_header_v6(src, dst, proto, len as u32)), fold(add_bytes(0, &ph6)));
        }
    }
}
