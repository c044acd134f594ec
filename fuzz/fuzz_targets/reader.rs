//! The line reader over raw bytes, plain and through the gzip decoder: every byte ends up in a
//! line or the reader reports an error; it never loops or panics.
#![no_main]

use std::io::{BufReader, Cursor};

use libfuzzer_sys::fuzz_target;
use logsieve::read::LineReader;

fuzz_target!(|data: &[u8]| {
    let mut plain = LineReader::new(BufReader::new(Cursor::new(data)));
    let mut bytes = 0usize;
    let mut lines = 0u64;
    while let Ok(Some(line)) = plain.next_line() {
        bytes += line.bytes;
        lines += 1;
    }
    assert!(bytes <= data.len());
    assert!(lines <= data.len() as u64 + 1);
    let gz = flate2::bufread::MultiGzDecoder::new(BufReader::new(Cursor::new(data)));
    let mut unzipped = LineReader::new(BufReader::new(gz));
    let mut n = 0;
    while let Ok(Some(_)) = unzipped.next_line() {
        n += 1;
        if n > 1_000_000 {
            break;
        }
    }
});
