//! The canonical bytes of signed payloads: a writer that only produces them,
//! and a strict reader that takes each part back. A signature covers bytes,
//! so every value has exactly one encoding: the reader refuses anything the
//! writer would not have written.

use std::collections::{BTreeMap, BTreeSet};

use super::error::CanonicalError;

/// Builds a payload part by part, in the order the caller names them.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// ASCII text and one NUL byte. Tags are constants of this crate, so a
    /// bad one is a programming error, caught by the tests of each record.
    pub fn tag(&mut self, tag: &str) -> &mut Self {
        debug_assert!(valid_tag(tag.as_bytes()), "bad tag {tag:?}");
        self.buf.extend_from_slice(tag.as_bytes());
        self.buf.push(0);
        self
    }

    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn id16(&mut self, id: &[u8; 16]) -> &mut Self {
        self.buf.extend_from_slice(id);
        self
    }

    pub fn id32(&mut self, id: &[u8; 32]) -> &mut Self {
        self.buf.extend_from_slice(id);
        self
    }

    /// A u32 byte length, then the bytes: for payloads of frames, not of
    /// signed records.
    pub fn blob(&mut self, bytes: &[u8]) -> Result<&mut Self, CanonicalError> {
        let len = u32::try_from(bytes.len()).map_err(|_| CanonicalError::TooLong {
            part: "blob",
            len: bytes.len(),
        })?;
        self.u32(len);
        self.buf.extend_from_slice(bytes);
        Ok(self)
    }

    pub fn str(&mut self, s: &str) -> Result<&mut Self, CanonicalError> {
        let len = length_prefix("str", s.len())?;
        self.u16(len);
        self.buf.extend_from_slice(s.as_bytes());
        Ok(self)
    }

    /// A set is already sorted and free of duplicates, which is the
    /// canonical order.
    pub fn hashes(&mut self, hashes: &BTreeSet<[u8; 32]>) -> Result<&mut Self, CanonicalError> {
        let count = length_prefix("hashes", hashes.len())?;
        self.u16(count);
        for h in hashes {
            self.buf.extend_from_slice(h);
        }
        Ok(self)
    }

    /// `String` orders by its bytes, so the map's order is the canonical one.
    pub fn pairs(&mut self, pairs: &BTreeMap<String, String>) -> Result<&mut Self, CanonicalError> {
        let count = length_prefix("pairs", pairs.len())?;
        self.u16(count);
        for (k, v) in pairs {
            self.str(k)?;
            self.str(v)?;
        }
        Ok(self)
    }
}

fn length_prefix(part: &'static str, len: usize) -> Result<u16, CanonicalError> {
    u16::try_from(len).map_err(|_| CanonicalError::TooLong { part, len })
}

fn valid_tag(tag: &[u8]) -> bool {
    !tag.is_empty() && tag.iter().all(|b| (0x20..=0x7e).contains(b))
}

/// Takes a payload apart. Each call consumes one part; `finish` refuses
/// bytes left over.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(payload: &'a [u8]) -> Reader<'a> {
        Reader { rest: payload }
    }

    /// Succeeds only when every byte was consumed.
    pub fn finish(self) -> Result<(), CanonicalError> {
        match self.rest.len() {
            0 => Ok(()),
            count => Err(CanonicalError::TrailingBytes { count }),
        }
    }

    fn take(&mut self, n: usize, part: &'static str) -> Result<&'a [u8], CanonicalError> {
        if self.rest.len() < n {
            return Err(CanonicalError::Truncated { part });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, part: &'static str) -> Result<[u8; N], CanonicalError> {
        let bytes = self.take(N, part)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub fn tag(&mut self) -> Result<&'a str, CanonicalError> {
        let end = self
            .rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(CanonicalError::Truncated { part: "tag" })?;
        let tag = &self.rest[..end];
        if !valid_tag(tag) {
            return Err(CanonicalError::BadTag);
        }
        self.rest = &self.rest[end + 1..];
        // Printable ASCII is UTF-8.
        std::str::from_utf8(tag).map_err(|_| CanonicalError::BadTag)
    }

    pub fn u8(&mut self) -> Result<u8, CanonicalError> {
        Ok(self.array::<1>("u8")?[0])
    }

    pub fn u16(&mut self) -> Result<u16, CanonicalError> {
        self.array("u16").map(u16::from_be_bytes)
    }

    pub fn u32(&mut self) -> Result<u32, CanonicalError> {
        self.array("u32").map(u32::from_be_bytes)
    }

    pub fn u64(&mut self) -> Result<u64, CanonicalError> {
        self.array("u64").map(u64::from_be_bytes)
    }

    pub fn i64(&mut self) -> Result<i64, CanonicalError> {
        self.array("i64").map(i64::from_be_bytes)
    }

    pub fn id16(&mut self) -> Result<[u8; 16], CanonicalError> {
        self.array("id16")
    }

    pub fn id32(&mut self) -> Result<[u8; 32], CanonicalError> {
        self.array("id32")
    }

    /// A u32 byte length, then that many bytes.
    pub fn blob(&mut self) -> Result<&'a [u8], CanonicalError> {
        let len = self.u32()? as usize;
        self.take(len, "blob")
    }

    pub fn str(&mut self) -> Result<&'a str, CanonicalError> {
        let len = self.u16()? as usize;
        let bytes = self.take(len, "str")?;
        std::str::from_utf8(bytes).map_err(|_| CanonicalError::BadUtf8 { part: "str" })
    }

    pub fn hashes(&mut self) -> Result<BTreeSet<[u8; 32]>, CanonicalError> {
        let count = self.u16()? as usize;
        let mut out = BTreeSet::new();
        let mut last: Option<[u8; 32]> = None;
        for _ in 0..count {
            let h = self.array::<32>("hashes")?;
            check_order(last.as_ref(), &h, "hashes")?;
            last = Some(h);
            out.insert(h);
        }
        Ok(out)
    }

    pub fn pairs(&mut self) -> Result<BTreeMap<String, String>, CanonicalError> {
        let count = self.u16()? as usize;
        let mut out = BTreeMap::new();
        let mut last: Option<&'a str> = None;
        for _ in 0..count {
            let k = self.str()?;
            let v = self.str()?;
            check_order(last.map(str::as_bytes), k.as_bytes(), "pairs")?;
            last = Some(k);
            out.insert(k.to_string(), v.to_string());
        }
        Ok(out)
    }
}

/// Each item must be strictly greater than the one before it.
fn check_order<T: Ord + ?Sized>(
    last: Option<&T>,
    next: &T,
    part: &'static str,
) -> Result<(), CanonicalError> {
    match last.map(|l| l.cmp(next)) {
        Some(std::cmp::Ordering::Equal) => Err(CanonicalError::Duplicate { part }),
        Some(std::cmp::Ordering::Greater) => Err(CanonicalError::Unsorted { part }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(b: u8) -> [u8; 32] {
        [b; 32]
    }

    fn sample() -> Vec<u8> {
        let hashes: BTreeSet<_> = [hash(2), hash(1)].into_iter().collect();
        let pairs: BTreeMap<_, _> = [("b", "2"), ("a", "1")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut w = Writer::new();
        w.tag("hearth/v2/test")
            .u8(7)
            .u16(0x0102)
            .u32(0x03040506)
            .u64(0x0708090a0b0c0d0e)
            .i64(-2)
            .id16(&[0x10; 16])
            .id32(&[0x20; 32]);
        w.str("héllo").unwrap();
        w.hashes(&hashes).unwrap();
        w.pairs(&pairs).unwrap();
        w.into_bytes()
    }

    fn read_sample(bytes: &[u8]) -> Result<(), CanonicalError> {
        let mut r = Reader::new(bytes);
        assert_eq!(r.tag()?, "hearth/v2/test");
        assert_eq!(r.u8()?, 7);
        assert_eq!(r.u16()?, 0x0102);
        assert_eq!(r.u32()?, 0x03040506);
        assert_eq!(r.u64()?, 0x0708090a0b0c0d0e);
        assert_eq!(r.i64()?, -2);
        assert_eq!(r.id16()?, [0x10; 16]);
        assert_eq!(r.id32()?, [0x20; 32]);
        assert_eq!(r.str()?, "héllo");
        let hashes = r.hashes()?;
        assert_eq!(
            hashes.into_iter().collect::<Vec<_>>(),
            vec![hash(1), hash(2)]
        );
        let pairs = r.pairs()?;
        assert_eq!(pairs.get("a").map(String::as_str), Some("1"));
        assert_eq!(pairs.get("b").map(String::as_str), Some("2"));
        r.finish()
    }

    #[test]
    fn every_part_round_trips_in_the_spec_layout() {
        let bytes = sample();
        read_sample(&bytes).unwrap();
        // The layout, part by part, as the spec's table gives it.
        let mut want = b"hearth/v2/test\0".to_vec();
        want.push(7);
        want.extend_from_slice(&[0x01, 0x02]);
        want.extend_from_slice(&[0x03, 0x04, 0x05, 0x06]);
        want.extend_from_slice(&[0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e]);
        want.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]);
        want.extend_from_slice(&[0x10; 16]);
        want.extend_from_slice(&[0x20; 32]);
        want.extend_from_slice(&[0x00, 0x06]);
        want.extend_from_slice("héllo".as_bytes());
        want.extend_from_slice(&[0x00, 0x02]);
        want.extend_from_slice(&[1; 32]);
        want.extend_from_slice(&[2; 32]);
        want.extend_from_slice(&[0x00, 0x02, 0x00, 0x01, b'a', 0x00, 0x01, b'1']);
        want.extend_from_slice(&[0x00, 0x01, b'b', 0x00, 0x01, b'2']);
        assert_eq!(bytes, want);
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut bytes = sample();
        bytes.push(0);
        assert_eq!(
            read_sample(&bytes),
            Err(CanonicalError::TrailingBytes { count: 1 })
        );
    }

    #[test]
    fn every_truncation_is_refused() {
        let bytes = sample();
        for len in 0..bytes.len() {
            let err = read_sample(&bytes[..len]).unwrap_err();
            assert!(
                matches!(err, CanonicalError::Truncated { .. }),
                "cut at {len}: {err:?}"
            );
        }
    }

    #[test]
    fn unsorted_or_repeated_hashes_are_refused() {
        let mut two = vec![0x00, 0x02];
        two.extend_from_slice(&hash(2));
        two.extend_from_slice(&hash(1));
        assert_eq!(
            Reader::new(&two).hashes(),
            Err(CanonicalError::Unsorted { part: "hashes" })
        );
        let mut dup = vec![0x00, 0x02];
        dup.extend_from_slice(&hash(1));
        dup.extend_from_slice(&hash(1));
        assert_eq!(
            Reader::new(&dup).hashes(),
            Err(CanonicalError::Duplicate { part: "hashes" })
        );
        let mut sorted = vec![0x00, 0x02];
        sorted.extend_from_slice(&hash(1));
        sorted.extend_from_slice(&hash(2));
        assert_eq!(Reader::new(&sorted).hashes().unwrap().len(), 2);
    }

    #[test]
    fn unsorted_or_repeated_pair_keys_are_refused() {
        let pair = |k: &[u8], v: &[u8]| {
            let mut out = (k.len() as u16).to_be_bytes().to_vec();
            out.extend_from_slice(k);
            out.extend_from_slice(&(v.len() as u16).to_be_bytes());
            out.extend_from_slice(v);
            out
        };
        let mut unsorted = vec![0x00, 0x02];
        unsorted.extend(pair(b"b", b"1"));
        unsorted.extend(pair(b"a", b"2"));
        assert_eq!(
            Reader::new(&unsorted).pairs(),
            Err(CanonicalError::Unsorted { part: "pairs" })
        );
        let mut dup = vec![0x00, 0x02];
        dup.extend(pair(b"a", b"1"));
        dup.extend(pair(b"a", b"2"));
        assert_eq!(
            Reader::new(&dup).pairs(),
            Err(CanonicalError::Duplicate { part: "pairs" })
        );
        // Byte order, not character order: "Z" (0x5a) sorts before "a".
        let mut bytewise = vec![0x00, 0x02];
        bytewise.extend(pair(b"Z", b""));
        bytewise.extend(pair(b"a", b""));
        assert_eq!(Reader::new(&bytewise).pairs().unwrap().len(), 2);
    }

    #[test]
    fn bad_utf8_is_refused() {
        let bytes = [0x00, 0x02, 0xc3, 0x28];
        assert_eq!(
            Reader::new(&bytes).str(),
            Err(CanonicalError::BadUtf8 { part: "str" })
        );
        // A pair key is a str too.
        let bytes = [0x00, 0x01, 0x00, 0x01, 0xff, 0x00, 0x00];
        assert_eq!(
            Reader::new(&bytes).pairs(),
            Err(CanonicalError::BadUtf8 { part: "str" })
        );
    }

    #[test]
    fn bad_tags_are_refused() {
        assert_eq!(Reader::new(b"\0").tag(), Err(CanonicalError::BadTag));
        assert_eq!(Reader::new(b"ab\ncd\0").tag(), Err(CanonicalError::BadTag));
        assert_eq!(
            Reader::new("ré\0".as_bytes()).tag(),
            Err(CanonicalError::BadTag)
        );
        assert_eq!(
            Reader::new(b"no-nul").tag(),
            Err(CanonicalError::Truncated { part: "tag" })
        );
    }

    #[test]
    fn oversized_parts_cannot_be_written() {
        let long = "x".repeat(65_536);
        assert_eq!(
            Writer::new().str(&long).map(|_| ()),
            Err(CanonicalError::TooLong {
                part: "str",
                len: 65_536
            })
        );
        assert!(Writer::new().str(&long[..65_535]).is_ok());
    }
}
