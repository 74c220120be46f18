package cmd

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/pflag"
)

// addOutputFlag adds a command's one -o switch: the formats it takes, the
// first its default.
func addOutputFlag(fs *pflag.FlagSet, p *string, formats ...string) *pflag.Flag {
	fs.StringVarP(p, "output", "o", formats[0], "output format: "+strings.Join(formats, "|"))
	return fs.Lookup("output")
}

// checkOutput refuses, with exit status 2, a format the command does not take.
func checkOutput(value string, formats ...string) error {
	if slices.Contains(formats, value) {
		return nil
	}
	use := formats[len(formats)-1]
	if len(formats) > 1 {
		use = strings.Join(formats[:len(formats)-1], ", ") + " or " + use
	}
	return &exitError{code: ExitError, err: fmt.Errorf("unknown output format %q: use %s", value, use)}
}

// writeJSON writes v as indented JSON and a newline, as every -o json does.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
