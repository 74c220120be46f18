package faultproxy

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseFault reads a fault as hack/faultproxy's -fault flag gives it:
//
//	CLUSTER:ACTION[:KEY=VALUE,...]
//
// with keys code, retry-after, hold, method, path, share, times and the bare
// word forward. For example c2:respond:code=503,retry-after=1,method=PATCH,times=3
// or c1:stall:hold=30s,forward.
func ParseFault(s string) (cluster string, f Fault, err error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) < 2 || parts[0] == "" {
		return "", Fault{}, fmt.Errorf("fault %q: want CLUSTER:ACTION[:KEY=VALUE,...]", s)
	}
	cluster, f.Action = parts[0], Action(parts[1])
	if len(parts) == 3 && parts[2] != "" {
		for _, kv := range strings.Split(parts[2], ",") {
			key, value, _ := strings.Cut(kv, "=")
			var err error
			switch key {
			case "code":
				f.Code, err = strconv.Atoi(value)
			case "retry-after":
				f.RetryAfter = value
			case "hold":
				f.Hold, err = time.ParseDuration(value)
			case "method":
				f.Method = strings.ToUpper(value)
			case "path":
				f.Path = value
			case "share":
				f.Share, err = strconv.ParseFloat(value, 64)
			case "times":
				f.Times, err = strconv.Atoi(value)
			case "forward":
				f.Forward = true
			default:
				return "", Fault{}, fmt.Errorf("fault %q: unknown key %q", s, key)
			}
			if err != nil {
				return "", Fault{}, fmt.Errorf("fault %q: %s: %w", s, key, err)
			}
		}
	}
	if err := f.validate(); err != nil {
		return "", Fault{}, fmt.Errorf("fault %q: %w", s, err)
	}
	return cluster, f, nil
}
