#!/usr/bin/env bash
# Installs what the benchmark runs against, from Debian's packages, when missing: Postfix (the
# peer MTA, plus smtp-sink/smtp-source), dovecot-lmtpd (LMTP scenarios to come), and the filters
# of the filtered scenarios (bench/filters.ts): rspamd and OpenDKIM. Nothing is
# configured or started system-wide: "No configuration" is preseeded, and the harness runs a
# private Postfix instance under a temporary directory (bench/postfix.ts).
set -euo pipefail
need=()
[ -x /usr/sbin/postfix ] && [ -x /usr/lib/postfix/sbin/virtual ] || need+=(postfix)
[ -x /usr/lib/dovecot/lmtp ] || need+=(dovecot-core dovecot-lmtpd)
command -v rspamd >/dev/null || need+=(rspamd)
[ -x /usr/sbin/opendkim ] || need+=(opendkim)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "bench: missing ${need[*]} and not root; install them with apt-get" >&2
  exit 1
fi
echo "bench: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "postfix postfix/mailname string localhost" | debconf-set-selections
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
