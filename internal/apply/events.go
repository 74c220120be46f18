package apply

import "fmt"

// Stage is where a cluster's run is.
type Stage string

// Stages.
const (
	StageConnecting Stage = "connecting"
	StagePlanning   Stage = "planning"
	StageDiffing    Stage = "diffing"
	StageApplying   Stage = "applying"
	StagePruning    Stage = "pruning"
	StageWaiting    Stage = "waiting"
	StageDone       Stage = "done"
	StageFailed     Stage = "failed"
	// StageRetrying reports a request about to be sent again; the cluster
	// stays in the stage it was in.
	StageRetrying Stage = "retrying"
)

// Event is progress on one cluster. Message is a one-line account of
// something that happened (an object written, a failure); it is empty for
// mere progress counts.
type Event struct {
	Cluster string
	Stage   Stage
	Done    int
	Total   int
	Message string
}

func (e *Engine) emit(ev Event) {
	if e.opts.Events == nil {
		return
	}
	e.eventMu.Lock()
	defer e.eventMu.Unlock()
	e.opts.Events(ev)
}

func (e *Engine) emitf(cluster string, stage Stage, format string, args ...any) {
	e.emit(Event{Cluster: cluster, Stage: stage, Message: fmt.Sprintf(format, args...)})
}
