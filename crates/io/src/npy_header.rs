//! A strict parser for the `.npy` header: magic, version, and the Python dict literal
//! `{'descr': …, 'fortran_order': …, 'shape': (…), }`.
//!
//! Why not the `npyz` parser: it parses the dict with a general Python-literal grammar whose
//! backtracking takes minutes on some malformed headers (found by the fuzz target), and a
//! reader that hangs on a bad file is as bad as one that crashes. The dict numpy writes is a
//! tiny, fixed language; this parser reads exactly that, in linear time, and refuses
//! anything else with a message.

/// Largest header accepted (numpy's own `max_header_size` default is 10 000 bytes).
pub const MAX_HEADER: usize = 100_000;

/// What the header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The dtype string, e.g. `<f8`.
    pub descr: String,
    /// Fortran (column-major) order.
    pub fortran: bool,
    /// The shape.
    pub shape: Vec<u64>,
    /// Byte offset of the data.
    pub data_offset: usize,
}

impl Header {
    /// Bytes per value, for the dtypes twolayer reads (little-endian float32 and float64);
    /// otherwise the end of a message ("has dtype …; … convert it") to follow the file name.
    pub fn item_size(&self) -> Result<usize, String> {
        match self.descr.as_str() {
            "<f8" => Ok(8),
            "<f4" => Ok(4),
            descr => Err(format!(
                "has dtype {descr}; twolayer reads little-endian float32 or float64 arrays: \
                 convert it, e.g. np.save(path, a.astype('<f8'))"
            )),
        }
    }

    /// Bytes of data the shape claims, checked against the `available` bytes after the
    /// header (nothing is allocated for a claim the file cannot back); otherwise the end of a
    /// message to follow the file name.
    pub fn data_len(&self, item: usize, available: u64) -> Result<u64, String> {
        let needed = self
            .shape
            .iter()
            .try_fold(item as u64, |acc, &n| acc.checked_mul(n))
            .unwrap_or(u64::MAX);
        if needed > available {
            return Err(format!(
                "claims shape {:?} ({needed} bytes of data) but holds only {available} bytes \
                 of data: it is truncated or its header is corrupt",
                self.shape
            ));
        }
        Ok(needed)
    }
}

/// Parses the header at the start of `bytes` (which must hold at least the whole header).
pub fn parse(bytes: &[u8]) -> Result<Header, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("bad magic: not a .npy file".into());
    }
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(format!("unsupported .npy format version {v}")),
    };
    if len > MAX_HEADER {
        return Err(format!(
            "header of {len} bytes (at most {MAX_HEADER} accepted)"
        ));
    }
    let end = start + len;
    let text = bytes.get(start..end).ok_or("the header ends early")?;
    let text = std::str::from_utf8(text).map_err(|_| "the header is not text")?;
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    p.ws();
    p.expect(b'{')?;
    loop {
        p.ws();
        if p.eat(b'}') {
            break;
        }
        let key = p.string()?;
        p.ws();
        p.expect(b':')?;
        p.ws();
        match key.as_str() {
            "descr" => descr = Some(p.string()?),
            "fortran_order" => fortran = Some(p.boolean()?),
            "shape" => shape = Some(p.tuple()?),
            other => return Err(format!("unexpected key {other:?} in the header")),
        }
        p.ws();
        if !p.eat(b',') {
            p.ws();
            p.expect(b'}')?;
            break;
        }
    }
    Ok(Header {
        descr: descr.ok_or("the header has no 'descr'")?,
        fortran: fortran.ok_or("the header has no 'fortran_order'")?,
        shape: shape.ok_or("the header has no 'shape'")?,
        data_offset: end,
    })
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!(
                "malformed header: expected {:?} at byte {}",
                c as char, self.i
            ))
        }
    }

    fn string(&mut self) -> Result<String, String> {
        let quote = match self.s.get(self.i) {
            Some(&q @ (b'\'' | b'"')) => q,
            _ => {
                return Err(format!(
                    "malformed header: expected a string at byte {}",
                    self.i
                ));
            }
        };
        self.i += 1;
        let start = self.i;
        while self.i < self.s.len() && self.s[self.i] != quote {
            self.i += 1;
        }
        let out = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        self.expect(quote)?;
        Ok(out)
    }

    fn boolean(&mut self) -> Result<bool, String> {
        let rest = &self.s[self.i..];
        if rest.starts_with(b"True") {
            self.i += 4;
            Ok(true)
        } else if rest.starts_with(b"False") {
            self.i += 5;
            Ok(false)
        } else {
            Err(format!(
                "malformed header: expected True or False at byte {}",
                self.i
            ))
        }
    }

    fn tuple(&mut self) -> Result<Vec<u64>, String> {
        self.expect(b'(')?;
        let mut out = Vec::new();
        loop {
            self.ws();
            if self.eat(b')') {
                return Ok(out);
            }
            let start = self.i;
            while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
                self.i += 1;
            }
            let digits = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
            let n: u64 = digits
                .parse()
                .map_err(|_| format!("malformed header: expected a dimension at byte {start}"))?;
            self.eat(b'L'); // Python 2's long suffix
            out.push(n);
            if out.len() > 32 {
                return Err("the shape has more than 32 dimensions".into());
            }
            self.ws();
            if !self.eat(b',') {
                self.ws();
                self.expect(b')')?;
                return Ok(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dict: &str) -> Vec<u8> {
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        b.extend_from_slice(dict.as_bytes());
        b
    }

    #[test]
    fn reads_what_numpy_writes() {
        let h = parse(&file(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }    \n",
        ))
        .unwrap();
        assert_eq!(h.descr, "<f8");
        assert!(!h.fortran);
        assert_eq!(h.shape, vec![3, 4]);
        let h = parse(&file(
            "{\"shape\": (7,), \"fortran_order\": True, \"descr\": \"<f4\"}",
        ))
        .unwrap();
        assert_eq!(
            (h.shape, h.fortran, h.descr.as_str()),
            (vec![7], true, "<f4")
        );
        assert_eq!(
            parse(&file(
                "{'descr': '<f8', 'fortran_order': False, 'shape': ()}"
            ))
            .unwrap()
            .shape,
            Vec::<u64>::new()
        );
    }

    /// Versions 2 and 3 (a 4-byte header length, which numpy writes for long headers) read
    /// like version 1; a header of exactly the size limit is read, one byte more refused; a
    /// version 2 file cut inside its length is an error, not a panic.
    #[test]
    fn versions_and_the_header_limit() {
        let long = |version: u8, len: usize| {
            let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 5), }";
            let mut b = b"\x93NUMPY".to_vec();
            b.extend_from_slice(&[version, 0]);
            b.extend_from_slice(&(len as u32).to_le_bytes());
            b.extend_from_slice(dict.as_bytes());
            b.resize(12 + len - 1, b' ');
            b.push(b'\n');
            b
        };
        for version in [2, 3] {
            let h = parse(&long(version, 128)).unwrap();
            assert_eq!((h.shape, h.fortran), (vec![2, 5], false));
        }
        assert_eq!(parse(&long(2, MAX_HEADER)).unwrap().shape, vec![2, 5]);
        let err = parse(&long(2, MAX_HEADER + 1)).unwrap_err();
        assert!(err.contains("at most"), "{err}");
        assert!(parse(b"\x93NUMPY\x02\x00\x10\x00").is_err());
        assert!(parse(&long(4, 128)).unwrap_err().contains("version 4"));
        // Ten bytes are a whole (empty) version-1 prefix: the error is about the header.
        let err = parse(b"\x93NUMPY\x01\x00\x00\x00").unwrap_err();
        assert!(!err.contains("magic"), "{err}");
    }

    /// Shapes of up to 32 dimensions (numpy's own limit before 2.0) are read; 33 refused.
    #[test]
    fn at_most_32_dimensions() {
        let shape = |dims: usize| {
            let t = vec!["1"; dims].join(", ");
            file(&format!(
                "{{'descr': '<f8', 'fortran_order': False, 'shape': ({t},), }}"
            ))
        };
        assert_eq!(parse(&shape(32)).unwrap().shape.len(), 32);
        assert!(parse(&shape(33)).unwrap_err().contains("more than 32"));
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "{'descr': '<f8', 'fortran_order': False}",
            "{'descr': '<f8', 'fortran_order': Maybe, 'shape': (1,)}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1, -2)}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'extra': 1}",
            "['descr']",
            "{'descr': '<f8'",
        ] {
            assert!(parse(&file(bad)).is_err(), "{bad}");
        }
        assert!(parse(b"\x93NUMPY\x01\x00\xff").is_err());
        assert!(parse(b"not numpy at all").is_err());
    }
}
