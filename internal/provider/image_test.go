package provider

import "testing"

func TestImageTagAndName(t *testing.T) {
	for image, want := range map[string][2]string{
		"quay.io/solo-io/gloo-ee:1.19.6":            {"1.19.6", "gloo-ee"},
		"quay.io/solo-io/gloo:1.17.0":               {"1.17.0", "gloo"},
		"registry:5000/solo-io/gloo":                {"", "gloo"},
		"gloo@sha256:0123":                          {"", "gloo"},
		"registry:5000/gloo-ee:v1.22.1@sha256:abcd": {"v1.22.1", "gloo-ee"},
	} {
		if tag, name := ImageTag(image), ImageName(image); tag != want[0] || name != want[1] {
			t.Errorf("%s: tag %q name %q, want %q %q", image, tag, name, want[0], want[1])
		}
	}
}
