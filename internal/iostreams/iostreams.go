// Package iostreams carries the input and output streams of a command, so that
// tests can use buffers and colour is used only on a terminal.
package iostreams

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams are the streams a command reads and writes.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	// OutTTY is true when Out is a terminal.
	OutTTY bool
	// InTTY is true when In is a terminal (prompts are shown only then).
	InTTY bool
	// NoColor disables colour even on a terminal.
	NoColor bool
}

// System returns the process's standard streams.
func System() *IOStreams {
	return &IOStreams{
		In:      os.Stdin,
		Out:     os.Stdout,
		ErrOut:  os.Stderr,
		OutTTY:  isTerminal(os.Stdout),
		InTTY:   isTerminal(os.Stdin),
		NoColor: os.Getenv("NO_COLOR") != "",
	}
}

// Test returns streams backed by buffers: stdin, stdout, stderr.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

// ColorEnabled reports whether output may be coloured: only on a terminal and never with NO_COLOR or --no-color.
func (s *IOStreams) ColorEnabled() bool { return s.OutTTY && !s.NoColor }

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
