#!/usr/bin/env bash
# build-shared.sh olmv1|cert-manager SHARED_DIR SRC_DIR OUT_DIR
#
# Builds, static for linux/amd64, the programs of the dependencies the Go module proxy does not serve, from the
# `git archive` tarballs in SHARED_DIR (the machine's ../shared, see its READMEs):
#   olmv1:        operator-controller and catalogd v1.11.0 (olmv1/), with boxcutter v0.14.0 (which it requires) replaced
#                 by its tarball; its own release manifests (manifests/standard.yaml) stay in SRC_DIR for the suite.
#   cert-manager: cert-manager v1.21.1's controller, webhook and cainjector (certmanager/); the controller's
#                 github.com/Venafi/vcert/v5 (refused by the proxy) replaced by its tarball; the chart stays in SRC_DIR.
# The tarballs are never edited: they are unpacked afresh into SRC_DIR, and the replaces go into the unpacked go.mod.
set -euo pipefail
what=$1 shared=$2 src=$3 out=$(realpath -m "$4")

unpack() { # unpack TARBALL: into $src, which it empties first.
  tar -xzf "$1" -C "$src"
}

rm -rf "$src" && mkdir -p "$src" "$out"
export CGO_ENABLED=0 GOOS=linux GOARCH=amd64
build=(go build -mod=mod -trimpath -ldflags='-s -w')
case "$what" in
olmv1)
  unpack "$shared/olmv1/operator-controller-v1.11.0.tar.gz"
  unpack "$shared/olmv1/boxcutter-v0.14.0.tar.gz"
  cd "$src/operator-controller"
  go mod edit -replace pkg.package-operator.run/boxcutter="$src/boxcutter"
  # Without containers_image_openpgp, containers/image needs gpgme through cgo.
  "${build[@]}" -tags containers_image_openpgp,exclude_graphdriver_btrfs,exclude_graphdriver_devicemapper \
    -o "$out/" ./cmd/operator-controller ./cmd/catalogd
  ;;
cert-manager)
  unpack "$shared/certmanager/cert-manager-v1.21.1.tar.gz"
  unpack "$shared/certmanager/vcert-v5.13.7.tar.gz"
  (cd "$src/cert-manager/cmd/controller" && go mod edit -replace github.com/Venafi/vcert/v5="$src/vcert")
  for cmd in controller webhook cainjector; do
    (cd "$src/cert-manager/cmd/$cmd" && "${build[@]}" -o "$out/$cmd" .)
  done
  ;;
*)
  echo "build-shared.sh: unknown $what (olmv1 or cert-manager)" >&2
  exit 2
  ;;
esac
touch "$out/.built"
