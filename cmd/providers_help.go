package cmd

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gatefed/gatefed/internal/provider"
	"github.com/gatefed/gatefed/internal/render"
)

// providersHelp lists every registered provider with its default gateway,
// from the providers' descriptors.
func providersHelp() string {
	var b strings.Builder
	b.WriteString("Providers (a Cluster's spec.gateway.provider) and their default gateway:\n")
	for _, d := range provider.All() {
		fmt.Fprintf(&b, "  %-14s %s: %s\n", d.Name, d.Title, defaultGateway(d.Defaults))
	}
	return b.String()
}

// defaultGateway says where a provider's gateway is by default.
func defaultGateway(def provider.Defaults) string {
	s := def.GatewayName + " in " + def.Namespace
	if def.ClassName != "" {
		s = def.GatewayName + " (class " + def.ClassName + ") in " + def.Namespace
	}
	if len(def.Selector) > 0 {
		var sel []string
		for k, v := range def.Selector {
			sel = append(sel, k+"="+v)
		}
		sort.Strings(sel)
		s += ", on the pods " + strings.Join(sel, ",")
	}
	return s
}

// waitHelp lists what apply --wait waits for on each provider: the kinds
// whose controller writes a verdict, with the conditions a kind needs
// besides the usual ones.
func waitHelp() string {
	var b strings.Builder
	for _, d := range provider.All() {
		var kinds []string
		seen := map[string]bool{}
		for _, gk := range d.StatusKinds {
			if !seen[gk.Kind] {
				seen[gk.Kind] = true
				kind := gk.Kind
				if conds := d.StatusConditions[gk]; len(conds) > 0 {
					kind += " (" + strings.Join(conds, " and ") + ")"
				}
				kinds = append(kinds, kind)
			}
		}
		waits := "nothing: its controller writes no verdict on gatefed's objects, so --wait only confirms they were applied"
		if len(kinds) > 0 {
			waits = "the verdict its controller writes on every " + strings.Join(kinds, ", ")
		}
		fmt.Fprintf(&b, "  %-14s %s\n", d.Name, wrap(waits, 60, strings.Repeat(" ", 17)))
	}
	return b.String()
}

// applyPhasesHelp lists the kinds of each apply phase, in order.
func applyPhasesHelp() string {
	var b strings.Builder
	for i, kinds := range render.ApplyPhases() {
		fmt.Fprintf(&b, "  %d. %s\n", i+1, strings.Join(kinds, ", "))
	}
	b.WriteString("  then any other kind\n")
	return b.String()
}

// wrap breaks text into lines of at most width characters, the lines after
// the first indented.
func wrap(text string, width int, indent string) string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	lines = append(lines, line)
	return strings.Join(lines, "\n"+indent)
}
