#!/usr/bin/env bash
# build.sh TARBALL SRC_DIR CACHE_DIR
#
# Builds the OKD console (release-4.18) from the `git archive` tarball in the machine's ../shared/console (see its
# README): the frontend (yarn 4 from the tree, webpack production build into frontend/public/dist) and the bridge (Go,
# vendored, bin/bridge). The tarball is never edited: it is unpacked afresh into SRC_DIR, and only that copy gets the
# pins of hack/console/pins.json (versions the npm registry here does not serve) and the type declarations that stand in
# for @kubernetes-models/shipwright. CACHE_DIR keeps yarn's package cache between builds. SRC_DIR/.built-KEY marks a
# finished build of this tarball with these pins: when it is there, nothing is done.
set -euo pipefail
tarball=$(realpath "$1") src=$(realpath -m "$2") cache=$(realpath -m "$3")
here=$(cd "$(dirname "$0")" && pwd)

key=$( (sha256sum "$tarball" | cut -d' ' -f1; cd "$here" && find . -type f | sort | xargs sha256sum) | sha256sum | cut -c1-16)
if [ -e "$src/.built-$key" ]; then
  echo "console: $src is built from this tarball and these pins"
  exit 0
fi

rm -rf "$src" && mkdir -p "$src" "$cache"
tar -xzf "$tarball" -C "$src" --strip-components=1

cd "$src/frontend"
mkdir -p .configmapsync-pins && cp -r "$here/shipwright" .configmapsync-pins/
node -e '
  const fs = require("fs");
  const pkg = JSON.parse(fs.readFileSync("package.json"));
  const pins = JSON.parse(fs.readFileSync(process.argv[1])).resolutions;
  pkg.resolutions = Object.assign(pkg.resolutions || {}, pins);
  fs.writeFileSync("package.json", JSON.stringify(pkg, null, 2) + "\n");
' "$here/pins.json"

yarn=(node .yarn/releases/yarn-4.12.0.cjs)
# Cypress's postinstall downloads its binary from outside the registries; husky's wants a git checkout; yarn's
# cache stays in CACHE_DIR.
export CYPRESS_INSTALL_BINARY=0 HUSKY=0 YARN_ENABLE_GLOBAL_CACHE=false YARN_CACHE_FOLDER="$cache/yarn" YARN_ENABLE_TELEMETRY=0
time "${yarn[@]}" install
# package.json's "build" script, with the heap the production build needs (the script's 4 GiB is not enough).
time "${yarn[@]}" run clean
time "${yarn[@]}" run generate
time env NODE_ENV=production NODE_OPTIONS=--max-old-space-size=8192 "${yarn[@]}" ts-node ./node_modules/.bin/webpack --mode=production

cd "$src"
time env GOFLAGS=-mod=vendor CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o bin/bridge ./cmd/bridge
touch "$src/.built-$key"
