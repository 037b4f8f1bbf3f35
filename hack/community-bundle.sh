#!/usr/bin/env bash
# community-bundle.sh writes a release as the community-operators repositories (k8s-operatorhub/community-operators,
# redhat-openshift-ecosystem/community-operators-prod) hold it, and validates it as far as it can here:
#
#   <out>/operators/<package>/ci.yaml                      the upgrade graph mode (replaces-mode: the CSVs'
#                                                          spec.replaces and olm.skipRange) and the reviewers
#   <out>/operators/<package>/<version>/manifests/          bundle/manifests
#   <out>/operators/<package>/<version>/metadata/           bundle/metadata (with com.redhat.openshift.versions)
#   <out>/operators/<package>/<version>/tests/scorecard/    bundle/tests/scorecard (metadata names it)
#
# then runs operator-sdk's `bundle validate` with the operatorframework suite and the community validator, failing
# on any error. The repositories' own pipelines (their ansible and Tekton checks, which pull images and build
# indexes) need the network and are not run here.
#
# Usage: hack/community-bundle.sh <operator-sdk> <bundle-dir> <bundle.Dockerfile> <out> <package> <version> [reviewer...]
set -euo pipefail
sdk=${1:?operator-sdk}; bundle=${2:?bundle-dir}; dockerfile=${3:?bundle.Dockerfile}; out=${4:?out}
package=${5:?package}; version=${6:?version}; shift 6
dir=$out/operators/$package
rm -rf "$dir/$version"
mkdir -p "$dir/$version"
cp -r "$bundle/manifests" "$bundle/metadata" "$dir/$version/"
if [ -d "$bundle/tests" ]; then cp -r "$bundle/tests" "$dir/$version/"; fi
{
  echo "---"
  echo "# The upgrade graph comes from each CSV's spec.replaces and olm.skipRange."
  echo "updateGraph: replaces-mode"
  if [ $# -gt 0 ]; then
    echo "# GitHub users who may approve updates of this operator."
    echo "reviewers:"
    for r in "$@"; do echo "  - $r"; done
  fi
} > "$dir/ci.yaml"
grep -q '^  com.redhat.openshift.versions: ' "$dir/$version/metadata/annotations.yaml" ||
  { echo "$dir/$version/metadata/annotations.yaml has no com.redhat.openshift.versions" >&2; exit 1; }
"$sdk" bundle validate "$dir/$version" --select-optional suite=operatorframework
"$sdk" bundle validate "$dir/$version" --select-optional name=community --optional-values="image-path=$dockerfile"
echo "Wrote $dir/$version and $dir/ci.yaml"
