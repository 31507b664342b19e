package docker

// The comparison's shared parts: the child's output, the options both
// sides get, and the table each driver's test fills in (go test -v prints
// it; README's log-driver section has it).

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// parityScript is the child of every comparison. Its lines hold what a
// driver must carry exactly: control characters, invalid UTF-8, '<', '>',
// '&', U+2028 and U+2029, an empty line, a line of spaces, a carriage
// return; a line of 40000 bytes (pieces of 16 KiB with partial-message
// metadata), one of exactly 16 KiB (a full piece and an empty last one), a
// long line that GELF over UDP sends in chunks, and a last line with no
// newline on each stream.
const parityScript = `printf 'plain line\n'
printf 'tab\there ctrl\001 esc\033[31mred\033[0m del\177\n'
printf 'invalid \377\376 utf8 \303\251 \360\237\230\200 ok\n'
printf 'html <a href="x">&amp;</a> \342\200\250 \342\200\251 sep\n'
printf '{"json":true,"n":1}\n'
printf '\n'
printf '   \n'
printf 'cr\r\n'
printf 'err line\n' >&2
head -c 40000 /dev/zero | tr '\0' x; printf '\n'
head -c 16384 /dev/zero | tr '\0' y; printf '\n'
seq -s ' ' 1 4000
printf 'err without newline' >&2
printf 'tail without newline'`

// parityEnv are the child's variables on both sides: env=FOO,UNSET and
// env-regex=^BAR_ pick FOO, BAR_X and BAR_Y.
var parityEnv = []string{"FOO=foo value", "BAR_X=x", "BAR_Y=<y>", "OTHER=other"}

// commonOpts are the options every comparison adds: a literal tag (the
// tag templates have a test of their own) and the env fields.
var commonOpts = []opt{{"tag", "parity"}, {"env", "FOO,UNSET"}, {"env-regex", "^BAR_"}}

// table checks fields of both sides and logs one row per field of the
// comparison table.
type table struct {
	t      *testing.T
	driver string
	logged map[string]bool
}

func newTable(t *testing.T, driver string) *table {
	t.Logf("| %s | field | Docker | shroud | |", driver)
	return &table{t: t, driver: driver, logged: map[string]bool{}}
}

func (tb *table) row(field string, docker, shroud any, verdict string) {
	if !tb.logged[field] {
		tb.logged[field] = true
		tb.t.Logf("| %s | %s | %s | %s | %s |", tb.driver, field, show(docker), show(shroud), verdict)
	}
}

// same fails the test unless Docker and shroud agree on field.
func (tb *table) same(field string, docker, shroud any) bool {
	tb.t.Helper()
	if !reflect.DeepEqual(docker, shroud) {
		tb.t.Errorf("%s, %s: %s", tb.driver, field, difference(docker, shroud))
		tb.row(field, docker, shroud, "DIFFERENT")
		return false
	}
	tb.row(field, docker, shroud, "equal")
	return true
}

// intended checks a field on which Docker and shroud differ by design:
// each side must hold what it should.
func (tb *table) intended(field string, docker, wantDocker, shroud, wantShroud any, why string) {
	tb.t.Helper()
	if !reflect.DeepEqual(docker, wantDocker) {
		tb.t.Errorf("%s, %s: Docker has %s, want %s", tb.driver, field, show(docker), show(wantDocker))
	}
	if !reflect.DeepEqual(shroud, wantShroud) {
		tb.t.Errorf("%s, %s: shroud has %s, want %s", tb.driver, field, show(shroud), show(wantShroud))
	}
	tb.row(field, docker, shroud, "differs by design: "+why)
}

// difference shows where two values differ: for strings, the first
// differing byte with some context.
func difference(docker, shroud any) string {
	if a, ok := docker.([]string); ok {
		if b, ok := shroud.([]string); ok {
			return fmt.Sprintf("%d and %d items; ", len(a), len(b)) + difference(strings.Join(a, "\n"), strings.Join(b, "\n"))
		}
	}
	a, ok1 := docker.(string)
	b, ok2 := shroud.(string)
	if !ok1 || !ok2 {
		return fmt.Sprintf("Docker has %s, shroud %s", show(docker), show(shroud))
	}
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from := max(0, i-30)
	return fmt.Sprintf("from byte %d, Docker has %q, shroud %q", i, a[from:min(len(a), i+40)], b[from:min(len(b), i+40)])
}

// known checks a field on which shroud still differs from Docker, each
// side holding what it does today, and says why it is not fixed yet.
func (tb *table) known(field string, docker, wantDocker, shroud, wantShroud any, why string) {
	tb.t.Helper()
	if !reflect.DeepEqual(docker, wantDocker) {
		tb.t.Errorf("%s, %s: Docker has %s, want %s", tb.driver, field, show(docker), show(wantDocker))
	}
	if !reflect.DeepEqual(shroud, wantShroud) {
		tb.t.Errorf("%s, %s: shroud has %s, want %s (fixed? then make it a same)", tb.driver, field, show(shroud), show(wantShroud))
	}
	tb.row(field, docker, shroud, "DIFFERENT, not fixed yet: "+why)
}

// show prints a value short enough for a table cell.
func show(v any) string {
	s := fmt.Sprintf("%q", fmt.Sprint(v))
	if _, ok := v.(string); !ok {
		s = fmt.Sprint(v)
	}
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return strings.ReplaceAll(s, "|", `\|`)
}

// pairs zips Docker's and shroud's records of one stream, which must be
// as many.
func pairs[T any](tb *table, stream string, docker, shroud []T) [][2]T {
	tb.t.Helper()
	if len(docker) == 0 && len(shroud) == 0 {
		return nil
	}
	if !tb.same(stream+": records", len(docker), len(shroud)) {
		return nil
	}
	out := make([][2]T, len(docker))
	for i := range docker {
		out[i] = [2]T{docker[i], shroud[i]}
	}
	return out
}

// partialIDs checks the partial-message ids of one side: 64 hex digits,
// shared by the pieces of a line, new for each line. It returns each
// piece's line number in place of its id, to compare with the other side.
func partialIDs(t *testing.T, who string, ids []string) []int {
	t.Helper()
	hex := regexp.MustCompile(`^[0-9a-f]{64}$`)
	out := make([]int, len(ids))
	line, seen := 0, map[string]bool{}
	for i, id := range ids {
		if id == "" {
			out[i] = -1
			continue
		}
		if !hex.MatchString(id) {
			t.Errorf("%s: partial id %q is not 64 hex digits", who, id)
		}
		if i > 0 && id != ids[i-1] || i == 0 {
			if seen[id] {
				t.Errorf("%s: partial id %s used by two lines", who, id)
			}
			seen[id] = true
			line++
		}
		out[i] = line
	}
	return out
}
