package check

import (
	"context"
	"fmt"

	"github.com/gatefed/gatefed/internal/cluster"
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
	text, missing, err := cluster.SettingText(ctx, env.kube, s)
	switch {
	case err != nil:
		res.objFail(ref, fmt.Sprintf("%s: read %s: %v", needs, ref, err), rbacHint("get configmaps", s.Namespace))
		return
	case missing != "":
		res.objFail(ref, fmt.Sprintf("%s, and %s to show it", needs, missing), s.Hint)
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
