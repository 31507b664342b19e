// Package plural writes counts in English: "1 message", "2 messages".
package plural

import "strconv"

// Count is n followed by noun, with an s unless n is 1 (or -1). It serves
// regular nouns only, which is all shroud's messages count.
func Count(n int, noun string) string {
	s := strconv.Itoa(n) + " " + noun
	if n != 1 && n != -1 {
		s += "s"
	}
	return s
}
