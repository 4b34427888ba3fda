//! Reader for the IDX format of the MNIST files, gzipped or raw.
//!
//! Everything the header claims is checked against what the file can hold *before* the
//! data buffer is allocated, so a hostile header cannot make us reserve gigabytes.

use std::io::{self, Read};
use std::path::Path;

use flate2::bufread::GzDecoder;

/// Deflate cannot compress better than about 1032:1, so a gzip file of `n` bytes cannot
/// decode to more than this many bytes per input byte.
const MAX_GZIP_RATIO: u64 = 1032;
/// No IDX file we care about comes close to this; a header claiming more is nonsense.
const MAX_DATA_BYTES: u64 = 1 << 31;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const UNSIGNED_BYTE: u8 = 0x08;

/// An IDX array of unsigned bytes: its dimensions and its data in row-major order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Idx {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// What is wrong with an IDX file; always shown together with the file's name.
#[derive(Debug, thiserror::Error)]
pub enum IdxProblem {
    #[error("cannot read the file: {0}")]
    Io(io::Error),
    #[error("not a gzip file, although its name ends in .gz")]
    NotGzip,
    #[error("corrupt gzip data: {0}")]
    Gzip(io::Error),
    #[error("the file ends inside the IDX header")]
    TruncatedHeader,
    #[error(
        "wrong magic number {found:#010x} (an IDX file of unsigned bytes starts with 0x000008NN)"
    )]
    Magic { found: u32 },
    #[error("unsupported IDX element type {0:#04x} (only unsigned bytes, 0x08, are supported)")]
    ElementType(u8),
    #[error("the header declares {0} dimensions (expected 1 to 4)")]
    Rank(u8),
    #[error("the header declares {declared} data bytes, but this file can hold at most {limit}")]
    TooLarge { declared: u128, limit: u64 },
    #[error("truncated: the header declares {expected} data bytes but the file holds only {found}")]
    Truncated { expected: usize, found: usize },
    #[error("{0} unexpected bytes after the data (or after the gzip stream)")]
    TrailingBytes(u64),
}

#[derive(Debug, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct IdxError {
    pub file: String,
    pub problem: IdxProblem,
}

/// Reads and validates an IDX file from disk.
pub fn read(path: &Path) -> Result<Idx, IdxError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| IdxError {
        file: name.clone(),
        problem: IdxProblem::Io(e),
    })?;
    parse(&name, &bytes)
}

/// Parses IDX bytes; `name` is used in error messages and to tell whether gzip is expected.
pub fn parse(name: &str, bytes: &[u8]) -> Result<Idx, IdxError> {
    parse_inner(name, bytes).map_err(|problem| IdxError {
        file: name.to_string(),
        problem,
    })
}

fn parse_inner(name: &str, bytes: &[u8]) -> Result<Idx, IdxProblem> {
    let is_gzip = bytes.starts_with(&GZIP_MAGIC);
    if !is_gzip && name.ends_with(".gz") {
        return Err(IdxProblem::NotGzip);
    }
    if is_gzip {
        let limit = (bytes.len() as u64)
            .saturating_mul(MAX_GZIP_RATIO)
            .min(MAX_DATA_BYTES);
        let mut gz = GzDecoder::new(bytes);
        let idx = read_idx(&mut gz, limit, true)?;
        // The decoder stops after one gzip member; anything behind it is not MNIST.
        match gz.into_inner().len() {
            0 => Ok(idx),
            n => Err(IdxProblem::TrailingBytes(n as u64)),
        }
    } else {
        read_idx(bytes, bytes.len() as u64, false)
    }
}

/// Reads header, data and checks for trailing bytes. `limit` bounds the header plus data
/// size that the source could possibly produce.
fn read_idx(mut src: impl Read, limit: u64, gz: bool) -> Result<Idx, IdxProblem> {
    let io_problem = |e: io::Error| {
        if gz {
            IdxProblem::Gzip(e)
        } else {
            IdxProblem::Io(e)
        }
    };
    let dims = read_header(&mut src, &io_problem)?;
    let header = 4 + 4 * dims.len() as u64;
    let declared: u128 = dims.iter().map(|&d| d as u128).product();
    let room = limit.saturating_sub(header);
    if declared > room as u128 {
        if !gz && declared <= MAX_DATA_BYTES as u128 {
            // A raw file that is simply too short is a truncation, not an absurd header.
            return Err(IdxProblem::Truncated {
                expected: declared as usize,
                found: room as usize,
            });
        }
        return Err(IdxProblem::TooLarge {
            declared,
            limit: room,
        });
    }
    let expected = declared as usize;
    let mut data = vec![0u8; expected];
    let got = read_full(&mut src, &mut data).map_err(|(found, e)| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            IdxProblem::Truncated { expected, found }
        } else {
            io_problem(e)
        }
    })?;
    if got < expected {
        return Err(IdxProblem::Truncated {
            expected,
            found: got,
        });
    }
    // Reading to the end also makes the gzip decoder verify its CRC and length trailer.
    let extra = io::copy(&mut src, &mut io::sink()).map_err(io_problem)?;
    if extra > 0 {
        return Err(IdxProblem::TrailingBytes(extra));
    }
    Ok(Idx { dims, data })
}

/// The magic number and the dimensions.
fn read_header(
    src: &mut impl Read,
    io_problem: &impl Fn(io::Error) -> IdxProblem,
) -> Result<Vec<usize>, IdxProblem> {
    let mut word = || -> Result<[u8; 4], IdxProblem> {
        let mut w = [0u8; 4];
        match read_full(src, &mut w) {
            Ok(4) => Ok(w),
            Ok(_) => Err(IdxProblem::TruncatedHeader),
            Err((_, e)) => Err(io_problem(e)),
        }
    };
    let magic = word()?;
    if magic[0] != 0 || magic[1] != 0 {
        return Err(IdxProblem::Magic {
            found: u32::from_be_bytes(magic),
        });
    }
    if magic[2] != UNSIGNED_BYTE {
        return Err(IdxProblem::ElementType(magic[2]));
    }
    let rank = magic[3];
    if !(1..=4).contains(&rank) {
        return Err(IdxProblem::Rank(rank));
    }
    (0..rank)
        .map(|_| word().map(|d| u32::from_be_bytes(d) as usize))
        .collect()
}

/// Fills `buf` as far as the source allows; returns how many bytes were read, or the
/// error together with how many bytes had been read before it.
fn read_full(src: &mut impl Read, buf: &mut [u8]) -> Result<usize, (usize, io::Error)> {
    let mut filled = 0;
    while filled < buf.len() {
        match src.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err((filled, e)),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn raw(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            v.extend(d.to_be_bytes());
        }
        v.extend(data);
        v
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn problem(name: &str, bytes: &[u8]) -> String {
        let err = parse(name, bytes).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with(name), "{msg}");
        msg
    }

    #[test]
    fn reads_raw_and_gzip_alike() {
        let r = raw(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        let a = parse("a", &r).unwrap();
        let b = parse("a.gz", &gz(&r)).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.dims, vec![2, 3]);
        assert_eq!(a.data, vec![1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn truncated_raw_and_gzip() {
        let r = raw(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        assert!(problem("t", &r[..r.len() - 2]).contains("truncated"));
        let g = gz(&r);
        let msg = problem("t.gz", &g[..g.len() - 10]);
        assert!(msg.contains("truncated") || msg.contains("gzip"), "{msg}");
        assert!(problem("t", &r[..6]).contains("inside the IDX header"));
    }

    #[test]
    fn wrong_magic_and_type() {
        let mut r = raw(&[2], &[1, 2]);
        r[0] = 7;
        assert!(problem("m", &r).contains("wrong magic"));
        let mut r = raw(&[2], &[1, 2]);
        r[2] = 0x0d;
        assert!(problem("m", &r).contains("element type 0x0d"));
        let mut r = raw(&[2], &[1, 2]);
        r[3] = 9;
        assert!(problem("m", &r).contains("9 dimensions"));
    }

    #[test]
    fn absurd_header_is_refused_before_allocating() {
        // 4 billion x 4 billion x 4 billion bytes: if this allocated, the test would abort.
        let r = raw(&[u32::MAX, u32::MAX, u32::MAX], &[0; 16]);
        assert!(problem("huge.gz", &gz(&r)).contains("can hold at most"));
        assert!(problem("huge", &r).contains("can hold at most"));
    }

    #[test]
    fn trailing_bytes_and_not_gzip() {
        let mut r = raw(&[2], &[1, 2]);
        r.extend([9, 9, 9]);
        assert!(problem("x", &r).contains("3 unexpected bytes"));
        assert!(problem("x.gz", &raw(&[2], &[1, 2])).contains("not a gzip file"));
    }

    #[test]
    fn corrupt_gzip_crc() {
        let mut g = gz(&raw(&[4], &[1, 2, 3, 4]));
        let n = g.len();
        g[n - 6] ^= 0xff; // inside the CRC32 trailer
        assert!(problem("c.gz", &g).contains("gzip"));
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = read(Path::new("/nonexistent/train-images-idx3-ubyte.gz")).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("/nonexistent/train-images-idx3-ubyte.gz"),
            "{msg}"
        );
        assert!(msg.contains("cannot read"), "{msg}");
    }
}
