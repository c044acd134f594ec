# Sourced by run.sh: the lab's machine, a Debian root in the output directory (debootstrap), with
# its users, daemons and logging. Everything listens on SERVER (a loopback address) only.

SERVER=127.0.10.1
SSH_PORT=2222
WEB_PORT=8080
SMTP_PORT=2525
IMAP_PORT=1143

# The root's packages: the daemons, their logger, and what the site's login script needs.
ROOT_PACKAGES=openssh-server,openssh-client,rsyslog,sudo,apache2,postfix,dovecot-imapd,dovecot-core,python3,libpam-modules,procps

# The host's packages: debootstrap, the clients normal users use, and the attack tools.
HOST_PACKAGES="debootstrap openssh-client sshpass hydra nmap dirb wfuzz sqlmap gcc libc6-dev python3"

# Users of the lab: name, password, how they log in over ssh (key or password), their loopback
# address. deploy's password is the planted weak one the brute force finds.
# Names of Debian's own system accounts (backup, www-data, ...) are avoided: their shell is nologin.
USERS="alice:Tr0ub4dor-alice:key:127.0.1.11
bob:correct-horse-bob:password:127.0.1.12
carol:Sunflower!carol77:key:127.0.1.13
dave:dave-Quartz-2024:password:127.0.1.14
erin:Erin.pass.9921:key:127.0.1.15
frank:Frank#Lighthouse4:password:127.0.1.16
grace:grace-Marigold-8:key:127.0.1.17
heidi:Heidi^Tundra5:password:127.0.1.18
ivan:ivan-Cobalt-31:key:127.0.1.19
judy:Judy_Orchid_77:password:127.0.1.20
mallory:Mal-Glacier-06:password:127.0.1.21
oscar:Oscar+Harbor12:key:127.0.1.22
ops:Ops-Admin-Beacon9:key:127.0.1.30
deploy:password1:password:127.0.1.40"

install_host_packages() {
  local missing=()
  for p in $HOST_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if ((${#missing[@]})); then
    echo "lab: installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >"$OUT/apt.log" 2>&1 ||
      { DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$OUT/apt.log" 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >>"$OUT/apt.log" 2>&1; } ||
      { echo "lab: package installation failed, see $OUT/apt.log" >&2; return 1; }
  fi
}

make_root() {
  if [ -x "$ROOT/usr/sbin/sshd" ] && [ -x "$ROOT/usr/sbin/postfix" ] && [ -f "$ROOT/.lab-root" ]; then
    return 0
  fi
  echo "lab: building the machine's root with debootstrap in $ROOT (a minute or two)"
  rm -rf "$ROOT"
  debootstrap --variant=minbase --include="$ROOT_PACKAGES" bookworm "$ROOT" http://deb.debian.org/debian \
    >"$OUT/debootstrap.log" 2>&1 || { echo "lab: debootstrap failed, see $OUT/debootstrap.log" >&2; return 1; }
  touch "$ROOT/.lab-root"
}

in_root() { chroot "$ROOT" "$@"; }

configure_root() {
  # Logging: the traditional syslog file format, auth and mail apart, as on a Debian server.
  cat >"$ROOT/etc/rsyslog.conf" <<'EOF'
module(load="imuxsock")
$FileCreateMode 0644
$ActionFileDefaultTemplate RSYSLOG_TraditionalFileFormat
$RepeatedMsgReduction off
auth,authpriv.*                  /var/log/auth.log
mail.*                           /var/log/mail.log
*.*;auth,authpriv.none,mail.none /var/log/syslog
EOF
  # sshd on its own address and port; passwords and keys; a system sshd is never touched.
  mkdir -p "$ROOT/run/sshd"
  cat >"$ROOT/etc/ssh/sshd_lab_config" <<EOF
Port $SSH_PORT
ListenAddress $SERVER
HostKey /etc/ssh/ssh_host_ed25519_key
HostKey /etc/ssh/ssh_host_rsa_key
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
UsePAM yes
PermitRootLogin no
SyslogFacility AUTH
LogLevel INFO
PidFile /run/sshd-lab.pid
MaxAuthTries 6
MaxStartups 200:30:400
LoginGraceTime 20
UseDNS no
EOF
  [ -f "$ROOT/etc/ssh/ssh_host_ed25519_key" ] || in_root ssh-keygen -A >/dev/null
  # The web site: static pages and a login form handled by a CGI script.
  cat >"$ROOT/etc/apache2/ports.conf" <<EOF
Listen $SERVER:$WEB_PORT
EOF
  cat >"$ROOT/etc/apache2/sites-available/000-default.conf" <<EOF
<VirtualHost $SERVER:$WEB_PORT>
    ServerName www.lab.test
    DocumentRoot /var/www/lab
    ScriptAlias /cgi-bin/ /usr/lib/cgi-bin/
    ErrorLog \${APACHE_LOG_DIR}/error.log
    CustomLog \${APACHE_LOG_DIR}/access.log combined
</VirtualHost>
EOF
  echo "ServerName www.lab.test" >"$ROOT/etc/apache2/conf-available/servername.conf"
  in_root a2enconf -q servername >/dev/null
  # mod_cgi (with the prefork MPM) logs a script's stderr as formatted error-log entries ([cgi:error]
  # ... AH01215: ...); mod_cgid, the event MPM's choice, would copy the raw lines into error.log.
  in_root a2dismod -q mpm_event >/dev/null
  in_root a2enmod -q mpm_prefork >/dev/null
  in_root a2enmod -q cgi >/dev/null
  mkdir -p "$ROOT/var/www/lab" "$ROOT/usr/lib/cgi-bin"
  cp "$LAB"/site/*.html "$ROOT/var/www/lab/"
  cp "$LAB/site/login.cgi" "$ROOT/usr/lib/cgi-bin/login"
  chmod 755 "$ROOT/usr/lib/cgi-bin/login"
  # Mail: Postfix on its own address and port, authenticating through Dovecot, delivering to
  # Maildir; Dovecot IMAP beside it. Both log to the mail facility.
  cat >"$ROOT/etc/postfix/main.cf" <<EOF
compatibility_level = 3.6
myhostname = mail.lab.test
mydomain = lab.test
myorigin = \$mydomain
mydestination = \$myhostname, lab.test, localhost
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = $SERVER/32
home_mailbox = Maildir/
smtpd_banner = \$myhostname ESMTP
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
smtpd_sasl_auth_enable = yes
smtpd_sasl_security_options = noanonymous
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_tls_security_level = none
biff = no
append_dot_mydomain = no
alias_maps =
EOF
  # Services without Postfix's own chroot (the lab's root is one), smtpd on the lab's port.
  awk -v smtpd="$SERVER:$SMTP_PORT" '
    /^[a-z]/ && NF >= 8 { $5 = "n"; if ($1 == "smtp" && $2 == "inet") $1 = smtpd; print; next }
    { print }' "$ROOT/etc/postfix/master.cf.proto" >"$ROOT/etc/postfix/master.cf"
  cat >"$ROOT/etc/dovecot/local.conf" <<EOF
listen = $SERVER
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
log_path = syslog
syslog_facility = mail
auth_verbose = yes
service imap-login {
  inet_listener imap {
    address = $SERVER
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
service auth {
  unix_listener /var/spool/postfix/private/auth {
    mode = 0660
    user = postfix
    group = postfix
  }
}
EOF
  # Users: a home, a Maildir, a password; keys for those who log in with one; ops may sudo.
  mkdir -p "$OUT/keys"
  while IFS=: read -r name pass how addr; do
    in_root id "$name" >/dev/null 2>&1 || in_root useradd -m -s /bin/bash "$name"
    echo "$name:$pass" | in_root chpasswd
    mkdir -p "$ROOT/home/$name/Maildir"
    if [ "$how" = key ]; then
      [ -f "$OUT/keys/$name" ] || ssh-keygen -q -t ed25519 -N "" -C "$name@lab" -f "$OUT/keys/$name"
      mkdir -p "$ROOT/home/$name/.ssh"
      cp "$OUT/keys/$name.pub" "$ROOT/home/$name/.ssh/authorized_keys"
      chmod 700 "$ROOT/home/$name/.ssh"
      chmod 600 "$ROOT/home/$name/.ssh/authorized_keys"
    fi
    in_root chown -R "$name:$name" "/home/$name"
  done <<<"$USERS"
  # The machine's name resolves (sudo asks), and PAM sets no resource limits: the root runs
  # where raising them is not permitted, and would log that on every session.
  grep -q " $(hostname)\$" "$ROOT/etc/hosts" 2>/dev/null || echo "127.0.0.1 localhost $(hostname)" >>"$ROOT/etc/hosts"
  sed -i 's/^\([^#].*pam_limits\.so.*\)$/# \1/' "$ROOT"/etc/pam.d/*
  echo "ops ALL=(ALL) ALL" >"$ROOT/etc/sudoers.d/ops"
  chmod 440 "$ROOT/etc/sudoers.d/ops"
  mkdir -p "$ROOT/var/log/apache2" "$ROOT/run/apache2" "$ROOT/var/lock/apache2"
}

# Starts one daemon in the root, in the background, in a session of its own (Apache's prefork MPM
# signals its whole process group when it stops, which would otherwise be this script's); its pid
# goes to $OUT/pids.
start() {
  local name=$1
  shift
  setsid chroot "$ROOT" "$@" >>"$OUT/daemons.log" 2>&1 </dev/null &
  echo "$! $name" >>"$OUT/pids"
  disown "$!"
}

start_daemons() {
  : >"$OUT/pids"
  # Empty logs: this run's lines only.
  for f in auth.log mail.log syslog apache2/access.log apache2/error.log; do : >"$ROOT/var/log/$f"; done
  start rsyslogd /usr/sbin/rsyslogd -n -f /etc/rsyslog.conf -i /run/rsyslogd-lab.pid
  sleep 1
  start sshd /usr/sbin/sshd -D -f /etc/ssh/sshd_lab_config
  start dovecot /usr/sbin/dovecot -F
  start postfix /usr/sbin/postfix start-fg
  start apache2 /bin/sh -c '. /etc/apache2/envvars && exec /usr/sbin/apache2 -DFOREGROUND'
  # Up when every port answers (at most 30 s).
  local port
  for port in $SSH_PORT $WEB_PORT $SMTP_PORT $IMAP_PORT; do
    for _ in $(seq 60); do
      python3 -c "import socket,sys; socket.create_connection(('$SERVER', $port), 1).close()" 2>/dev/null && break
      sleep 0.5
    done
  done
}

# Stops every daemon this run started, by the pids it recorded (and their children).
stop_daemons() {
  [ -f "$OUT/pids" ] || return 0
  local pid name
  while read -r pid name; do
    pkill -TERM -P "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
  done <"$OUT/pids"
  sleep 2
  while read -r pid name; do
    pkill -KILL -P "$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
  done <"$OUT/pids"
  # Daemons that detach keep their own pid files in the root: stop those processes too, and only
  # processes whose root is this lab's root.
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$ROOT" ] && kill -KILL "${p#/proc/}" 2>/dev/null || true
  done
  rm -f "$OUT/pids"
}
