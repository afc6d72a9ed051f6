#!/usr/bin/env bash
# Build the ajudaplay test images locally (no registry): a busybox-static root
# filesystem imported with `docker import`. Idempotent: an image is rebuilt only
# when missing or when this script changed (its hash is stored as a label).
# Usage: build-images.sh [--force]
set -euo pipefail

BUSYBOX=${BUSYBOX:-/bin/busybox}   # from Debian's busybox-static (must be static)
HASH=$(sha256sum "$0" | cut -c1-12)
FORCE=${1:-}

up_to_date() { # up_to_date TAG [HASH]: the image exists and was built by this version of the script (and files)
  [ "$FORCE" != --force ] &&
    [ "$(docker image inspect -f '{{index .Config.Labels "ajudaplay.build"}}' "$1" 2>/dev/null)" = "${2:-$HASH}" ]
}

busybox_root() { # busybox_root DIR: every applet as a symlink, root and nobody users
  local root=$1
  mkdir -p "$root"/{bin,www,tmp,etc,proc,sys,dev,run}
  cp "$BUSYBOX" "$root/bin/busybox"
  for applet in $("$BUSYBOX" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
}

build() { # build TAG VERSION HEALTH(yes|no) KIND(api|nginx)
  local tag=$1 version=$2 health=$3 kind=$4
  if up_to_date "$tag"; then echo "image $tag up to date"; return; fi
  local root; root=$(mktemp -d)
  busybox_root "$root"
  echo "$version" > "$root/www/version"
  [ "$health" = yes ] && echo "ok $version" > "$root/www/health"
  echo "$kind $version" > "$root/www/index.html"
  if [ "$kind" = nginx ]; then  # poor man's proxy: GET /cgi-bin/api?health -> api:8080/health
    mkdir -p "$root/www/cgi-bin"
    cat > "$root/www/cgi-bin/api" <<'SH'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
wget -q -O- "http://${UPSTREAM:-api:8080}/$QUERY_STRING"
SH
    chmod 755 "$root/www/cgi-bin/api"
  fi
  # PID 1: sh traps TERM so `docker stop` is immediate (httpd alone ignores it
  # as PID 1 and docker would wait 10 s); HUP = "reload" (counted in /www/reloads).
  cat > "$root/bin/start" <<'SH'
#!/bin/sh
hostname > /www/hostname
echo 0 > /www/reloads
httpd -f -p 8080 -h /www & pid=$!
trap 'kill $pid; exit 0' TERM INT
trap 'echo $(( $(cat /www/reloads) + 1 )) > /www/reloads; echo reloaded' HUP
echo "$(cat /www/index.html) listening on :8080"
while kill -0 $pid 2>/dev/null; do wait $pid; done
SH
  # `nginx -t` / `nginx -s reload` stand-in for the proxy image.
  cat > "$root/bin/nginx" <<'SH'
#!/bin/sh
case "$*" in
  *"-s reload"*) kill -HUP 1 ;;
  *"-t"*) echo "nginx: configuration file test is successful" ;;
  *) exec /bin/start ;;
esac
SH
  chmod 755 "$root/bin/start" "$root/bin/nginx"
  tar -C "$root" --numeric-owner --owner=0 --group=0 -c . |
    docker import \
      --change 'CMD ["/bin/start"]' \
      --change 'EXPOSE 8080' \
      --change "LABEL ajudaplay.build=$HASH ajudaplay.version=$version" \
      - "$tag" >/dev/null
  rm -rf "$root"
  echo "built $tag"
}

# The pod sandbox ("pause") image of the test kubelet (tests/infra/k8s, --pod-infra-container-image):
# built here because there is no registry. PID 1 only holds the pod's namespaces and exits on
# SIGTERM/SIGINT, as the real pause does; a sleep loop keeps it off the CPU.
build_pause() { # build_pause TAG
  local tag=$1
  if up_to_date "$tag"; then echo "image $tag up to date"; return; fi
  local root; root=$(mktemp -d)
  mkdir -p "$root"/{bin,proc,sys,dev,etc}
  cp "$BUSYBOX" "$root/bin/busybox"
  ln -s busybox "$root/bin/sh"; ln -s busybox "$root/bin/sleep"
  cat > "$root/bin/pause" <<'SH'
#!/bin/sh
trap 'exit 0' TERM INT
while :; do sleep 3600 & wait $!; done
SH
  chmod 755 "$root/bin/pause"
  tar -C "$root" --numeric-owner --owner=0 --group=0 -c . |
    docker import --change 'ENTRYPOINT ["/bin/pause"]' --change "LABEL ajudaplay.build=$HASH" - "$tag" >/dev/null
  rm -rf "$root"
  echo "built $tag"
}

# A service that really keeps its data in SQLite (issue 9): the busybox root plus Debian's sqlite3 with
# every shared library ldd lists and the dynamic loader, at the paths ldd names (no python3 in it: the
# database verbs must use the image's sqlite3). PID 1 serves httpd on 8080 and runs a writer inserting a
# timestamped row every 100 ms (WRITE_INTERVAL) into ${DB_PATH:-/app/data/ajudadorabot.db}, in WAL mode
# (DB_JOURNAL) so a backup's long read never stops it; the writer restarts if sqlite3 ever exits.
# /cgi-bin/health: 200 "ok" only when PRAGMA quick_check says ok, else 500 with what it said;
# /cgi-bin/rows: "COUNT MAX_ID LAST_AT" of the events table.
build_dbapi() { # build_dbapi TAG VERSION
  local tag=$1 version=$2 sqlite=${SQLITE3:-/usr/bin/sqlite3}
  if up_to_date "$tag"; then echo "image $tag up to date"; return; fi
  [ -x "$sqlite" ] || { echo "ERROR: $sqlite missing: apt-get install -y sqlite3 (tests/infra/docker/setup.sh does)" >&2; exit 1; }
  local root; root=$(mktemp -d)
  busybox_root "$root"
  mkdir -p "$root/app/data" "$root/www/cgi-bin"
  cp -L "$sqlite" "$root/bin/sqlite3"
  local lib
  for lib in $(ldd "$sqlite" | grep -o '/[^ ]*'); do   # libraries and the loader, links resolved
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  echo "$version" > "$root/www/version"
  echo "dbapi $version" > "$root/www/index.html"
  cat > "$root/bin/start" <<'SH'
#!/bin/sh
DB=${DB_PATH:-/app/data/ajudadorabot.db}
mkdir -p "$(dirname "$DB")"
echo "$DB" > /run/db_path            # for the CGI scripts (httpd does not pass the environment on)
hostname > /www/hostname
host=$(hostname)
httpd -f -p 8080 -h /www & pid=$!
writer() {
  while :; do
    {
      echo ".timeout 5000"
      echo "PRAGMA journal_mode=${DB_JOURNAL:-wal};"
      echo "CREATE TABLE IF NOT EXISTS events(id INTEGER PRIMARY KEY, at TEXT NOT NULL, host TEXT NOT NULL);"
      while :; do
        echo "INSERT INTO events(at, host) VALUES (strftime('%Y-%m-%d %H:%M:%f', 'now'), '$host');"
        sleep "${WRITE_INTERVAL:-0.1}"
      done
    } | sqlite3 "$DB" >/dev/null 2>>/tmp/writer.err
    sleep 1
  done
}
writer &
# Exiting PID 1 ends every process of the container (the writer's sqlite3 included): docker stop is instant.
trap 'kill $pid; exit 0' TERM INT
echo "dbapi $(cat /www/version) listening on :8080, writing $DB"
while kill -0 $pid 2>/dev/null; do wait $pid; done
SH
  cat > "$root/www/cgi-bin/health" <<'SH'
#!/bin/sh
said=$(sqlite3 -cmd '.timeout 5000' "$(cat /run/db_path)" 'PRAGMA quick_check;' 2>&1)
if [ "$said" = ok ]; then
  printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nok\n'
else
  printf 'HTTP/1.0 500 Internal Server Error\r\nContent-Type: text/plain\r\n\r\n%s\n' "$said"
fi
SH
  cat > "$root/www/cgi-bin/rows" <<'SH'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
sqlite3 -cmd '.timeout 5000' -separator ' ' "$(cat /run/db_path)" \
  "SELECT count(*), coalesce(max(id), 0), coalesce(max(at), '-') FROM events;" 2>&1
SH
  chmod 755 "$root/bin/start" "$root/www/cgi-bin/health" "$root/www/cgi-bin/rows"
  tar -C "$root" --numeric-owner --owner=0 --group=0 -c . |
    docker import \
      --change 'CMD ["/bin/start"]' \
      --change 'EXPOSE 8080' \
      --change "LABEL ajudaplay.build=$HASH ajudaplay.version=$version" \
      - "$tag" >/dev/null
  rm -rf "$root"
  echo "built $tag"
}

# A service whose Prometheus counters the test controls (issue 10, the metrics tests): the busybox root plus
# tests/infra/docker/metricsapi/ (its files are hashed with this script). PID 1 (`start`) serves httpd on 8080
# (/health, /metrics in the Prometheus text format, /cgi-bin/ctl) and a traffic loop counting 10 requests per
# second; `metricsctl fail N` (or GET /cgi-bin/ctl?fail=N) adds N status-500 requests per second, each an ERROR
# line in the log; `metricsctl slow MS` sets every request's duration (the histogram); `metricsctl ok` resets.
build_metricsapi() { # build_metricsapi TAG VERSION
  local tag=$1 version=$2 src hash
  src="$(cd "$(dirname "$0")" && pwd)/metricsapi"
  hash=$( (sha256sum "$0"; cd "$src" && find . -type f | sort | xargs sha256sum) | sha256sum | cut -c1-12)
  if up_to_date "$tag" "$hash"; then echo "image $tag up to date"; return; fi
  local root; root=$(mktemp -d)
  busybox_root "$root"
  mkdir -p "$root/www/cgi-bin" "$root/run"
  echo "$version" > "$root/www/version"
  echo "ok metricsapi $version" > "$root/www/health"
  echo "metricsapi $version" > "$root/www/index.html"
  install -m 755 "$src/start" "$root/bin/start"
  install -m 755 "$src/metricsctl" "$root/bin/metricsctl"
  install -m 755 "$src/cgi-bin/ctl" "$root/www/cgi-bin/ctl"
  tar -C "$root" --numeric-owner --owner=0 --group=0 -c . |
    docker import \
      --change 'CMD ["/bin/start"]' \
      --change 'EXPOSE 8080' \
      --change "LABEL ajudaplay.build=$hash ajudaplay.version=$version" \
      - "$tag" >/dev/null
  rm -rf "$root"
  echo "built $tag"
}

build ajudaplay-test/api:v1        v1 yes api
build ajudaplay-test/api:v2        v2 yes api
build ajudaplay-test/api:v3        v3 yes api
build ajudaplay-test/api:unhealthy unhealthy no api
build ajudaplay-test/nginx:v1      v1 yes nginx
build_pause ajudaplay-test/pause:v1
build_dbapi ajudaplay-test/dbapi:v1 v1
build_metricsapi ajudaplay-test/metricsapi:v1 v1
