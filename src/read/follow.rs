//! Following a growing log: a thread that reads a file to its end, then polls for more, through
//! rotation and truncation (or reads stdin to its end), and hands each line over a channel.
//! `watch` parses and scores what arrives.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::Duration;

use same_file::Handle;

use crate::error::Error;

/// A line longer than this is handed on in pieces (each counted as a line).
const MAX_LINE: usize = 1 << 20;

/// What the reader thread sends.
pub enum Msg {
    /// One line, without its line ending.
    Line(String),
    /// A followed file was truncated or replaced (rotation): reading starts again at its top.
    Reopened(&'static str),
    /// `--from-end`: this many lines were already in the file, so line numbers continue from it.
    Skipped(u64),
    /// The end of stdin.
    Eof,
    /// Reading failed.
    Failed(Error),
}

/// Follows `path`: reads to the end, then polls for more; starts over when the file is truncated
/// or replaced by a new one (rotation), after reading what the old one still held.
pub fn follow(path: PathBuf, from_end: bool, poll: Duration, tx: SyncSender<Msg>, stop: Arc<AtomicBool>) {
    let name = path.display().to_string();
    let open = || -> std::result::Result<(BufReader<File>, Handle), Error> {
        let meta = std::fs::metadata(&path).map_err(|source| Error::Open { path: name.clone(), source })?;
        if meta.is_dir() {
            return Err(Error::IsDirectory { path: name.clone() });
        }
        let f = File::open(&path).map_err(|source| Error::Open { path: name.clone(), source })?;
        let id = f.try_clone().and_then(Handle::from_file).map_err(|source| Error::Open { path: name.clone(), source })?;
        Ok((BufReader::with_capacity(256 * 1024, f), id))
    };
    let (mut reader, mut id) = match open() {
        Ok(r) => r,
        Err(e) => {
            let _ = tx.send(Msg::Failed(e));
            return;
        }
    };
    if from_end {
        // Count the lines already there, so the new ones keep their line numbers in the file.
        let mut lines = 0u64;
        loop {
            let chunk = match reader.fill_buf() {
                Ok([]) => break,
                Ok(c) => c,
                Err(source) => {
                    let _ = tx.send(Msg::Failed(Error::Read { path: name.clone(), line: lines + 1, source }));
                    return;
                }
            };
            lines += memchr::memchr_iter(b'\n', chunk).count() as u64;
            let n = chunk.len();
            reader.consume(n);
        }
        if tx.send(Msg::Skipped(lines)).is_err() {
            return;
        }
    }
    let mut pos = reader.stream_position().unwrap_or(0);
    let mut buf: Vec<u8> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let before = buf.len();
        let got = match (&mut reader).take((MAX_LINE - before.min(MAX_LINE)) as u64 + 1).read_until(b'\n', &mut buf) {
            Ok(n) => n,
            Err(source) => {
                let _ = tx.send(Msg::Failed(Error::Read { path: name.clone(), line: 0, source }));
                return;
            }
        };
        pos += got as u64;
        if buf.ends_with(b"\n") || buf.len() > MAX_LINE {
            if buf.ends_with(b"\n") {
                buf.pop();
                if buf.ends_with(b"\r") {
                    buf.pop();
                }
            }
            let line = String::from_utf8_lossy(&buf).into_owned();
            buf.clear();
            if tx.send(Msg::Line(line)).is_err() {
                return;
            }
            continue;
        }
        if got > 0 {
            // Part of a line that is still being written: wait for its end.
            continue;
        }
        std::thread::sleep(poll);
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        // Another file under the name (rotation); while the name is missing, nothing changed.
        let replaced = Handle::from_path(&path).is_ok_and(|now| now != id);
        if replaced || meta.len() < pos {
            // Rotated (a new file under the name) or truncated: the old file has been read to its
            // end above; start at the top of the current one.
            if let Ok((r, i)) = open() {
                reader = r;
                id = i;
                pos = 0;
                buf.clear();
                if tx.send(Msg::Reopened(if replaced { "replaced (rotated)" } else { "truncated" })).is_err() {
                    return;
                }
            }
        }
    }
}

/// Reads stdin to its end.
pub fn read_stdin(tx: SyncSender<Msg>) {
    let src = match crate::read::open(&crate::read::Input::Stdin) {
        Ok(s) => s,
        Err(e) => {
            let _ = tx.send(Msg::Failed(e));
            return;
        }
    };
    let mut lines = src.lines;
    loop {
        match lines.next_line() {
            Ok(Some(l)) => {
                if tx.send(Msg::Line(l.text.into_owned())).is_err() {
                    return;
                }
            }
            Ok(None) => break,
            Err(source) => {
                let _ = tx.send(Msg::Failed(Error::Read { path: "-".into(), line: lines.line_number() + 1, source }));
                return;
            }
        }
    }
    let _ = tx.send(Msg::Eof);
}
