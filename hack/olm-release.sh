#!/usr/bin/env bash
# olm-release.sh HELM OLM_MODULE_DIR VERSION OLM_IMAGE OPM_IMAGE OUT
#
# Renders OLM v0's release manifests (OUT/crds.yaml and OUT/olm.yaml, what its GitHub releases ship and its
# install.sh applies) from the chart in OLM's module, as OLM's `make release` does: scripts/package_release.sh
# (helm template of deploy/chart with deploy/upstream/values.yaml, the chart's version and image references set),
# then OLM's own scripts/package_quickstart.sh. The quickstart folder in OLM's source is not used: it is left from
# an old release (its packageserver is 0.18.3; its catalog operator's flags no longer parse).
#
# One difference: the release pins OLM's and opm's images by their published digests; here they are named by the
# tags the end-to-end suite serves the images built from the same source under.
set -euo pipefail

helm=$1 src=$2 version=$3 olm_image=$4 opm_image=$5 out=$(realpath -m "$6")
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
