#!/usr/bin/env bash
# olm-release.sh HELM OLM_MODULE_DIR VERSION OLM_IMAGE OPM_IMAGE OUT
# olm-release.sh --check OLM_MODULE_DIR VERSION OLM_IMAGE OPM_IMAGE OUT
#
# Renders OLM v0's release manifests (OUT/crds.yaml and OUT/olm.yaml, what its GitHub releases ship and its
# install.sh applies) from the chart in OLM's module, as OLM's `make release` does: scripts/package_release.sh
# (helm template of deploy/chart with deploy/upstream/values.yaml, the chart's version and image references set),
# then OLM's own scripts/package_quickstart.sh. The quickstart folder in OLM's source is not used: it is left from
# an old release (its packageserver is 0.18.3; its catalog operator's flags no longer parse).
#
# One difference: the release pins OLM's and opm's images by their published digests; here they are named by the
# tags the end-to-end suite serves the images built from the same source under.
#
# The result is committed (building helm costs CI minutes), with OUT/SHA256SUMS: a digest of every input (this
# script, the chart, the values, the quickstart script, the arguments) and of both outputs. --check recomputes
# them without helm and fails when the inputs changed or an output was edited by hand.
set -euo pipefail

check=
if [ "$1" = --check ]; then check=1; fi
helm=$1 src=$2 version=$3 olm_image=$4 opm_image=$5 out=$(realpath -m "$6")

# inputs_digest prints one digest over everything the rendering reads, paths relative to the module.
inputs_digest() {
  {
    sha256sum < "${BASH_SOURCE[0]}"
    echo "$version $olm_image $opm_image"
    (cd "$src" && find deploy/chart deploy/upstream/values.yaml scripts/package_quickstart.sh -type f -print0 \
      | LC_ALL=C sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -d' ' -f1
}

if [ -n "$check" ]; then
  want=$(sed -n 's/^inputs \([0-9a-f]*\)$/\1/p' "$out/SHA256SUMS")
  if [ "$want" != "$(inputs_digest)" ]; then
    echo "olm-release: $out was rendered from other inputs (OLM version, chart, images or this script changed): run make olm-release" >&2
    exit 1
  fi
  (cd "$out" && grep -v '^inputs ' SHA256SUMS | sha256sum --quiet -c -) || {
    echo "olm-release: a file in $out differs from what was rendered: run make olm-release" >&2; exit 1; }
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cp -R "$src/deploy/chart" "$tmp/chart"
chmod -R u+w "$tmp/chart"
sed "s/^[Vv]ersion:.*\$/version: ${version}/" "$src/deploy/chart/Chart.yaml" > "$tmp/chart/Chart.yaml"
# What package_release.sh writes into the values with yq.
cat > "$tmp/images.yaml" <<VALUES
olm: {image: {ref: "$olm_image"}}
catalog: {image: {ref: "$olm_image"}, opmImageArgs: "--opmImage=$opm_image"}
package: {image: {ref: "$olm_image"}}
VALUES
"$helm" template -n olm -f "$src/deploy/upstream/values.yaml" -f "$tmp/images.yaml" --include-crds \
  --output-dir "$tmp/rendered" "$tmp/chart" >/dev/null
mkdir -p "$tmp/manifests" "$out"
cp -R "$tmp/rendered/olm/templates/." "$tmp/rendered/olm/crds/." "$tmp/manifests"
# It copies its install.sh from the source's scripts/.
(cd "$src" && bash scripts/package_quickstart.sh "$tmp/manifests" "$out/olm.yaml" "$out/crds.yaml" "$tmp/install.sh" >/dev/null)
{
  echo "inputs $(inputs_digest)"
  (cd "$out" && sha256sum crds.yaml olm.yaml)
} > "$out/SHA256SUMS"
