package gloo

import "embed"

// crdFiles are the CRDs of the Gloo Edge kinds gatefed renders, of the
// newest Gloo it supports, with full schemas and without descriptions.
// hack/crds (make crds) derives them; do not edit them. testdata/crds-1.17
// holds the oldest supported Gloo's, for tests.
//
//go:embed crds/*.yaml
var crdFiles embed.FS
