//! The miner's tests: grouping, parameters, names, partitions and eviction.

use super::tokens::is_slug;
use super::*;

#[test]
fn groups_and_generalises() {
    let mut m = Miner::default();
    let a = m.add("Failed password for root from 5.36.59.76 port 42393 ssh2").id;
    let b = m.add("Failed password for admin from 1.2.3.4 port 22 ssh2");
    assert_eq!(b.id, a);
    assert_eq!(b.template, "Failed password for <*> from <*> port <*> ssh2");
    assert_eq!(mask("10.250.19.102:50010"), None);
    assert_eq!(mask("user").as_deref(), Some("user"));
    let c = m.add("Connection closed by 1.2.3.4 [preauth]").id;
    assert_ne!(c, a);
    assert_eq!(m.templates().len(), 2);
}

#[test]
fn parameters_are_segments_of_tokens_and_may_span_several() {
    let mut m = Miner::default();
    // `key=value`: the key stays, the value is the parameter.
    let a = m.add("session opened for user root by (uid=0)");
    assert_eq!(a.template, "session opened for user root by (uid=<*>)");
    let a = a.id;
    assert_ne!(m.add("session opened for user root by LOGIN(uid=0)").id, a);
    // A number's unit and an aside of numbers and units are one parameter with it; an
    // address with its port is one.
    let b = m.add("proxy.example.org:5070 close, 1190 bytes (1.16 KB) sent, 0 bytes received, lifetime 00:02").id;
    let c = m.add("proxy.example.org:5070 close, 303 bytes sent, 2818 bytes (2.75 KB) received, lifetime <1 sec");
    assert_eq!(c.id, b);
    assert_eq!(c.template, "<*> close, <*> sent, <*> received, lifetime <*>");
    // A date written in the message is one too.
    let d = m.add("connection from 10.0.0.1 () at Sun Jul 10 03:55:21 2005").id;
    assert_eq!(m.add("connection from 10.0.0.9 () at Fri Jun 17 19:05:02 2005").id, d);
    // A name that ends in a digit is a word.
    assert_eq!(mask("SOCKS5").as_deref(), Some("SOCKS5"));
    assert_eq!(mask("ssh2").as_deref(), Some("ssh2"));
    assert_eq!(mask("J12"), None);
}

#[test]
fn a_constant_word_is_a_parameter_only_once_it_met_many_values() {
    let mut m = Miner::default();
    // Two values of a word where no parameter stands are two events.
    let paused = m.add("[instance: 1a2b] VM Paused (Lifecycle Event)").id;
    let resumed = m.add("[instance: 1a2b] VM Resumed (Lifecycle Event)").id;
    assert_ne!(paused, resumed);
    assert_eq!(m.add("[instance: 9f] VM Paused (Lifecycle Event)").id, paused);
    let https = m.add("host.example:5070 open through proxy proxy.example:5070 HTTPS").id;
    assert_ne!(m.add("host.example:5070 open through proxy proxy.example:5070 SOCKS5").id, https);
    // Where parameters stand (after `for`, the value of `key=value`) any value joins.
    let root = m.add("Failed password for root from 10.0.0.1 port 22 ssh2").id;
    assert_eq!(m.add("Failed password for uucp from 10.0.0.2 port 22 ssh2").id, root);
    assert_ne!(m.add("Failed none for uucp from 10.0.0.2 port 22 ssh2").id, root);
    let kv = m.add("authentication failure; logname= uid=0 tty=ssh rhost=10.0.0.1 user=root").id;
    assert_eq!(m.add("authentication failure; logname= uid=0 tty=ssh rhost=10.0.0.1 user=git").id, kv);
    // Other shapes are not values of the same key: `rhost=` (empty) is another event.
    assert_ne!(m.add("authentication failure; logname= uid=0 tty=ssh rhost= user=git").id, kv);
    // A word that met four other values is a parameter from the fifth on.
    let job = |w: &str| format!("job {w} finished with status ok");
    let first = m.add(&job("alpha")).id;
    let others: Vec<u32> = ["beta", "gamma", "delta"].iter().map(|w| m.add(&job(w)).id).collect();
    assert!(others.iter().all(|&id| id != first), "{others:?}");
    let fifth = m.add(&job("epsilon"));
    assert_eq!((fifth.id, fifth.template), (first, "job <*> finished with status ok"));
    assert_eq!(m.add(&job("alpha")).id, first);
}

#[test]
fn templates_have_readable_names_that_stay() {
    let mut m = Miner::default();
    let t = m.add("Unexpected error trying to delete block blk_-1. BlockInfo not found in volumeMap.");
    assert_eq!(t.name, "unexpected-error-trying-to-delete-block");
    // Values the message gives are not part of the name.
    assert_eq!(m.add("Failed password for alice from 10.0.0.1 port 22 ssh2").name, "failed-password-for-from-port-ssh");
    assert_eq!(m.add("session opened for user root by (uid=0)").name, "session-opened-for-user");
    assert_eq!(m.add("job started (spawning), status=ok").name, "job-started-status");
    assert_eq!(m.add("12 34").name, "message");
    assert_eq!(
        m.add("BLOCK* NameSystem.addStoredBlock: addStoredBlock request received for blk_1").name,
        "block-namesystem-addstoredblock-request-received"
    );
    assert_eq!(m.add("Served block blk_1 to /10.0.0.1").name, "served-block");
    // The same words in another template: the name is told apart.
    let other = m.add("Unexpected error trying to delete block blk_-1 twice");
    assert_eq!(other.name, "unexpected-error-trying-to-delete-block-2");
    let other = other.id;
    // The name stays as the template generalises, and finds its template.
    let first = m.add("job alpha finished with status ok").name.to_owned();
    for w in ["beta", "gamma", "delta", "epsilon"] {
        m.add(&format!("job {w} finished with status ok"));
    }
    let t = m.add("job zeta finished with status ok");
    assert_eq!((t.template, t.name), ("job <*> finished with status ok", first.as_str()));
    assert_eq!(first, "job-alpha-finished-with-status-ok");
    assert_eq!(m.named("unexpected-error-trying-to-delete-block-2").map(|t| t.id), Some(other));
    assert_eq!(m.named("no-such-name"), None);
    assert!(is_slug(&first) && !is_slug("4xx") && !is_slug("GET") && !is_slug("a--b"));
}

#[test]
fn many_templates_of_the_same_words_are_named_apart_at_once() {
    // 1,000 templates whose first six words are the same: names -2 … -1000, in order; a loaded
    // miner, which starts its search for a free name afresh, gives the next the same name.
    let mut m = Miner::default();
    let line = |i: usize| format!("the same six words in front {}", "x ".repeat(i % 60 + 1) + &"y ".repeat(i / 60 + 1));
    let names: Vec<String> = (0..1000).map(|i| m.add(&line(i)).name.to_owned()).collect();
    assert_eq!(names[0], "the-same-six-words-in-front");
    assert_eq!(names[999], "the-same-six-words-in-front-1000");
    assert_eq!(names.iter().collect::<std::collections::BTreeSet<_>>().len(), 1000);
    let mut loaded: Miner = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
    let mut warm = m.clone();
    let next = "the same six words in front z";
    assert_eq!(loaded.add(next).name, warm.add(next).name);
}

#[test]
fn variable_first_token_and_masks_match_again() {
    let mut m = Miner::default();
    let a = m.add("1234 requests served").id;
    assert_eq!(m.add("98 requests served").id, a, "a numeric first token does not split the tree");
    let b = m.add("blk_-1608999687919862906 replicated to 10.250.19.102:50010").id;
    assert_eq!(m.add("blk_7503483334202473044 replicated to 10.250.10.6:50010").id, b);
    assert_eq!(m.peek("blk_1 replicated to 10.0.0.1:1").map(|t| t.id), Some(b));
}

#[test]
fn partitions_of_one_mining_rebuild_its_templates_and_apart_ones_are_refused() {
    let lines: Vec<String> = (0..60)
        .map(|i| match i % 4 {
            0 => format!("Failed password for user{} from 10.0.0.{i} port {}", i % 3, 1000 + i),
            1 => format!("session opened for user{} by (uid={i})", i % 5),
            2 => format!("Connection closed by 10.1.{i}.2 [preauth]"),
            _ => format!("Received disconnect from 10.2.0.{i}: 11: Bye Bye"),
        })
        .collect();
    let mut whole = Miner::default();
    let events: Vec<(u32, String, String, &String)> = lines
        .iter()
        .map(|l| {
            let t = whole.add(l);
            (t.id, t.template.to_owned(), t.name.to_owned(), l)
        })
        .collect();
    // Three partitions, each replayed backwards, merged in two orders.
    let parts: Vec<Miner> = (0..3)
        .map(|p| {
            let mut m = Miner::default();
            for (id, template, name, line) in events.iter().rev().skip(p).step_by(3) {
                m.restore(*id, template, line, Some(name)).unwrap();
            }
            m
        })
        .collect();
    let a = Miner::merge([&parts[0], &parts[1], &parts[2]]).unwrap();
    let b = Miner::merge([&parts[2], &parts[0], &parts[1]]).unwrap();
    assert_eq!(a.templates(), whole.templates());
    assert_eq!(b.templates(), whole.templates());
    let names = |m: &Miner| m.clusters.values().map(|c| (c.id, c.name.clone())).collect::<BTreeMap<_, _>>();
    assert_eq!((names(&a), &a.names), (names(&whole), &whole.names));
    assert_eq!(names(&b), names(&whole));
    assert_eq!(
        a.peek("Failed password for root from 1.2.3.4 port 22").map(|t| t.id),
        whole.peek("Failed password for root from 1.2.3.4 port 22").map(|t| t.id)
    );
    // A second mining of other messages gives id 0 to another template.
    let mut other = Miner::default();
    other.add("kernel panic now");
    let e = Miner::merge([&whole, &other]).unwrap_err();
    assert!(e.contains("template 0"), "{e}");
    let mut m = whole.clone();
    assert!(m.restore(0, "kernel panic now", "kernel panic now", None).is_err());
    // A loaded miner whose tree names a missing template is refused, not used.
    assert_eq!(whole.problem(), None);
    let mut broken = whole.clone();
    broken.leaves.entry((3, "kernel".into())).or_default().push(99);
    assert!(broken.problem().is_some_and(|p| p.contains("template 99")));
    broken.clusters.remove(&99);
    broken.leaves.remove(&(3, "kernel".into()));
    broken.clusters.remove(&0);
    assert!(broken.problem().is_some());
}

#[test]
fn ids_are_deterministic_and_eviction_is_counted() {
    let lines: Vec<String> = (0..50).map(|i| format!("event{} kind{} happened", i % 7, i % 3)).collect();
    let run = |cfg| {
        let mut m = Miner::new(cfg);
        lines.iter().map(|l| m.add(l).id).collect::<Vec<_>>()
    };
    assert_eq!(run(MinerConfig::default()), run(MinerConfig::default()));
    let mut m = Miner::new(MinerConfig { max_clusters: 3, ..Default::default() });
    for w in ["alpha", "beta", "gamma", "delta", "epsilon"] {
        m.add(&format!("{w} only {w}"));
    }
    assert!(m.len() <= 3 && m.evicted() >= 2, "{} held, {} evicted", m.len(), m.evicted());
}
