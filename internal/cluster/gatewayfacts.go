package cluster

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gatefed/gatefed/internal/provider"
)

// gatewayFacts are the spec.gateway options register reads from the cluster,
// for a provider that takes them: the IP families of the gateway's Service
// and the gateway's version (an image tag). Empty when not read.
type gatewayFacts struct {
	IPFamilies []string
	Version    string
	// StrictTiers is whether the gateway's configuration has the setting
	// strict tiers need; nil when not read.
	StrictTiers *bool
}

// readGatewayFacts reads the facts the provider takes; what it cannot read
// it leaves empty and says so in a note.
func readGatewayFacts(ctx context.Context, cs kubernetes.Interface, d *provider.Descriptor, ns, name string) (gatewayFacts, []string) {
	var f gatewayFacts
	var notes []string
	if d.Options.IPFamilies {
		svc, err := cs.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			notes = append(notes, fmt.Sprintf("IP families not recorded: read Service %s/%s: %v", ns, name, err))
		} else {
			for _, fam := range svc.Spec.IPFamilies {
				f.IPFamilies = append(f.IPFamilies, string(fam))
			}
			notes = append(notes, fmt.Sprintf("IP families %s from Service %s/%s", strings.Join(f.IPFamilies, ", "), ns, name))
		}
	}
	if dep := d.Options.VersionDeployment; dep != "" {
		f.Version, notes = readVersion(ctx, cs, d, ns, dep, notes)
	}
	if st := d.Options.StrictTiers; st != nil {
		f.StrictTiers, notes = readStrictTiers(ctx, cs, d.Title, st.Setting, notes)
	}
	return f, notes
}

// readStrictTiers reads whether the gateway's configuration has the
// setting strict tiers need.
func readStrictTiers(ctx context.Context, cs kubernetes.Interface, title string, s provider.ConfigSetting, notes []string) (*bool, []string) {
	text, missing, err := SettingText(ctx, cs, s)
	switch {
	case err != nil:
		return nil, append(notes, fmt.Sprintf("strictTiers not recorded: read %s: %v", settingRef(s), err))
	case missing != "":
		return nil, append(notes, fmt.Sprintf("strictTiers not recorded: %s to show %s's %s", missing, title, s.What))
	}
	on, err := s.Enabled(text)
	switch {
	case err != nil:
		return nil, append(notes, fmt.Sprintf("strictTiers not recorded: %s: %v", settingRef(s), err))
	case on:
		return &on, append(notes, fmt.Sprintf("strictTiers: %s has %s on (%s)", title, s.What, settingRef(s)))
	}
	return &on, append(notes, fmt.Sprintf("strictTiers off: %s has %s off (%s), so the tiers after the first share one fallback priority; %s", title, s.What, settingRef(s), s.Hint))
}

// SettingText reads the key of a gateway's configuration ConfigMap that
// holds a setting. missing names what is absent (the ConfigMap or its key)
// when the configuration cannot show the setting; err is a failure to read
// the ConfigMap.
func SettingText(ctx context.Context, cs kubernetes.Interface, s provider.ConfigSetting) (text, missing string, err error) {
	cm, err := cs.CoreV1().ConfigMaps(s.Namespace).Get(ctx, s.ConfigMap, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return "", fmt.Sprintf("its configuration (%s) does not exist", settingRef(s)), nil
	case err != nil:
		return "", "", err
	}
	text, ok := cm.Data[s.Key]
	if !ok {
		return "", fmt.Sprintf("%s has no key %s", settingRef(s), s.Key), nil
	}
	return text, "", nil
}

func settingRef(s provider.ConfigSetting) string {
	return "ConfigMap " + s.Namespace + "/" + s.ConfigMap
}

// readVersion is the tag of the first container image of a Deployment, when
// the provider takes it as a version.
func readVersion(ctx context.Context, cs kubernetes.Interface, d *provider.Descriptor, ns, name string, notes []string) (string, []string) {
	dep, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", append(notes, fmt.Sprintf("%s version not recorded: read Deployment %s/%s: %v", d.Title, ns, name, err))
	}
	for _, c := range dep.Spec.Template.Spec.Containers {
		v := strings.TrimPrefix(provider.ImageTag(c.Image), "v")
		if v == "" {
			continue
		}
		if msg := d.Options.Version(v); msg != "" {
			return "", append(notes, fmt.Sprintf("%s version not recorded: image %s: %s", d.Title, c.Image, msg))
		}
		return v, append(notes, fmt.Sprintf("%s version %s from Deployment %s/%s (image %s)", d.Title, v, ns, name, c.Image))
	}
	return "", append(notes, fmt.Sprintf("%s version not recorded: Deployment %s/%s has no image tag; set spec.gateway.version", d.Title, ns, name))
}
