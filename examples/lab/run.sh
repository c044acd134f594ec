#!/usr/bin/env bash
# The attack lab: real daemons on loopback addresses, simulated users, scripted attacks with real
# tools, labelled logs, and logsieve (train, score, watch) in the loop. See README.md.
#
#   sudo examples/lab/run.sh [--quick] [--out DIR] [--logsieve BIN]
#
# Needs root on a Debian machine (packages from Debian's archive). Traffic goes to 127.0.0.0/8
# only; every daemon it starts is stopped by pid at the end, also on error or Ctrl-C; nothing
# outside DIR changes but the packages installed (the daemons run in a Debian root built in DIR).
set -euo pipefail
LAB=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$LAB/../.." && pwd)
OUT=$REPO/out/lab
QUICK=()
BIN=
while (($#)); do
  case $1 in
    --quick) QUICK=(--quick) ;;
    --out) OUT=$2; shift ;;
    --logsieve) BIN=$2; shift ;;
    -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "lab: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || { echo "lab: run as root (it installs packages and runs daemons in a chroot)" >&2; exit 2; }
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
ROOT=$OUT/root
if [ -z "$BIN" ]; then
  BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/logsieve
  [ -x "$BIN" ] || (cd "$REPO" && cargo build --release -q)
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
. "$LAB/setup.sh"

LABPID=
cleanup() {
  # lab.py runs in a session of its own: its group holds the watches, clients and tools.
  if [ -n "$LABPID" ] && kill -0 "$LABPID" 2>/dev/null; then
    kill -TERM -- "-$LABPID" 2>/dev/null || true
    sleep 1
    kill -KILL -- "-$LABPID" 2>/dev/null || true
  fi
  stop_daemons
  mountpoint -q "$ROOT/proc" 2>/dev/null && umount -l "$ROOT/proc" || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

started=$(date +%s)
install_host_packages
make_root
configure_root
mkdir -p "$OUT/bin" "$OUT/attack"
gcc -shared -fPIC -O2 -o "$OUT/bin/bindsrc.so" "$LAB/bindsrc.c" -ldl
echo "$USERS" >"$OUT/users.txt"
cp "$LAB/attack/passwords.txt" "$LAB/attack/paths.txt" "$OUT/attack/"
{ cut -d: -f1 <<<"$USERS"; printf '%s\n' admin root test oracle postgres guest; } >"$OUT/attack/users.txt"
mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
start_daemons
echo "lab: daemons up on $SERVER (ssh $SSH_PORT, web $WEB_PORT, smtp $SMTP_PORT, imap $IMAP_PORT) after $(($(date +%s) - started)) s"
rm -rf "$OUT/logs" "$OUT/score" "$OUT/actions.log"
# In the background, waited for: a signal to this script then stops the run at once (bash runs
# traps only between foreground commands).
setsid python3 "$LAB/lab.py" --out "$OUT" --logsieve "$BIN" "${QUICK[@]}" &
LABPID=$!
wait "$LABPID"
LABPID=
