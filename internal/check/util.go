package check

import (
	"encoding/json"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

func isNotFound(err error) bool { return apierrors.IsNotFound(err) }

// readOnce runs a read at most once per key, however many callers ask for
// it at the same time, and gives every caller its result.
type readOnce[K comparable, V any] struct {
	mu    sync.Mutex
	reads map[K]*onceRead[V]
}

type onceRead[V any] struct {
	once  sync.Once
	value V
	err   error
}

func (r *readOnce[K, V]) do(key K, read func() (V, error)) (V, error) {
	r.mu.Lock()
	if r.reads == nil {
		r.reads = map[K]*onceRead[V]{}
	}
	o, ok := r.reads[key]
	if !ok {
		o = &onceRead[V]{}
		r.reads[key] = o
	}
	r.mu.Unlock()
	o.once.Do(func() { o.value, o.err = read() })
	return o.value, o.err
}
