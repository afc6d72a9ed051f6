#!/usr/bin/env bash
# Build the ajudaplay test images locally (no registry): a busybox-static root
# filesystem imported with `docker import`. Idempotent: an image is rebuilt only
# when missing or when this script changed (its hash is stored as a label).
# Usage: build-images.sh [--force]
set -euo pipefail

BUSYBOX=${BUSYBOX:-/bin/busybox}   # from Debian's busybox-static (must be static)
HASH=$(sha256sum "$0" | cut -c1-12)
FORCE=${1:-}

build() { # build TAG VERSION HEALTH(yes|no) KIND(api|nginx)
  local tag=$1 version=$2 health=$3 kind=$4
  if [ "$FORCE" != --force ] &&
     [ "$(docker image inspect -f '{{index .Config.Labels "ajudaplay.build"}}' "$tag" 2>/dev/null)" = "$HASH" ]; then
    echo "image $tag up to date"; return
  fi
  local root; root=$(mktemp -d)
  mkdir -p "$root"/{bin,www,tmp,etc,proc,sys,dev,run}
  cp "$BUSYBOX" "$root/bin/busybox"
  for applet in $("$BUSYBOX" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
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
  if [ "$FORCE" != --force ] &&
     [ "$(docker image inspect -f '{{index .Config.Labels "ajudaplay.build"}}' "$tag" 2>/dev/null)" = "$HASH" ]; then
    echo "image $tag up to date"; return
  fi
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

build ajudaplay-test/api:v1        v1 yes api
build ajudaplay-test/api:v2        v2 yes api
build ajudaplay-test/api:v3        v3 yes api
build ajudaplay-test/api:unhealthy unhealthy no api
build ajudaplay-test/nginx:v1      v1 yes nginx
build_pause ajudaplay-test/pause:v1
