package kube

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// flaky answers each request with the next of its scripted behaviours
// (then 200 with the request's body), counting attempts.
type flaky struct {
	mu     sync.Mutex
	script []string // "503", "503 ra=1", "reset", "sleep", "cut"
	seen   []string // method and body of each attempt
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.seen = append(f.seen, r.Method+" "+string(body))
	step := ""
	if len(f.script) > 0 {
		step, f.script = f.script[0], f.script[1:]
	}
	f.mu.Unlock()
	code, ra, _ := strings.Cut(step, " ra=")
	switch code {
	case "":
		io.WriteString(w, "ok "+string(body))
	case "reset":
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	case "sleep":
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	case "cut":
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	default:
		if ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		n, _ := strconv.Atoi(code)
		w.WriteHeader(n)
	}
}

func (f *flaky) attempts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen)
}

func run(t *testing.T, o RetryOptions, method, contentType string, script ...string) (*flaky, *http.Response, string, error, []Retry) {
	t.Helper()
	f := &flaky{script: script}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	var retries []Retry
	var mu sync.Mutex
	if o.Backoff == 0 {
		o.Backoff = time.Millisecond
	}
	o.OnRetry = func(r Retry) { mu.Lock(); retries = append(retries, r); mu.Unlock() }
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: Retrying(tr, o)}
	req, _ := http.NewRequest(method, srv.URL+"/apis/x", strings.NewReader("patch"))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.Do(req)
	body := ""
	if err == nil {
		b, rerr := io.ReadAll(resp.Body)
		body, err = string(b), rerr
		resp.Body.Close()
	}
	return f, resp, body, err, retries
}

const applyPatch = "application/apply-patch+yaml"

func TestRetriesUnavailableIdempotentRequests(t *testing.T) {
	f, resp, body, err, retries := run(t, RetryOptions{}, "PATCH", applyPatch, "503", "502", "504")
	if err != nil || resp.StatusCode != 200 || body != "ok patch" || f.attempts() != 4 {
		t.Fatalf("got %v %v %q after %d attempts", resp, err, body, f.attempts())
	}
	for _, s := range f.seen {
		if s != "PATCH patch" {
			t.Errorf("an attempt sent %q: the body must be sent again whole", s)
		}
	}
	if len(retries) != 3 || retries[0].Reason != "503 Service Unavailable" || retries[0].Attempt != 1 || retries[0].Of != 4 || retries[2].Reason != "504 Gateway Timeout" {
		t.Errorf("retries: %+v", retries)
	}
	// Bounded: the last answer comes back as it is.
	f, resp, _, err, _ = run(t, RetryOptions{Retries: 2}, "GET", "", "503", "503", "503", "503")
	if err != nil || resp.StatusCode != 503 || f.attempts() != 3 {
		t.Errorf("exhausted: %v %v after %d attempts", resp, err, f.attempts())
	}
	// Retries: -1 is never.
	f, resp, _, _, _ = run(t, RetryOptions{Retries: -1}, "GET", "", "503")
	if resp.StatusCode != 503 || f.attempts() != 1 {
		t.Errorf("never: %d after %d attempts", resp.StatusCode, f.attempts())
	}
}

func TestNeverResendsWhatMayHaveActed(t *testing.T) {
	for _, c := range []struct{ method, ct string }{
		{"POST", "application/json"}, {"PUT", "application/json"}, {"PATCH", "application/merge-patch+json"},
	} {
		f, resp, _, _, _ := run(t, RetryOptions{}, c.method, c.ct, "503")
		if resp.StatusCode != 503 || f.attempts() != 1 {
			t.Errorf("%s %s: 503 sent %d times", c.method, c.ct, f.attempts())
		}
		f, _, _, err, _ := run(t, RetryOptions{}, c.method, c.ct, "reset")
		if err == nil || f.attempts() != 1 {
			t.Errorf("%s %s: reset sent %d times (%v)", c.method, c.ct, f.attempts(), err)
		}
		// 429 means the server turned it away unread: safe for any request.
		f, resp, _, _, _ = run(t, RetryOptions{}, c.method, c.ct, "429")
		if resp.StatusCode != 200 || f.attempts() != 2 {
			t.Errorf("%s %s: 429 sent %d times", c.method, c.ct, f.attempts())
		}
	}
	// 500 is not retried: it is also how strict validation fails.
	f, resp, _, _, _ := run(t, RetryOptions{}, "PATCH", applyPatch, "500")
	if resp.StatusCode != 500 || f.attempts() != 1 {
		t.Errorf("500 sent %d times", f.attempts())
	}
}

// Answers with Retry-After in seconds are client-go's to retry.
func TestLeavesRetryAfterToClientGo(t *testing.T) {
	for _, step := range []string{"503 ra=1", "429 ra=0", "500 ra=2"} {
		f, resp, _, _, _ := run(t, RetryOptions{}, "GET", "", step)
		if resp.StatusCode == 200 || resp.Header.Get("Retry-After") == "" || f.attempts() != 1 {
			t.Errorf("%s: %d after %d attempts, want it passed through", step, resp.StatusCode, f.attempts())
		}
	}
	// An HTTP date is not client-go's: waited for here.
	at := time.Now().Add(1500 * time.Millisecond).UTC().Format(http.TimeFormat)
	start := time.Now()
	f, resp, _, _, _ := run(t, RetryOptions{}, "GET", "", "503 ra="+at)
	if resp.StatusCode != 200 || f.attempts() != 2 || time.Since(start) < 400*time.Millisecond {
		t.Errorf("date: %d after %d attempts in %s", resp.StatusCode, f.attempts(), time.Since(start))
	}
}

func TestRetriesBrokenConnectionsOfIdempotentRequests(t *testing.T) {
	f, resp, _, err, retries := run(t, RetryOptions{}, "PATCH", applyPatch, "reset")
	if err != nil || resp.StatusCode != 200 || f.attempts() != 2 || !strings.Contains(retries[0].Reason, "connection reset by peer") {
		t.Errorf("reset apply patch: %v after %d attempts, %+v", err, f.attempts(), retries)
	}
	f, resp, _, err, _ = run(t, RetryOptions{}, "DELETE", "", "reset", "reset")
	if err != nil || resp.StatusCode != 200 || f.attempts() != 3 {
		t.Errorf("reset delete: %v after %d attempts", err, f.attempts())
	}
	// A GET's reset is client-go's to retry.
	f, _, _, err, _ = run(t, RetryOptions{}, "GET", "", "reset")
	if err == nil || f.attempts() != 1 {
		t.Errorf("reset GET: %v after %d attempts", err, f.attempts())
	}
	// A body cut short is retried for a GET too; client-go would not.
	f, resp, body, err, retries := run(t, RetryOptions{}, "GET", "", "cut")
	if err != nil || body != "ok patch" || f.attempts() != 2 || !strings.Contains(retries[0].Reason, "the answer broke off: unexpected EOF") {
		t.Errorf("cut GET: %v %q after %d attempts, %+v", err, body, f.attempts(), retries)
	}
	// Exhausted: the caller reads what arrived, then the error.
	f, _, body, err, _ = run(t, RetryOptions{Retries: 1}, "GET", "", "cut", "cut")
	if !errors.Is(err, io.ErrUnexpectedEOF) || body != "partial" || f.attempts() != 2 {
		t.Errorf("cut GET exhausted: %v %q after %d attempts", err, body, f.attempts())
	}
}

func TestAttemptTimeout(t *testing.T) {
	start := time.Now()
	f, resp, _, err, retries := run(t, RetryOptions{AttemptTimeout: 300 * time.Millisecond}, "GET", "", "sleep")
	if err != nil || resp.StatusCode != 200 || f.attempts() != 2 || retries[0].Reason != "no answer within 300ms" || time.Since(start) > 3*time.Second {
		t.Errorf("stall: %v after %d attempts, %+v", err, f.attempts(), retries)
	}
	f, _, _, err, _ = run(t, RetryOptions{AttemptTimeout: 200 * time.Millisecond, Retries: 1}, "PATCH", applyPatch, "sleep", "sleep")
	var te *TimeoutError
	var ae *AttemptsError
	if !errors.As(err, &te) || !errors.As(err, &ae) || ae.Attempts != 2 || !strings.Contains(err.Error(), "no answer within 200ms (after 2 attempts)") {
		t.Errorf("stalls exhausted: %v after %d attempts", err, f.attempts())
	}
	// A create that got no answer may have been acted on: not sent again.
	f, _, _, err, _ = run(t, RetryOptions{AttemptTimeout: 200 * time.Millisecond}, "POST", "application/json", "sleep")
	if err == nil || f.attempts() != 1 {
		t.Errorf("stalled POST: %v after %d attempts", err, f.attempts())
	}
}

// Nothing sent, nothing acted on: a connection refused is retried for any request.
func TestRetriesRefusedConnections(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	var retries int
	c := &http.Client{Transport: Retrying(http.DefaultTransport, RetryOptions{Backoff: time.Millisecond, OnRetry: func(Retry) { retries++ }})}
	_, err := c.Post("http://"+addr+"/api/v1/namespaces", "application/json", strings.NewReader("{}"))
	if err == nil || !strings.Contains(err.Error(), "connection refused (after 4 attempts)") || retries != 3 {
		t.Errorf("refused: %v, %d retries", err, retries)
	}
}

// Cancelling ends the pause at once.
func TestRetryPauseEndsWithTheContext(t *testing.T) {
	f := &flaky{script: []string{"503", "503"}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	c := &http.Client{Transport: Retrying(http.DefaultTransport, RetryOptions{Backoff: time.Hour, OnRetry: func(Retry) { cancel() }})}
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	start := time.Now()
	_, err := c.Do(req)
	if !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
		t.Errorf("cancelled: %v after %s", err, time.Since(start))
	}
}

// Watches stream: passed through, never read whole or retried.
func TestWatchesPassThrough(t *testing.T) {
	f := &flaky{script: []string{"503"}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := &http.Client{Transport: Retrying(http.DefaultTransport, RetryOptions{Backoff: time.Millisecond})}
	resp, err := c.Get(srv.URL + "/apis/x?watch=true")
	if err != nil || resp.StatusCode != 503 || f.attempts() != 1 {
		t.Errorf("watch: %v %v after %d attempts", resp, err, f.attempts())
	}
}
