package logdriver

import (
	"bytes"
	"encoding/binary"
	"slices"
)

// matcher finds every occurrence of a set of patterns in one pass over the
// bytes, whatever their number: a Wu–Manber scan. A window as long as the
// shortest pattern slides over the text; a table indexed by a hash of the
// window's last three bytes says how far it may jump without skipping a
// possible start. Only windows whose last block ends some pattern's first
// window are verified. On log text the window mostly jumps by its length,
// so the cost per byte falls as the shortest secret grows.
//
// A matcher is immutable; a masker swaps in a new one when values change.
type matcher struct {
	pats   [][]byte              // sorted, unique, each at least window long
	window int                   // length of the shortest pattern
	maxLen int                   // length of the longest pattern
	shift  *[1 << hashBits]uint8 // hash of a 3-byte block -> jump
	// bucketAt[h]..bucketAt[h+1] index bucket: the patterns whose first
	// window ends with a block hashing to h.
	bucketAt []int32
	bucket   []int32
	// start2 has a bit for the first two bytes of every pattern, start1 for
	// the first byte: a cheap test for "may a pattern start here?".
	start2 []uint64
	start1 [4]uint64
}

const (
	blockLen = 3
	hashBits = 14
	maxJump  = 255
	// minPattern lets scan load the block ending at pos with one 4-byte
	// load from pos-3.
	minPattern = 4
)

// blockHash hashes the last three bytes of the little-endian word x: the
// block of three bytes ending where x ends.
func blockHash(x uint32) uint32 {
	return (x >> 8) * 2654435761 >> (32 - hashBits)
}

// wordAt is the little-endian word of the four bytes ending at p[i].
func wordAt(p []byte, i int) uint32 { return binary.LittleEndian.Uint32(p[i-3:]) }

// newMatcher compiles patterns; it returns nil when there is nothing to
// match. Patterns shorter than minPattern are ignored (MinMaskMinLength
// keeps them out).
func newMatcher(patterns [][]byte) *matcher {
	var pats [][]byte
	for _, p := range patterns {
		if len(p) >= minPattern {
			pats = append(pats, p)
		}
	}
	if len(pats) == 0 {
		return nil
	}
	slices.SortFunc(pats, bytes.Compare)
	pats = slices.CompactFunc(pats, bytes.Equal)

	m := &matcher{pats: pats, window: len(pats[0]), start2: make([]uint64, 1<<16/64)}
	for _, p := range pats {
		m.window = min(m.window, len(p))
		m.maxLen = max(m.maxLen, len(p))
	}
	w := m.window
	jump := min(w-blockLen+1, maxJump)
	m.shift = new([1 << hashBits]uint8)
	for i := range m.shift {
		m.shift[i] = uint8(jump)
	}
	counts := make([]int32, 1<<hashBits+1)
	for _, p := range pats {
		for q := blockLen - 1; q < w; q++ {
			h := blockHash(uint32(p[q-2])<<8 | uint32(p[q-1])<<16 | uint32(p[q])<<24)
			if s := uint8(min(w-1-q, maxJump)); s < m.shift[h] {
				m.shift[h] = s
			}
		}
		counts[blockHash(wordAt(p, w-1))+1]++
		m.start2[(uint16(p[0])<<8|uint16(p[1]))/64] |= 1 << ((uint16(p[0])<<8 | uint16(p[1])) % 64)
		m.start1[p[0]/64] |= 1 << (p[0] % 64)
	}
	for i := 1; i < len(counts); i++ {
		counts[i] += counts[i-1]
	}
	m.bucketAt = counts
	m.bucket = make([]int32, len(pats))
	fill := slices.Clone(counts)
	for i, p := range pats {
		h := blockHash(wordAt(p, w-1))
		m.bucket[fill[h]] = int32(i)
		fill[h]++
	}
	return m
}

// lanes is how many windows scan moves at once. Each jump waits on a load
// of the text, a hash and a table load; interleaving independent windows
// over separate parts of the text hides that latency.
const lanes = 4

// scan appends every occurrence of a pattern in text to found, in order of
// start. Unless final, it also returns hold: the start of the earliest
// suffix of text that is a proper prefix of a pattern, a match that more
// bytes may complete (len(text) when there is none).
func (m *matcher) scan(text []byte, final bool, found []span) (_ []span, hold int) {
	n, w := len(text), m.window
	hold = n
	// Lane k looks at the windows that end in [from[k], to[k]).
	var from, to [lanes]int
	first := w - 1
	per := max((n-first)/lanes, 1)
	for k := range lanes {
		from[k] = min(first+k*per, n)
		to[k] = min(first+(k+1)*per, n)
	}
	to[lanes-1] = n
	var hits [lanes][]span
	p0, p1, p2, p3 := from[0], from[1], from[2], from[3]
	shift := m.shift
	for p0 < to[0] && p1 < to[1] && p2 < to[2] && p3 < to[3] {
		s0 := shift[blockHash(wordAt(text, p0))]
		s1 := shift[blockHash(wordAt(text, p1))]
		s2 := shift[blockHash(wordAt(text, p2))]
		s3 := shift[blockHash(wordAt(text, p3))]
		if s0 == 0 || s1 == 0 || s2 == 0 || s3 == 0 {
			if s0 == 0 {
				hits[0], hold = m.verify(text, p0, final, hits[0], hold)
				s0 = 1
			}
			if s1 == 0 {
				hits[1], hold = m.verify(text, p1, final, hits[1], hold)
				s1 = 1
			}
			if s2 == 0 {
				hits[2], hold = m.verify(text, p2, final, hits[2], hold)
				s2 = 1
			}
			if s3 == 0 {
				hits[3], hold = m.verify(text, p3, final, hits[3], hold)
				s3 = 1
			}
		}
		p0 += int(s0)
		p1 += int(s1)
		p2 += int(s2)
		p3 += int(s3)
	}
	at := [lanes]int{p0, p1, p2, p3}
	for k := range lanes {
		for pos := at[k]; pos < to[k]; {
			s := shift[blockHash(wordAt(text, pos))]
			if s == 0 {
				hits[k], hold = m.verify(text, pos, final, hits[k], hold)
				s = 1
			}
			pos += int(s)
		}
		found = append(found, hits[k]...)
	}
	if final {
		return found, n
	}
	// Starts too close to the end for a whole window were never looked at.
	for j := max(0, n-w+1); j < min(n, hold); j++ {
		if m.isPrefix(text[j:]) {
			return found, j
		}
	}
	return found, hold
}

// verify checks the patterns whose first window may end at pos.
func (m *matcher) verify(text []byte, pos int, final bool, hits []span, hold int) ([]span, int) {
	n := len(text)
	start := pos - m.window + 1
	h := blockHash(wordAt(text, pos))
	for _, pi := range m.bucket[m.bucketAt[h]:m.bucketAt[h+1]] {
		p := m.pats[pi]
		if end := start + len(p); end <= n {
			if bytes.Equal(text[start:end], p) {
				hits = append(hits, span{start, end})
			}
		} else if !final && start < hold && bytes.HasPrefix(p, text[start:]) {
			hold = start
		}
	}
	return hits, hold
}

// isPrefix reports whether s is a prefix of some pattern.
func (m *matcher) isPrefix(s []byte) bool {
	switch {
	case len(s) == 0:
		return false
	case m.start1[s[0]/64]&(1<<(s[0]%64)) == 0:
		return false
	case len(s) >= 2:
		b := uint16(s[0])<<8 | uint16(s[1])
		if m.start2[b/64]&(1<<(b%64)) == 0 {
			return false
		}
	}
	i, _ := slices.BinarySearchFunc(m.pats, s, bytes.Compare)
	return i < len(m.pats) && bytes.HasPrefix(m.pats[i], s)
}
