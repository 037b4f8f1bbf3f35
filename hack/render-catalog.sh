#!/usr/bin/env bash
# render-catalog.sh writes the file-based catalog for OLM: the package, the stable channel with the upgrade edges
# 0.1.0 -> 0.2.0 -> current (each release with a skipRange from 0.1.0, so any earlier release upgrades in one step),
# and every bundle (the released ones are kept as test data in tests/testdata/bundle-<version>, as shipped) rendered
# by opm from their bundle images, by digest, as release pipelines do: each olm.bundle names its image in
# <bundle-repo> and its relatedImages. The bundle images are reproducible, so `make bundle-image IMAGE_PUSH=1`
# (and the same for each release's folder) publishes exactly the digests named here.
#
# Usage: hack/render-catalog.sh <opm> <package> <version> <channel> <bundle-repo>
set -euo pipefail
opm=${1:?opm}; package=${2:?package}; version=${3:?version}; channel=${4:?channel}; repo=${5:?bundle-repo}
out=catalog/${package}
mkdir -p "$out"
{
  cat <<YAML
---
schema: olm.package
name: ${package}
defaultChannel: ${channel}
description: Copies ConfigMaps and Secrets into other namespaces and keeps them in sync; generates and rotates Secrets.
---
schema: olm.channel
package: ${package}
name: ${channel}
entries:
- name: ${package}.v0.1.0
- name: ${package}.v0.2.0
  replaces: ${package}.v0.1.0
  skipRange: '>=0.1.0 <0.2.0'
- name: ${package}.v${version}
  replaces: ${package}.v0.2.0
  skipRange: '>=0.1.0 <${version}'
---
schema: olm.deprecations
package: ${package}
entries:
- reference:
    schema: olm.bundle
    name: ${package}.v0.1.0
  message: >-
    0.1.0 serves only the deprecated v1beta1 API (no conversion webhook, no leader election, no ManagedSecret).
    Install or upgrade to the head of the stable channel; the upgrade converts existing ConfigMapSyncs to v1.
YAML
  # hack/image is a module of its own (hack/image/go.mod): run there, so the folders it is given are absolute.
  go -C hack/image run . render -opm "$opm" -repo "$repo" -bundle "$PWD/tests/testdata/bundle-0.1.0" \
    -bundle "$PWD/tests/testdata/bundle-0.2.0" -bundle "$PWD/bundle"
} > "$out/catalog.yaml"
