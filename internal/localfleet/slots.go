package localfleet

import (
	"bufio"
	"io"
	"os"
	"strconv"
	"strings"
)

// APIServerStartMemory is what one kube-apiserver is given room for while it
// starts and takes its CRDs: it settles at about 500 MB with every CRD family
// installed.
const APIServerStartMemory = 512 << 20

// startSlots is how many of n API servers start at once: when parallel is
// set, that many; else as many as the available memory holds at
// APIServerStartMemory each. At least 1, at most n.
func startSlots(n, parallel int, available func() (uint64, bool)) int {
	slots := n
	if parallel > 0 {
		slots = parallel
	} else if avail, ok := available(); ok {
		slots = int(avail / APIServerStartMemory)
	}
	return max(1, min(slots, n))
}

// crdInstallSlots is how many of the clusters starting at once create their
// CRDs at once: each API server builds the OpenAPI schema of every new CRD,
// which takes a CPU for seconds, and all of them write to the one etcd. Past
// two per CPU the creates only queue, and time out on a busy machine.
func crdInstallSlots(startSlots, cpus int) int {
	return max(1, min(startSlots, 2*cpus))
}

// memAvailable reads MemAvailable from /proc/meminfo, in bytes.
func memAvailable() (uint64, bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	return parseMemAvailable(f)
}

func parseMemAvailable(r io.Reader) (uint64, bool) {
	s := bufio.NewScanner(r)
	for s.Scan() {
		rest, ok := strings.CutPrefix(s.Text(), "MemAvailable:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		return kb << 10, err == nil
	}
	return 0, false
}
