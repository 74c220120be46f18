package render

import "io"

// Whole-result writers for the tests (gatefed itself streams cluster by
// cluster through YAMLWriter and ListWriter).

// writeAll writes every cluster of a result.
func writeAll(w interface{ Write(*ClusterOutput) error }, res *Result) error {
	for i := range res.Clusters {
		if err := w.Write(&res.Clusters[i]); err != nil {
			return err
		}
	}
	return nil
}

// WriteYAML writes a whole result as one YAML stream.
func WriteYAML(w io.Writer, res *Result) error { return writeAll(NewYAMLWriter(w), res) }

// WriteJSON writes a whole result as a v1 List.
func WriteJSON(w io.Writer, res *Result) error {
	l := NewListWriter(w)
	if err := writeAll(l, res); err != nil {
		return err
	}
	return l.Close()
}
