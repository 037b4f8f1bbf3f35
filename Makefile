# ConfigMapSync Operator. `make help` lists the targets; `make test` and `make demo` are the two that matter.

VERSION ?= 0.3.0
# The release VERSION replaces (the CSV's spec.replaces); its olm.skipRange covers every release from the first.
PREVIOUS_VERSION ?= $(lastword $(RELEASED_VERSIONS))
# The OpenShift versions the bundle is for (com.redhat.openshift.versions: 4.17 and later, whose Kubernetes is the
# CSV's minKubeVersion, 1.30, or newer).
OPENSHIFT_VERSIONS ?= v4.17
# The day VERSION is released: the CSV's createdAt (OperatorHub shows it), so the bundle does not depend on when
# it is built.
RELEASE_DATE ?= 2026-11-30
IMAGE_TAG_BASE ?= quay.io/configmapsync/configmapsync-operator
IMG ?= $(IMAGE_TAG_BASE):v$(VERSION)
BUNDLE_IMG ?= $(IMAGE_TAG_BASE)-bundle:v$(VERSION)
CATALOG_IMG ?= $(IMAGE_TAG_BASE)-catalog:v$(VERSION)
CHANNELS ?= stable
DEFAULT_CHANNEL ?= stable
PACKAGE ?= configmapsync-operator
CONTAINER_TOOL ?= docker
BUNDLE_GEN_FLAGS ?= -q --overwrite --version $(VERSION) --channels=$(CHANNELS) --default-channel=$(DEFAULT_CHANNEL) --package $(PACKAGE) \
  --extra-service-accounts $(PACKAGE)-metrics-scraper

# Pinned versions. Every tool is built from these into bin/ once and reused.
# go-mod-version is the version of module $(1) that the go.mod $(2) requires.
go-mod-version = $(shell sed -n 's|.*$(subst .,\.,$(1)) \(v[^ ]*\).*|\1|p' $(2))
KUBERNETES_VERSION ?= 1.37.2
# controller-gen's version is the one its tools module pins (hack/tools/controller-gen/go.mod), so it is read from there.
CONTROLLER_TOOLS_VERSION := $(call go-mod-version,sigs.k8s.io/controller-tools,hack/tools/controller-gen/go.mod)
KUSTOMIZE_VERSION ?= v5.7.1
GOLANGCI_LINT_VERSION ?= v2.15.0
# operator-sdk, scorecard-test, opm and grpc_health_probe come from one tools module (hack/tools/operator-sdk), so
# their versions are read from its go.mod: opm is the operator-registry that operator-sdk requires.
SDK_TOOLS_MOD := hack/tools/operator-sdk/go.mod
OPERATOR_SDK_VERSION := $(call go-mod-version,github.com/operator-framework/operator-sdk,$(SDK_TOOLS_MOD))
OPM_VERSION := $(call go-mod-version,github.com/operator-framework/operator-registry,$(SDK_TOOLS_MOD))
OLM_VERSION ?= v0.33.0

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
LOCALBIN ?= $(CURDIR)/bin
GOOS := $(shell go env GOOS)
GOARCH := $(shell go env GOARCH)

CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
KUSTOMIZE ?= $(LOCALBIN)/kustomize-$(KUSTOMIZE_VERSION)
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
OPERATOR_SDK ?= $(LOCALBIN)/operator-sdk-$(OPERATOR_SDK_VERSION)
# opm: the static linux/amd64 binary the catalog image carries serves the host too.
OPM_STATIC := $(LOCALBIN)/image/opm-$(OPM_VERSION)-linux-amd64
# OPM_IMAGE is the opm image that OPM_STATIC is for: catalog.Dockerfile's base, and OLM's bundle unpacking image.
OPM_IMAGE := quay.io/operator-framework/opm:$(OPM_VERSION)
OPM ?= $(OPM_STATIC)

# The control plane for tests: the user's own KUBEBUILDER_ASSETS (setup-envtest) when set, else ours, built from source.
ENVTEST_ASSETS_DIR := $(LOCALBIN)/k8s/$(KUBERNETES_VERSION)-$(GOOS)-$(GOARCH)
ifeq ($(origin KUBEBUILDER_ASSETS),undefined)
KUBEBUILDER_ASSETS := $(ENVTEST_ASSETS_DIR)
ENVTEST_DEP := $(ENVTEST_ASSETS_DIR)/kube-apiserver $(ENVTEST_ASSETS_DIR)/etcd $(ENVTEST_ASSETS_DIR)/kubectl
endif
export KUBEBUILDER_ASSETS

TOOLS_BUILD_TAGS := containers_image_openpgp,exclude_graphdriver_btrfs,exclude_graphdriver_devicemapper

# Everything builds as the operator image does: static (no cgo) and -trimpath, unless the caller says otherwise. One
# build configuration means the Go build cache compiles each package once for the tests, bin/manager, the image and
# tools of the same module, not once per configuration (a cold CI run is mostly compiling). The compiler writes no
# DWARF: every binary is linked with -s -w, which drops it anyway, and stack traces and profiles come from the
# runtime's own tables, not DWARF; skipping it saves about a tenth of the compile work (11% of the CPU time of a cold
# build of client-go and controller-runtime). For a debugger, run make with GOFLAGS=-trimpath.
export CGO_ENABLED ?= 0
export GOFLAGS ?= -trimpath -buildvcs=false -gcflags=all=-dwarf=false

# The Go modules: the operator (.: only what bin/manager links, and its unit tests) and its tooling, each a module of
# its own so that the operator's go.mod lists only what the operator links (see each go.mod's header): image
# building (hack/image), the suites and their harness (tests), the other hack commands (hack), the benchmark (bench),
# the alerting rules' tests (tests/alertrules). fmt, vet, test and lint cover each. Not hack/tools/*: they pin build
# tools (about 100 lines of ours), and vetting them would compile the tools again in a second configuration.
GO_MODULES := . hack/image tests hack bench tests/alertrules
# in-each-module runs the command $(1) in each of GO_MODULES, all of them, and then fails if it failed in one.
in-each-module = failed=; for m in $(GO_MODULES); do echo "[$$m] $(1)"; (cd $$m && $(1)) || failed="$$failed $$m"; done; \
  if [ -n "$$failed" ]; then echo "failed in:$$failed" >&2; exit 1; fi
# run-cmd builds the command in the folder $(1) (which its own module holds) into bin/run/ and runs it from here, so
# the paths it is given and its defaults are relative to the checkout, as with `go run ./$(1)`.
run-cmd = go -C $(1) build -o $(LOCALBIN)/run/$(notdir $(1)) . && $(LOCALBIN)/run/$(notdir $(1))

.DEFAULT_GOAL := help

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) $(KUSTOMIZE) ## Generate CRDs, RBAC and webhook manifests from the markers in api/ and controllers/, the monitoring objects the operator installs, and the API reference docs/api.md.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd webhook paths="{./api/...,./controllers/...,./internal/...}" output:crd:artifacts:config=config/crd/bases
	$(KUSTOMIZE) build config/monitoring > internal/monitoring/manifests.yaml
	$(call run-cmd,hack/apidocs) --crds config/crd/bases --out docs/api.md

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## Run go fmt in every Go module.
	@$(call in-each-module,go fmt ./...)

.PHONY: vet
vet: ## Run go vet in every Go module.
	@$(call in-each-module,go vet -tags e2e$(comma)chaos ./...)

# The benchmark: the real bin/manager (leader election, production flags) on a local control plane, each figure
# next to the same writes made directly with client-go. BENCH_* variables shrink it (bench/main.go lists them).
.PHONY: bench
bench: build $(ENVTEST_DEP) ## Benchmark fan-out curves (namespaces, copy size), update latency, churn curve, memory, no-op resyncs, failover; writes bench/results/latest.{json,md,png} and curves.png.
	$(call run-cmd,bench) --manager $(LOCALBIN)/manager

# The chaos suite: three bin/manager replicas behind a fault-injecting proxy, leader kills and an API-server
# restart while a workload runs; then the invariants (copies match, no orphans, nothing foreign touched). CI runs it.
.PHONY: test-chaos
test-chaos: build $(ENVTEST_DEP) ## Run the bounded chaos suite against the real manager binary.
	cd tests && CHAOS_MANAGER=$(LOCALBIN)/manager go test -tags chaos ./chaos/ -count=1 -v -timeout 10m

FUZZTIME ?= 30s
.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (their seed corpora already run in `make test`).
	go test ./api/v1beta1/ -run='^$$' -fuzz='^FuzzConversionRoundTrip$$' -fuzztime=$(FUZZTIME)
	go test ./api/v1beta1/ -run='^$$' -fuzz='^FuzzHubConversionRoundTrip$$' -fuzztime=$(FUZZTIME)
	go test ./internal/webhook/ -run='^$$' -fuzz='^FuzzValidateConfigMapSync$$' -fuzztime=$(FUZZTIME)
	go test ./internal/syncer/ -run='^$$' -fuzz='^FuzzContentHash$$' -fuzztime=$(FUZZTIME)

.PHONY: verify-generated
verify-generated: manifests generate bundle catalog build-installer verify-go-mod community-bundle helm-chart olmv1-rbac ## Fail when generated files (CRDs, RBAC, deepcopy, the embedded monitoring objects, bundle, catalog, dist/install.yaml, the Helm chart, the OLM v1 installer's RBAC, OLM's release) drift, and validate the community bundle.
	hack/olm-release.sh --check $(OLM_RELEASE_ARGS)
	@if [ -n "$$(git status --porcelain -- api config bundle bundle.Dockerfile catalog charts dist docs/api.md internal/monitoring)" ]; then \
		echo "Generated files are out of date; run 'make manifests generate bundle catalog build-installer helm-chart olmv1-rbac' and commit:"; \
		git status --porcelain -- api config bundle bundle.Dockerfile catalog charts dist docs/api.md internal/monitoring; \
		git --no-pager diff --stat -- api config bundle bundle.Dockerfile catalog charts dist docs/api.md; exit 1; fi

# Debian's runc: tests/images runs the operator and catalog images with it, as a kubelet's runtime would.
RUNC := $(or $(shell command -v runc 2>/dev/null),/usr/sbin/runc)
$(RUNC):
	@echo "Installing Debian's runc (needs root and apt)"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runc

.PHONY: test
test: manifests generate vet build envtest $(RUNC) catalog-image-tools helm-lint ## Build, vet, lint the Helm chart, and run unit and integration tests (real kube-apiserver + etcd), and run the images with runc, in every Go module.
	@$(call in-each-module,OPM_STATIC=$(OPM_STATIC) GRPC_HEALTH_PROBE=$(GRPC_HEALTH_PROBE) SERVECACHE=$(SERVECACHE) HELM=$(HELM) go test ./... -count=1 -timeout 20m)

# Modules the operator's module graph must not hold: image building and test tooling, whose CVEs scanners reading
# go.mod would report against a binary that never links them (they belong to the modules of hack/image and tests).
TOOLING_MODULES := github.com/google/go-containerregistry github.com/docker/cli github.com/docker/docker \
  github.com/docker/docker-credential-helpers github.com/opencontainers/runtime-spec go.podman.io/image/v5 \
  github.com/operator-framework/api github.com/prometheus/prometheus
.PHONY: verify-go-mod
verify-go-mod: ## Fail when the operator's go.mod graph holds build or test tooling (TOOLING_MODULES), or a Go module is not tidy.
	@found=$$(go mod graph | tr ' ' '\n' | sed 's/@.*//' | sort -u | grep -Fx $(addprefix -e ,$(TOOLING_MODULES)) || true); \
	if [ -n "$$found" ]; then echo "the operator's go.mod graph holds tooling (move it to a tooling module):" $$found >&2; exit 1; fi
	@$(call in-each-module,go mod tidy -diff)

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint in every Go module.
	@$(call in-each-module,$(GOLANGCI_LINT) run ./...)

.PHONY: envtest
envtest: $(ENVTEST_DEP) ## Build kube-apiserver, etcd and kubectl for envtest from source (once), unless KUBEBUILDER_ASSETS is set.
	@echo "KUBEBUILDER_ASSETS=$(KUBEBUILDER_ASSETS)"

$(ENVTEST_ASSETS_DIR)/kube-apiserver $(ENVTEST_ASSETS_DIR)/etcd $(ENVTEST_ASSETS_DIR)/kubectl &:
	hack/envtest-assets.sh $(LOCALBIN)/k8s $(KUBERNETES_VERSION) kubectl

##@ Build and run

.PHONY: build
build: ## Build the manager binary into bin/manager.
	go build -o $(LOCALBIN)/manager .

.PHONY: run
run: manifests generate ## Run the operator against the cluster of the current kubeconfig.
	go run . --leader-elect=false --enable-webhooks=false

.PHONY: demo
demo: build envtest ## Start a local control plane, run the operator on it, apply the samples and show the result.
	$(call run-cmd,hack/demo) --manager $(LOCALBIN)/manager --crds config/crd/bases --samples config/samples --log $(LOCALBIN)/demo-operator.log

# kubectl: yours on PATH, else the one `make envtest` builds from the pinned Kubernetes source.
KUBECTL ?= $(or $(shell command -v kubectl 2>/dev/null),$(ENVTEST_ASSETS_DIR)/kubectl)

.PHONY: install
install: manifests $(KUSTOMIZE) ## Install the CRDs into the cluster of the current kubeconfig.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) apply --server-side -f -

.PHONY: uninstall
uninstall: manifests $(KUSTOMIZE) ## Remove the CRDs from the cluster of the current kubeconfig.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) delete --ignore-not-found -f -

.PHONY: build-installer
build-installer: manifests $(KUSTOMIZE) ## Write dist/install.yaml: the operator without OLM (CRDs, RBAC, Deployment, webhooks with a cert-manager certificate).
	mkdir -p dist
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/install > dist/install.yaml

.PHONY: deploy
deploy: build-installer ## Deploy the operator without OLM (needs cert-manager) to the cluster of the current kubeconfig.
	$(KUBECTL) apply --server-side -f dist/install.yaml

.PHONY: undeploy
undeploy: ## Remove what make deploy applied (its CRDs, so every ConfigMapSync and ManagedSecret, go too).
	$(KUBECTL) delete --ignore-not-found -f dist/install.yaml

##@ OLM

# USE_IMAGE_DIGESTS=true pins the operator image by the digest of `make image` (built first; push it with
# IMAGE_PUSH=1) in the Deployment and the CSV's containerImage, and only then claims the CSV's
# features.operators.openshift.io/disconnected: a mirror (oc-mirror) can copy images named by digest, not by tag.
USE_IMAGE_DIGESTS ?= false
CSV_FILE := bundle/manifests/$(PACKAGE).clusterserviceversion.yaml

.PHONY: bundle
bundle: manifests $(KUSTOMIZE) $(OPERATOR_SDK) $(if $(filter true,$(USE_IMAGE_DIGESTS)),image) ## Generate bundle/ (CSV, CRDs, RBAC, webhooks, monitoring) from config/ and validate it.
	@set -e; image=$(IMG); disconnected=false; \
	if [ "$(USE_IMAGE_DIGESTS)" = true ]; then image=$(IMAGE_TAG_BASE)@$$(cat $(IMAGES_DIR)/operator.digest); disconnected=true; fi; \
	(cd config/manager && $(KUSTOMIZE) edit set image controller=$$image); \
	rm -rf bundle/manifests; \
	$(KUSTOMIZE) build config/manifests | $(OPERATOR_SDK) generate bundle $(BUNDLE_GEN_FLAGS); \
	sed -i -e 's|^    containerImage: .*|    containerImage: '"$$image"'|' \
	  -e 's|^    features.operators.openshift.io/disconnected: .*|    features.operators.openshift.io/disconnected: "'"$$disconnected"'"|' $(CSV_FILE)
	@# bundle/manifests is emptied first: the generator leaves the files of objects config/ no longer has.
	@# The generator stamps the build time; the release date keeps the bundle reproducible.
	sed -i 's|^    createdAt: .*|    createdAt: "$(RELEASE_DATE)T00:00:00Z"|' $(CSV_FILE)
	@# The upgrade edge (config/'s CSV holds placeholders): VERSION replaces PREVIOUS_VERSION and skips every earlier
	@# release, as catalog-template.yaml's channel entry says (tests/bundle checks that they agree).
	sed -i -e "s|^  replaces: .*|  replaces: $(PACKAGE).v$(PREVIOUS_VERSION)|" \
	  -e "s|^    olm.skipRange: .*|    olm.skipRange: '>=$(firstword $(RELEASED_VERSIONS)) <$(VERSION)'|" $(CSV_FILE)
	@# operator-sdk writes annotations.yaml and bundle.Dockerfile without the OpenShift versions (community-operators
	@# and OpenShift catalogs read them from the bundle image's label).
	printf '\n  # The OpenShift versions the bundle is for.\n  com.redhat.openshift.versions: %s\n' "$(OPENSHIFT_VERSIONS)" \
	  >> bundle/metadata/annotations.yaml
	sed -i 's|^# Labels for testing.|# The OpenShift versions the bundle is for.\nLABEL com.redhat.openshift.versions=$(OPENSHIFT_VERSIONS)\n\n&|' bundle.Dockerfile
	$(OPERATOR_SDK) bundle validate ./bundle --select-optional suite=operatorframework

# config/olmv1/installer-rbac.yaml: the least-privilege ServiceAccount, ClusterRole and Role an OLM v1
# ClusterExtension installs bundle/ under, derived from what OLM v1 creates for it (tests/olmv1rbac proves it).
.PHONY: olmv1-rbac
olmv1-rbac: bundle ## Generate config/olmv1/installer-rbac.yaml, the OLM v1 installer's least-privilege RBAC, from bundle/.
	$(call run-cmd,hack/olmv1rbac) -bundle bundle -out config/olmv1/installer-rbac.yaml

# catalog-template.yaml names each release's bundle image by tag; these are the folders they are built from.
CATALOG_BUNDLES = $(foreach v,$(RELEASED_VERSIONS),-bundle v$(v)=tests/testdata/bundle-$(v)) -bundle v$(VERSION)=bundle

.PHONY: catalog
catalog: bundle $(OPM) ## Render the file-based catalog from catalog-template.yaml (each bundle from its image, by digest, with olm.csv.metadata) and validate it.
	mkdir -p catalog/$(PACKAGE)
	$(call run-cmd,hack/image) render -opm $(OPM) -template catalog-template.yaml -repo $(IMAGE_TAG_BASE)-bundle \
	  -migrate-level bundle-object-to-csv-metadata $(CATALOG_BUNDLES) > catalog/$(PACKAGE)/catalog.yaml.tmp
	mv catalog/$(PACKAGE)/catalog.yaml.tmp catalog/$(PACKAGE)/catalog.yaml
	$(OPM) validate catalog

# COMMUNITY_REVIEWERS: the GitHub users who may approve updates in the community-operators repositories (ci.yaml).
COMMUNITY_REVIEWERS ?=
COMMUNITY_DIR := $(LOCALBIN)/community

.PHONY: community-bundle
community-bundle: bundle $(OPERATOR_SDK) ## Write this release as community-operators holds it (bin/community/operators/PACKAGE/{ci.yaml,VERSION/}) and validate it.
	hack/community-bundle.sh $(OPERATOR_SDK) bundle bundle.Dockerfile $(COMMUNITY_DIR) $(PACKAGE) $(VERSION) $(COMMUNITY_REVIEWERS)

##@ Images without a container engine (hack/image and its ociimage package: reproducible OCI images, written as
## OCI layouts under bin/images/ and pushed to IMG, BUNDLE_IMG and CATALOG_IMG when IMAGE_PUSH=1; a registry on
## loopback is reached over plain HTTP).

IMAGE_ARCHS ?= amd64 arm64
IMAGE_PUSH ?=
IMAGES_DIR := $(LOCALBIN)/images
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
IMAGE_LABELS := -label org.opencontainers.image.source=https://github.com/configmapsync/configmapsync-operator \
	-label org.opencontainers.image.version=$(VERSION) -label org.opencontainers.image.revision=$(REVISION) \
	-label org.opencontainers.image.title=$(PACKAGE) -label org.opencontainers.image.licenses=Apache-2.0

.PHONY: image-binaries
image-binaries: ## Build the static manager binaries the operator image carries, one per IMAGE_ARCHS.
	@for arch in $(IMAGE_ARCHS); do echo "manager linux/$$arch"; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch go build -trimpath -ldflags='-s -w' -o $(LOCALBIN)/image/manager-linux-$$arch . || exit 1; done

.PHONY: image
image: image-binaries ## Build the operator image (an index of IMAGE_ARCHS) into bin/images/operator (its digest in operator.digest); IMAGE_PUSH=1 pushes it to IMG.
	mkdir -p $(IMAGES_DIR)
	$(call run-cmd,hack/image) operator -out $(IMAGES_DIR)/operator -tag v$(VERSION) $(IMAGE_LABELS) \
	  $(foreach a,$(IMAGE_ARCHS),-binary $(a)=$(LOCALBIN)/image/manager-linux-$(a)) $(if $(IMAGE_PUSH),-push $(IMG)) \
	  | tee $(IMAGES_DIR)/operator.digest

# The bundle folder of the bundle image: BUNDLE_DIR=tests/testdata/bundle-0.1.0 VERSION=0.1.0 builds (and with
# IMAGE_PUSH=1 publishes) the 0.1.0 bundle the catalog also names by digest.
BUNDLE_DIR ?= bundle

.PHONY: bundle-image
bundle-image: ## Build the bundle image of BUNDLE_DIR (as bundle.Dockerfile does) into bin/images/bundle-vVERSION; IMAGE_PUSH=1 pushes it to BUNDLE_IMG.
	$(call run-cmd,hack/image) bundle -dir $(BUNDLE_DIR) -out $(IMAGES_DIR)/bundle-v$(VERSION) -tag v$(VERSION) \
	  $(if $(IMAGE_PUSH),-push $(BUNDLE_IMG))

# What the catalog image takes from the opm image, built here for linux/amd64: opm, static, grpc_health_probe (OLM's
# catalog pods exec it as their probes), and opm's serve cache of catalog/ made by servecache (opm's cache package,
# JSON format: reproducible, unlike `opm serve --cache-only`). opm is built without cgo, as operator-sdk is: cgo is
# only for its sqlite index databases, which file-based catalogs, `opm serve`, `opm render` and OLM's bundle
# unpacking never open, and it would cost a C compile of sqlite and a static libc. They are built from operator-sdk's
# tools module in the same configuration as operator-sdk, so the Go build cache compiles their packages once.
GRPC_HEALTH_PROBE := $(LOCALBIN)/image/grpc_health_probe-linux-amd64
SERVECACHE := $(LOCALBIN)/servecache-$(OPM_VERSION)
SERVE_CACHE_DIR := $(LOCALBIN)/image/serve-cache
OPM_BUILD = $(SDK_TOOLS_BUILD) -ldflags '-s -w'
$(OPM_STATIC): $(SDK_TOOLS_MOD) | $(LOCALBIN)
	$(OPM_BUILD) -o $@ github.com/operator-framework/operator-registry/cmd/opm
$(SERVECACHE): $(SDK_TOOLS_MOD) | $(LOCALBIN)
	$(OPM_BUILD) -o $@ ./servecache
$(GRPC_HEALTH_PROBE): $(SDK_TOOLS_MOD) | $(LOCALBIN)
	$(OPM_BUILD) -o $@ github.com/grpc-ecosystem/grpc-health-probe

.PHONY: catalog-image-tools
catalog-image-tools: $(OPM_STATIC) $(GRPC_HEALTH_PROBE) $(SERVECACHE) ## Build opm, grpc_health_probe and servecache for the catalog image.

.PHONY: catalog-image
catalog-image: catalog catalog-image-tools ## Build the catalog image from catalog.Dockerfile (opm built here) into bin/images/catalog; IMAGE_PUSH=1 pushes it to CATALOG_IMG.
	@# The opm built here stands in for the Dockerfile's base image, so the two must be the same version.
	@grep -qx 'FROM $(OPM_IMAGE)' catalog.Dockerfile || \
	  { echo "catalog.Dockerfile must build FROM $(OPM_IMAGE), the opm built here (OPM_VERSION)" >&2; exit 1; }
	$(SERVECACHE) catalog $(SERVE_CACHE_DIR)
	$(call run-cmd,hack/image) catalog -dockerfile catalog.Dockerfile -opm $(OPM_STATIC) -health-probe $(GRPC_HEALTH_PROBE) \
	  -serve-cache $(SERVE_CACHE_DIR) -out $(IMAGES_DIR)/catalog -tag v$(VERSION) $(if $(IMAGE_PUSH),-push $(CATALOG_IMG))

REGISTRY_ADDR ?= 127.0.0.1:5000

.PHONY: registry
registry: ## Serve a registry in memory on REGISTRY_ADDR until Ctrl-C, to push the images to (IMAGE_TAG_BASE=127.0.0.1:5000/configmapsync-operator IMAGE_PUSH=1).
	$(call run-cmd,hack/image) registry -addr $(REGISTRY_ADDR)

.PHONY: docker-build
docker-build: ## Build the operator image (needs a container tool).
	$(CONTAINER_TOOL) build -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the operator image.
	$(CONTAINER_TOOL) push $(IMG)

.PHONY: bundle-build
bundle-build: ## Build the bundle image.
	$(CONTAINER_TOOL) build -f bundle.Dockerfile -t $(BUNDLE_IMG) .

.PHONY: bundle-push
bundle-push: ## Push the bundle image.
	$(CONTAINER_TOOL) push $(BUNDLE_IMG)

.PHONY: catalog-build
catalog-build: catalog ## Build a catalog image serving catalog/ with opm.
	$(CONTAINER_TOOL) build -f catalog.Dockerfile -t $(CATALOG_IMG) .

.PHONY: catalog-push
catalog-push: ## Push the catalog image.
	$(CONTAINER_TOOL) push $(CATALOG_IMG)

##@ Tools

$(LOCALBIN):
	mkdir -p $(LOCALBIN)

$(CONTROLLER_GEN): hack/tools/controller-gen/go.mod | $(LOCALBIN)
	$(call aligned-go-build,controller-gen,,-ldflags='-s -w' -o $@ sigs.k8s.io/controller-tools/cmd/controller-gen)

$(KUSTOMIZE): | $(LOCALBIN)
	$(call go-install-tool,$@,sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION),kustomize)

# These modules' version lists are refused by the proxy here, so they are built from small tools modules in
# hack/tools/<name> that pin them (see the go.mod there).
$(GOLANGCI_LINT): | $(LOCALBIN)
	cd hack/tools/golangci-lint && go build -mod=mod -trimpath -ldflags='-s -w' -o $@ github.com/golangci/golangci-lint/v2/cmd/golangci-lint

# operator-sdk's tools module (hack/tools/operator-sdk) builds operator-sdk, scorecard-test, opm and
# grpc_health_probe, all static for linux/amd64 (the images' platform, and this machine's).
SDK_TOOLS_BUILD = cd hack/tools/operator-sdk && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -mod=mod -trimpath \
  -tags $(TOOLS_BUILD_TAGS)
$(OPERATOR_SDK): $(SDK_TOOLS_MOD) | $(LOCALBIN)
	$(SDK_TOOLS_BUILD) \
	  -ldflags "-s -w -X github.com/operator-framework/operator-sdk/internal/version.Version=$(OPERATOR_SDK_VERSION) -X github.com/operator-framework/operator-sdk/internal/version.ImageVersion=$(OPERATOR_SDK_VERSION)" \
	  -o $@ github.com/operator-framework/operator-sdk/cmd/operator-sdk

# operator-sdk's scorecard-test, for its image (the one the bundle's tests/scorecard/config.yaml names).
SCORECARD_TEST := $(LOCALBIN)/image/scorecard-test-$(OPERATOR_SDK_VERSION)-linux-amd64
$(SCORECARD_TEST): $(SDK_TOOLS_MOD) | $(LOCALBIN)
	$(SDK_TOOLS_BUILD) -ldflags='-s -w' -o $@ github.com/operator-framework/operator-sdk/images/scorecard-test

# OLM v0's image: its olm, catalog and package-server operators, copy-content and cpb (bundle unpacking), static for
# linux/amd64, from a tools module that copies OLM's go.mod (it has module replaces, which `go install` refuses).
OLM_BINARIES := $(LOCALBIN)/image/olm-$(OLM_VERSION)-linux-amd64
OLM_COMMANDS := cmd/olm cmd/catalog cmd/package-server cmd/copy-content util/cpb
$(OLM_BINARIES)/.built: hack/tools/olm/go.mod | $(LOCALBIN)
	mkdir -p $(OLM_BINARIES)
	cd hack/tools/olm && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -mod=mod -trimpath -tags $(TOOLS_BUILD_TAGS) \
	  -ldflags='-s -w' -o $(OLM_BINARIES)/ $(addprefix github.com/operator-framework/operator-lifecycle-manager/,$(OLM_COMMANDS))
	touch $@

# OLM v0's release manifests (crds.yaml, olm.yaml), rendered from the chart in OLM's module as its release does,
# with helm built from its module; they name the OLM and opm images the end-to-end suite builds and serves. They are
# committed, so CI does not render them: verify-generated checks their SHA256SUMS against the inputs.
HELM_VERSION ?= v3.22.0
HELM := $(LOCALBIN)/helm-$(HELM_VERSION)
OLM_RELEASE := tests/e2e/testdata/olm-$(OLM_VERSION)
OLM_RELEASE_ARGS = "$$(cd hack/tools/olm && go list -m -f '{{.Dir}}' github.com/operator-framework/operator-lifecycle-manager)" \
  $(OLM_VERSION) quay.io/operator-framework/olm:$(OLM_VERSION) $(OPM_IMAGE) $(OLM_RELEASE)
$(HELM): hack/tools/helm/go.mod | $(LOCALBIN)
	$(call aligned-go-build,helm,,-o $@ helm.sh/helm/v3/cmd/helm)

.PHONY: olm-release
olm-release: $(HELM) ## Render OLM's release manifests into tests/e2e/testdata/olm-OLM_VERSION (after changing OLM_VERSION or the images).
	hack/olm-release.sh $(HELM) $(OLM_RELEASE_ARGS)

# OLM v1 (operator-controller, catalogd) and cert-manager (controller, webhook, cainjector), which serves OLM v1's
# webhook certificates: the module proxy does not serve their programs, so they are built from the source tarballs the
# machine holds in ../shared (hack/build-shared.sh says how), static for their images. The suite also reads their
# install manifests from the unpacked sources (OLMV1_SRC, CERT_MANAGER_SRC), under a folder whose name starts with _ so that
# `./...` patterns (controller-gen, go vet) never walk into them.
SHARED_DIR ?= $(firstword $(wildcard $(CURDIR)/../shared /work/shared))
OLMV1_VERSION := v1.11.0
OLMV1_SRC := $(LOCALBIN)/_src/olmv1-$(OLMV1_VERSION)
OLMV1_BINARIES := $(LOCALBIN)/image/olmv1-$(OLMV1_VERSION)-linux-amd64
$(OLMV1_BINARIES)/.built: hack/build-shared.sh | $(LOCALBIN)
	hack/build-shared.sh olmv1 $(SHARED_DIR) $(OLMV1_SRC) $(OLMV1_BINARIES)
CERT_MANAGER_VERSION := v1.21.1
CERT_MANAGER_SRC := $(LOCALBIN)/_src/cert-manager-$(CERT_MANAGER_VERSION)
CERT_MANAGER_BINARIES := $(LOCALBIN)/image/cert-manager-$(CERT_MANAGER_VERSION)-linux-amd64
$(CERT_MANAGER_BINARIES)/.built: hack/build-shared.sh | $(LOCALBIN)
	hack/build-shared.sh cert-manager $(SHARED_DIR) $(CERT_MANAGER_SRC) $(CERT_MANAGER_BINARIES)

# CoreDNS for the node's cluster DNS (OLM reaches catalogs by their Service's name), with the plugins a cluster
# needs (hack/tools/coredns), static for its image.
COREDNS_VERSION ?= v1.15.0
COREDNS := $(LOCALBIN)/image/coredns-$(COREDNS_VERSION)-linux-amd64
$(COREDNS): hack/tools/coredns/go.mod hack/tools/coredns/main.go | $(LOCALBIN)
	$(call aligned-go-build,coredns,GOOS=linux GOARCH=amd64,-ldflags='-s -w' -o $@ .)

# Debian's packages a node needs: containerd, runc, the CNI plugins, iptables (kube-proxy), and busybox's static
# cp for OLM's util image. Installed when missing.
# (Installed means dpkg's state "install ok installed": `dpkg -s` also succeeds for a package removed but not purged.)
NODE_PACKAGES := containerd runc containernetworking-plugins iptables busybox-static
.PHONY: node-packages
node-packages: ## Install the Debian packages the local node runs (containerd, runc, CNI plugins, iptables, busybox) when missing.
	@missing=$$(for p in $(NODE_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then echo "Installing Debian's $$missing (needs root and apt)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

# The pause (sandbox) image's binary, and the static managers the operator images of each release carry.
PAUSE := $(LOCALBIN)/image/pause-linux-amd64
$(PAUSE): hack/pause/main.go | $(LOCALBIN)
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go -C hack build -trimpath -ldflags='-s -w' -o $@ ./pause

.PHONY: e2e-tools
# The rest of a cluster, from the same Kubernetes source as envtest's binaries (built in the same go build when
# those are missing too: the script skips what exists).
E2E_K8S_COMMANDS := kube-controller-manager kube-scheduler kubelet kube-proxy
E2E_K8S := $(addprefix $(ENVTEST_ASSETS_DIR)/,$(E2E_K8S_COMMANDS))
$(E2E_K8S) &:
	hack/envtest-assets.sh $(LOCALBIN)/k8s $(KUBERNETES_VERSION) kubectl $(E2E_K8S_COMMANDS)

.PHONY: e2e-tools
e2e-tools: envtest $(E2E_K8S) node-packages $(OLM_BINARIES)/.built $(OLMV1_BINARIES)/.built $(CERT_MANAGER_BINARIES)/.built $(COREDNS) $(OPERATOR_SDK) $(SCORECARD_TEST) $(OPM) $(PAUSE) catalog-image-tools ## Build what the end-to-end stack needs: controller-manager, scheduler, kubelet, kube-proxy, CoreDNS, OLM v0 and v1, cert-manager, opm.


# The managers of the earlier releases, built (static, for their images) from the commits they were released from,
# for the upgrade tests: OLM installs their bundles (tests/testdata/bundle-<version>) and their pods run these.
RELEASE_COMMIT_0.1.0 := ab50444017e78a355417aba24cc6047385820019
RELEASE_COMMIT_0.2.0 := 89c6080f87bca77cc8ed41753269a97396c1ad64
RELEASED_VERSIONS := 0.1.0 0.2.0
RELEASED_MANAGERS := $(foreach v,$(RELEASED_VERSIONS),$(LOCALBIN)/image/manager-v$(v)-linux-amd64)
$(LOCALBIN)/image/manager-v%-linux-amd64: | $(LOCALBIN)
	@set -e; tmp=$$(mktemp -d); git archive $(RELEASE_COMMIT_$*) | tar -x -C $$tmp; \
	(cd $$tmp && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -ldflags='-s -w' -o $@ .); rm -rf $$tmp

# The operator image of each release the suite installs, by the static binary it carries (the suite builds the
# images and serves them from a registry on loopback).
comma := ,
empty :=
space := $(empty) $(empty)
MANAGER_IMAGES := $(subst $(space),$(comma),$(IMG)=$(LOCALBIN)/image/manager-linux-amd64 \
  $(foreach v,$(RELEASED_VERSIONS),$(IMAGE_TAG_BASE):v$(v)=$(LOCALBIN)/image/manager-v$(v)-linux-amd64))

# The end-to-end test runs in network and mount namespaces of its own: the service range lives on its loopback
# and the pod network on its bridge, so no 10.x packet leaves it; the node's mounts, iptables rules, CNI
# allocations (/var/lib/cni), pod log links (/var/log/containers) and shim sockets (/run/containerd) go with it.
# Needs root (unshare, ip, mount). in-e2e-namespaces runs $(1) (from tests/e2e) there, with what the stack needs.
define in-e2e-namespaces
OLM_RELEASE=$(CURDIR)/$(OLM_RELEASE) HELM=$(HELM) \
OLM_BINARIES=$(OLM_BINARIES) OLMV1_BINARIES=$(OLMV1_BINARIES) OLMV1_SRC=$(OLMV1_SRC)/operator-controller \
CERT_MANAGER_BINARIES=$(CERT_MANAGER_BINARIES) CERT_MANAGER_SRC=$(CERT_MANAGER_SRC)/cert-manager COREDNS=$(COREDNS) MANAGER_IMAGES=$(MANAGER_IMAGES) PAUSE=$(PAUSE) BUSYBOX=/bin/busybox \
CATALOG_LAYOUT=$(IMAGES_DIR)/catalog CATALOG_IMG=$(CATALOG_IMG) \
OPERATOR_SDK=$(OPERATOR_SDK) SCORECARD_TEST=$(SCORECARD_TEST) E2E_OUTPUT=$(LOCALBIN)/e2e-output \
OPM_STATIC=$(OPM_STATIC) GRPC_HEALTH_PROBE=$(GRPC_HEALTH_PROBE) SERVECACHE=$(SERVECACHE) \
unshare -n -m --propagation private bash -c 'set -e; ip link set lo up; ip addr add 10.0.0.0/24 dev lo; \
	ip addr add 10.1.0.1/32 dev lo; for d in /var/lib/cni /var/log/containers /run/containerd; do \
	mkdir -p $$d; mount -t tmpfs tmpfs $$d; done; cd tests/e2e && $(1)'
endef

# Every binary CI builds, for `make -j2 ci-tools` (.ci/run), in two lanes that run side by side. Each lane is a chain
# (each build waits for the one before it), so make always has exactly one build per lane to run, the longest
# (Kubernetes) starts as soon as it can, and builds that share packages never compile them at the same time:
# - lane A: the operator's packages (vet compiles them and their tests), then the Kubernetes commands with etcd,
#   then CoreDNS; they use client-go and its dependencies at one version (aligned-go-build); then OLM v1;
# - lane B: operator-sdk, scorecard-test and opm's three (one tools module), then OLM, which shares their client
#   libraries (hack/tools/olm/tools.go); the rest; then cert-manager (measured cold: lane B ends about 3 minutes
#   before lane A's Kubernetes and CoreDNS, and OLM v1 and cert-manager take about 6 minutes each). controller-gen
#   and the earlier releases' managers share packages with the operator, so they also wait for vet.
CI_LANE_A := vet $(firstword $(E2E_K8S)) $(COREDNS) $(OLMV1_BINARIES)/.built
CI_LANE_B := $(OPERATOR_SDK) $(SCORECARD_TEST) $(OPM_STATIC) $(SERVECACHE) $(GRPC_HEALTH_PROBE) $(OLM_BINARIES)/.built \
  $(GOLANGCI_LINT) $(CONTROLLER_GEN) $(KUSTOMIZE) $(PAUSE) $(RELEASED_MANAGERS) $(HELM) $(CERT_MANAGER_BINARIES)/.built
.PHONY: ci-tools
ci-tools: $(CI_LANE_A) $(E2E_K8S) $(CI_LANE_B)

# ci-build is ci-tools with make lint and make verify-generated at the end of lane B, which ends a minute or two
# before lane A: the checks run in that slack instead of after the tests (.ci/run).
.PHONY: ci-build
ci-build: ci-tools lint verify-generated
# ci-chain makes each target of the list $(1) wait for the one before it (order only: nothing is rebuilt for it).
ci-chain = $(if $(word 2,$(1)),$(eval $(word 2,$(1)): | $(word 1,$(1)))$(call ci-chain,$(wordlist 2,$(words $(1)),$(1))))
ifneq ($(filter ci-build,$(MAKECMDGOALS)),)
CI_LANE_B += lint verify-generated
endif
ifneq ($(filter ci-tools ci-build,$(MAKECMDGOALS)),)
$(call ci-chain,$(CI_LANE_A))
$(call ci-chain,$(CI_LANE_B))
$(E2E_K8S) $(CONTROLLER_GEN) $(RELEASED_MANAGERS) $(HELM): | vet
endif

.PHONY: e2e-prerequisites e2e-binary
e2e-prerequisites: bundle catalog-image e2e-tools $(RELEASED_MANAGERS) helm
	$(MAKE) image-binaries IMAGE_ARCHS=amd64
e2e-binary: e2e-prerequisites
	go -C tests test -c -tags e2e -o $(LOCALBIN)/e2e.test ./e2e

.PHONY: test-e2e
test-e2e: e2e-binary ## Install the operator through real OLM onto a local node (containerd, kubelet, kube-proxy), and test it.
	$(call in-e2e-namespaces,$(LOCALBIN)/e2e.test -test.v -test.timeout 40m $(if $(E2E_RUN),-test.run $(E2E_RUN)))

# The OKD console (release-4.18), built from the machine's ../shared/console tarball (see its README and
# hack/console/build.sh), and the headless browser that drives it (tests/console). Not in CI: building the console
# takes about 15 minutes and 6 GB of memory on 2 cores; run make test-console before every release.
CONSOLE_TARBALL ?= $(SHARED_DIR)/console/openshift-console-release-4.18.tar.gz
CONSOLE_DIR := $(LOCALBIN)/_src/console
CONSOLE_DRIVER := $(LOCALBIN)/_console-driver
CHROMIUM ?= /usr/bin/chromium
.PHONY: console-packages
console-packages: ## Install Debian's Node.js, npm and Chromium for the console's build and test, each when its command is missing.
	@missing=$$(command -v node >/dev/null || echo nodejs; command -v npm >/dev/null || echo npm; \
	  command -v $(CHROMIUM) >/dev/null || echo chromium); \
	if [ -n "$$missing" ]; then echo "Installing Debian's" $$missing "(needs root and apt)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

.PHONY: console
console: console-packages ## Build the OKD console (frontend and bridge) from ../shared/console into bin/_src/console, once (about 15 min and 6 GB cold).
	hack/console/build.sh $(CONSOLE_TARBALL) $(CONSOLE_DIR) $(LOCALBIN)/_cache/console

$(CONSOLE_DRIVER)/.installed: tests/console/package.json tests/console/package-lock.json | console-packages
	rm -rf $(CONSOLE_DRIVER) && mkdir -p $(CONSOLE_DRIVER) && cp tests/console/package.json tests/console/package-lock.json $(CONSOLE_DRIVER)/
	cd $(CONSOLE_DRIVER) && npm ci --ignore-scripts --no-audit --no-fund && touch .installed

.PHONY: test-console
test-console: e2e-prerequisites console $(CONSOLE_DRIVER)/.installed ## On the end-to-end suite's node, install from OperatorHub and create both kinds through the OKD console's forms, headless (screenshots in bin/e2e-output/console).
	go -C tests test -c -tags e2e,console -o $(LOCALBIN)/e2e-console.test ./e2e
	$(call in-e2e-namespaces,CONSOLE_DIR=$(CONSOLE_DIR) CONSOLE_DRIVER=$(CONSOLE_DRIVER)/node_modules CHROMIUM=$(CHROMIUM) \
	  $(LOCALBIN)/e2e-console.test -test.v -test.timeout 30m -test.run TestConsoleInstallAndCreate)

# `make cluster` keeps the suite's cluster running for you: the same node, OLM and our CatalogSource, in the same
# namespaces. `make cluster-shell` (from another terminal) opens a shell inside them with KUBECONFIG and kubectl.
CLUSTER_DIR := $(LOCALBIN)/cluster
CRICTL_VERSION ?= v1.37.0
CRICTL_DIR := $(LOCALBIN)/cri-tools-$(CRICTL_VERSION)
$(CRICTL_DIR)/crictl: hack/tools/crictl/go.mod | $(LOCALBIN)
	cd hack/tools/crictl && go build -mod=mod -trimpath -o $@ sigs.k8s.io/cri-tools/cmd/crictl

.PHONY: cluster
cluster: e2e-binary $(CRICTL_DIR)/crictl ## Run a local cluster (a real node, OLM, this operator's catalog) until Ctrl-C; use it with make cluster-shell.
	mkdir -p $(CLUSTER_DIR)
	$(call in-e2e-namespaces,E2E_CLUSTER=$(CLUSTER_DIR) $(LOCALBIN)/e2e.test)

.PHONY: cluster-shell
cluster-shell: ## Open a shell inside the running make cluster, with KUBECONFIG set and kubectl and crictl on PATH.
	@test -s $(CLUSTER_DIR)/pid || { echo "no cluster running: start make cluster first"; exit 1; }
	nsenter -t $$(cat $(CLUSTER_DIR)/pid) -n -m env KUBECONFIG=$(CLUSTER_DIR)/kubeconfig \
	  CONTAINER_RUNTIME_ENDPOINT=unix://$$(cat $(CLUSTER_DIR)/containerd.sock) PATH=$(ENVTEST_ASSETS_DIR):$(CRICTL_DIR):$$PATH bash

.PHONY: tools
tools: $(CONTROLLER_GEN) $(KUSTOMIZE) $(GOLANGCI_LINT) $(OPERATOR_SDK) $(OPM) ## Build every pinned tool into bin/.

# go-install-tool builds package $(2) at version $(3), whose binary is named $(4), into the versioned path $(1).
define go-install-tool
@set -e; tmp=$$(mktemp -d); GOBIN=$$tmp go install $(2)@$(3); mv $$tmp/$(4) $(1); rm -rf $$tmp
endef

# aligned-go-build runs `$(2) go build $(3)` in the tools module hack/tools/$(1) with a copy of its go.mod that also
# requires this operator's module (its folder here): where both use a module they then use one version, the higher
# (a requirement only ever raises one), so the Go build cache compiles client-go and the rest of what they share
# once, for the tests and for the tool. hack/envtest-assets.sh does the same for the Kubernetes commands.
OPERATOR_MODULE := github.com/configmapsync/configmapsync-operator
define aligned-go-build
@set -e; mod=$(LOCALBIN)/modfiles/$(1).mod; mkdir -p $(LOCALBIN)/modfiles; \
  cp hack/tools/$(1)/go.mod $$mod; cp hack/tools/$(1)/go.sum $${mod%.mod}.sum; \
  go mod edit -require=$(OPERATOR_MODULE)@v0.0.0 -replace=$(OPERATOR_MODULE)=$(CURDIR) $$mod; \
  cd hack/tools/$(1) && set -x && $(2) go build -mod=mod -modfile=$$mod $(3)
endef

##@ Helm chart

# charts/configmapsync-operator is generated by hack/chartgen from what kustomize builds of config/ (dist/install.yaml
# and the monitoring objects): each object as built, templated only where a value sets it. docs/helm.md lists the
# values; tests/chart renders the chart and applies it to a real API server; the end-to-end suite installs it.
CHART_DIR := charts/$(PACKAGE)

.PHONY: helm-chart
helm-chart: build-installer ## Generate the Helm chart charts/configmapsync-operator from config/.
	$(call run-cmd,hack/chartgen) -install dist/install.yaml -monitoring internal/monitoring/manifests.yaml -version $(VERSION) -out $(CHART_DIR)

.PHONY: helm
helm: $(HELM) ## Build helm (HELM_VERSION) into bin/.

.PHONY: helm-lint
helm-lint: $(HELM) ## Lint the Helm chart with its default values and with cert-manager, the ServiceMonitor and extra values.
	$(HELM) lint --strict $(CHART_DIR)
	$(HELM) lint --strict $(CHART_DIR) --set webhook.certManager.enabled=true,metrics.serviceMonitor.enabled=true \
	  --set replicaCount=1,image.digest=sha256:0000000000000000000000000000000000000000000000000000000000000000 \
	  --set 'excludedNamespaces={kube-*,openshift-*}',priorityClassName=system-cluster-critical
