#!/usr/bin/env bash
# Checks what can be checked of the deployment here (no Docker engine, no cluster): the
# Kubernetes manifests validate against the Kubernetes schemas, the Dockerfile builds with the
# README's commands, and the container's entrypoint works run directly on the host with the
# Dockerfile's environment.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.build/venv-api
[ -x "$venv/bin/kubernetes-validate" ] || { python3 -m venv "$venv"; "$venv/bin/pip" install -q "kubernetes-validate==1.37.0"; }
"$venv/bin/kubernetes-validate" --strict --quiet deploy/configmap.yaml deploy/deployment.yaml deploy/service.yaml deploy/hpa.yaml deploy/pdb.yaml deploy/batch/job.yaml
grep -q "resources:" deploy/kustomization.yaml
for f in $(sed -n '/^resources:/,$p' deploy/kustomization.yaml | sed -n 's/^  - //p'); do
  [ -f "deploy/$f" ] || { echo "deploy/kustomization.yaml lists a missing file: $f" >&2; exit 1; }
done
# The Dockerfile builds with the README's set-up and build commands.
grep -q "bash scripts/bootstrap.sh" README.md && grep -q "RUN bash scripts/bootstrap.sh && swift build -c release" Dockerfile \
  || { echo "Dockerfile must use the README's commands (bash scripts/bootstrap.sh && swift build -c release)" >&2; exit 1; }
# The entrypoint with the Dockerfile's environment, run on the host.
bin=.build/debug/pairranker
[ -x "$bin" ] || swift build --product pairranker
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
home=$(mktemp -d)
envs=$(sed -n 's/^ENV //p; s/^    \([A-Z_]*=[^ \\]*\).*/\1/p' Dockerfile | tr -d '\\' | tr ' ' '\n' | grep '=' )
env $envs HF_HOME="$home" HF_HUB_OFFLINE=1 PAIRRANKER_PORT="$port" PAIRRANKER_MODEL=Tests/Fixtures/tiny-pair-ranker \
  "$bin" serve 2>"$home/log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$home"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/health" >/dev/null
grep -q '"host":"0.0.0.0"' "$home/log" || { echo "the entrypoint did not take PAIRRANKER_HOST from the Dockerfile" >&2; exit 1; }
kill -TERM $pid
wait $pid
echo "deploy check: manifests valid, Dockerfile uses the README's commands, entrypoint served and drained"
