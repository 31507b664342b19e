package logdriver

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// appendJSONString appends s as a JSON string, quotes included. Invalid
// UTF-8 becomes U+FFFD, so the output is always valid JSON text. This is
// the hot loop of the json-file driver: it reserves room for the worst case
// once (the buffer is reused), then copies eight bytes at a time and jumps
// straight to the next byte that needs escaping.
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
		if i+8 <= len(s) {
			x := binary.LittleEndian.Uint64(s[i:])
			binary.LittleEndian.PutUint64(out[k:], x)
			if x&highs == 0 {
				// ASCII: escape every flagged byte of the word in place.
				// out[k:] holds the word from byte done on.
				done := 0
				for flags := asciiSpecials(x); flags != 0; flags &= flags - 1 {
					n := bits.TrailingZeros64(flags) / 8
					k += n - done // the plain bytes before it are in place
					c := byte(x >> (8 * n))
					if e := shortEscape[c]; e != 0 {
						out[k], out[k+1] = '\\', e
						k += 2
					} else {
						out[k], out[k+1], out[k+2], out[k+3], out[k+4], out[k+5] = '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15]
						k += 6
					}
					done = n + 1
					binary.LittleEndian.PutUint64(out[k:], x>>(8*done))
				}
				k, i = k+8-done, i+8
				continue
			}
			// Non-ASCII: copy up to the first byte that is not plain ASCII.
			n := bits.TrailingZeros64(special8(x)) / 8
			k, i = k+n, i+n
		}
		c := s[i]
		switch {
		case c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf:
			out[k] = c
			k, i = k+1, i+1
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				k += copy(out[k:], `\ufffd`)
			} else {
				k += copy(out[k:], s[i:i+size])
			}
			i += size
		case shortEscape[c] != 0:
			out[k], out[k+1] = '\\', shortEscape[c]
			k, i = k+2, i+1
		default:
			out[k], out[k+1], out[k+2], out[k+3], out[k+4], out[k+5] = '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15]
			k, i = k+6, i+1
		}
	}
	out[k] = '"'
	return dst[:len(dst)+k+1]
}

const (
	ones  = 0x0101010101010101
	lows  = 0x7f7f7f7f7f7f7f7f
	highs = 0x8080808080808080
)

const hexDigits = "0123456789abcdef"

// zeroBytes flags, exactly, the zero bytes of an ASCII word x.
func zeroBytes(x uint64) uint64 { return ^((x&lows + lows) | x | lows) }

// asciiSpecials flags, exactly, the bytes of an ASCII word that JSON
// escapes: control characters (bits 5 and 6 clear), '"' and '\\'.
func asciiSpecials(x uint64) uint64 {
	return zeroBytes(x&(0x60*ones)) | zeroBytes(x^('"'*ones)) | zeroBytes(x^('\\'*ones))
}

// shortEscape is the letter of the two-character JSON escape of c, if it
// has one; other control characters are written \u00XX.
var shortEscape = [256]byte{'\n': 'n', '\r': 'r', '\t': 't', '"': '"', '\\': '\\'}

// special8 flags (with the high bit of its byte) the bytes of x that need
// care: control characters, '"', '\\' and non-ASCII. The lowest flag is
// exact; flags above it may be false alarms.
func special8(x uint64) uint64 {
	control := (x - 0x20*ones) & ^x
	quote := x ^ '"'*ones
	quote = (quote - ones) & ^quote
	slash := x ^ '\\'*ones
	slash = (slash - ones) & ^slash
	return (control | quote | slash | x) & highs
}
