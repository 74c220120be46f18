# gatefed build, test and demo. Needs only Go (and the module proxy the first time).
GO           ?= go
BIN          := bin/gatefed
TEST_TIMEOUT ?= 30m
VERSION      ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT       ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo none)
LDFLAGS      := -X github.com/gatefed/gatefed/cmd.version=$(VERSION) -X github.com/gatefed/gatefed/cmd.commit=$(COMMIT)

export GOTOOLCHAIN := local

.PHONY: build test kube-bins demo vet help

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/gatefed

kube-bins:
	hack/build-kube.sh

# The hack/kube and hack/etcd wrapper modules are separate modules: ./... does not descend into them.
test: kube-bins
	$(GO) test -timeout $(TEST_TIMEOUT) ./...

vet:
	$(GO) vet ./...

# hack/demo.sh always stops the demo fleet, however the demo ends.
demo: build kube-bins
	hack/demo.sh $(BIN)

help:
	@echo "make build      build $(BIN)"
	@echo "make test       build or reuse kube-apiserver/kubectl/etcd, then go test ./... (real API servers)"
	@echo "make kube-bins  build or reuse kube-apiserver, kubectl and etcd (hack/build-kube.sh)"
	@echo "make demo       start a 3-cluster demo fleet, run gatefed against it, stop it"
	@echo "make vet        go vet ./..."
