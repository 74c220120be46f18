package check

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

func checkDrift(ctx context.Context, env *clusterEnv, res *result) {
	d := env.run.opts.Differ
	if d == nil {
		res.skip("no diff engine is available to compare live objects with the render")
		return
	}
	var unserved []string
	seen := map[string]bool{}
	for _, o := range env.objects {
		gk := o.GroupVersionKind().GroupKind()
		if env.mapping(gk) == nil && !seen[gk.String()] {
			seen[gk.String()] = true
			unserved = append(unserved, gk.String())
		}
	}
	if len(unserved) > 0 {
		sort.Strings(unserved)
		res.fail(fmt.Sprintf("the render holds kinds the API does not serve (%s): those objects cannot exist in the cluster", strings.Join(unserved, ", ")),
			"install the gateway's CRDs (see gateway-install), then gatefed apply")
		return
	}
	changes, err := d.Diff(ctx, env.cluster, env.objects, env.conn())
	if err != nil {
		res.fail("could not compare live objects with the render: "+err.Error(),
			fmt.Sprintf("run gatefed diff --cluster %s to see the error in full", env.cluster.Name()))
		return
	}
	name := env.cluster.Name()
	var created, updated, deleted int
	for _, c := range changes {
		ref := objRef(c.Kind, c.Namespace, c.Name)
		switch c.Op {
		case "create":
			created++
			res.objFail(ref, fmt.Sprintf("%s is rendered but missing from the cluster", ref),
				fmt.Sprintf("gatefed apply --cluster %s creates it", name))
		case "update":
			updated++
			what := "its live state differs from the render"
			restore := fmt.Sprintf("gatefed apply --cluster %s", name)
			if c.Detail != "" {
				// Another field manager owns the fields now: taking them back needs force.
				what = c.Detail
				restore += " --force-conflicts"
			}
			res.objFail(ref, fmt.Sprintf("%s was changed out of band: %s", ref, what),
				fmt.Sprintf("gatefed diff --cluster %s shows the change; %s restores the rendered state (or change the fleet documents to keep it)", name, restore))
		case "delete":
			deleted++
			res.objWarn(ref, fmt.Sprintf("%s belongs to gatefed's ApplySet but is no longer rendered", ref),
				fmt.Sprintf("gatefed apply --cluster %s prunes it", name))
		}
	}
	if created+updated+deleted == 0 {
		res.info(fmt.Sprintf("in sync: %s match the render", plural(len(env.objects), "object", "objects")))
		return
	}
	res.info(fmt.Sprintf("%d missing, %d changed out of band, %d no longer rendered", created, updated, deleted))
}
