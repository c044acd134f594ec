#!/usr/bin/env python3
"""The lab's timeline: simulated users, scripted attacks, labels, and logsieve in the loop.

Run by run.sh once the daemons are up (standard library only):

    python3 lab.py --out DIR --logsieve BIN [--quick] [--seed N]

1. A clean period: a dozen users log in over ssh (keys and passwords, the odd mistyped password),
   an admin uses sudo, users browse the site and log in to it, send mail and read it over IMAP.
   Each user keeps to its own loopback address (127.0.1.x).
2. logsieve trains on the clean period's logs, and `logsieve watch` follows each live log.
3. An attack period: the users go on, and named episodes run from their own addresses
   (127.0.66.x) with real tools: hydra against ssh ending in a success on the planted weak
   password, password spraying, hydra against IMAP, a content scanner (dirb), a password fuzzer
   against the login form (wfuzz), an nmap service scan of every daemon, and the attacker's ssh
   session running sudo and su as a user who never does.
4. labels.jsonl (each attack line's file, line and episode), `logsieve score` on the attack
   period, and a summary: per episode whether it was flagged and how long `watch` took.

Every loop is bounded in count and time, and every connection goes to 127.0.0.0/8 only.
"""

import argparse
import http.client
import imaplib
import json
import os
import random
import re
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from email.message import EmailMessage

SERVER = "127.0.10.1"
SSH_PORT, WEB_PORT, SMTP_PORT, IMAP_PORT = 2222, 8080, 2525, 1143
LOGS = {"auth.log": "var/log/auth.log", "mail.log": "var/log/mail.log", "access.log": "var/log/apache2/access.log", "error.log": "var/log/apache2/error.log"}
SSH_OPTS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", "-p", str(SSH_PORT)]
PAGES = ["/", "/about.html", "/products.html", "/news.html", "/cgi-bin/login"]


def loopback(addr):
    """Every address the lab talks to or from is a loopback address."""
    if not addr.startswith("127."):
        raise SystemExit(f"lab: {addr} is not a loopback address")
    return addr


def read_users(path):
    users = []
    for line in open(path):
        name, password, how, addr = line.strip().split(":")
        users.append({"name": name, "password": password, "how": how, "addr": loopback(addr)})
    return users


class Lab:
    def __init__(self, args):
        self.args = args
        self.out = os.path.abspath(args.out)
        self.root = os.path.join(self.out, "root")
        self.keys = os.path.join(self.out, "keys")
        self.shim = os.path.join(self.out, "bin", "bindsrc.so")
        self.users = read_users(os.path.join(self.out, "users.txt"))
        self.stop = threading.Event()
        self.actions = 0
        self.lock = threading.Lock()
        self.journal = open(os.path.join(self.out, "actions.log"), "a")

    def note(self, who, what):
        with self.lock:
            self.actions += 1
            self.journal.write(f"{time.time():.3f} {who} {what}\n")
            self.journal.flush()

    # --- what a user (or an attacker) does -------------------------------------------------------

    def ssh(self, user, addr, command, password=None, key=None, timeout=60, stdin=None):
        cmd = ["ssh", *SSH_OPTS, "-b", loopback(addr)]
        env = dict(os.environ)
        if key:
            cmd += ["-o", "BatchMode=yes", "-o", "PasswordAuthentication=no", "-i", key]
        else:
            cmd = ["sshpass", "-e", *cmd, "-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1"]
            env["SSHPASS"] = password
        cmd += [f"{user}@{SERVER}", command]
        try:
            return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout, env=env).returncode
        except subprocess.TimeoutExpired:
            return -1

    def web(self, addr, path, form=None):
        c = http.client.HTTPConnection(SERVER, WEB_PORT, timeout=10, source_address=(loopback(addr), 0))
        try:
            headers = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}
            if form is None:
                c.request("GET", path, headers=headers)
            else:
                headers["Content-Type"] = "application/x-www-form-urlencoded"
                c.request("POST", path, body=urllib.parse.urlencode(form), headers=headers)
            return c.getresponse().status
        except OSError:
            return -1
        finally:
            c.close()

    def mail(self, addr, user, password, to):
        msg = EmailMessage()
        msg["From"] = f"{user}@lab.test"
        msg["To"] = f"{to}@lab.test"
        msg["Subject"] = "notes"
        msg.set_content("see you at the meeting\n")
        try:
            with smtplib.SMTP(SERVER, SMTP_PORT, timeout=20, source_address=(loopback(addr), 0)) as s:
                s.login(user, password)
                s.send_message(msg)
            return True
        except (OSError, smtplib.SMTPException):
            return False

    def imap(self, addr, user, password):
        class Bound(imaplib.IMAP4):
            def _create_socket(self, timeout):
                return socket.create_connection((self.host, self.port), timeout, source_address=(loopback(addr), 0))

        try:
            m = Bound(SERVER, IMAP_PORT, timeout=20)
            m.login(user, password)
            m.select("INBOX")
            m.search(None, "ALL")
            m.logout()
            return True
        except (OSError, imaplib.IMAP4.error):
            return False

    # --- normal users ---------------------------------------------------------------------------

    def normal_user(self, u, rng, until, max_actions):
        """One user's day: a bounded number of actions until `until`, a seeded pause between them."""
        others = [x["name"] for x in self.users if x["name"] not in ("ops", "deploy")]
        for _ in range(max_actions):
            if self.stop.is_set() or time.time() >= until:
                return
            kind = rng.choices(["ssh", "web", "login", "mail", "imap"], weights=[3, 4, 2, 2, 2])[0]
            if u["name"] == "ops":
                kind = rng.choice(["ssh", "sudo", "sudo"])
            if u["name"] == "deploy":
                kind = "ssh"
            if kind in ("ssh", "sudo"):
                key = os.path.join(self.keys, u["name"]) if u["how"] == "key" else None
                if key is None and rng.random() < 0.08:
                    # The odd mistyped password, then the right one.
                    self.ssh(u["name"], u["addr"], "true", password=u["password"] + "x")
                    self.note(u["name"], "ssh mistyped password")
                if kind == "sudo":
                    cmd = rng.choice(["sudo -S -p '' /usr/bin/id", "sudo -S -p '' /bin/ls /root", "sudo -S -p '' /usr/bin/tail -n 3 /var/log/syslog"])
                    self.ssh(u["name"], u["addr"], cmd, key=key, stdin=u["password"] + "\n")
                else:
                    self.ssh(u["name"], u["addr"], rng.choice(["ls", "uptime", "df -h /", "cat /etc/hostname", "ls Maildir"]), password=u["password"], key=key)
                self.note(u["name"], kind)
            elif kind == "web":
                for _ in range(rng.randint(1, 4)):
                    self.web(u["addr"], rng.choice(PAGES[:-1]))
                self.note(u["name"], "web")
            elif kind == "login":
                self.web(u["addr"], "/cgi-bin/login")
                wrong = rng.random() < 0.1
                self.web(u["addr"], "/cgi-bin/login", {"user": u["name"], "password": u["password"] + ("?" if wrong else "")})
                if wrong:
                    self.web(u["addr"], "/cgi-bin/login", {"user": u["name"], "password": u["password"]})
                self.note(u["name"], "web login")
            elif kind == "mail":
                self.mail(u["addr"], u["name"], u["password"], rng.choice(others))
                self.note(u["name"], "mail")
            else:
                self.imap(u["addr"], u["name"], u["password"])
                self.note(u["name"], "imap")
            # A pause of seconds: users do not hammer.
            self.stop.wait(rng.uniform(*self.args.pause))

    def start_users(self, until, seed):
        threads = []
        for i, u in enumerate(self.users):
            rng = random.Random(seed * 1000 + i)
            t = threading.Thread(target=self.normal_user, args=(u, rng, until, self.args.max_actions), daemon=True)
            t.start()
            threads.append(t)
        return threads

    # --- attacks ------------------------------------------------------------------------------------

    def tool(self, addr, cmd, timeout):
        env = dict(os.environ, LD_PRELOAD=self.shim, LAB_SRC=loopback(addr))
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=self.out)
            return done.returncode, done.stdout
        except subprocess.TimeoutExpired:
            return -1, ""

    def episodes(self, quick):
        """The attack episodes, in order: name, source address, what runs. Quick runs shorter
        word lists (the planted password stays last)."""
        base = os.path.join(self.out, "attack")
        words = os.path.join(base, "passwords.txt")
        if quick:
            lines = open(words).read().split()
            short = lines[:5] + lines[-2:]
            words = os.path.join(base, "passwords-quick.txt")
            open(words, "w").write("\n".join(short) + "\n")
        users = os.path.join(base, "users.txt")
        paths = os.path.join(base, "paths.txt")
        ssh_url = f"ssh://{SERVER}:{SSH_PORT}"
        return [
            ("ssh-brute-force", "127.0.66.2", lambda a: self.tool(a, ["hydra", "-l", "deploy", "-P", words, "-t", "4", "-f", "-I", ssh_url], 300)),
            ("attacker-session", "127.0.66.2", lambda a: self.attacker_session(a)),
            ("password-spraying", "127.0.66.3", lambda a: self.tool(a, ["hydra", "-L", users, "-p", "Winter2024!", "-t", "2", "-I", ssh_url], 300)),
            ("imap-brute-force", "127.0.66.4", lambda a: self.tool(a, ["hydra", "-l", "carol", "-P", words, "-t", "8", "-I", "-s", str(IMAP_PORT), SERVER, "imap"], 300)),
            ("web-content-scan", "127.0.66.5", lambda a: self.tool(a, ["dirb", f"http://{SERVER}:{WEB_PORT}/", paths, "-S", "-r", "-z", "20"], 300)),
            ("web-login-fuzz", "127.0.66.6", lambda a: self.tool(a, ["wfuzz", "-c", "-z", f"file,{words}", "-d", "user=alice&password=FUZZ", "--hc", "404", "-t", "2", f"http://{SERVER}:{WEB_PORT}/cgi-bin/login"], 300)),
            ("service-scan", "127.0.66.7", lambda a: self.tool(a, ["nmap", "-Pn", "-sT", "-sV", "--version-light", "-p", f"{SSH_PORT},{WEB_PORT},{SMTP_PORT},{IMAP_PORT}", SERVER], 300)),
        ]

    def attacker_session(self, addr):
        """The brute force's prize: the attacker logs in as deploy and tries to become root."""
        for cmd in ["id; uname -a", "sudo -S -p '' -l", "sudo -S -p '' /bin/cat /etc/shadow", "su -c id root"]:
            self.ssh("deploy", addr, cmd, password="password1", stdin="password1\n", timeout=30)
            time.sleep(1)
        return 0, ""


def line_counts(root):
    out = {}
    for name, rel in LOGS.items():
        with open(os.path.join(root, rel), "rb") as f:
            out[name] = sum(1 for _ in f)
    return out


def split_logs(lab, boundary):
    """The clean period's lines and the attack period's lines, each file apart."""
    for part in ("clean", "attack"):
        os.makedirs(os.path.join(lab.out, "logs", part), exist_ok=True)
    for name, rel in LOGS.items():
        with open(os.path.join(lab.root, rel), "rb") as f:
            lines = f.readlines()
        with open(os.path.join(lab.out, "logs", "clean", name), "wb") as f:
            f.writelines(lines[: boundary[name]])
        with open(os.path.join(lab.out, "logs", "attack", name), "wb") as f:
            f.writelines(lines[boundary[name]:])


SYSLOG_TIME = re.compile(r"^(\w{3}) +(\d+) (\d\d):(\d\d):(\d\d) ")
ACCESS_TIME = re.compile(r"\[(\d\d)/(\w{3})/(\d{4}):(\d\d):(\d\d):(\d\d) ")
ERROR_TIME = re.compile(r"^\[\w{3} (\w{3}) (\d\d) (\d\d):(\d\d):(\d\d)")


def label(lab, windows):
    """labels.jsonl: each attack-period line an episode accounts for. A line is an episode's when
    it names the episode's source address and falls in its time window (second resolution, a few
    seconds of slack); every sshd line of a connection one of whose lines names that address (same
    sshd pid, before or after) and the sudo and su lines of the break-in's user in the session's
    window are the episode's too."""
    out = []
    for name in LOGS:
        path = os.path.join(lab.out, "logs", "attack", name)
        lines = open(path, encoding="utf-8", errors="replace").read().splitlines()

        def by_address(line):
            t = line_time(line)
            for ep, addr, start, end in windows:
                if t is not None and not (start - 3 <= t <= end + 3):
                    continue
                if re.search(re.escape(addr) + r"(?![0-9])", line):
                    return ep
            return None

        # First pass: the sshd connections (one pid each) an episode's address names anywhere,
        # so their lines before the one that names the address are the episode's too.
        pid_episode = {}
        for line in lines:
            m = re.search(r" sshd\[(\d+)\]:", line)
            ep = by_address(line) if m else None
            if ep:
                pid_episode.setdefault(m.group(1), ep)
        for i, line in enumerate(lines, 1):
            t = line_time(line)
            episode = by_address(line)
            m = re.search(r" sshd\[(\d+)\]:", line)
            if m and episode is None:
                episode = pid_episode.get(m.group(1))
            if episode is None and t is not None:
                for ep, addr, start, end in windows:
                    if ep == "attacker-session" and start - 1 <= t <= end + 3 and re.search(r"\b(sudo|su)\b.*\bdeploy\b|\bdeploy\b.*\b(sudo|su)\b|\(to root\) deploy|ruser=deploy", line):
                        episode = ep
            if episode:
                out.append({"file": name, "line": i, "episode": episode})
    with open(os.path.join(lab.out, "labels.jsonl"), "w") as f:
        for r in out:
            f.write(json.dumps(r) + "\n")
    return out


MONTHS = {m: i for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)}


def line_time(line):
    """Seconds since the epoch (local time of this machine) of a log line's stamp, or None."""
    now = time.localtime()
    m = SYSLOG_TIME.match(line)
    if m:
        return time.mktime((now.tm_year, MONTHS.get(m.group(1), 1), int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5)), 0, 0, -1))
    m = ACCESS_TIME.search(line)
    if m:
        return time.mktime((int(m.group(3)), MONTHS.get(m.group(2), 1), int(m.group(1)), int(m.group(4)), int(m.group(5)), int(m.group(6)), 0, 0, -1))
    m = ERROR_TIME.match(line)
    if m:
        return time.mktime((now.tm_year, MONTHS.get(m.group(1), 1), int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5)), 0, 0, -1))
    return None


class Watch:
    """`logsieve watch` on one live log, its alerts timestamped as they arrive."""

    def __init__(self, lab, name):
        self.name = name
        self.alerts = []
        # Every alert as it arrived, for a look afterwards.
        self.journal = open(os.path.join(lab.out, f"watch-{name}.jsonl"), "w")
        path = os.path.join(lab.root, LOGS[name])
        self.proc = subprocess.Popen(
            [lab.args.logsieve, "watch", path, "--model", os.path.join(lab.out, "lab.model"), "--from-end", "-q"],
            stdout=subprocess.PIPE, stderr=open(os.path.join(lab.out, f"watch-{name}.err"), "w"), text=True)
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        for line in self.proc.stdout:
            try:
                self.alerts.append((time.time(), json.loads(line)))
            except ValueError:
                pass
            self.journal.write(json.dumps({"received": round(time.time(), 3), "alert": line.strip()}) + "\n")
            self.journal.flush()

    def finish(self):
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.thread.join(timeout=10)


def line_numbers(row, single):
    """The (file, line) pairs of a score row: `lines`, and `reason_lines` if it has them."""
    out = set()
    for key in ("lines", "reason_lines"):
        for v in row.get(key) or []:
            if isinstance(v, int):
                out.add((single, v))
            else:
                f, _, n = v.rpartition(":")
                out.add((os.path.basename(f), int(n)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--logsieve", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    # Quick: a smoke run (about two and a half minutes); full: long enough for a clean period.
    args.clean = 50 if args.quick else 900
    args.attack = 110 if args.quick else 720
    args.pause = (2.0, 6.0) if args.quick else (10.0, 60.0)
    args.max_actions = 40 if args.quick else 200
    lab = Lab(args)

    t0 = time.time()
    print(f"lab: clean period, {args.clean} s of normal traffic from {len(lab.users)} users", flush=True)
    users = lab.start_users(t0 + args.clean + args.attack, args.seed)
    time.sleep(args.clean)
    boundary = line_counts(lab.root)
    with open(os.path.join(lab.out, "boundary.json"), "w") as f:
        json.dump(boundary, f)
    # Train on the clean period so far, then follow every live log while the attacks run.
    clean_dir = os.path.join(lab.out, "logs", "clean")
    os.makedirs(clean_dir, exist_ok=True)
    for name, rel in LOGS.items():
        with open(os.path.join(lab.root, rel), "rb") as f, open(os.path.join(clean_dir, name), "wb") as g:
            for i, line in enumerate(f):
                if i >= boundary[name]:
                    break
                g.write(line)
    subprocess.run([args.logsieve, "train", "-q", *[os.path.join(clean_dir, n) for n in LOGS], "--model", os.path.join(lab.out, "lab.model")], check=True)
    watches = [Watch(lab, name) for name in LOGS]
    print(f"lab: attack period, {args.attack} s; normal users go on", flush=True)
    attack_start = time.time()
    windows = []
    episodes = lab.episodes(args.quick)
    gap = 3.0 if args.quick else max(5.0, (args.attack - 300) / (len(episodes) + 1))
    for name, addr, run in episodes:
        if time.time() > attack_start + args.attack - 10:
            break
        start = time.time()
        code, _ = run(addr)
        end = time.time()
        windows.append((name, addr, start, end))
        print(f"lab:   {name:18} from {addr:12} {end - start:6.1f} s (exit {code})", flush=True)
        lab.stop.wait(max(0.0, min(gap, attack_start + args.attack - 10 - time.time())))
    remaining = attack_start + args.attack - time.time()
    if remaining > 0:
        time.sleep(remaining)
    lab.stop.set()
    for t in users:
        t.join(timeout=60)
    time.sleep(2)
    for w in watches:
        w.finish()
    attack_minutes = (time.time() - attack_start) / 60
    with open(os.path.join(lab.out, "episodes.json"), "w") as f:
        json.dump([{"episode": n, "source": a, "start": s, "end": e} for n, a, s, e in windows], f, indent=1)
    split_logs(lab, boundary)
    labels = label(lab, windows)
    labelled = {(r["file"], r["line"]): r["episode"] for r in labels}

    # Score the attack period as a user would: the four logs, the model of the clean period.
    attack_dir = os.path.join(lab.out, "logs", "attack")
    score_dir = os.path.join(lab.out, "score")
    subprocess.run([args.logsieve, "score", "-q", *[os.path.join(attack_dir, n) for n in LOGS], "--model", os.path.join(lab.out, "lab.model"), "--out", score_dir, "--force"], check=False)
    flagged, false_alarms = set(), 0
    rows = [json.loads(l) for l in open(os.path.join(score_dir, "scores.jsonl"))] if os.path.exists(os.path.join(score_dir, "scores.jsonl")) else []
    for r in rows:
        if not r.get("anomalous"):
            continue
        eps = {labelled[x] for x in line_numbers(r, "") if x in labelled}
        if eps:
            flagged |= eps
        else:
            false_alarms += 1
    # Watch: how long after an episode's first line each was printed (log time has one-second
    # resolution in syslog and access logs, so up to a second more than it took).
    latency = {}
    start_of = {n: s for n, _, s, _ in windows}
    first = set()
    for name in LOGS:
        text = open(os.path.join(attack_dir, name), encoding="utf-8", errors="replace").read().splitlines()
        for r in labels:
            if r["file"] == name:
                t = line_time(text[r["line"] - 1])
                if t is not None:
                    start_of[r["episode"]] = min(start_of[r["episode"]], t) if r["episode"] in first else t
                    first.add(r["episode"])
    for w in watches:
        for when, r in w.alerts:
            # Watch numbers lines in the live file: the attack file starts at the boundary.
            eps = {labelled.get((w.name, n - boundary[w.name])) for (_, n) in line_numbers(r, w.name)} - {None}
            for e in eps:
                latency[e] = min(latency.get(e, 1e9), when - start_of[e])
    print(f"lab: logs in {lab.out}/logs (clean/, attack/), labels {lab.out}/labels.jsonl, report {score_dir}/report.html", flush=True)
    print("lab: episode              source        lines  flagged  watch", flush=True)
    for name, addr, _, _ in windows:
        n = sum(1 for r in labels if r["episode"] == name)
        lat = f"{latency[name]:.1f} s" if name in latency else "-"
        print(f"lab:   {name:18} {addr:12} {n:6}  {'yes' if name in flagged else 'no':7}  {lat}")
    worst = max(latency.values()) if latency else float("nan")
    summary = {"episodes": len(windows), "flagged": len(flagged & {n for n, _, _, _ in windows}), "false_alarms": false_alarms,
               "normal_minutes": round(attack_minutes, 1), "watch_latency_max": None if not latency else round(worst, 1),
               "watched": sorted(latency), "actions": lab.actions}
    with open(os.path.join(lab.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    lat = f"{worst:.0f}" if latency else "n/a"
    print(f"lab: {summary['episodes']} episodes, {summary['flagged']} flagged, {false_alarms} false alarms in "
          f"{attack_minutes:.0f} minutes of normal traffic, watch latency max {lat} s")


if __name__ == "__main__":
    main()
