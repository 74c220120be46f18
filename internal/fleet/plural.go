package fleet

// Plural is one when n is 1 and many otherwise: the word for n things in
// every message.
func Plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
