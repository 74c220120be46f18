package apply

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	byManager := map[string][]string{}
	for _, c := range cs {
		byManager[c.Manager] = append(byManager[c.Manager], c.Field)
	}
	managers := make([]string, 0, len(byManager))
	for m := range byManager {
		managers = append(managers, m)
	}
	sort.Strings(managers)
	var parts []string
	for _, m := range managers {
		fields := byManager[m]
		sort.Strings(fields)
		parts = append(parts, fmt.Sprintf("%s owned by field manager %q", strings.Join(fields, ", "), m))
	}
	return "conflict: " + strings.Join(parts, "; ") + " (rerun with --force-conflicts to take them over)"
}
