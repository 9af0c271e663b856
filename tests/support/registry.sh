#!/usr/bin/env bash
# A real OCI registry for the tests: Debian's docker-registry (distribution 2.8) with TLS from a
# test CA and htpasswd auth, in a container on a Docker network of the tests' own. The engine
# checks TLS there (it trusts 127.0.0.0/8 without a check), with the CA in
# /etc/docker/certs.d/HOST:PORT/. The images are pushed with the release workflow's tags:
# <image>, <image>-<dimtensor version> and <image>-sha-<commit>, each a manifest list of linux/amd64
# and (where tests/arm64.sh built them) linux/arm64. Root only; nothing leaves this machine.
#   registry.sh start IMAGE...   prints DTU_REGISTRY_*=… lines for the tests
#   registry.sh push IMAGE...    pushes more images to the running one (tests/bench/registry.py)
# DTU_REGISTRY_ARCHS="amd64" limits the architectures pushed (default: amd64 arm64, where present).
#   registry.sh stop             removes the container, network, CA trust and storage
set -euo pipefail
# shellcheck source=tests/support/wait.sh
source "$(dirname "${BASH_SOURCE[0]}")/wait.sh"
cd "$(dirname "$0")/../.."
source tests/support/engine.sh
name=dtu-test-registry
subnet=172.31.213.0/24
ip=172.31.213.2
host="$ip:5000"
state=/var/lib/dtu-test-registry
conf="$state/conf"
certs_d="/etc/docker/certs.d/$host"
user=dtu-tester
arm64_repo=dimtensor-up-test/arm64

stop() {
  docker rm -f "$name" >/dev/null 2>&1 || true
  docker network rm "$name" >/dev/null 2>&1 || true
  rm -rf "$certs_d" "$state"
}

mode=${1:-}
case $mode in
  stop) stop; exit 0 ;;
  start | push) shift ;;
  *) echo "usage: $0 start IMAGE... | push IMAGE... | stop" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "error: the test registry needs root (certs.d, its storage)" >&2; exit 1; }
# The registry's own client config: the logins below stay out of root's ~/.docker.
export DOCKER_CONFIG="$state/docker-config"
# A fresh registry: CA, certificate, login, container, trust.
start_registry() {
  stop
  if ! command -v docker-registry >/dev/null || ! command -v htpasswd >/dev/null; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry apache2-utils >/dev/null
  fi
  mkdir -p "$state/conf" "$state/data" "$state/image"

  # A test CA, and a server certificate for the registry's address.
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=dimtensor-up test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$state/ca.key" -out "$conf/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$ip" -keyout "$conf/server.key" -out "$state/server.csr" 2>/dev/null
  openssl x509 -req -in "$state/server.csr" -CA "$conf/ca.crt" -CAkey "$state/ca.key" -CAcreateserial -days 2 \
    -extfile <(printf 'subjectAltName=IP:%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$ip") \
    -out "$conf/server.crt" 2>/dev/null
  password=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
  htpasswd -Bbn "$user" "$password" >"$conf/htpasswd" 2>/dev/null
  chmod a+r "$conf"/*
  cat >"$conf/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: :5000
  tls:
    certificate: /etc/registry/server.crt
    key: /etc/registry/server.key
auth:
  htpasswd:
    realm: dimtensor-up-test
    path: /etc/registry/htpasswd
YAML

  # The registry's image: Debian's binary on the Debian base the tests have (no registry to pull from).
  cp /usr/bin/docker-registry "$state/image/"
  cat >"$state/image/Dockerfile" <<'DOCKERFILE'
FROM python:3.11-slim-bookworm
COPY docker-registry /usr/local/bin/docker-registry
LABEL org.dimtensor-up.test=registry
ENTRYPOINT ["docker-registry", "serve", "/etc/registry/config.yml"]
DOCKERFILE
  buildkit_build -q -t dimtensor-up-test/registry "$state/image" >/dev/null
  docker network create --subnet "$subnet" "$name" >/dev/null
  docker run -d --name "$name" --network "$name" --ip "$ip" --restart no \
    -v "$conf:/etc/registry:ro" -v "$state/data:/var/lib/registry" dimtensor-up-test/registry >/dev/null
  mkdir -p "$certs_d"
  cp "$conf/ca.crt" "$certs_d/ca.crt"
  # Up once it asks for the login.
  asks_for_login() {
    code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$conf/ca.crt" "https://$host/v2/" || true)
    [ "$code" = 401 ]
  }
  wait_until 10 0.2 asks_for_login || true
  [ "$code" = 401 ] || { docker logs "$name" >&2; echo "error: the test registry did not answer (HTTP $code)" >&2; exit 1; }
  echo "$password" | docker login -u "$user" --password-stdin "$host" >/dev/null 2>&1
  echo "$password" >"$state/password"
}

[ "$mode" = start ] && start_registry

# The workflow's tags, each a manifest list over the architectures present here.
version=$(sed -n 's/^ARG DIMTENSOR_VERSION=//p' docker/Dockerfile)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo 0000000)
for image in "$@"; do
  sources=()
  for arch in ${DTU_REGISTRY_ARCHS:-amd64 arm64}; do
    local_ref="ghcr.io/marcoloco23/dimtensor:$image"
    [ "$arch" = arm64 ] && local_ref="$arm64_repo:$image"
    docker image inspect "$local_ref" >/dev/null 2>&1 || continue
    docker tag "$local_ref" "$host/dimtensor:$image-linux-$arch"
    docker push -q "$host/dimtensor:$image-linux-$arch" >/dev/null
    docker rmi "$host/dimtensor:$image-linux-$arch" >/dev/null
    sources+=("$host/dimtensor:$image-linux-$arch")
  done
  [ ${#sources[@]} -gt 0 ] || { echo "error: no local $image to push" >&2; exit 1; }
  for tag in "$image" "$image-$version" "$image-sha-$commit"; do
    docker manifest rm "$host/dimtensor:$tag" >/dev/null 2>&1 || true
    docker manifest create "$host/dimtensor:$tag" "${sources[@]}" >/dev/null
    docker manifest push --purge "$host/dimtensor:$tag" >/dev/null
  done
  echo "pushed $host/dimtensor:$image ($(printf '%s ' "${sources[@]##*-linux-}"| sed 's/ $//'))" >&2
done

[ "$mode" = push ] && exit 0
echo "DTU_REGISTRY=$host/dimtensor"
echo "DTU_REGISTRY_USER=$user"
echo "DTU_REGISTRY_PASSWORD=$password"
echo "DTU_REGISTRY_CA=$conf/ca.crt"
echo "DTU_REGISTRY_CONTAINER=$name"
