//! Which events are errors: logged at error level or worse, or, for a state named by its message
//! template, worded as one (an exception, a failure, a timeout). The model treats an error state
//! that few training sessions hold as evidence, however often it occurred there: a clean period
//! with three delete failures in it does not make delete failures normal.
//!
//! A standard event is an error only by its level, and an authentication event never is: its
//! outcome may say failure, but failed logins are the everyday of many hosts and are judged by
//! their counts and sources (the entity baselines), not as errors, whatever level a product logs
//! them at (Apache's mod_cgi writes a login script's every message at error level). The words are the generic vocabulary of failure across products
//! (failures, exceptions, timeouts, refusals, and the integrity phrasings "not found", "no such",
//! "does not exist", "not valid", "not allowed", "does not belong"), not any one product's.

use std::sync::{Arc, LazyLock};

use regex::Regex;

use super::Event;
use crate::record::{Record, Severity};

/// Words that make a message template an error report.
static ERROR_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:exceptions?|errors?|fatal|panic(?:ked)?|fail(?:ed|ure|ures|s|ing)?|abort(?:ed|ing)?|crash(?:ed|es)?|segfault|segmentation fault|core dumped|corrupt(?:ed|ion)?|timed out|timeout|interrupted|out of memory|no space left|unreachable|refused|denied|unable to|cannot|can't|could not|couldn't|invalid|illegal|unexpected|violation|oops|bug|not found|no such|does not exist|not valid|not allowed|not permitted|does not belong)\b",
    )
    .expect("static regex")
});

/// Whether a message template (or any message text) reads as an error report.
pub fn is_error_text(text: &str) -> bool {
    ERROR_WORDS.is_match(text)
}

/// Whether a level is an error level (error, critical, alert, emergency; FATAL and SEVERE).
pub fn is_error_level(level: Option<Severity>) -> bool {
    matches!(level, Some(Severity::Error | Severity::Critical | Severity::Alert | Severity::Emergency))
}

/// Whether a named event is an error: its record's level, or, when its state is its message
/// template, the template's words.
pub fn is_error(rec: &Record, event: &Event) -> bool {
    is_error_by(rec, event, |t| is_error_text(t))
}

/// [`is_error`], with `text_is_error` telling whether a template's text reads as an error (as
/// [`is_error_text`] does; a caller may remember its answers).
pub fn is_error_by(rec: &Record, event: &Event, text_is_error: impl FnOnce(&Arc<str>) -> bool) -> bool {
    if event.action.is_some_and(|a| a.category.contains(&"authentication")) {
        return false;
    }
    if is_error_level(rec.severity) {
        return true;
    }
    event.action.is_none() && event.template.as_ref().is_some_and(|(_, t)| text_is_error(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_wording_across_products() {
        for t in [
            "Unexpected error trying to delete block <*> BlockInfo not found in volumeMap.",
            "writeBlock <*> received exception <*>",
            "PendingReplicationMonitor timed out block <*>",
            "Instance failed to spawn",
            "connect() failed (111: Connection refused) while connecting to upstream",
            "kernel: Out of memory: Killed process <*>",
            "ciod: cannot open file <*>",
            "addStoredBlock request received for <*> on <*> size <*> But it does not belong to any file.",
            "open(<*>) failed: No such file or directory",
        ] {
            assert!(is_error_text(t), "{t}");
        }
        for t in [
            "Receiving block <*> src: <*> dest: <*>",
            "PacketResponder <*> for block <*> terminating",
            "Accepted publickey for <*> from <*> port <*> ssh2",
            "session opened for user <*> by (uid=0)",
            "instruction cache parity error corrected",
        ] {
            assert_eq!(is_error_text(t), t.contains("error"), "{t}");
        }
        assert!(is_error_level(Some(Severity::Critical)) && !is_error_level(Some(Severity::Warning)) && !is_error_level(None));
    }

    #[test]
    fn a_failed_login_is_no_error_whatever_its_level() {
        let mut rec = Record::new(crate::record::RecordKind::ApacheError, "AH01215: login failed for user ann from 192.0.2.1");
        rec.severity = Some(Severity::Error);
        let event = |name: &str| Event { action: super::super::vocabulary::action(name), ..Event::default() };
        assert!(!is_error(&rec, &event("authentication.login.failure")));
        assert!(is_error(&rec, &event("storage.block.error")), "other standard events are errors by their level");
        assert!(is_error(&rec, &Event::default()));
    }
}
