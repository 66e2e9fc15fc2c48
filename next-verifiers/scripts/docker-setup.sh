#!/usr/bin/env bash
# Prerequisites of the Docker sandbox's tests (next-verifiers, feature `docker`):
#   1. the engine: Debian's docker.io, installed with apt-get when `dockerd` is missing;
#   2. a running engine: when none answers, dockerd is started in the background with no
#      bridge and no iptables (jobs run with network "none"), on overlay2, or on vfs where
#      overlay2 cannot run (nested), logging to .cache/docker/dockerd.log;
#   3. the sandbox image (next-python:latest), built by `next docker image` from the host's
#      Python when it is absent (no registry is reachable).
# Idempotent: each step is skipped when its result is there. Run from anywhere, as root.
set -euo pipefail
cd "$(dirname "$0")/../.."

cache=.cache/docker
mkdir -p "$cache"
image=${NEXT_DOCKER_IMAGE:-next-python:latest}

answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if ! command -v dockerd >/dev/null 2>&1; then
    echo "docker-setup: installing docker.io"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
fi

if ! answers; then
    for driver in overlay2 vfs; do
        echo "docker-setup: starting dockerd (storage driver $driver)"
        nohup dockerd --bridge=none --iptables=false --ip6tables=false \
            --storage-driver="$driver" >"$cache/dockerd.log" 2>&1 &
        pid=$!
        for _ in $(seq 60); do
            answers && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        answers && break
        echo "docker-setup: dockerd did not come up on $driver:"
        tail -5 "$cache/dockerd.log" || true
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    answers || { echo "docker-setup: no Docker engine could be started" >&2; exit 1; }
fi
echo "docker-setup: engine $(docker version --format '{{.Server.Version}}') ($(docker info --format '{{.Driver}}'))"

if docker image inspect "$image" >/dev/null 2>&1; then
    echo "docker-setup: image $image present"
else
    # The test build compiles `next` with every feature: building it here costs the test
    # step nothing.
    cargo test --workspace --all-features --no-run --quiet
    "${CARGO_TARGET_DIR:-target}/debug/next" docker image --tag "$image"
fi
