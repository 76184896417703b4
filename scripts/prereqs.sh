#!/usr/bin/env bash
# Installs the Debian packages backlog's local stack and tests need, where they are missing.
# Safe to run again: it only installs what a command lookup cannot find. Needs root (or sudo) for apt-get.
#   java 17+  -> openjdk-17-jre-headless   (Kafka, OpenSearch, S3Proxy run on it)
#   mvn       -> maven                     (fetches the server jars from Maven Central)
#   redis-server -> redis-server           (started only when no Redis answers on the port)
#   bzip2, lbzip2                          (archive tools and compression baselines)
#   logger    -> bsdutils                  (a real syslog sender in tests)
#   rsyslogd  -> rsyslog                   (a real syslog relay in tests)
#   omkafka   -> rsyslog-kafka             (the rsyslog → Kafka peer in benchmarks/harvester-ship)
#   curl                                   (HTTP input tests)
#   chromium  -> chromium                  (live view browser tests; BACKLOG_PREREQS_SKIP_BROWSER=1 skips it)
set -euo pipefail

need=()
want() { command -v "$1" >/dev/null 2>&1 || need+=("$2"); }

if command -v java >/dev/null 2>&1; then
  major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
  [ "${major:-0}" -ge 17 ] || need+=(openjdk-17-jre-headless)
else
  need+=(openjdk-17-jre-headless)
fi
want mvn maven
want redis-server redis-server
want bzip2 bzip2
want lbzip2 lbzip2
want logger bsdutils
want rsyslogd rsyslog
[ -e /usr/lib/x86_64-linux-gnu/rsyslog/omkafka.so ] || compgen -G '/usr/lib/*/rsyslog/omkafka.so' >/dev/null || need+=(rsyslog-kafka)
want curl curl
if [ "${BACKLOG_PREREQS_SKIP_BROWSER:-0}" != 1 ]; then
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)
fi

if [ ${#need[@]} -eq 0 ]; then
  echo "prereqs: all present"
  exit 0
fi

echo "prereqs: installing ${need[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "prereqs: not root and no sudo; install these Debian packages yourself: ${need[*]}" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "prereqs: no apt-get here; install the equivalents of: ${need[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1 || {
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y --no-install-recommends "${need[@]}"
}
# Debian's redis-server package starts a system service; backlog does not need it, but leaves it be.
echo "prereqs: installed ${need[*]}"
