package logdriver

import (
	"encoding/binary"
	"unicode/utf8"
)

// appendJSONString appends s as a JSON string, quotes included. Invalid
// UTF-8 becomes U+FFFD, so the output is always valid JSON text. Runs of
// plain ASCII are copied eight bytes at a time: this is the hot loop of
// the json-file driver.
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0 // s[start:i] is plain and not yet copied
	i := 0
	for i < len(s) {
		if i+8 <= len(s) && plain8(binary.LittleEndian.Uint64(s[i:])) {
			i += 8
			continue
		}
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			if c < 0x20 {
				const hex = "0123456789abcdef"
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			} else {
				dst = append(dst, `\ufffd`...)
			}
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// plain8 reports whether the eight bytes of x need no escaping: none is a
// control character, '"', '\\' or non-ASCII.
func plain8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	control := (x - 0x20*ones) & ^x
	quote := x ^ '"'*ones
	quote = (quote - ones) & ^quote
	slash := x ^ '\\'*ones
	slash = (slash - ones) & ^slash
	return (control|quote|slash|x)&highs == 0
}
