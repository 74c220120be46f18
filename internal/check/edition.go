package check

import (
	"context"
	"fmt"
	"strings"

	"github.com/gatefed/gatefed/internal/provider"
)

// failsOver reports whether a service the cluster's routes send to has more
// than one tier, so its gateway fails over between them.
func failsOver(env *clusterEnv) bool {
	for _, sp := range env.input.Used {
		if len(sp.Tiers) > 1 {
			return true
		}
	}
	return false
}

// gatewayEdition checks, for a cluster whose routes fail over, that the
// gateway is the edition that does, by the images of one Deployment.
func gatewayEdition(ctx context.Context, env *clusterEnv, res *result, title string, e *provider.Edition) {
	ns := env.gatewayNamespace()
	ref := objRef("Deployment", ns, e.Deployment)
	d, err := env.deployment(ctx, ns, e.Deployment)
	if err != nil {
		return // deploymentAvailable reports it
	}
	var images []string
	for _, c := range d.Spec.Template.Spec.Containers {
		if e.Accepts(c.Image) {
			res.objInfo(ref, fmt.Sprintf("%s runs %s (%s), which fails over", title, e.What, c.Image))
			return
		}
		images = append(images, c.Image)
	}
	res.objFail(ref, fmt.Sprintf("routes of cluster %s fail over, which needs %s, and %s runs %s", env.cluster.Name(), e.What, ref, strings.Join(images, ", ")), e.Hint)
}
