# gatefed build, test and demo. Needs only Go (and the module proxy the first time).
GO           ?= go
BIN          := bin/gatefed
TEST_TIMEOUT ?= 30m
FUZZTIME     ?= 5m
FUZZMINIMIZETIME ?= 10s
VERSION      ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT       ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo none)
LDFLAGS      := -X github.com/gatefed/gatefed/cmd.version=$(VERSION) -X github.com/gatefed/gatefed/cmd.commit=$(COMMIT)

export GOTOOLCHAIN := local

.PHONY: build test kube-bins kube-bins-demo demo vet funclen fuzz crds help

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/gatefed

# Every binary the tests run; kube-bins-demo only those the demo runs.
kube-bins:
	hack/build-kube.sh

kube-bins-demo:
	hack/build-kube.sh --demo

# The hack/kube and hack/etcd wrapper modules are separate modules: ./... does not descend into them.
# One package at a time (-p 1): most packages start real API servers, and
# several the Envoy Gateway controller, which runs one at a time per machine.
test: kube-bins
	$(GO) test -p 1 -timeout $(TEST_TIMEOUT) ./...

vet:
	$(GO) vet ./...

# Every non-test function stays within 120 lines.
funclen:
	$(GO) run ./hack/funclen -max 120

# Derive the CRDs local fleets install (the Gateway API's in
# internal/localfleet/crds, each gateway's in its provider package) from
# ../shared/crds/gloo and the pinned Gateway API and Envoy Gateway modules
# (go test ./hack/crds checks them).
crds:
	$(GO) run ./hack/crds

# Every fuzz target, as package:target. go test -fuzz runs one target of one
# package at a time, so they run one after another, FUZZTIME each. A crash
# stops the loop; go test saves its input under the package's testdata/fuzz.
# Minimizing each new corpus entry takes up to FUZZMINIMIZETIME (go's default,
# 60s, leaves the slow targets such as FuzzRender almost no time to fuzz).
FUZZ_TARGETS := \
	./internal/fleet:FuzzParse \
	./internal/fleet:FuzzLoad \
	./internal/render:FuzzRender \
	./internal/render:FuzzMarshalYAML \
	./internal/kube:FuzzKubeconfig \
	./internal/cluster:FuzzRegisterDeregister \
	./internal/apply:FuzzCompare \
	./internal/failovertls:FuzzParse

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; target=$${t##*:}; \
		echo "== $$pkg $$target (-fuzztime $(FUZZTIME))"; \
		$(GO) test $$pkg -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME); \
	done

# hack/demo.sh always stops the demo fleet, however the demo ends.
demo: build kube-bins-demo
	hack/demo.sh $(BIN)

help:
	@echo "make build      build $(BIN)"
	@echo "make test       build or reuse the test binaries, then go test ./... (real API servers, Envoy Gateway's own code)"
	@echo "make kube-bins  build or reuse every test binary: kube-apiserver, kubectl, etcd, Envoy Gateway's and Istio's tools (hack/build-kube.sh)"
	@echo "make kube-bins-demo  build or reuse only kube-apiserver, kubectl and etcd (hack/build-kube.sh --demo)"
	@echo "make demo       start a 3-cluster demo fleet, run gatefed against it, stop it"
	@echo "make vet        go vet ./..."
	@echo "make funclen    list non-test functions longer than 120 lines (hack/funclen)"
	@echo "make crds       derive the CRDs local fleets install (internal/localfleet/crds, the provider packages)"
	@echo "make fuzz       run every fuzz target for FUZZTIME (default 5m) each, one after another"
