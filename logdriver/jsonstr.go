package logdriver

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// appendJSONString appends s as a JSON string, quotes included, escaped
// byte for byte as Docker's json-file driver escapes a line: \n, \r, \"
// and \\ as such, every other control character and '<', '>', '&' as
// \u00XX, U+2028 and U+2029 as \u2028 and \u2029, and each byte of invalid
// UTF-8 as \ufffd, so the output is always valid JSON text. This is the hot
// loop of the json-file driver: it reserves room for the worst case once
// (the buffer is reused), then copies eight bytes at a time, the last few
// bytes of s as one word too, and escapes the bytes that need it in place.
func appendJSONString(dst, s []byte) []byte {
	// Each byte becomes at most 6 (\u00XX, \ufffd); 8 more let the word
	// loop store whole words near the end.
	need := len(dst) + 6*len(s) + 2 + 8
	if cap(dst) < need {
		grown := make([]byte, len(dst), need+need/4)
		copy(grown, dst)
		dst = grown
	}
	out := dst[len(dst):need]
	out[0] = '"'
	k, i := 1, 0
	for i < len(s) {
		// x holds the next n bytes of s, n = 8 but at the end.
		var x uint64
		n := 8
		switch {
		case i+8 <= len(s):
			x = binary.LittleEndian.Uint64(s[i:])
		case len(s) >= 8:
			// The word that ends s, shifted down to its last n bytes.
			n = len(s) - i
			x = binary.LittleEndian.Uint64(s[len(s)-8:]) >> (64 - 8*n)
		default:
			n = len(s) - i
			for j := n - 1; j >= 0; j-- {
				x = x<<8 | uint64(s[i+j])
			}
		}
		binary.LittleEndian.PutUint64(out[k:], x)
		flags := specials(x)
		if n < 8 {
			flags &= 1<<(8*n) - 1
		}
		if flags == 0 {
			k, i = k+n, i+n
			continue
		}
		if x&highs == 0 {
			// ASCII: escape every flagged byte of the word in place.
			// out[k:] holds the word from byte done on.
			done := 0
			for ; flags != 0; flags &= flags - 1 {
				m := bits.TrailingZeros64(flags) / 8
				k += m - done // the plain bytes before it are in place
				if c := byte(x >> (8 * m)); c == '"' || c == '\\' {
					// A backslash before it, and the word, from it on, one
					// byte up: no look-up for what JSON logs hold most.
					out[k] = '\\'
					binary.LittleEndian.PutUint64(out[k+1:], x>>(8*m))
					k, done = k+1, m
					continue
				}
				k = appendEscape(out, k, byte(x>>(8*m)))
				done = m + 1
				binary.LittleEndian.PutUint64(out[k:], x>>(8*done))
			}
			k, i = k+n-done, i+n
			continue
		}
		// Non-ASCII: keep the plain bytes before the first flagged one,
		// then write that one or its rune.
		m := bits.TrailingZeros64(flags) / 8
		k, i = appendFlagged(out, k+m, s, i+m)
	}
	out[k] = '"'
	return dst[:len(dst)+k+1]
}

// appendFlagged writes the flagged byte s[i] at out[k:]: its escape, or
// the rune it starts (escaped when invalid UTF-8, U+2028 or U+2029). It
// returns where the output and the input go on.
func appendFlagged(out []byte, k int, s []byte, i int) (int, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return appendEscape(out, k, c), i + 1
	}
	r, size := utf8.DecodeRune(s[i:])
	switch {
	case r == utf8.RuneError && size == 1:
		k += copy(out[k:], `\ufffd`)
	case r == '\u2028' || r == '\u2029':
		k += copy(out[k:], `\u202`)
		out[k] = hexDigits[r&15]
		k++
	default:
		k += copy(out[k:], s[i:i+size])
	}
	return k, i + size
}

// appendEscape writes the escape of the ASCII byte c, a control character
// or one of '"', '\\', '<', '>', '&', at out[k:] and returns where it ends.
func appendEscape(out []byte, k int, c byte) int {
	if e := shortEscape[c]; e != 0 {
		out[k], out[k+1] = '\\', e
		return k + 2
	}
	out[k], out[k+1], out[k+2], out[k+3], out[k+4], out[k+5] = '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15]
	return k + 6
}

const (
	ones  = 0x0101010101010101
	lows  = 0x7f7f7f7f7f7f7f7f
	highs = 0x8080808080808080
)

const hexDigits = "0123456789abcdef"

// specials flags, exactly, with the high bit of each byte, the bytes of x
// that are not copied as they are: control characters, '"', '\\', '<', '>',
// '&', and non-ASCII bytes (which may start a valid rune). '"' (0x22) and
// '&' (0x26) differ in one bit, as do '<' (0x3c) and '>' (0x3e): each pair
// is one test with that bit masked off. No sum carries into the next byte,
// so every flag is exact.
func specials(x uint64) uint64 {
	t := x & lows                                // each byte below 0x80
	control := ^(t + 0x60*ones)                  // high bit set: t < 0x20
	quoteAmp := (t^'"'*ones)&^(0x04*ones) + lows // high bit clear: t is '"' or '&'
	angle := (t^'<'*ones)&^(0x02*ones) + lows    // high bit clear: t is '<' or '>'
	slash := (t ^ '\\'*ones) + lows              // high bit clear: t == '\\'
	return (control | ^(quoteAmp & angle & slash) | x) & highs
}

// shortEscape is the letter of the two-character JSON escape of c, if it
// has one in Docker's json-file (\t has not); other bytes that need an
// escape are written \u00XX.
var shortEscape = [256]byte{'\n': 'n', '\r': 'r', '"': '"', '\\': '\\'}
