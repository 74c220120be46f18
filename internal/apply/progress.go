package apply

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Progress shows events: on a terminal one live line per cluster, redrawn in
// place; otherwise each event that carries a message as a plain line.
type Progress struct {
	w     io.Writer
	live  bool
	mu    sync.Mutex
	order []string
	state map[string]*clusterLine
	drawn int
	dirty bool
	stop  chan struct{}
	done  chan struct{}
	start time.Time
}

type clusterLine struct {
	stage       Stage
	done, total int
	last        string
	finished    time.Duration
	// retrying is the last retry, shown until the next event.
	retrying string
}

// NewProgress starts a progress display for clusters on w.
func NewProgress(w io.Writer, live bool, clusters []string) *Progress {
	p := &Progress{w: w, live: live, order: clusters, state: map[string]*clusterLine{}, start: time.Now()}
	for _, c := range clusters {
		p.state[c] = &clusterLine{stage: "waiting to start"}
	}
	if live {
		p.stop, p.done = make(chan struct{}), make(chan struct{})
		go p.loop()
	}
	return p
}

// Event records one event; pass it as Options.Events.
func (p *Progress) Event(ev Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.live {
		if ev.Message != "" {
			fmt.Fprintf(p.w, "%s: %s\n", ev.Cluster, ev.Message)
		}
		return
	}
	l := p.state[ev.Cluster]
	if l == nil {
		l = &clusterLine{}
		p.state[ev.Cluster] = l
		p.order = append(p.order, ev.Cluster)
	}
	if ev.Stage == StageRetrying {
		l.retrying = ev.Message
		p.dirty = true
		return
	}
	l.retrying = ""
	l.stage, l.done, l.total = ev.Stage, ev.Done, ev.Total
	if ev.Message != "" {
		l.last = ev.Message
	}
	if ev.Stage == StageDone || ev.Stage == StageFailed {
		l.finished = time.Since(p.start)
	}
	p.dirty = true
}

// Stop draws the final state and ends the display.
func (p *Progress) Stop() {
	if !p.live {
		return
	}
	close(p.stop)
	<-p.done
}

func (p *Progress) loop() {
	defer close(p.done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			p.mu.Lock()
			p.draw()
			p.mu.Unlock()
			return
		case <-t.C:
			p.mu.Lock()
			if p.dirty {
				p.draw()
			}
			p.mu.Unlock()
		}
	}
}

func (p *Progress) draw() {
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	width := 0
	for _, c := range p.order {
		width = max(width, len(c))
	}
	for _, c := range p.order {
		l := p.state[c]
		text := string(l.stage)
		if l.total > 0 {
			text += fmt.Sprintf(" %d/%d", l.done, l.total)
		}
		if l.stage == StageDone || l.stage == StageFailed {
			text = l.last
			if text == "" {
				text = string(l.stage)
			}
		} else if l.retrying != "" {
			text += ": " + l.retrying
		}
		fmt.Fprintf(&b, "\r\x1b[2K%-*s  %s\n", width, c, truncate(text, 100))
	}
	p.drawn = len(p.order)
	p.dirty = false
	io.WriteString(p.w, b.String())
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
