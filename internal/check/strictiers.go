package check

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatefed/gatefed/internal/provider"
)

// strictTiersSetting checks, for a Cluster with spec.gateway.strictTiers,
// that the installed gateway has the setting strict tiers need: without
// it the gateway ignores what is rendered for them and the tiers share
// one fallback priority.
func strictTiersSetting(ctx context.Context, env *clusterEnv, res *result, title string, st *provider.StrictTiers) {
	s := st.Setting
	ref := objRef("ConfigMap", s.Namespace, s.ConfigMap)
	needs := fmt.Sprintf("spec.gateway.strictTiers needs %s's %s", title, s.What)
	cm, err := env.kube.CoreV1().ConfigMaps(s.Namespace).Get(ctx, s.ConfigMap, metav1.GetOptions{})
	switch {
	case isNotFound(err):
		res.objFail(ref, fmt.Sprintf("%s, and its configuration (%s) does not exist to show it", needs, ref), s.Hint)
		return
	case err != nil:
		res.objFail(ref, fmt.Sprintf("%s: read %s: %v", needs, ref, err), rbacHint("get configmaps", s.Namespace))
		return
	}
	text, ok := cm.Data[s.Key]
	if !ok {
		res.objFail(ref, fmt.Sprintf("%s, and %s has no key %s to show it", needs, ref, s.Key), s.Hint)
		return
	}
	on, err := s.Enabled(text)
	switch {
	case err != nil:
		res.objFail(ref, fmt.Sprintf("%s: %s: %v", needs, ref, err), s.Hint)
	case !on:
		res.objFail(ref, fmt.Sprintf("%s, which %s leaves off: %s ignores %s and the tiers after the first share one fallback priority", needs, ref, title, st.Object), s.Hint)
	default:
		res.objInfo(ref, fmt.Sprintf("%s has %s on: strict tiers apply", title, s.What))
	}
}
