package gloo

import (
	"fmt"
	"time"
)

// protoDuration formats a duration as protobuf JSON does: seconds with 0, 3,
// 6 or 9 fractional digits and an "s", for example "90s" or "0.250s".
// Zero gives "" (unset).
func protoDuration(d time.Duration) string {
	if d == 0 {
		return ""
	}
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	secs, nanos := int64(d/time.Second), int64(d%time.Second)
	switch {
	case nanos == 0:
		return fmt.Sprintf("%s%ds", sign, secs)
	case nanos%1e6 == 0:
		return fmt.Sprintf("%s%d.%03ds", sign, secs, nanos/1e6)
	case nanos%1e3 == 0:
		return fmt.Sprintf("%s%d.%06ds", sign, secs, nanos/1e3)
	default:
		return fmt.Sprintf("%s%d.%09ds", sign, secs, nanos)
	}
}

func ptr[T any](v T) *T { return &v }
