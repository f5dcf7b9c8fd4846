//! The byte layout of a recording file (docs/store-format.md describes it
//! for humans): the preamble with the header, and the segment frames that
//! follow it. Everything read from a file is checked here before use:
//! magics, versions, lengths (bounded) and CRC32s.

use crate::bounds::{decode_scope, MAX_STATE_BYTES, MAX_ZSTD_RATIO};
use crate::error::StoreError;
use crate::records::RecordingHeader;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The first 8 bytes of every recording (PNG-style: catches text-mode mangling).
pub const MAGIC: [u8; 8] = *b"\x89HSR\r\n\x1a\n";
/// The format version this build writes, and the newest it reads.
/// Version 4 added the times segment (kind 9: each step's monotonic time),
/// version 3 the ring segment of a flight recording (kind 7) and the
/// source segment (kind 8), version 2 diff checkpoints (segment kind 6);
/// version 1 to 3 files are still read.
pub const FORMAT_VERSION: u32 = 5;
/// The format version of a flight recording (`--ring`): the ring segment
/// (kind 7) first, its steps starting where the ring does.
pub const RING_FORMAT_VERSION: u32 = FORMAT_VERSION;
/// The newest format version this build reads.
pub const NEWEST_FORMAT_VERSION: u32 = FORMAT_VERSION;
/// Magic, version, header length, header CRC32.
pub const PREAMBLE_LEN: u64 = 20;
/// The largest header accepted.
pub const MAX_HEADER_LEN: u32 = 1 << 20;
/// The first 4 bytes of every segment frame.
pub const SEG_MAGIC: [u8; 4] = *b"HSEG";
/// Size of a segment frame, before its payload.
pub const FRAME_LEN: u64 = 32;
/// The largest payload (stored or decompressed) accepted.
pub const MAX_PAYLOAD_LEN: u32 = 1 << 30;
/// Frame flag: the payload is zstd-compressed.
pub const FLAG_ZSTD: u8 = 1;
/// The footer's payload: index offset and end-record offset, u64 LE each.
pub const FOOTER_PAYLOAD_LEN: u64 = 16;
/// The zstd level used for payloads: fast, and most of the gain.
pub const ZSTD_LEVEL: i32 = 3;

/// What a segment holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegKind {
    /// The full state after step `first_step`.
    Checkpoint = 1,
    /// The ops of steps `first_step .. first_step + count`.
    Deltas = 2,
    /// The end record.
    End = 3,
    /// The segment index.
    Index = 4,
    /// The footer (always the last 48 bytes of a complete file).
    Footer = 5,
    /// The full state after step `first_step`, zstd-compressed with the raw
    /// payload of the key checkpoint (the last kind-1 checkpoint before it
    /// in the file) as the dictionary: consecutive states differ little, so
    /// this costs a few hundred bytes where a full checkpoint costs kilobytes.
    DiffCheckpoint = 6,
    /// The first segment of a flight recording (`--ring`): the steps held
    /// start at `first_step` (those before it were let go); the payload is
    /// a [`crate::ring::RingRecord`].
    Ring = 7,
    /// The text of one source file the steps name, written once, before
    /// the first step that names it ([`crate::SourceFile`]); `first_step`
    /// is that step, `count` 0.
    Source = 8,
    /// The monotonic time of each step of the deltas segment with the same
    /// `first_step` and `count` ([`crate::times`]).
    Times = 9,
    /// The step index of the deltas segment with the same `first_step`
    /// and `count`: per object, name, scope and the stack, the steps that
    /// changed it ([`crate::postings`]).
    Postings = 10,
}

impl SegKind {
    /// The kind for a frame's kind byte.
    pub fn from_u8(b: u8) -> Option<SegKind> {
        Some(match b {
            1 => SegKind::Checkpoint,
            2 => SegKind::Deltas,
            3 => SegKind::End,
            4 => SegKind::Index,
            5 => SegKind::Footer,
            6 => SegKind::DiffCheckpoint,
            7 => SegKind::Ring,
            8 => SegKind::Source,
            9 => SegKind::Times,
            10 => SegKind::Postings,
            _ => return None,
        })
    }
}

/// A decoded, bounds-checked segment frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// What the segment holds.
    pub kind: SegKind,
    /// [`FLAG_ZSTD`] when the payload is compressed, else 0.
    pub flags: u8,
    /// Checkpoints: the step the state is after; deltas: the first step
    /// held; end, index and footer: the number of steps in the recording.
    pub first_step: u64,
    /// Deltas: the number of steps held; checkpoints: 1; end, index and
    /// footer: 0.
    pub count: u32,
    /// Payload bytes in the file, after the frame.
    pub stored_len: u32,
    /// Payload bytes once decompressed.
    pub raw_len: u32,
    /// CRC32 of frame bytes 0..28 followed by the stored payload.
    pub crc: u32,
}

impl Frame {
    /// Bytes from the start of the frame to the end of its payload.
    pub fn total_len(&self) -> u64 {
        FRAME_LEN + u64::from(self.stored_len)
    }
}

/// One entry of the index segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// The segment's kind byte (a [`SegKind`]).
    pub kind: u8,
    /// The segment frame's `first_step`.
    pub first_step: u64,
    /// The segment frame's `count`.
    pub count: u32,
    /// Where the segment's frame starts in the file, in bytes.
    pub offset: u64,
    /// The segment frame's `stored_len`: its payload bytes in the file.
    pub stored_len: u32,
}

/// Encode a value as msgpack (rmp-serde's compact form: structs as arrays).
pub fn to_msgpack<T: Serialize>(value: &T, what: &str) -> Result<Vec<u8>, StoreError> {
    rmp_serde::to_vec(value).map_err(|e| StoreError::Encode {
        what: what.into(),
        cause: e.to_string(),
    })
}

/// Decode msgpack read from the file at `offset`, within the decode budget
/// of one payload ([`crate::bounds`]).
pub fn from_msgpack<T: DeserializeOwned>(
    bytes: &[u8],
    what: &str,
    offset: u64,
) -> Result<T, StoreError> {
    decode_scope(MAX_STATE_BYTES, || rmp_serde::from_slice(bytes))
        .map_err(|e| StoreError::corrupt(format!("{what} does not decode ({e})"), offset))
}

/// The preamble and header bytes that start a file of [`FORMAT_VERSION`].
pub fn encode_preamble(header: &RecordingHeader) -> Result<Vec<u8>, StoreError> {
    encode_preamble_of(header, FORMAT_VERSION)
}

/// The preamble and header bytes that start a file of format `version`.
pub fn encode_preamble_of(header: &RecordingHeader, version: u32) -> Result<Vec<u8>, StoreError> {
    let body = to_msgpack(header, "the recording header")?;
    if body.len() > MAX_HEADER_LEN as usize {
        return Err(StoreError::Encode {
            what: "the recording header".into(),
            cause: format!("{} bytes, more than {MAX_HEADER_LEN}", body.len()),
        });
    }
    let mut out = Vec::with_capacity(PREAMBLE_LEN as usize + body.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Read and check the preamble and header; returns the header and the
/// offset of the first segment.
pub fn read_preamble(
    file: &File,
    file_len: u64,
    path: &Path,
) -> Result<(RecordingHeader, u64), StoreError> {
    let mut pre = [0u8; PREAMBLE_LEN as usize];
    let got = read_up_to(file, 0, &mut pre, path)?;
    if got < MAGIC.len() || pre[..8] != MAGIC {
        return Err(StoreError::NotARecording {
            path: path.to_path_buf(),
        });
    }
    if got < pre.len() {
        return Err(StoreError::corrupt_header(
            "the file ends inside its preamble (truncated)",
            got as u64,
        ));
    }
    let version = le_u32(&pre[8..12]);
    if version > NEWEST_FORMAT_VERSION {
        return Err(StoreError::NewerFormat {
            found: version,
            supported: NEWEST_FORMAT_VERSION,
        });
    }
    if version == 0 {
        return Err(StoreError::corrupt_header(
            "format version 0 does not exist",
            8,
        ));
    }
    let len = le_u32(&pre[12..16]);
    if len > MAX_HEADER_LEN || u64::from(len) > file_len.saturating_sub(PREAMBLE_LEN) {
        return Err(StoreError::corrupt_header(
            format!("header length {len} is impossible (file is {file_len} bytes)"),
            12,
        ));
    }
    let mut body = vec![0u8; len as usize];
    read_exact(file, PREAMBLE_LEN, &mut body, path)?;
    if crc32fast::hash(&body) != le_u32(&pre[16..20]) {
        return Err(StoreError::corrupt_header(
            "the header's CRC32 does not match",
            PREAMBLE_LEN,
        ));
    }
    let mut header: RecordingHeader = from_msgpack(&body, "the header", PREAMBLE_LEN)
        .map_err(|e| e.with_advice(crate::error::HEADER_ADVICE))?;
    header.format_version = version;
    Ok((header, PREAMBLE_LEN + u64::from(len)))
}

/// Build a whole segment (frame + payload) from its raw payload.
pub fn encode_segment(
    kind: SegKind,
    first_step: u64,
    count: u32,
    raw: &[u8],
    compressor: Option<&mut zstd::bulk::Compressor<'_>>,
) -> Result<Vec<u8>, StoreError> {
    let too_big = |n: usize| StoreError::Encode {
        what: format!("a {kind:?} segment"),
        cause: format!("{n} bytes, more than the format's {MAX_PAYLOAD_LEN}-byte limit"),
    };
    if raw.len() > MAX_PAYLOAD_LEN as usize {
        return Err(too_big(raw.len()));
    }
    let (flags, stored) = match compressor {
        Some(c) => {
            let z = c.compress(raw).map_err(|e| StoreError::Encode {
                what: format!("a {kind:?} segment"),
                cause: format!("zstd: {e}"),
            })?;
            (FLAG_ZSTD, z)
        }
        None => (0, raw.to_vec()),
    };
    if stored.len() > MAX_PAYLOAD_LEN as usize {
        return Err(too_big(stored.len()));
    }
    let mut out = Vec::with_capacity(FRAME_LEN as usize + stored.len());
    out.extend_from_slice(&SEG_MAGIC);
    out.push(kind as u8);
    out.push(flags);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&first_step.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&(stored.len() as u32).to_le_bytes());
    out.extend_from_slice(&(raw.len() as u32).to_le_bytes());
    let mut h = crc32fast::Hasher::new();
    h.update(&out[..28]);
    h.update(&stored);
    out.extend_from_slice(&h.finalize().to_le_bytes());
    out.extend_from_slice(&stored);
    Ok(out)
}

/// Decode and bounds-check a frame read at `offset`. The CRC is checked
/// separately, once the payload is read ([`check_crc`]).
pub fn parse_frame(b: &[u8; FRAME_LEN as usize], offset: u64) -> Result<Frame, StoreError> {
    if b[..4] != SEG_MAGIC {
        return Err(StoreError::corrupt("no segment magic", offset));
    }
    let kind = SegKind::from_u8(b[4])
        .ok_or_else(|| StoreError::corrupt(format!("unknown segment kind {}", b[4]), offset))?;
    let flags = b[5];
    if flags & !FLAG_ZSTD != 0 || b[6] != 0 || b[7] != 0 {
        return Err(StoreError::corrupt("unknown segment flags", offset));
    }
    let frame = Frame {
        kind,
        flags,
        first_step: le_u64(&b[8..16]),
        count: le_u32(&b[16..20]),
        stored_len: le_u32(&b[20..24]),
        raw_len: le_u32(&b[24..28]),
        crc: le_u32(&b[28..32]),
    };
    if frame.stored_len > MAX_PAYLOAD_LEN || frame.raw_len > MAX_PAYLOAD_LEN {
        return Err(StoreError::corrupt("impossible segment length", offset));
    }
    if kind == SegKind::DiffCheckpoint && flags & FLAG_ZSTD == 0 {
        return Err(StoreError::corrupt(
            "diff checkpoint without compression",
            offset,
        ));
    }
    if flags & FLAG_ZSTD == 0 && frame.stored_len != frame.raw_len {
        return Err(StoreError::corrupt(
            "uncompressed segment with two lengths",
            offset,
        ));
    }
    // The raw length is allocated before decompressing: it must be one the
    // stored bytes can hold.
    if u64::from(frame.raw_len) > u64::from(frame.stored_len) * MAX_ZSTD_RATIO {
        return Err(StoreError::corrupt(
            format!(
                "a payload of {} bytes cannot decompress to the {} bytes its frame says",
                frame.stored_len, frame.raw_len
            ),
            offset,
        ));
    }
    Ok(frame)
}

/// Whether the CRC32 of a frame and its payload matches.
pub fn check_crc(frame_bytes: &[u8; FRAME_LEN as usize], frame: &Frame, payload: &[u8]) -> bool {
    let mut h = crc32fast::Hasher::new();
    h.update(&frame_bytes[..28]);
    h.update(payload);
    h.finalize() == frame.crc
}

thread_local! {
    /// One zstd decompression context per thread, reused: creating one per
    /// segment costs as much as decompressing a small segment.
    static DCTX: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// The raw payload of a CRC-checked segment (not a diff checkpoint, which
/// needs its key: [`decode_payload_with`]).
pub fn decode_payload(frame: &Frame, stored: &[u8], offset: u64) -> Result<Vec<u8>, StoreError> {
    decode_payload_with(frame, stored, offset, None)
}

/// The raw payload of a CRC-checked segment, decompressed with `dict` (the
/// key checkpoint's raw payload) when it is a diff checkpoint.
pub fn decode_payload_with(
    frame: &Frame,
    stored: &[u8],
    offset: u64,
    dict: Option<&[u8]>,
) -> Result<Vec<u8>, StoreError> {
    if frame.flags & FLAG_ZSTD == 0 {
        return Ok(stored.to_vec());
    }
    let undecodable = |e: std::io::Error| {
        StoreError::corrupt(format!("segment payload does not decompress ({e})"), offset)
    };
    let raw = match (frame.kind, dict) {
        (SegKind::DiffCheckpoint, Some(dict)) => zstd::bulk::Decompressor::with_dictionary(dict)
            .and_then(|mut d| d.decompress(stored, frame.raw_len as usize))
            .map_err(undecodable)?,
        (SegKind::DiffCheckpoint, None) => {
            return Err(StoreError::corrupt(
                "diff checkpoint read without its key checkpoint",
                offset,
            ))
        }
        _ => DCTX
            .with(|d| match &mut *d.borrow_mut() {
                Some(d) => d.decompress(stored, frame.raw_len as usize),
                d @ None => zstd::bulk::Decompressor::new()
                    .and_then(|n| d.insert(n).decompress(stored, frame.raw_len as usize)),
            })
            .map_err(undecodable)?,
    };
    if raw.len() != frame.raw_len as usize {
        return Err(StoreError::corrupt(
            format!(
                "segment payload decompresses to {} bytes, the frame says {}",
                raw.len(),
                frame.raw_len
            ),
            offset,
        ));
    }
    Ok(raw)
}

/// Read a whole segment at `offset` (which must leave room for it before
/// `file_len`), check its CRC and return its frame and raw payload.
pub fn read_segment(
    file: &File,
    offset: u64,
    file_len: u64,
    path: &Path,
) -> Result<(Frame, Vec<u8>), StoreError> {
    read_segment_with(file, offset, file_len, path, None)
}

/// [`read_segment`], with the key checkpoint's raw payload for a diff checkpoint.
pub fn read_segment_with(
    file: &File,
    offset: u64,
    file_len: u64,
    path: &Path,
    dict: Option<&[u8]>,
) -> Result<(Frame, Vec<u8>), StoreError> {
    let (frame, stored) = read_stored(file, offset, file_len, path)?;
    let raw = decode_payload_with(&frame, &stored, offset, dict)?;
    Ok((frame, raw))
}

/// Read a whole segment at `offset` (which must leave room for it before
/// `file_len`), check its CRC and return its frame and payload as stored
/// (still compressed when it is).
pub fn read_stored(
    file: &File,
    offset: u64,
    file_len: u64,
    path: &Path,
) -> Result<(Frame, Vec<u8>), StoreError> {
    let mut fb = [0u8; FRAME_LEN as usize];
    if offset.saturating_add(FRAME_LEN) > file_len {
        return Err(StoreError::corrupt(
            "segment beyond the end of the file",
            offset,
        ));
    }
    read_exact(file, offset, &mut fb, path)?;
    let frame = parse_frame(&fb, offset)?;
    if offset + frame.total_len() > file_len {
        return Err(StoreError::corrupt(
            "segment runs past the end of the file",
            offset,
        ));
    }
    let mut stored = vec![0u8; frame.stored_len as usize];
    read_exact(file, offset + FRAME_LEN, &mut stored, path)?;
    if !check_crc(&fb, &frame, &stored) {
        return Err(StoreError::corrupt("segment CRC32 does not match", offset));
    }
    Ok((frame, stored))
}

/// Read exactly `buf.len()` bytes at `offset`.
pub fn read_exact(file: &File, offset: u64, buf: &mut [u8], path: &Path) -> Result<(), StoreError> {
    file.read_exact_at(buf, offset).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            StoreError::corrupt("the file ends early (truncated)", offset)
        } else {
            StoreError::io(format!("reading {}", path.display()), e)
        }
    })
}

/// Read as many bytes as there are, up to `buf.len()`, at `offset`.
pub fn read_up_to(
    file: &File,
    offset: u64,
    buf: &mut [u8],
    path: &Path,
) -> Result<usize, StoreError> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(StoreError::io(format!("reading {}", path.display()), e)),
        }
    }
    Ok(got)
}

/// Little-endian u32 from 4 bytes.
pub fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

/// Little-endian u64 from 8 bytes.
pub fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

/// The msgpack array32 prefix of a deltas payload: `0xdd` + count (u32 BE),
/// so a payload is a plain msgpack array of per-step op lists.
pub fn array32_prefix(count: u32) -> [u8; 5] {
    let c = count.to_be_bytes();
    [0xdd, c[0], c[1], c[2], c[3]]
}
