#!/usr/bin/env bash
# Installs every Debian 12 package that building, running and testing Portcullis needs.
# Idempotent: apt-get skips what is already installed. Must run as root.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: run as root (it calls apt-get)" >&2
  exit 1
fi

build=(build-essential cmake ninja-build pkg-config
       libssl-dev libboost-dev libboost-system-dev libsqlite3-dev
       libspdlog-dev libfmt-dev libtomlplusplus-dev libcli11-dev nlohmann-json3-dev
       libfreeradius-dev libtalloc-dev libgtest-dev libgmock-dev
       prometheus-cpp-dev
       libpq-dev)  # the PostgreSQL ledger backend, over libpq's C API (ca/ledger/postgres_db.hpp)  # its core library only: the Prometheus text serializer for /metrics
# clang + compiler-rt: the libFuzzer targets (cmake -DPORTCULLIS_FUZZ=ON, tests/fuzz).
fuzz=(clang libclang-rt-14-dev)
run=(openssl sqlite3 ca-certificates)
# strongswan-pki fetches over HTTP through its curl plugin (libstrongswan-extra-plugins)
# and does its RSA/AES through the openssl plugin (libstrongswan-standard-plugins); without
# them `pki --scep` fails with "no capable fetcher found".
# prometheus: its promtool checks the /metrics text (tests/integration/test_metrics.py).
# radsecproxy: the NAS side of RadSec (UDP in, TLS out; tests/integration/test_radsec.py).
# freeradius: the second RadSec peer, a proxy with a TLS home server
# (tests/integration/test_radsec_freeradius.py), and the RADIUS benchmark's other server.
# postgresql: a throw-away PostgreSQL 15 the ledger tests start in a temporary folder
# (tests/integration/postgres.py); its packaged cluster is not used.
test_peers=(python3 curl eapoltest freeradius freeradius-utils scep strongswan-pki radsecproxy
            libstrongswan-extra-plugins libstrongswan-standard-plugins prometheus postgresql)
# nodejs + npm: the browser console's front end is built with npm ci, tsc and esbuild from
# its committed lock (app/console/console.cmake). chromium: the console's browser test
# (tests/integration/test_console.py). A node that came from elsewhere (NodeSource's
# nodejs carries its own npm and conflicts with Debian's) is used as it is.
web=(chromium)
command -v node >/dev/null || web+=(nodejs)
command -v npm >/dev/null || web+=(npm)

export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${build[@]}" "${fuzz[@]}" "${run[@]}" "${test_peers[@]}" "${web[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq
  # The freeradius daemon arrives with libfreeradius-dev; policy-rc.d keeps it from
  # being started, and tests never assume 1812/1813/18120 are free anyway.
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "install-deps: all packages present"
