//! Hostile and broken input through the whole pipeline (normalize, train, score, the report):
//! every case is read with each line accounted for, or refused with a message naming the file;
//! nothing panics, and log content stays inert on the terminal, in JSON and in the report.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::common::{logsieve, s};
use serde_json::Value;

/// The nasty inputs, written into `dir`: (file, readable).
fn corpus(dir: &Path) -> Vec<(PathBuf, bool)> {
    let mut cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("nul.log", b"Jan  1 00:00:00 host app[1]: a\0b\nJan  1 00:00:01 host app[1]: \0\0\0\n\0\n".to_vec(), true),
        ("invalid_utf8.log", b"Jan  1 00:00:00 host sshd[2]: Failed password for \xff\xfe from 10.0.0.1 port 1 ssh2\n\xc3\x28\n".to_vec(), true),
        ("whitespace.log", b"   \n\t\t\n \r\n\n".to_vec(), true),
        (
            "ansi.log",
            b"Jan  1 00:00:00 host sshd[3]: Failed password for \x1b[31mroot\x1b[0m\x1b]0;pwned\x07 from 10.0.0.2 port 2 ssh2\n".to_vec(),
            true,
        ),
        ("mixed_eol.log", b"Jan  1 00:00:00 host app[4]: crlf\r\nJan  1 00:00:01 host app[4]: lf\nJan  1 00:00:02 host app[4]: cr only\rstill\r\n".to_vec(), true),
        ("empty.log", Vec::new(), true),
        ("no_final_newline.log", b"Jan  1 00:00:00 host app[5]: last line".to_vec(), true),
        (
            "injection.log",
            b"Jan  1 00:00:00 host sshd[6]: Failed password for </table><script>alert(1)</script>\",\"anomalous\":false} from 10.0.0.3 port 3 ssh2\n".to_vec(),
            true,
        ),
        (
            "year_boundary.log",
            b"Dec 31 23:59:58 host sshd[7]: Failed password for bob from 10.0.0.4 port 4 ssh2\nJan  1 00:00:02 host sshd[7]: Failed password for bob from 10.0.0.4 port 4 ssh2\nDec 31 23:59:59 host sshd[8]: Failed password for eve from 10.0.0.5 port 5 ssh2\n".to_vec(),
            true,
        ),
    ];
    let mut huge = b"Jan  1 00:00:00 host app[9]: ".to_vec();
    huge.extend(std::iter::repeat_n(b'x', 10 << 20));
    huge.extend_from_slice(b"\nJan  1 00:00:01 host app[9]: after the long line\n");
    cases.push(("huge_line.log", huge, true));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for i in 0..2000 {
        writeln!(gz, "Jan  1 00:{:02}:{:02} host app[10]: line {i}", i / 60 % 60, i % 60).unwrap();
    }
    let bytes = gz.finish().unwrap();
    cases.push(("truncated.log.gz", bytes[..bytes.len() / 2].to_vec(), false));
    let mut out: Vec<(PathBuf, bool)> = cases
        .into_iter()
        .map(|(name, bytes, ok)| {
            let p = dir.join(name);
            std::fs::write(&p, bytes).unwrap();
            (p, ok)
        })
        .collect();
    let sub = dir.join("a_directory");
    std::fs::create_dir(&sub).unwrap();
    out.push((sub, false));
    // A file that is gone by the time its turn comes: a symlink to nothing.
    let gone = dir.join("vanished.log");
    std::os::unix::fs::symlink(dir.join("deleted-after-listing.log"), &gone).unwrap();
    out.push((gone, false));
    out
}

fn stats(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn nasty_inputs_are_read_whole_or_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let cases = corpus(dir.path());
    for (path, readable) in &cases {
        let st = dir.path().join("stats.json");
        let (code, out, err) = logsieve(&["normalize", s(path), "--year", "2024", "--stats", s(&st)]);
        assert!(!err.contains("panicked"), "{}: {err}", path.display());
        assert!(!err.contains('\x1b') && !err.contains('\x07'), "{}: raw control characters on the terminal: {err:?}", path.display());
        let name = path.file_name().unwrap().to_str().unwrap();
        if *readable {
            assert_eq!(code, 0, "{name}: {err}");
        } else {
            assert_eq!(code, 2, "{name}");
            assert!(err.contains(&format!("{}:", path.display())), "{name}: the error does not name the file: {err}");
        }
        // Every line read is parsed or counted as skipped, and each parsed one is an event.
        let t = &stats(&st)["total"];
        let skipped: u64 = t["skipped"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
        assert_eq!(t["read"].as_u64().unwrap(), t["parsed"].as_u64().unwrap() + skipped, "{name}: {t}");
        let events: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: {e}: {l:.200}"))).collect();
        assert_eq!(events.len() as u64, t["parsed"].as_u64().unwrap(), "{name}");
        match name {
            "huge_line.log" => {
                assert_eq!(events.len(), 2, "the 10 MB line and the next one");
                assert!(events[0]["message"].as_str().unwrap().len() >= 10 << 20);
            }
            "whitespace.log" | "empty.log" => assert!(events.is_empty(), "{name}: {events:?}"),
            "no_final_newline.log" => assert_eq!(events[0]["message"], "last line"),
            "nul.log" => assert_eq!(events[0]["message"], "a\0b", "NUL kept as data"),
            "invalid_utf8.log" => assert_eq!(t["invalid_utf8"], 2),
            "year_boundary.log" => {
                let ts: Vec<&str> = events.iter().map(|e| e["@timestamp"].as_str().unwrap()).collect();
                assert_eq!(
                    ts,
                    ["2024-12-31T23:59:58", "2025-01-01T00:00:02", "2024-12-31T23:59:59"],
                    "the year turns with the log, and back"
                );
            }
            "truncated.log.gz" => assert!(!events.is_empty() && events.len() < 2000, "lines before the cut are kept"),
            _ => {}
        }
    }
}

/// All of it at once through train and score: the unreadable inputs are named, and a run with
/// one writes nothing (a baseline or verdicts from part of the input pass for all of it); on the
/// readable ones the verdicts' JSON stays parseable with the injected quotes, and the report and
/// the terminal never receive the log's markup or escape sequences as such.
#[test]
fn nasty_inputs_through_train_score_and_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let cases = corpus(dir.path());
    let all: Vec<&str> = cases.iter().map(|(p, _)| s(p)).collect();
    let readable: Vec<&str> = cases.iter().filter(|(_, ok)| *ok).map(|(p, _)| s(p)).collect();
    let model = dir.path().join("m");
    let out = dir.path().join("out");
    let mut args = vec!["train", "--year", "2024", "--model", s(&model)];
    args.extend(&all);
    let (code, _, err) = logsieve(&args);
    assert_eq!(code, 2, "{err}");
    assert!(!err.contains("panicked") && !err.contains('\x1b'), "{err:?}");
    assert!(err.contains("no model written: an input could not be read") && !model.exists(), "{err}");
    let mut args = vec!["train", "--year", "2024", "--model", s(&model)];
    args.extend(&readable);
    let (code, _, err) = logsieve(&args);
    assert_eq!(code, 0, "{err}");
    let mut args = vec!["score", "--year", "2024", "--model", s(&model), "--out", s(&out)];
    args.extend(&all);
    let (code, _, err) = logsieve(&args);
    assert_eq!(code, 2, "{err}");
    assert!(!err.contains("panicked") && !err.contains('\x1b'), "{err:?}");
    let named = cases.iter().filter(|(p, ok)| !ok && err.contains(&format!("{}: ", p.display()))).count();
    assert_eq!(named, cases.iter().filter(|(_, ok)| !ok).count(), "every unreadable input is named: {err}");
    assert!(err.contains("nothing written") && std::fs::read_dir(&out).unwrap().count() == 0, "{err}");
    let mut args = vec!["score", "--year", "2024", "--model", s(&model), "--out", s(&out)];
    args.extend(&readable);
    let (code, _, err) = logsieve(&args);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains('\x1b'), "{err:?}");
    let text = std::fs::read_to_string(out.join("scores.jsonl")).unwrap();
    let rows: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("each verdict is one JSON object")).collect();
    assert!(!rows.is_empty());
    assert!(!text.contains('\x1b'), "an escape character reached scores.jsonl unescaped");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(html.matches("<script>").count(), 1, "only the report's own script");
    assert_eq!(html.matches("<table").count(), html.matches("</table>").count());
    assert!(!html.contains('\x1b') && !html.contains('\x07') && !html.contains('\0'));
}

/// A crafted file name does not reach the terminal raw either.
#[test]
fn file_names_with_escape_sequences_are_shown_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let evil = dir.path().join("evil\x1b[2J\x1b]0;owned\x07.log");
    std::fs::write(&evil, "Jan  1 00:00:00 host app[1]: hello\n").unwrap();
    let missing = dir.path().join("gone\x1b\x07.log");
    let (code, _, err) = logsieve(&["normalize", s(&evil), s(&missing)]);
    assert_eq!(code, 2);
    assert!(!err.contains('\x1b') && !err.contains('\x07'), "{err:?}");
    assert!(err.contains("evil\\x1b[2J\\x1b]0;owned\\x07.log: 1 lines read"), "{err}");
    assert!(err.contains("gone\\x1b\\x07.log: cannot open"), "{err}");
}

/// The real example model, damaged every way: cut at every byte offset, each byte with a bit
/// flipped, and from a future format version. Each is refused with a message naming the problem
/// (and the CLI names the file), never loaded, never a panic.
#[test]
fn a_real_model_damaged_at_every_byte_is_refused() {
    use logsieve::model::file::{decode, ModelError};
    let bytes = std::fs::read(crate::common::root().join("models/hdfs-demo.model")).unwrap();
    assert!(decode(&bytes, "m").is_ok());
    for cut in 0..bytes.len() {
        let e = decode(&bytes[..cut], "m").unwrap_err();
        assert!(matches!(e, ModelError::Truncated { .. } | ModelError::NotAModel { .. }), "cut at {cut}: {e}");
    }
    for i in 0..bytes.len() {
        for bit in [0x01u8, 0x80] {
            let mut b = bytes.clone();
            b[i] ^= bit;
            assert!(decode(&b, "m").is_err(), "bit {bit:#x} flipped at byte {i} was accepted");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let future = dir.path().join("future.model");
    let mut b = bytes.clone();
    b[16..20].copy_from_slice(&99u32.to_le_bytes());
    std::fs::write(&future, &b).unwrap();
    let cut = dir.path().join("cut.model");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let flipped = dir.path().join("flipped.model");
    let mut b = bytes.clone();
    let mid = b.len() / 2;
    b[mid] ^= 4;
    std::fs::write(&flipped, &b).unwrap();
    let input = crate::common::data("hdfs/demo/new.log");
    for (model, says) in [
        (&future, "model format version 99, but this logsieve reads version"),
        (&cut, "model is truncated"),
        (&flipped, "model is corrupt"),
    ] {
        let out = dir.path().join("o");
        let (code, _, err) = logsieve(&["score", s(&input), "--model", s(model), "--out", s(&out)]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(&format!("{}: {says}", model.display())), "{err}");
        assert!(!err.contains("panicked"));
    }
}
