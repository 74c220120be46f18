package rollout

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Event types: one per wave, cluster and gate.
const (
	EventWave    = "wave"
	EventCluster = "cluster"
	EventGate    = "gate"
)

// Event statuses.
const (
	StatusStarted = "started"
	StatusApplied = "applied"
	// StatusInSync: the cluster already held everything (nothing written).
	StatusInSync = "in-sync"
	StatusPassed = "passed"
	StatusFailed = "failed"
)

// Event is one step of a rollout, as -o json streams it (one JSON object a line).
type Event struct {
	Type      string    `json:"type"`
	Wave      int       `json:"wave"`
	Clusters  []string  `json:"clusters,omitempty"`
	Cluster   string    `json:"cluster,omitempty"`
	Gate      string    `json:"gate,omitempty"`
	Status    string    `json:"status"`
	Created   int       `json:"created,omitempty"`
	Updated   int       `json:"updated,omitempty"`
	Deleted   int       `json:"deleted,omitempty"`
	Unchanged int       `json:"unchanged,omitempty"`
	Message   string    `json:"message,omitempty"`
	Hint      string    `json:"hint,omitempty"`
	Time      time.Time `json:"time"`
}

// JSONLines writes each event as one line of JSON.
func JSONLines(w io.Writer) func(Event) {
	enc := json.NewEncoder(w)
	return func(ev Event) { _ = enc.Encode(ev) }
}

// TextLines writes each event as one line of text:
//
//	wave 2: started (east-a, west-a)
//	wave 2: east-a: applied: 1 created, 2 updated, 0 deleted, 5 unchanged
//	wave 2: gate wait: failed: west-a: HTTPRoute ... is rejected: ...
func TextLines(w io.Writer) func(Event) {
	return func(ev Event) { fmt.Fprintln(w, ev.Text()) }
}

// Text is the event's line.
func (ev Event) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "wave %d: ", ev.Wave)
	switch ev.Type {
	case EventWave:
		b.WriteString(ev.Status)
		if len(ev.Clusters) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(ev.Clusters, ", "))
		}
	case EventCluster:
		fmt.Fprintf(&b, "%s: %s", ev.Cluster, ev.Status)
		switch ev.Status {
		case StatusApplied:
			fmt.Fprintf(&b, ": %d created, %d updated, %d deleted, %d unchanged", ev.Created, ev.Updated, ev.Deleted, ev.Unchanged)
		case StatusInSync:
			fmt.Fprintf(&b, ": nothing to write (%d unchanged)", ev.Unchanged)
		}
	case EventGate:
		fmt.Fprintf(&b, "gate %s: %s", ev.Gate, ev.Status)
		if ev.Cluster != "" {
			fmt.Fprintf(&b, ": %s", ev.Cluster)
		}
	}
	if ev.Message != "" && ev.Type != EventWave {
		b.WriteString(": " + ev.Message)
	}
	return b.String()
}
