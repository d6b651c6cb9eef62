#!/usr/bin/env bash
# README command (1): install what is needed, build, initialise the embedded default
# (SQLite ledger, fresh CA, a loopback NAS client) and start the service in the background.
# Re-running it keeps the existing data folder and only restarts the service.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
as_root bash deploy/install-deps.sh

data=${PORTCULLIS_HOME:-$root/var/portcullis}
build=${PORTCULLIS_BUILD_DIR:-$root/build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" --target portcullis
bin="$build/app/portcullis"

# The first free port at or after $1 on loopback, TCP and UDP ($2 ports in a row), so that
# a busy 8080 or a stock FreeRADIUS on 1812/1813 does not stop the quick start.
free_port() {
  python3 - "$1" "$2" <<'PY'
import socket, sys
start, count = int(sys.argv[1]), int(sys.argv[2])
for base in range(start, start + 200):
    try:
        for p in range(base, base + count):
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                with socket.socket(socket.AF_INET, kind) as s:
                    s.bind(("127.0.0.1", p))
        print(base)
        break
    except OSError:
        continue
PY
}

if [ ! -e "$data/portcullis.toml" ]; then
  mkdir -p "$(dirname "$data")"
  "$bin" init --dir "$data" --hostname "${PORTCULLIS_HOSTNAME:-localhost}" \
    --http-port "$(free_port 8080 1)" --admin-port "$(free_port 8443 1)" --radius-port "$(free_port 1812 2)"
fi
config="$data/portcullis.toml"

pidfile="$data/portcullis.pid"
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  kill "$(cat "$pidfile")"
  while kill -0 "$(cat "$pidfile")" 2>/dev/null; do sleep 0.1; done
fi
nohup "$bin" --config "$config" serve >>"$data/portcullis.log" 2>&1 &
echo $! >"$pidfile"

admin_port=$(sed -n '/^\[admin\]/,/^\[/s/^port = \([0-9]*\).*/\1/p' "$config")
http_port=$(sed -n '/^\[http\]/,/^\[/s/^port = \([0-9]*\).*/\1/p' "$config")
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$admin_port/api/v1/health" >/dev/null 2>&1 && break
  kill -0 "$(cat "$pidfile")" 2>/dev/null || { tail -20 "$data/portcullis.log"; exit 1; }
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$admin_port/api/v1/health" >/dev/null

cat <<MSG

Portcullis is running (pid $(cat "$pidfile")).
  binary       $bin
  config       $config
  CA           $data/ca   (root.pem, issuing.pem, ra.pem, server.pem)
  ledger       $data/ledger.db
  log          $data/portcullis.log
  public HTTP  http://127.0.0.1:$http_port/crl  and  /ocsp
  admin API    http://127.0.0.1:$admin_port/api/v1  (token in $data/admin.token)
  console      http://127.0.0.1:$admin_port/  (a browser; sign in with that token)
Try:   $bin --config $config devices list
Stop:  kill \$(cat $pidfile)
MSG
