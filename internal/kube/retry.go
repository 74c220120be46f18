package kube

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	utilnet "k8s.io/apimachinery/pkg/util/net"
)

// Defaults of RetryOptions.
const (
	DefaultRetries    = 3
	DefaultBackoff    = 500 * time.Millisecond
	DefaultMaxBackoff = 8 * time.Second
)

// RetryOptions bound what a Retrying transport sends again.
type RetryOptions struct {
	// Retries is how many times one request is sent again at most
	// (0: DefaultRetries; negative: never).
	Retries int
	// Backoff is the pause before the first retry; it doubles for each
	// further one, up to MaxBackoff, with a fifth either way at random
	// (0: DefaultBackoff, DefaultMaxBackoff).
	Backoff, MaxBackoff time.Duration
	// AttemptTimeout bounds each attempt, the answer's body included
	// (0: none). A request that runs out of it counts as failed and, when it
	// is safe to send again, is retried.
	AttemptTimeout time.Duration
	// OnRetry, when set, is told of each retry before its pause.
	OnRetry func(Retry)
}

// Retry is one request about to be sent again.
type Retry struct {
	Method string
	Path   string
	// Attempt is the attempt that failed, counted from 1.
	Attempt int
	// Of is how many attempts the request may take in all.
	Of int
	// Reason says how the attempt failed: "503 Service Unavailable",
	// "read tcp ...: connection reset by peer", "no answer within 30s".
	Reason string
	Wait   time.Duration
}

func (r Retry) String() string {
	return fmt.Sprintf("retrying %s %s in %s (attempt %d of %d failed: %s)", r.Method, r.Path, r.Wait.Round(time.Millisecond), r.Attempt, r.Of, r.Reason)
}

// Retrying wraps rt so that requests it is safe to send again are retried,
// a bounded number of times, when the API server or the network fails in a
// way that may pass. It adds to what client-go's REST client does itself
// and stays out of its way, so that no request is retried by both:
//
//   - client-go retries any request answered 429 or 5xx with a Retry-After
//     header (in seconds), after that many seconds, up to 10 times; and a
//     GET whose connection was reset or closed, after a second, up to 10
//     times. Those answers and errors are passed through untouched.
//   - Retrying sends again, after a backoff: a request answered 429 without
//     Retry-After (the server turned it away before acting on it); an
//     idempotent request answered 502, 503 or 504 without Retry-After; an
//     idempotent request whose connection failed (other than a GET's reset,
//     left to client-go), that got no answer within AttemptTimeout, or whose
//     answer broke off in the body; and any request that could not connect
//     at all (nothing was sent). Idempotent are GET, HEAD, OPTIONS, DELETE
//     (a repeat of a delete that went through answers 404: callers take it
//     as done) and server-side apply PATCH (the same patch gives the same
//     object). A create (POST), an update (PUT) or another kind of patch is
//     never sent again once it may have reached the server.
//   - A 500 without Retry-After is not retried: API servers answer 500 for
//     errors that do not pass, such as a field strict validation rejects.
//
// Watches pass through untouched. Other answers are read whole within the
// attempt, so a body that breaks off can be retried.
func Retrying(rt http.RoundTripper, o RetryOptions) http.RoundTripper {
	if o.Retries == 0 {
		o.Retries = DefaultRetries
	}
	if o.Retries < 0 {
		o.Retries = 0
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.MaxBackoff < o.Backoff {
		o.MaxBackoff = o.Backoff
	}
	return &retrying{rt: rt, o: o}
}

type retrying struct {
	rt http.RoundTripper
	o  RetryOptions
}

// WrappedRoundTripper lets client-go see through the wrapper.
func (t *retrying) WrappedRoundTripper() http.RoundTripper { return t.rt }

// AttemptsError is the last error of a request that was sent more than once.
type AttemptsError struct {
	Attempts int
	Err      error
}

func (e *AttemptsError) Error() string {
	return fmt.Sprintf("%v (after %d attempts)", e.Err, e.Attempts)
}
func (e *AttemptsError) Unwrap() error { return e.Err }

// TimeoutError is an attempt that got no answer within its time.
type TimeoutError struct {
	After time.Duration
	Err   error
}

func (e *TimeoutError) Error() string { return fmt.Sprintf("no answer within %s", e.After) }
func (e *TimeoutError) Unwrap() error { return e.Err }
func (e *TimeoutError) Timeout() bool { return true }

func (t *retrying) RoundTrip(req *http.Request) (*http.Response, error) {
	if isWatch(req) {
		return t.rt.RoundTrip(req)
	}
	ctx := req.Context()
	idempotent := isIdempotent(req)
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	of := t.o.Retries + 1
	if !replayable {
		of = 1
	}
	for attempt := 1; ; attempt++ {
		resp, err := t.attempt(req, attempt)
		if ctx.Err() != nil {
			if err == nil {
				return resp, nil
			}
			return nil, err
		}
		var reason string
		var wait time.Duration
		retry := false
		switch {
		case err != nil:
			reason, retry = retryableError(req, err, idempotent)
		case resp.Body != nil && isBroken(resp.Body):
			reason, retry = "the answer broke off: "+resp.Body.(*brokenBody).err.Error(), idempotent
		default:
			reason, wait, retry = retryableStatus(resp, idempotent)
		}
		if !retry || attempt >= of {
			if err != nil && attempt > 1 {
				err = &AttemptsError{Attempts: attempt, Err: err}
			}
			return resp, err
		}
		if resp != nil {
			resp.Body.Close()
		}
		wait = max(wait, t.backoff(attempt))
		if t.o.OnRetry != nil {
			t.o.OnRetry(Retry{Method: req.Method, Path: req.URL.Path, Attempt: attempt, Of: of, Reason: reason, Wait: wait})
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-timer.C:
		}
	}
}

// attempt sends the request once, within AttemptTimeout, and reads the
// whole answer. An answer whose body breaks off comes back with a
// brokenBody that yields what arrived, then the error.
func (t *retrying) attempt(req *http.Request, n int) (*http.Response, error) {
	ctx := req.Context()
	actx, cancel := ctx, context.CancelFunc(func() {})
	if t.o.AttemptTimeout > 0 {
		actx, cancel = context.WithTimeout(ctx, t.o.AttemptTimeout)
	}
	defer cancel()
	out := req.WithContext(actx)
	if n > 1 && req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		out = req.Clone(actx)
		out.Body = body
	}
	resp, err := t.rt.RoundTrip(out)
	timedOut := func(err error) error {
		if actx.Err() != nil && ctx.Err() == nil {
			return &TimeoutError{After: t.o.AttemptTimeout, Err: err}
		}
		return err
	}
	if err != nil {
		return nil, timedOut(err)
	}
	body, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	if rerr != nil {
		resp.Body = &brokenBody{r: bytes.NewReader(body), err: timedOut(rerr)}
		return resp, nil
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return resp, nil
}

// brokenBody is what arrived of a body that broke off, then the error.
type brokenBody struct {
	r   *bytes.Reader
	err error
}

func (b *brokenBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		return n, b.err
	}
	return n, err
}

func (b *brokenBody) Close() error { return nil }

func isBroken(body io.ReadCloser) bool {
	_, ok := body.(*brokenBody)
	return ok
}

func (t *retrying) backoff(attempt int) time.Duration {
	d := t.o.Backoff
	for i := 1; i < attempt && d < t.o.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, t.o.MaxBackoff)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func isWatch(req *http.Request) bool {
	w := req.URL.Query().Get("watch")
	return w == "true" || w == "1"
}

// isIdempotent reports whether sending req twice leaves the cluster as
// sending it once does.
func isIdempotent(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodDelete:
		return true
	case http.MethodPatch:
		mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
		return strings.HasPrefix(mt, "application/apply-patch")
	}
	return false
}

// retryableStatus says whether an answer is one to retry, and the least
// pause before the retry.
func retryableStatus(resp *http.Response, idempotent bool) (reason string, wait time.Duration, ok bool) {
	code := resp.StatusCode
	switch {
	case code == http.StatusTooManyRequests:
	case idempotent && (code == http.StatusBadGateway || code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout):
	default:
		return "", 0, false
	}
	reason = fmt.Sprintf("%d %s", code, http.StatusText(code))
	h := resp.Header.Get("Retry-After")
	if h == "" {
		return reason, 0, true
	}
	if _, err := strconv.Atoi(h); err == nil {
		return "", 0, false // client-go waits and retries
	}
	if at, err := http.ParseTime(h); err == nil {
		return reason, time.Until(at), true
	}
	return reason, 0, true
}

// retryableError says whether a request that failed without an answer is
// one to retry.
func retryableError(req *http.Request, err error, idempotent bool) (string, bool) {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return err.Error(), true // nothing was sent
	}
	if !idempotent {
		return "", false
	}
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	if errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &verify) {
		return "", false // the same certificate fails the same way again
	}
	if (req.Method == http.MethodGet || req.Method == http.MethodHead) &&
		(utilnet.IsConnectionReset(err) || utilnet.IsProbableEOF(err) || utilnet.IsHTTP2ConnectionLost(err)) {
		return "", false // client-go retries these itself
	}
	return err.Error(), true
}
