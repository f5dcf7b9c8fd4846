//! msgpack written by hand, in rmp-serde's compact layout (a struct is an
//! array, an enum variant a one-entry map), so that a list can announce one
//! length and hold another, and a huge list costs no `Vec` of values.

/// msgpack bytes being written.
#[derive(Default)]
pub struct Mp(pub Vec<u8>);

impl Mp {
    pub fn u(&mut self, v: u64) -> &mut Mp {
        match v {
            0..=0x7f => self.0.push(v as u8),
            0x80..=0xff => self.0.extend([0xcc, v as u8]),
            0x100..=0xffff => {
                self.0.push(0xcd);
                self.0.extend((v as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                self.0.push(0xce);
                self.0.extend((v as u32).to_be_bytes());
            }
            _ => {
                self.0.push(0xcf);
                self.0.extend(v.to_be_bytes());
            }
        }
        self
    }
    pub fn str_head(&mut self, len: u32) -> &mut Mp {
        match len {
            0..=31 => self.0.push(0xa0 | len as u8),
            32..=0xff => self.0.extend([0xd9, len as u8]),
            0x100..=0xffff => {
                self.0.push(0xda);
                self.0.extend((len as u16).to_be_bytes());
            }
            _ => {
                self.0.push(0xdb);
                self.0.extend(len.to_be_bytes());
            }
        }
        self
    }
    pub fn s(&mut self, s: &str) -> &mut Mp {
        self.str_head(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
        self
    }
    /// A string of `len` bytes `c`.
    pub fn s_rep(&mut self, len: usize, c: u8) -> &mut Mp {
        self.str_head(len as u32);
        self.0.resize(self.0.len() + len, c);
        self
    }
    pub fn arr(&mut self, n: u32) -> &mut Mp {
        match n {
            0..=15 => self.0.push(0x90 | n as u8),
            16..=0xffff => {
                self.0.push(0xdc);
                self.0.extend((n as u16).to_be_bytes());
            }
            _ => {
                self.0.push(0xdd);
                self.0.extend(n.to_be_bytes());
            }
        }
        self
    }
    /// The start of an enum variant with a value: `{name: ...}`.
    pub fn variant(&mut self, name: &str) -> &mut Mp {
        self.0.push(0x81);
        self.s(name)
    }
    pub fn nil(&mut self) -> &mut Mp {
        self.0.push(0xc0);
        self
    }
    pub fn b(&mut self, v: bool) -> &mut Mp {
        self.0.push(if v { 0xc3 } else { 0xc2 });
        self
    }
}
