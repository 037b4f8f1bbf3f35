#!/usr/bin/env bash
# render-catalog.sh writes the file-based catalog for OLM: the package, the stable channel with the upgrade edge
# 0.1.0 -> current (plus a skipRange), and both bundles rendered by opm from their folders (0.1.0 is kept as test
# data in tests/testdata/bundle-0.1.0). The bundles carry no image: OLM installs them from the catalog's inline
# objects, and a real release sets the image with `opm render <bundle-image>`.
#
# Usage: hack/render-catalog.sh <opm> <package> <version> <channel>
set -euo pipefail
opm=${1:?opm}; package=${2:?package}; version=${3:?version}; channel=${4:?channel}
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
- name: ${package}.v${version}
  replaces: ${package}.v0.1.0
  skipRange: '>=0.1.0 <${version}'
YAML
  "$opm" render tests/testdata/bundle-0.1.0 --output yaml
  "$opm" render bundle --output yaml
} > "$out/catalog.yaml"
