#!/usr/bin/env bash
# Installs the real protocol peers the integration tests talk to, from Debian's packages, when
# they are missing: swaks, Postfix (smtp-source, smtp-sink), Dovecot (doveadm, POP3/IMAP/LMTP),
# HAProxy (the load balancer in front of cluster frontends), Chromium (the WebAdmin's browser
# tests drive Debian's /usr/bin/chromium with playwright-core, which never downloads one).
# Postfix and Dovecot are installed but never started system-wide; tests run private instances.
set -euo pipefail
need=()
command -v swaks >/dev/null || need+=(swaks)
command -v smtp-sink >/dev/null || need+=(postfix)
command -v doveadm >/dev/null || need+=(dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd)
[ -x /usr/sbin/dovecot ] || need+=(dovecot-core)
[ -x /usr/lib/dovecot/lmtp ] || need+=(dovecot-lmtpd)
command -v haproxy >/dev/null || need+=(haproxy)
[ -x /usr/bin/chromium ] || need+=(chromium)
# swaks needs Net::SSLeay for --tls; it is only a recommended package of swaks.
perl -MNet::SSLeay -e1 2>/dev/null || need+=(libnet-ssleay-perl)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "test-peers: missing ${need[*]} and not root; install them with apt-get" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "postfix postfix/mailname string localhost" | debconf-set-selections
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
