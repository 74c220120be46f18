package cluster

import (
	"bytes"
	"strings"
	"testing"
)

func TestWriteList(t *testing.T) {
	rows := []Status{
		{Name: "us-east", Context: "c1", Provider: "gloo", Region: "us-east-1", Zone: "us-east-1a", Failover: "203.0.113.1:15443",
			Probed: true, Reachable: true, Version: "v1.37.2", LatencyMS: 3.25},
		{Name: "eu-west", Context: "c2", Provider: "envoy-gateway", Probed: true, Error: "connection refused"},
		{Name: "ap", Context: "c3", Provider: "gloo"},
	}
	var plain bytes.Buffer
	if err := WriteList(&plain, rows, false, false); err != nil {
		t.Fatal(err)
	}
	want := "NAME\tCONTEXT\tPROVIDER\tREGION/ZONE\tFAILOVER\tREACHABLE\tVERSION\tLATENCY\n" +
		"us-east\tc1\tgloo\tus-east-1/us-east-1a\t203.0.113.1:15443\ttrue\tv1.37.2\t3.2ms\n" +
		"eu-west\tc2\tenvoy-gateway\t-\t-\tfalse\t-\t-\n" +
		"ap\tc3\tgloo\t-\t-\t-\t-\t-\n"
	if plain.String() != want {
		t.Fatalf("tab-separated:\n%q\nwant:\n%q", plain.String(), want)
	}

	var boxed bytes.Buffer
	if err := WriteList(&boxed, rows, true, false); err != nil {
		t.Fatal(err)
	}
	out := boxed.String()
	if !strings.Contains(out, "│ NAME ") || !strings.Contains(out, "│ eu-west ") || !strings.Contains(out, "┌") || strings.Contains(out, "\x1b[") {
		t.Fatalf("boxed, no colour:\n%s", out)
	}
	var colored bytes.Buffer
	if err := WriteList(&colored, rows, true, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(colored.String(), "\x1b[") {
		t.Fatalf("colour was asked for but not used:\n%s", colored.String())
	}
}
