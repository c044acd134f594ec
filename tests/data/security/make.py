"""Writes the hand-made auth.logs of this directory (see README.md). Seeded: the same files each run."""
import random

rng = random.Random(3)
pid = [4000]
users = {"alice": "198.51.100.20", "bob": "198.51.100.21", "carol": "198.51.100.22"}


def stamp(day, h, m, s):
    return f"Mar {day:2d} {h:02d}:{m:02d}:{s:02d}"


def nxt():
    pid[0] += rng.randint(3, 40)
    return pid[0]


def port():
    return rng.randint(30000, 60000)


def write(name, lines):
    lines.sort(key=lambda x: (x[0], x[1], x[2], x[3]))
    with open(name, "w") as f:
        for d, h, m, s, text in lines:
            f.write(f"{stamp(d, h, m, s)} web1 {text}\n")


train = []
for day in range(2, 9):
    for h in range(8, 19):
        m = rng.randint(0, 50)
        if h in (9, 15):
            p = nxt()
            train.append((day, h, m, 1, f"sshd[{p}]: Accepted publickey for root from 192.0.2.10 port {port()} ssh2: ED25519 SHA256:q1w2e3r4t5y6u7i8o9p0"))
            train.append((day, h, m, 1, f"sshd[{p}]: pam_unix(sshd:session): session opened for user root(uid=0) by (uid=0)"))
            train.append((day, h, m, 40, f"sshd[{p}]: pam_unix(sshd:session): session closed for user root"))
        for u, ip in users.items():
            if rng.random() < 0.5:
                continue
            p, mm = nxt(), rng.randint(0, 55)
            if rng.random() < 0.08:
                train.append((day, h, mm, 2, f"sshd[{p}]: Failed password for {u} from {ip} port {port()} ssh2"))
            train.append((day, h, mm, 5, f"sshd[{p}]: Accepted password for {u} from {ip} port {port()} ssh2"))
            train.append((day, h, mm, 5, f"sshd[{p}]: pam_unix(sshd:session): session opened for user {u}(uid=1001) by (uid=0)"))
            train.append((day, h, mm, 50, f"sshd[{p}]: pam_unix(sshd:session): session closed for user {u}"))
        if h in (10, 14, 17):
            train.append((day, h, m, 20, "sudo:      ops : TTY=pts/0 ; PWD=/home/ops ; USER=root ; COMMAND=/usr/bin/systemctl status nginx"))
            train.append((day, h, m, 20, "sudo: pam_unix(sudo:session): session opened for user root(uid=0) by ops(uid=1004)"))
            train.append((day, h, m, 21, "sudo: pam_unix(sudo:session): session closed for user root"))
        train.append((day, h, 17, 1, f"CRON[{nxt()}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"))
write("train.log", train)


def day9(extra):
    out = []
    for u, ip in users.items():
        p = nxt()
        out.append((9, 10, 5, 5, f"sshd[{p}]: Accepted password for {u} from {ip} port {port()} ssh2"))
        out.append((9, 10, 5, 5, f"sshd[{p}]: pam_unix(sshd:session): session opened for user {u}(uid=1001) by (uid=0)"))
        out.append((9, 10, 5, 50, f"sshd[{p}]: pam_unix(sshd:session): session closed for user {u}"))
    return out + extra


burst = []
for i in range(60):
    p, sec = nxt(), i * 2
    burst.append((9, 11, 20 + sec // 60, sec % 60, f"sshd[{p}]: Failed password for root from 203.0.113.66 port {40000 + i} ssh2"))
    burst.append((9, 11, 20 + sec // 60, sec % 60, f"sshd[{p}]: Connection closed by authenticating user root 203.0.113.66 port {40000 + i} [preauth]"))
p = nxt()
burst.append((9, 11, 22, 30, f"sshd[{p}]: Accepted password for root from 203.0.113.66 port 41000 ssh2"))
burst.append((9, 11, 22, 30, f"sshd[{p}]: pam_unix(sshd:session): session opened for user root(uid=0) by (uid=0)"))
write("burst.log", day9(burst))
p = nxt()
write("root_password.log", day9([
    (9, 11, 40, 1, f"sshd[{p}]: Accepted password for root from 192.0.2.10 port 51515 ssh2"),
    (9, 11, 40, 1, f"sshd[{p}]: pam_unix(sshd:session): session opened for user root(uid=0) by (uid=0)"),
    (9, 11, 44, 1, f"sshd[{p}]: pam_unix(sshd:session): session closed for user root"),
]))
write("first_sudo.log", day9([
    (9, 12, 3, 1, "sudo:    alice : TTY=pts/1 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/cat /etc/shadow"),
    (9, 12, 3, 1, "sudo: pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1001)"),
    (9, 12, 3, 2, "sudo: pam_unix(sudo:session): session closed for user root"),
]))
