//! The standard nomenclature: event names (`event.action`) with the ECS categorisation each
//! implies, and the standard field names rules extract, with the ECS field each is written to.
//!
//! Names are fixed once published: extend the tables, never rename.

/// An ECS `event.outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The event succeeded.
    Success,
    /// The event failed.
    Failure,
    /// Neither is known.
    Unknown,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Outcome; 3] = [Outcome::Success, Outcome::Failure, Outcome::Unknown];

    /// The ECS value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Unknown => "unknown",
        }
    }
}

/// A standard event name and its ECS categorisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    /// The dotted name written to `event.action`.
    pub name: &'static str,
    /// ECS `event.category` values.
    pub category: &'static [&'static str],
    /// ECS `event.type` values.
    pub kind: &'static [&'static str],
    /// ECS `event.outcome`.
    pub outcome: Outcome,
}

const fn a(name: &'static str, category: &'static [&'static str], kind: &'static [&'static str], outcome: &'static str) -> Action {
    let outcome = match outcome.as_bytes() {
        b"success" => Outcome::Success,
        b"failure" => Outcome::Failure,
        _ => Outcome::Unknown,
    };
    Action { name, category, kind, outcome }
}

/// Every standard event name. The first block is DESIGN.md's core vocabulary; the rest extends it
/// for entities of systems logs (HDFS blocks, cloud instances).
pub const ACTIONS: &[Action] = &[
    a("authentication.login.success", &["authentication"], &["start"], "success"),
    a("authentication.login.failure", &["authentication"], &["start"], "failure"),
    a("authentication.user.invalid", &["authentication"], &["start"], "failure"),
    a("session.start", &["session"], &["start"], "success"),
    a("session.end", &["session"], &["end"], "success"),
    a("network.connection.start", &["network"], &["connection", "start"], "unknown"),
    a("network.connection.end", &["network"], &["connection", "end"], "unknown"),
    a("iam.privilege.escalate", &["iam"], &["change", "admin"], "success"),
    a("iam.privilege.escalate.failure", &["iam"], &["change", "admin"], "failure"),
    a("iam.privilege.assign", &["iam"], &["admin"], "success"),
    a("email.receive", &["email"], &["info"], "success"),
    a("email.deliver", &["email"], &["info"], "success"),
    a("email.forward", &["email"], &["info"], "success"),
    a("email.reject", &["email"], &["denied"], "failure"),
    a("email.defer", &["email"], &["info"], "unknown"),
    a("email.bounce", &["email"], &["info"], "failure"),
    // HDFS blocks: the life of a stored block.
    a("storage.block.allocate", &["file"], &["creation"], "success"),
    a("storage.block.receive", &["file"], &["change"], "unknown"),
    a("storage.block.store", &["file"], &["change"], "success"),
    a("storage.block.replicate", &["file"], &["change"], "unknown"),
    a("storage.block.serve", &["file"], &["access"], "success"),
    a("storage.block.delete", &["file"], &["deletion"], "success"),
    a("storage.block.error", &["file"], &["error"], "failure"),
    // Cloud instances (OpenStack nova): the life of a virtual machine.
    a("host.instance.create", &["host"], &["creation"], "unknown"),
    a("host.instance.start", &["host"], &["start"], "success"),
    a("host.instance.stop", &["host"], &["end"], "success"),
    a("host.instance.delete", &["host"], &["deletion"], "success"),
    a("host.instance.error", &["host"], &["error"], "failure"),
];

/// The categorisation of a standard name.
pub fn action(name: &str) -> Option<&'static Action> {
    ACTIONS.iter().find(|a| a.name == name)
}

/// The outcome an `event.outcome` value names, if it is one.
pub fn outcome(name: &str) -> Option<Outcome> {
    Outcome::ALL.into_iter().find(|o| o.as_str() == name)
}

/// A standard field a rule may extract (a named capture group) and the ECS field it is written to.
pub const FIELDS: &[(&str, &str)] = &[
    ("user", "user.name"),
    ("target_user", "user.target.name"),
    ("source_ip", "source.ip"),
    ("source_port", "source.port"),
    ("source_domain", "source.domain"),
    ("recipient", "email.to.address"),
    ("sender", "email.from.address"),
    ("original_recipient", "logsieve.original_recipient"),
    ("queue_id", "email.local_id"),
    ("message_id", "email.message_id"),
    ("command", "process.command_line"),
    ("logon_type", "winlog.logon.type"),
    ("method", "logsieve.auth_method"),
    ("block", "logsieve.block"),
    ("instance", "logsieve.instance"),
];

/// The ECS field of a standard field name; other capture names go to `logsieve.fields`.
pub fn ecs_field(short: &str) -> Option<&'static str> {
    FIELDS.iter().find(|(s, _)| *s == short).map(|(_, e)| *e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_ecs_values_valid() {
        let categories = ["authentication", "session", "network", "iam", "email", "file", "host", "process", "web"];
        let types = ["start", "end", "connection", "change", "admin", "info", "denied", "creation", "access", "deletion", "error"];
        for (i, act) in ACTIONS.iter().enumerate() {
            assert!(ACTIONS[..i].iter().all(|b| b.name != act.name), "{} twice", act.name);
            assert!(act.category.iter().all(|c| categories.contains(c)), "{}", act.name);
            assert!(act.kind.iter().all(|t| types.contains(t)), "{}", act.name);
        }
        assert_eq!(action("email.forward").map(|a| a.outcome), Some(Outcome::Success));
        assert_eq!(action("email.defer").map(|a| a.outcome), Some(Outcome::Unknown));
        assert_eq!(action("email.bounce").map(|a| a.outcome), Some(Outcome::Failure));
        assert_eq!(outcome("failure"), Some(Outcome::Failure));
        assert_eq!(outcome("Failure"), None);
        assert_eq!(ecs_field("original_recipient"), Some("logsieve.original_recipient"));
        assert_eq!(ecs_field("router"), None);
    }
}
