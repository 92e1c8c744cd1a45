#!/usr/bin/env bash
# Installs the headless .deb on this machine (as root), checks the command and the
# service without systemd, purges it, and runs lintian. Run by CI after
# `npm run dist:headless`; exits non-zero on any failure or lintian error.
set -euo pipefail
cd "$(dirname "$0")/../.."

version=$(node -p "require('./package.json').version")
deb="release/consulate_${version}_amd64.deb"
[ -f "$deb" ] || { echo "smoke-deb: $deb not found; run npm run dist:headless" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "smoke-deb: must run as root (dpkg -i)" >&2; exit 1; }

data_dir=$(mktemp -d)
log_file=$(mktemp)
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$data_dir" "$log_file"
  if dpkg -s consulate >/dev/null 2>&1; then dpkg --purge consulate >/dev/null || true; fi
}
trap cleanup EXIT

echo "== dpkg -i $deb"
dpkg -i "$deb"
test -x /usr/bin/consulate
getent passwd consulate >/dev/null || { echo "smoke-deb: postinst did not create the consulate user" >&2; exit 1; }
test "$(stat -c %U /var/lib/consulate)" = consulate || { echo "smoke-deb: /var/lib/consulate is not owned by consulate" >&2; exit 1; }
test ! -e /var/lib/consulate/config.json || { echo "smoke-deb: postinst must not configure the service" >&2; exit 1; }

echo "== consulate version"
out=$(consulate version)
echo "$out"
case "$out" in
  "consulate ${version} (node 2"[2-9]*) ;;
  *) echo "smoke-deb: unexpected version line (want consulate ${version} on node >= 22)" >&2; exit 1 ;;
esac

echo "== CONSULATE_NODE_FLAGS reach the bundled Node"
CONSULATE_NODE_FLAGS="--max-semi-space-size=2 --heap-growing-percent=30" consulate version >/dev/null \
  || { echo "smoke-deb: consulate does not start with the small-memory profile's flags" >&2; exit 1; }
if CONSULATE_NODE_FLAGS="--no-such-consulate-flag" consulate version >/dev/null 2>&1; then
  echo "smoke-deb: CONSULATE_NODE_FLAGS is not passed to Node (an unknown flag was accepted)" >&2; exit 1
fi

echo "== consulate serve (no systemd)"
# A free loopback port for each TCP listener, so the check never collides with a running service.
ports=$(node -e "
const net = require('node:net');
const take = () => new Promise((r) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });
Promise.all([take(), take(), take()]).then((p) => console.log(p.join(' ')));")
read -r admin_port home_port federation_port <<<"$ports"
chmod 0700 "$data_dir"
CONSULATE_LOG_FORMAT=json consulate serve --data-dir "$data_dir" \
  --admin-port "$admin_port" --home-port "$home_port" \
  --federation-host 127.0.0.1 --federation-port "$federation_port" --relay-host 127.0.0.1 \
  >"$log_file" 2>&1 &
pid=$!

status=""
for _ in $(seq 1 60); do
  status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${admin_port}/healthz" || true)
  [ "$status" = 200 ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.5
done
if [ "$status" != 200 ]; then
  echo "smoke-deb: /healthz did not answer 200 (last: ${status:-none}); service log:" >&2
  cat "$log_file" >&2
  exit 1
fi
echo "/healthz: 200"

echo "== stop (SIGTERM)"
kill -TERM "$pid"
for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
if kill -0 "$pid" 2>/dev/null; then echo "smoke-deb: service still running 10 s after SIGTERM" >&2; exit 1; fi
code=0
wait "$pid" || code=$?
pid=""
[ "$code" = 0 ] || { echo "smoke-deb: service exited with $code after SIGTERM" >&2; cat "$log_file" >&2; exit 1; }
echo "stopped cleanly"

echo "== dpkg --purge consulate"
dpkg --purge consulate
test ! -e /usr/bin/consulate && test ! -e /usr/lib/consulate && test ! -e /var/lib/consulate
! getent passwd consulate >/dev/null || { echo "smoke-deb: purge left the consulate user" >&2; exit 1; }
echo "purged"

echo "== lintian"
lintian --fail-on error "$deb"
echo "lintian: no errors"
echo "smoke-deb: 1 passed, 0 failed"
