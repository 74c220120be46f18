package cmd_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatefed/gatefed/internal/localfleet"
	"github.com/gatefed/gatefed/internal/testfleet"
)

// scriptFleet is one test fleet of three clusters (contexts c1, c2, c3, every
// CRD family installed), started for the first test or script that needs it
// and stopped when every test is done (stopTestFleetAfter).
var scriptFleet struct {
	once sync.Once
	f    *testfleet.Fleet
	err  error
}

// sharedTestFleet starts the shared fleet once and returns it.
func sharedTestFleet() (*testfleet.Fleet, error) {
	scriptFleet.once.Do(func() {
		scriptFleet.f, scriptFleet.err = testfleet.Start(context.Background(), localfleet.Options{Count: 3})
	})
	if scriptFleet.err != nil {
		return nil, fmt.Errorf("start test fleet: %w", scriptFleet.err)
	}
	return scriptFleet.f, nil
}

type fleetStopper struct{ m *testing.M }

func (s fleetStopper) Run() int {
	code := s.m.Run()
	if scriptFleet.f != nil {
		if err := scriptFleet.f.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stop test fleet: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// stopTestFleetAfter runs the tests, then stops the shared fleet if one started.
func stopTestFleetAfter(m *testing.M) testscript.TestingM { return fleetStopper{m} }

// testFleetNamespace creates namespace ns in every running cluster of the fleet.
func testFleetNamespace(f *testfleet.Fleet, ns string) error {
	for _, c := range f.Clusters {
		if !c.Running() {
			continue
		}
		cs, err := c.Clientset()
		if err != nil {
			return err
		}
		_, err = cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("cluster %s: namespace %s: %w", c.Name, ns, err)
		}
	}
	return nil
}

// useTestFleet gives a script that mentions $TESTFLEET_KUBECONFIG a running
// fleet: TESTFLEET_KUBECONFIG is its admin kubeconfig, and TESTFLEET_NAMESPACE
// a namespace of the script's own in every cluster, named "script-" and the
// script's name with "_" as "-" (apply_basic: script-apply-basic), which its
// fleet files use as the gateway namespace so that scripts do not collide.
func useTestFleet(dir string, env *testscript.Env) error {
	name := strings.TrimPrefix(filepath.Base(env.WorkDir), "script-")
	script, err := os.ReadFile(filepath.Join(dir, name+".txtar"))
	if err != nil || !bytes.Contains(script, []byte("TESTFLEET_KUBECONFIG")) {
		return nil
	}
	f, err := sharedTestFleet()
	if err != nil {
		return err
	}
	ns := "script-" + strings.ToLower(strings.ReplaceAll(name, "_", "-"))
	if err := testFleetNamespace(f, ns); err != nil {
		return err
	}
	env.Setenv("TESTFLEET_KUBECONFIG", f.Kubeconfig)
	env.Setenv("TESTFLEET_NAMESPACE", ns)
	return nil
}
