package apply

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatefed/gatefed/internal/cluster"
)

// FieldConflict is one field another manager owns with a different value.
type FieldConflict struct {
	Manager string `json:"manager"`
	Field   string `json:"field"`
}

// ObjectError is a failure on one object.
type ObjectError struct {
	Kind      string          `json:"kind"`
	Namespace string          `json:"namespace,omitempty"`
	Name      string          `json:"name"`
	Conflicts []FieldConflict `json:"conflicts,omitempty"`
	Err       error           `json:"-"`
}

func (e *ObjectError) ref() string {
	if e.Namespace == "" {
		return e.Kind + " " + e.Name
	}
	return e.Kind + " " + e.Namespace + "/" + e.Name
}

func (e *ObjectError) Error() string {
	if len(e.Conflicts) > 0 {
		return e.ref() + ": " + conflictText(e.Conflicts)
	}
	return e.ref() + ": " + e.Err.Error()
}

func (e *ObjectError) Unwrap() error { return e.Err }

// message is the failure without the object's name.
func (e *ObjectError) message() string {
	if len(e.Conflicts) > 0 {
		return conflictText(e.Conflicts)
	}
	return e.Err.Error()
}

func newObjectError(c *Change, err error) *ObjectError {
	return &ObjectError{Kind: c.Kind, Namespace: c.Namespace, Name: c.Name, Err: err, Conflicts: conflictsOf(err)}
}

var conflictManager = regexp.MustCompile(`conflict with "((?:[^"\\]|\\.)*)"`)

// conflictsOf reads the field-manager conflicts of a 409 apply response.
func conflictsOf(err error) []FieldConflict {
	if !apierrors.IsConflict(err) {
		return nil
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return nil
	}
	details := status.Status().Details
	if details == nil {
		return nil
	}
	var out []FieldConflict
	for _, c := range details.Causes {
		if c.Type != metav1.CauseTypeFieldManagerConflict {
			continue
		}
		manager := c.Message
		if m := conflictManager.FindStringSubmatch(c.Message); m != nil {
			manager = strings.ReplaceAll(m[1], `\"`, `"`)
		}
		out = append(out, FieldConflict{Manager: manager, Field: c.Field})
	}
	return out
}

func conflictText(cs []FieldConflict) string {
	return "conflict: " + ConflictFields(cs) + " (rerun with --force-conflicts to take them over)"
}

// ConflictFields says which fields each other field manager owns, in the
// one text of every message about conflicts:
// `.spec.a, .spec.b owned by field manager "kubectl-edit"; .spec.c owned by field manager "ops"`.
func ConflictFields(cs []FieldConflict) string {
	byManager := map[string][]string{}
	for _, c := range cs {
		byManager[c.Manager] = append(byManager[c.Manager], c.Field)
	}
	managers := make([]string, 0, len(byManager))
	for m := range byManager {
		managers = append(managers, m)
	}
	sort.Strings(managers)
	parts := make([]string, len(managers))
	for i, m := range managers {
		fields := byManager[m]
		sort.Strings(fields)
		parts[i] = fmt.Sprintf("%s owned by field manager %q", strings.Join(fields, ", "), m)
	}
	return strings.Join(parts, "; ")
}

// clusterError is a failure of a whole cluster, not of one object: every
// other request would fail the same way, so the cluster's run stops with
// this one error.
type clusterError struct {
	// what is how the run stopped: "connection lost", ...
	what string
	err  error
}

// asClusterError returns err as a failure of the whole cluster, or nil when
// it is about one object: the connection is lost (after the retries), the
// API server keeps answering that it cannot serve (429, 502, 503, 504 after
// the retries), or it rejects the credentials.
func (e *Engine) asClusterError(cp *ClusterPlan, err error) *clusterError {
	var status apierrors.APIStatus
	switch {
	case err == nil:
		return nil
	case isTransportError(err):
		return &clusterError{"connection lost", transportError(err)}
	case apierrors.IsUnauthorized(err):
		return &clusterError{"credentials rejected", e.credentials(cp, err)}
	case errors.As(err, &status):
		switch status.Status().Code {
		case 429, 502, 503, 504:
			return &clusterError{"the API server keeps failing", err}
		}
	}
	return nil
}

// credentials turns an API server's 401 into an error that names the
// cluster's context and says how to get new credentials.
func (e *Engine) credentials(cp *ClusterPlan, err error) error {
	if cp.cluster == nil {
		return err
	}
	if ce := cluster.Rejected(cp.cluster, e.opts.Kubeconfig, err); ce != nil {
		return ce
	}
	return err
}
