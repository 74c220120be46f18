package check

import (
	"context"
	"fmt"
	"sync"

	"github.com/gatefed/gatefed/internal/fleet"
)

// perClusterRequests bounds the requests a check has in flight on one cluster.
const perClusterRequests = 8

// placedServices are the GlobalServices that run in the cluster, by key.
func placedServices(env *clusterEnv) []*fleet.GlobalService {
	var out []*fleet.GlobalService
	for _, s := range env.run.fleet.Services {
		if s.Spec.Clusters.Matches(env.cluster) {
			out = append(out, s)
		}
	}
	return out
}

func checkServicePresence(ctx context.Context, env *clusterEnv, res *result) {
	services := placedServices(env)
	tlsRoutes := servedTLSRoutes(env)
	switch {
	case len(services) == 0 && len(tlsRoutes) == 0:
		res.skip("no GlobalService runs in this cluster")
		return
	case len(services) == 0:
		res.info("no GlobalService runs in this cluster")
		checkTLSSecrets(ctx, env, res, tlsRoutes)
		return
	}
	res.inParallel(
		func(r *result) { checkServices(ctx, env, r, services) },
		func(r *result) { checkTLSSecrets(ctx, env, r, tlsRoutes) },
	)
}

func checkServices(ctx context.Context, env *clusterEnv, res *result, services []*fleet.GlobalService) {
	counts := make([]*endpointCount, len(services))
	sem := make(chan struct{}, perClusterRequests)
	var wg sync.WaitGroup
	for i, s := range services {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			counts[i] = env.readyEndpoints(ctx, s.Metadata.Namespace, s.ServiceName(), s.Spec.Port)
		})
	}
	wg.Wait()
	ok := 0
	for i, s := range services {
		ec := counts[i]
		ns, name, port := s.Metadata.Namespace, s.ServiceName(), s.Spec.Port
		ref := objRef("Service", ns, name)
		what := fmt.Sprintf("GlobalService %s", s.Key())
		switch {
		case ec.err != nil:
			res.objFail(ref, fmt.Sprintf("%s: read the Services and EndpointSlices of namespace %s: %v", what, ns, ec.err),
				rbacHint("list services and endpointslices", ns))
		case !ec.Found:
			res.objFail(ref, fmt.Sprintf("%s: Service %s/%s does not exist in this cluster", what, ns, name),
				fmt.Sprintf("deploy the service here, or take this cluster out of spec.clusters of %s", what))
		case !ec.PortFound:
			res.objFail(ref, fmt.Sprintf("%s: Service %s/%s has no port %d", what, ns, name, port),
				fmt.Sprintf("add port %d to the Service, or correct spec.port of %s", port, what))
		case ec.Ready == 0:
			msg := fmt.Sprintf("%s: Service %s/%s port %d has no ready endpoints", what, ns, name, port)
			if ec.NotReady > 0 {
				msg += fmt.Sprintf(" (%d not ready)", ec.NotReady)
			}
			res.objFail(ref, msg, fmt.Sprintf("kubectl -n %s get endpointslices -l kubernetes.io/service-name=%s; check the pods behind it (readiness probes, selector)", ns, name))
		default:
			ok++
			res.objInfo(ref, fmt.Sprintf("%s: Service %s/%s port %d has %s", what, ns, name, port, plural(ec.Ready, "ready endpoint", "ready endpoints")))
		}
	}
	if ok == len(services) {
		res.info(fmt.Sprintf("all %s present with ready endpoints", plural(len(services), "service", "services")))
	}
}
