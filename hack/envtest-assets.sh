#!/usr/bin/env bash
# envtest-assets.sh builds the control-plane binaries envtest needs (kube-apiserver and etcd) from the Go module
# proxy, because setup-envtest and kind need the internet or a container engine. It prints the folder to use as
# KUBEBUILDER_ASSETS. A folder that already holds the binaries asked for is reused as it is.
#
# Usage: hack/envtest-assets.sh <output-root> <kubernetes-version> [extra kube commands...]
#   e.g. hack/envtest-assets.sh bin/k8s 1.37.2                    -> bin/k8s/1.37.2-linux-amd64
#        hack/envtest-assets.sh bin/k8s 1.37.2 kube-controller-manager kube-scheduler
#
# etcd is the version k8s.io/kubernetes itself requires (and runs its integration tests with), built from its
# etcdmain package in the same go build as the Kubernetes commands.
set -euo pipefail

root=${1:?output root}
kube_version=${2:?kubernetes version}
shift 2
extra=("$@")

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
operator_module=$(cd "$repo" && go list -m)
out="$(mkdir -p "$root" && cd "$root" && pwd)/${kube_version}-$(go env GOOS)-$(go env GOARCH)"
mkdir -p "$out"
log() { echo "envtest-assets: $*" >&2; }

# Staging modules are published as k8s.io/<name> v0.<minor>.<patch> for kubernetes v1.<minor>.<patch>.
staging_version="v0.${kube_version#1.}"

commands=()
for cmd in kube-apiserver etcd "${extra[@]}"; do
  [ -x "$out/$cmd" ] || commands+=("$cmd")
done
if [ ${#commands[@]} -eq 0 ]; then
  echo "$out"
  exit 0
fi

log "building ${commands[*]} from k8s.io/kubernetes@v${kube_version} (takes minutes the first time)"
src_ro=$(go mod download -json "k8s.io/kubernetes@v${kube_version}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$src_ro" ] || { log "could not download k8s.io/kubernetes@v${kube_version}"; exit 1; }
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$src_ro" "$work/kubernetes"
chmod -R u+w "$work/kubernetes"
cd "$work/kubernetes"
rm -f go.work go.work.sum
# The module zip has no staging/ folder: point every staging replace at the published module instead.
sed -i -E \
  -e "s#^([[:space:]]*)(k8s\.io/[a-z0-9./-]+) => \./staging/src/k8s\.io/[a-z0-9./-]+\$#\1\2 => \2 ${staging_version}#" \
  -e "s#^([[:space:]]*)(k8s\.io/[a-z0-9./-]+) v0\.0\.0\$#\1\2 ${staging_version}#" \
  go.mod
# Require the operator's module (its own folder), which only ever raises versions: where both use a module, they use
# the same version, so the Go build cache compiles client-go and the rest of what they share once for both.
go mod edit -require="${operator_module}@v0.0.0" -replace="${operator_module}=${repo}"
# etcd's command is etcdmain, at the version Kubernetes requires.
mkdir -p cmd/etcd
printf 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n' \
  > cmd/etcd/main.go
log "etcd $(go list -mod=mod -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)"
# Stamp the version, as the release build does: clients such as OLM compare it with minKubeVersion.
minor=${kube_version#1.}; minor=${minor%%.*}
pkg=k8s.io/component-base/version
ldflags="-s -w -X ${pkg}.gitVersion=v${kube_version} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
ldflags+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=1970-01-01T00:00:00Z"
# One go build for all of them: their links overlap with compiling, and packages they share compile once.
log "go build ${commands[*]/#/./cmd/}"
mkdir -p "$work/out"
go build -mod=mod -trimpath -ldflags="$ldflags" -o "$work/out/" "${commands[@]/#/./cmd/}"
for cmd in "${commands[@]}"; do mv "$work/out/$cmd" "$out/$cmd"; done

echo "$out"
