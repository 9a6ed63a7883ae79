#!/usr/bin/env bash
# Installs the real protocol peers the integration tests talk to, from Debian's packages, when
# they are missing: swaks, Postfix (smtp-source, smtp-sink), Dovecot (doveadm, POP3/IMAP/LMTP),
# HAProxy (the load balancer in front of cluster frontends), PostgreSQL (the shared cluster state),
# s-nail (a mail(1) that calls sendmail, for `mailyard sendmail`), fetchmail (a real POP3 client),
# Pigeonhole (sieve-test), OpenDKIM (opendkim, opendkim-testmsg: DKIM signatures checked both
# ways) with Unbound (a loopback DNS server OpenDKIM resolves keys from; for DANE, a validating
# resolver of a zone signed with ldnsutils), Chromium (the WebAdmin's
# browser tests drive Debian's /usr/bin/chromium with playwright-core, which never downloads one),
# rspamd and clamav-milter with clamd (milters).
# Postfix and Dovecot are installed but never started system-wide; tests run private instances.
# PostgreSQL is the exception: the state tests use a server on 127.0.0.1:5432 (user postgres, no
# password) and make a database of their own in it; when none answers there, this script makes
# one from Debian's packages (a cluster with trust for 127.0.0.1) and starts it. Set
# MAILYARD_TEST_PG_URL to use another server instead. Every step is skipped when already done.
set -euo pipefail
need=()
command -v swaks >/dev/null || need+=(swaks)
command -v smtp-sink >/dev/null || need+=(postfix)
command -v doveadm >/dev/null || need+=(dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd)
[ -x /usr/sbin/dovecot ] || need+=(dovecot-core)
[ -x /usr/lib/dovecot/lmtp ] || need+=(dovecot-lmtpd)
[ -x /usr/lib/dovecot/pop3 ] || need+=(dovecot-pop3d)
command -v fetchmail >/dev/null || need+=(fetchmail)
command -v haproxy >/dev/null || need+=(haproxy)
command -v s-nail >/dev/null || need+=(s-nail)
# Pigeonhole sieve-test: the differential test of the Sieve interpreter.
command -v sieve-test >/dev/null || need+=(dovecot-sieve)
[ -x /usr/bin/chromium ] || need+=(chromium)
# Milters (test/inbound/milter-peers.test.ts): rspamd's proxy worker, clamav-milter with clamd.
# The tests write their own configs and signature file; freshclam is never run.
command -v rspamd >/dev/null || need+=(rspamd)
[ -x /usr/sbin/clamd ] || need+=(clamav-daemon)
[ -x /usr/sbin/clamav-milter ] || need+=(clamav-milter)
[ -x /usr/sbin/opendkim ] || need+=(opendkim)
[ -x /usr/sbin/opendkim-testmsg ] || need+=(opendkim-tools)
[ -x /usr/sbin/unbound ] || need+=(unbound)
# DANE (test/relay/dane.test.ts): Unbound validates a zone signed at test time with ldns-signzone.
command -v ldns-signzone >/dev/null || need+=(ldnsutils)
# swaks needs Net::SSLeay for --tls; it is only a recommended package of swaks.
perl -MNet::SSLeay -e1 2>/dev/null || need+=(libnet-ssleay-perl)
pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
want_pg=0
if [ -z "${MAILYARD_TEST_PG_URL:-}" ] && ! pg_up; then
  want_pg=1
  # initdb and pg_ctl for the private servers of the restart test, pg_createcluster for this one.
  { [ -n "$(pg_bin)" ] && command -v pg_createcluster >/dev/null; } || need+=(postgresql)
fi
[ ${#need[@]} -eq 0 ] && [ $want_pg -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "test-peers: missing ${need[*]:-a PostgreSQL server on 127.0.0.1:5432} and not root; install with apt-get" >&2
  exit 1
fi
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  echo "postfix postfix/mailname string localhost" | debconf-set-selections
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi
[ $want_pg -eq 1 ] || exit 0
pg_up && exit 0
version=$(basename "$(dirname "$(pg_bin)")")
# The package's own cluster (main) when it made one, else a new one; 127.0.0.1 without password.
if ! pg_lsclusters -h 2>/dev/null | awk '{print $1"/"$2}' | grep -qx "$version/main"; then
  pg_createcluster "$version" main -p 5432 -- --auth-local=peer --auth-host=trust >/dev/null
fi
hba=/etc/postgresql/$version/main/pg_hba.conf
grep -q '^host all postgres 127.0.0.1/32 trust' "$hba" ||
  sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
pg_ctlcluster "$version" main start 2>/dev/null || pg_ctlcluster "$version" main reload
for _ in $(seq 1 60); do pg_up && exit 0; sleep 0.5; done
echo "test-peers: PostgreSQL $version did not come up on 127.0.0.1:5432" >&2
exit 1
