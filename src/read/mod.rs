//! The read stage: turns the inputs named on the command line into numbered lines.
//!
//! Inputs are files, globs (expanded in sorted order) or `-` for stdin (also when none is
//! named). Gzip is recognised by its magic bytes, not by the file name, and multi-member streams
//! are read whole. Lines end at LF; a CR before the LF (CRLF) is dropped, and so is a CR ending a
//! last line that has no LF. Invalid UTF-8 is decoded lossily (U+FFFD) and the line kept; such
//! lines are counted.

pub mod events;
pub mod follow;
mod progress;
mod stats;

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;
use std::time::SystemTime;

use flate2::read::MultiGzDecoder;

pub use progress::Progress;
pub use stats::{InputStats, RunStats};

use crate::error::{Error, Result};

/// One input named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input.
    Stdin,
    /// A file.
    Path(PathBuf),
}

impl Input {
    /// The name used in messages and in `logsieve.file`: the path as given, or `-`.
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "-".into(),
            Input::Path(p) => p.display().to_string(),
        }
    }
}

/// Expands the command line's inputs: no input or `-` is stdin; a name holding `*`, `?` or `[`
/// that is not an existing file is a glob, expanded in sorted order, and must match something.
pub fn expand(args: &[String]) -> Result<Vec<Input>> {
    if args.is_empty() {
        return Ok(vec![Input::Stdin]);
    }
    let mut out = Vec::new();
    for arg in args {
        if arg == "-" {
            out.push(Input::Stdin);
        } else if arg.contains(['*', '?', '[']) && !std::path::Path::new(arg).exists() {
            let paths = glob::glob(arg).map_err(|e| Error::Glob { pattern: arg.clone(), message: e.msg.to_owned() })?;
            let mut found: Vec<PathBuf> = paths.filter_map(|p| p.ok()).filter(|p| !p.is_dir()).collect();
            if found.is_empty() {
                return Err(Error::NoMatch(arg.clone()));
            }
            found.sort();
            out.extend(found.into_iter().map(Input::Path));
        } else {
            out.push(Input::Path(PathBuf::from(arg)));
        }
    }
    Ok(out)
}

/// An opened input.
pub struct Source {
    /// The input.
    pub input: Input,
    /// Its lines.
    pub lines: LineReader<Box<dyn BufRead + Send>>,
    /// When the file was last written (`None` for stdin).
    pub modified: Option<SystemTime>,
    /// Size in bytes on disk (`None` for stdin).
    pub size: Option<u64>,
    /// Whether it is gzip-compressed.
    pub gzip: bool,
}

const BUF: usize = 256 * 1024;

/// Opens an input, detecting gzip by its magic bytes.
pub fn open(input: &Input) -> Result<Source> {
    let name = input.name();
    let open_err = |source| Error::Open { path: name.clone(), source };
    let (raw, modified, size): (Box<dyn Read + Send>, _, _) = match input {
        Input::Stdin => (Box::new(io::stdin()), None, None),
        Input::Path(p) => {
            let meta = std::fs::metadata(p).map_err(open_err)?;
            if meta.is_dir() {
                return Err(Error::IsDirectory { path: name });
            }
            let f = File::open(p).map_err(open_err)?;
            (Box::new(f), meta.modified().ok(), Some(meta.len()))
        }
    };
    let mut buffered = BufReader::with_capacity(BUF, raw);
    let gzip = {
        let head = buffered.fill_buf().map_err(open_err)?;
        head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b
    };
    let reader: Box<dyn BufRead + Send> =
        if gzip { Box::new(BufReader::with_capacity(BUF, MultiGzDecoder::new(buffered))) } else { Box::new(buffered) };
    Ok(Source { input: input.clone(), lines: LineReader::new(reader), modified, size, gzip })
}

/// One line of input.
#[derive(Debug)]
pub struct Line<'a> {
    /// 1-based line number.
    pub number: u64,
    /// The text without its line ending, decoded lossily.
    pub text: Cow<'a, str>,
    /// Whether the bytes were not valid UTF-8.
    pub lossy: bool,
    /// Bytes the line took in the (decompressed) input, ending included.
    pub bytes: usize,
}

/// Splits a byte stream into lines.
pub struct LineReader<R> {
    reader: R,
    buf: Vec<u8>,
    number: u64,
}

impl<R: BufRead> LineReader<R> {
    /// Wraps a reader.
    pub fn new(reader: R) -> Self {
        LineReader { reader, buf: Vec::with_capacity(1024), number: 0 }
    }

    /// The number of the last line returned.
    pub fn line_number(&self) -> u64 {
        self.number
    }

    /// The next line, or `None` at end of input.
    pub fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        self.buf.clear();
        let n = self.reader.read_until(b'\n', &mut self.buf)?;
        if n == 0 {
            return Ok(None);
        }
        self.number += 1;
        let mut end = self.buf.len();
        if self.buf[end - 1] == b'\n' {
            end -= 1;
        }
        if end > 0 && self.buf[end - 1] == b'\r' {
            end -= 1;
        }
        let bytes = &self.buf[..end];
        let (text, lossy) = match std::str::from_utf8(bytes) {
            Ok(s) => (Cow::Borrowed(s), false),
            Err(_) => (String::from_utf8_lossy(bytes), true),
        };
        Ok(Some(Line { number: self.number, text, lossy, bytes: n }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn lines(bytes: &[u8]) -> Vec<(u64, String, bool)> {
        let mut r = LineReader::new(bytes);
        let mut out = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            out.push((l.number, l.text.into_owned(), l.lossy));
        }
        out
    }

    #[test]
    fn framing_table() {
        let s = |n, t: &str| (n, t.to_owned(), false);
        assert_eq!(lines(b""), vec![]);
        assert_eq!(lines(b"a\nb\n"), vec![s(1, "a"), s(2, "b")]);
        assert_eq!(lines(b"a\r\nb\r\nc"), vec![s(1, "a"), s(2, "b"), s(3, "c")]);
        assert_eq!(lines(b"a\r\nlast\r"), vec![s(1, "a"), s(2, "last")]);
        assert_eq!(lines(b"\n\n"), vec![s(1, ""), s(2, "")]);
        assert_eq!(lines(b"in\rside\n"), vec![s(1, "in\rside")]);
        assert_eq!(lines(b"mixed\nends\r\nhere"), vec![s(1, "mixed"), s(2, "ends"), s(3, "here")]);
    }

    #[test]
    fn invalid_utf8_is_kept_lossily() {
        assert_eq!(lines(b"ok\nbad \xff\xfe byte\n"), vec![(1, "ok".into(), false), (2, "bad \u{fffd}\u{fffd} byte".into(), true)]);
    }

    #[test]
    fn gzip_by_magic_and_directories_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-gz-suffix.log");
        let mut enc = flate2::write::GzEncoder::new(File::create(&path).unwrap(), flate2::Compression::default());
        enc.write_all(b"one\r\ntwo\n").unwrap();
        enc.finish().unwrap();
        let mut src = open(&Input::Path(path)).unwrap();
        assert!(src.gzip);
        assert_eq!(src.lines.next_line().unwrap().unwrap().text, "one");
        assert_eq!(src.lines.next_line().unwrap().unwrap().text, "two");
        assert!(src.lines.next_line().unwrap().is_none());
        let err = open(&Input::Path(dir.path().to_owned())).err().unwrap();
        assert!(err.to_string().contains("is a directory"), "{err}");
        let err = open(&Input::Path(dir.path().join("missing"))).err().unwrap();
        assert!(err.to_string().contains("missing: cannot open"), "{err}");
    }

    #[test]
    fn globs_expand_sorted_and_must_match() {
        let dir = tempfile::tempdir().unwrap();
        for n in ["b.log", "a.log", "c.txt"] {
            File::create(dir.path().join(n)).unwrap();
        }
        let pattern = format!("{}/*.log", dir.path().display());
        let got = expand(&[pattern]).unwrap();
        assert_eq!(got, vec![Input::Path(dir.path().join("a.log")), Input::Path(dir.path().join("b.log"))]);
        assert_eq!(expand(&[]).unwrap(), vec![Input::Stdin]);
        assert_eq!(expand(&["-".into()]).unwrap(), vec![Input::Stdin]);
        let none = format!("{}/*.gz", dir.path().display());
        assert!(matches!(expand(&[none]), Err(Error::NoMatch(_))));
    }
}
