# ConfigMapSync Operator. `make help` lists the targets; `make test` and `make demo` are the two that matter.

VERSION ?= 0.2.0
IMG ?= quay.io/configmapsync/configmapsync-operator:v$(VERSION)

# Pinned versions. Every tool is built from these into bin/ once and reused.
KUBERNETES_VERSION ?= 1.37.2
ETCD_VERSION ?= 3.6.6
CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.7.1
GOLANGCI_LINT_VERSION ?= v2.15.0
OPERATOR_SDK_VERSION ?= v1.42.2
OPM_VERSION ?= v1.61.0

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
LOCALBIN ?= $(CURDIR)/bin
GOOS := $(shell go env GOOS)
GOARCH := $(shell go env GOARCH)

CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
KUSTOMIZE ?= $(LOCALBIN)/kustomize-$(KUSTOMIZE_VERSION)
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
OPERATOR_SDK ?= $(LOCALBIN)/operator-sdk-$(OPERATOR_SDK_VERSION)
OPM ?= $(LOCALBIN)/opm-$(OPM_VERSION)

# The control plane for tests: the user's own KUBEBUILDER_ASSETS (setup-envtest) when set, else ours, built from source.
ENVTEST_ASSETS_DIR := $(LOCALBIN)/k8s/$(KUBERNETES_VERSION)-$(GOOS)-$(GOARCH)
ifeq ($(origin KUBEBUILDER_ASSETS),undefined)
KUBEBUILDER_ASSETS := $(ENVTEST_ASSETS_DIR)
ENVTEST_DEP := $(ENVTEST_ASSETS_DIR)/kube-apiserver $(ENVTEST_ASSETS_DIR)/etcd
endif
export KUBEBUILDER_ASSETS

TOOLS_BUILD_TAGS := containers_image_openpgp,exclude_graphdriver_btrfs,exclude_graphdriver_devicemapper

.DEFAULT_GOAL := help

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs, RBAC and webhook manifests from the markers in api/ and controllers/.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd webhook paths="./..." output:crd:artifacts:config=config/crd/bases

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: verify-generated
verify-generated: manifests generate ## Fail when generated files differ from what the generators produce.
	@if [ -n "$$(git status --porcelain -- api config bundle)" ]; then \
		echo "Generated files are out of date; run 'make manifests generate' and commit:"; \
		git status --porcelain -- api config bundle; git --no-pager diff --stat -- api config bundle; exit 1; fi

.PHONY: test
test: manifests generate vet build envtest ## Build, vet, and run unit and integration tests (real kube-apiserver + etcd).
	go test ./... -count=1 -timeout 20m

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint.
	$(GOLANGCI_LINT) run ./...

.PHONY: envtest
envtest: $(ENVTEST_DEP) ## Build kube-apiserver and etcd for envtest from source (once), unless KUBEBUILDER_ASSETS is set.
	@echo "KUBEBUILDER_ASSETS=$(KUBEBUILDER_ASSETS)"

$(ENVTEST_ASSETS_DIR)/kube-apiserver $(ENVTEST_ASSETS_DIR)/etcd &:
	hack/envtest-assets.sh $(LOCALBIN)/k8s $(KUBERNETES_VERSION) $(ETCD_VERSION)

##@ Build and run

.PHONY: build
build: ## Build the manager binary into bin/manager.
	go build -o $(LOCALBIN)/manager .

.PHONY: run
run: manifests generate ## Run the operator against the cluster of the current kubeconfig.
	go run . --leader-elect=false --enable-webhooks=false

.PHONY: demo
demo: build envtest ## Start a local control plane, run the operator on it, apply the samples and show the result.
	go run ./hack/demo --manager $(LOCALBIN)/manager --crds config/crd/bases --samples config/samples

.PHONY: install
install: manifests $(KUSTOMIZE) ## Install the CRDs into the cluster of the current kubeconfig.
	$(KUSTOMIZE) build config/crd | kubectl apply --server-side -f -

.PHONY: uninstall
uninstall: manifests $(KUSTOMIZE) ## Remove the CRDs from the cluster of the current kubeconfig.
	$(KUSTOMIZE) build config/crd | kubectl delete --ignore-not-found -f -

.PHONY: deploy
deploy: manifests $(KUSTOMIZE) ## Deploy the operator with kustomize (without OLM) to the current kubeconfig.
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/default | kubectl apply --server-side -f -

##@ Tools

$(LOCALBIN):
	mkdir -p $(LOCALBIN)

$(CONTROLLER_GEN): | $(LOCALBIN)
	$(call go-install-tool,$@,sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION),controller-gen)

$(KUSTOMIZE): | $(LOCALBIN)
	$(call go-install-tool,$@,sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION),kustomize)

# These modules' version lists are refused by the proxy here, so they are built from small tools modules in
# hack/tools/<name> that pin them (see the go.mod there).
$(GOLANGCI_LINT): | $(LOCALBIN)
	cd hack/tools/golangci-lint && go build -mod=mod -trimpath -o $@ github.com/golangci/golangci-lint/v2/cmd/golangci-lint

$(OPERATOR_SDK): | $(LOCALBIN)
	cd hack/tools/operator-sdk && go build -mod=mod -trimpath -tags $(TOOLS_BUILD_TAGS) -o $@ github.com/operator-framework/operator-sdk/cmd/operator-sdk

$(OPM): | $(LOCALBIN)
	cd hack/tools/opm && go build -mod=mod -trimpath -tags $(TOOLS_BUILD_TAGS) -o $@ github.com/operator-framework/operator-registry/cmd/opm

.PHONY: tools
tools: $(CONTROLLER_GEN) $(KUSTOMIZE) $(GOLANGCI_LINT) $(OPERATOR_SDK) $(OPM) ## Build every pinned tool into bin/.

# go-install-tool builds package $(2) at version $(3), whose binary is named $(4), into the versioned path $(1).
define go-install-tool
@set -e; tmp=$$(mktemp -d); GOBIN=$$tmp go install $(2)@$(3); mv $$tmp/$(4) $(1); rm -rf $$tmp
endef
