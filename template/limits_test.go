package template

import (
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"
)

// renderCost renders text with secret "x" serving value, and returns the
// error, how long it took and how many bytes it allocated.
func renderCost(t *testing.T, text, value string, timeout time.Duration) (err error, took time.Duration, alloc uint64) {
	t.Helper()
	tmpl, err := Parse(Input{Name: "app.conf.tmpl", Text: text, LookupEnv: testEnv, Timeout: timeout})
	if err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err = tmpl.Render(func(Ref) ([]byte, error) { return []byte(value), nil })
	took = time.Since(start)
	runtime.ReadMemStats(&after)
	return err, took, after.TotalAlloc - before.TotalAlloc
}

// TestRenderTimeBounded renders templates that would run for ever: a range
// over a huge number, ranges nested over the lines of a value, templates
// that call each other twice per level. Each stops at the deadline with
// an error naming the file.
func TestRenderTimeBounded(t *testing.T) {
	lines := strings.Repeat("line\n", 10_000)
	for _, tt := range []struct{ text, value string }{
		{`{{ range $i := 1000000000000 }}{{ end }}`, ""},
		{`{{ range lines (secret "x") }}{{ range lines (secret "x") }}{{ range lines (secret "x") }}{{ end }}{{ end }}{{ end }}`, lines},
		{`{{ define "h" }}{{ if . }}{{ template "h" (slice . 1) }}{{ template "h" (slice . 1) }}{{ end }}{{ end }}{{ template "h" (secret "x") }}`, strings.Repeat("x", 64)},
		{`{{ range $i := 1000000000000 }}{{ $s := secret "x" | base64Encode }}{{ end }}`, "v"},
	} {
		const timeout = 200 * time.Millisecond
		err, took, _ := renderCost(t, tt.text, tt.value, timeout)
		var e *Error
		if !errors.As(err, &e) || e.Name != "app.conf.tmpl" || e.Line != 1 || !strings.Contains(err.Error(), "rendering took longer than 200ms") {
			t.Errorf("%s: err = %v", tt.text, err)
		}
		if took > timeout+2*time.Second {
			t.Errorf("%s: stopped after %s", tt.text, took)
		}
	}
	tmpl := mustParse(t, "t", "x")
	if tmpl.in.Timeout != DefaultTimeout {
		t.Errorf("default timeout %s", tmpl.in.Timeout)
	}
}

// TestRenderMemoryBounded makes functions multiply a large value. Each
// fails before it builds its result, so a render allocates a few times
// the value at most (indent 1000 on 10 MB once peaked at 2.96 GB).
func TestRenderMemoryBounded(t *testing.T) {
	short := strings.Repeat("ab\n", 3<<20)         // 9 MiB of short lines
	special := strings.Repeat("<\"'&\x01/", 2<<20) // 12 MiB that every escaper grows
	for _, tt := range []struct{ text, value, want string }{
		{`{{ secret "x" | indent 1000 }}`, short, "indent: the result would be larger than 16 MiB"},
		{`{{ range $i := 1000 }}{{ printf "%1000000s%1000000s%1000000s%1000000s%1000000s%1000000s%1000000s%1000000s%1000000s%1000000s%1000000s%1000000s%1000000s%1000000s%1000000s%1000000s%1000000s" "" }}{{ end }}`, "", "printf: the result would be larger"},
		{`{{ $v := secret "x" }}{{ printf "%[1]s%[1]s" $v }}`, short, "printf: the result would be larger"},
		{`{{ printf "%1000s" (secret "x" | lines) }}`, strings.Repeat("ab\n", 100_000), "printf: the result would be larger"},
		{`{{ $v := secret "x" }}{{ print $v $v }}`, short, "print: the result would be larger"},
		{`{{ $v := secret "x" }}{{ println $v $v }}`, short, "println: the result would be larger"},
		{`{{ secret "x" | quote }}`, special, "quote: the result would be larger"},
		{`{{ secret "x" | squote }}`, strings.Repeat("'", 6<<20), "squote: the result would be larger"},
		{`{{ secret "x" | toJSON }}`, special, "toJSON: the result would be larger"},
		{`{{ secret "x" | urlEncode }}`, special, "urlEncode: the result would be larger"},
		{`{{ secret "x" | html }}`, special, "html: the result would be larger"},
		{`{{ secret "x" | js }}`, special, "js: the result would be larger"},
		{`{{ secret "x" | urlquery }}`, special, "urlquery: the result would be larger"},
		{`{{ $v := secret "x" }}{{ html $v $v }}`, short, "html: the result would be larger"},
		{`{{ $v := secret "x" }}{{ $v = printf "%s%s" $v $v }}{{ $v = printf "%s%s" $v $v }}{{ $v = printf "%s%s" $v $v }}`, short, "printf: the result would be larger"},
		{`{{ secret "x" | base64Encode }}`, strings.Repeat("x", 13<<20), "base64Encode: the result would be larger"},
		{`{{ range secret "x" | lines }}{{ end }}`, strings.Repeat("\n", 2<<20), "lines: the value has 2097152 lines, more than 1048576"},
		{`{{ define "a" }}{{ template "a" }}{{ end }}{{ template "a" }}`, "", "templates call each other more than 1000 deep"},
		// text/template alone ran this for over 28 minutes, at 267 MB.
		{`{{ define "a" }}{{ range 1 }}{{ template "a" . }}{{ end }}{{ end }}{{ template "a" . }}`, "", "templates call each other more than 1000 deep"},
	} {
		err, took, alloc := renderCost(t, tt.text, tt.value, time.Minute)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "app.conf.tmpl:1:") {
			t.Errorf("%.60s: err = %v, want %q", tt.text, err, tt.want)
		}
		// The value is copied twice (its bytes, then a string), a function
		// counts before it builds: three value sizes, and change.
		if limit := uint64(3*len(tt.value) + 8<<20); alloc > limit {
			t.Errorf("%.60s: allocated %d MiB, want at most %d MiB", tt.text, alloc>>20, limit>>20)
		}
		if took > 5*time.Second {
			t.Errorf("%.60s: took %s", tt.text, took)
		}
	}
}

// TestBoundedBuiltinsUnchanged checks that print, printf, println, html,
// js and urlquery, replaced to bound their size, write what text/template's
// own write.
func TestBoundedBuiltinsUnchanged(t *testing.T) {
	for _, text := range []string{
		`{{ print "a" "b" 1 2 "c" 3.5 true (lines "x\ny") }}`,
		`{{ println "a" 1 (lines "x\ny") }}`,
		`{{ printf "%s|%5d|%-6s|%q|%x|% #x|%v|%#v|%T" "a" 42 "b" "c\n" "hi" "hi" (lines "x\ny") (lines "x") "s" }}`,
		`{{ printf "%*d|%.*f|%[2]s %[1]s|%d %%|%!|%z" 5 3 2 3.14159 "x" }}`,
		`{{ printf "%s" }}{{ printf "%s" "a" "extra" 7 }}{{ printf "%[3]s" "a" }}{{ printf "%" }}`,
		`{{ printf "%08.3f|%+d|%e|%g|%U|%c" 3.14159 7 1e21 1e-7 9731 65 }}`,
		`{{ html "<a href=\"x\">'&'</a>\x00" }}{{ html "a" 1 "<" }}`,
		`{{ js "<script>alert('x' + \"y\")</script>=\x01é\u0085" }}{{ js 1 "&" }}`,
		`{{ urlquery "a b/c?d=e&f+g~é" }}{{ urlquery "x" 2 }}`,
	} {
		want := new(strings.Builder)
		if err := template.Must(template.New("t").Funcs(template.FuncMap{"lines": func(s string) []string { return strings.Split(s, "\n") }}).Parse(text)).Execute(want, nil); err != nil {
			t.Fatalf("%s: text/template: %v", text, err)
		}
		got, err := mustParse(t, "t", text).Render(nil)
		if err != nil || string(got) != want.String() {
			t.Errorf("%s:\n got %q, %v\nwant %q", text, got, err, want.String())
		}
	}
	// Large results within the limit are made.
	big := strings.Repeat("0123456789abcdef", 15<<16) // 15 MiB
	for _, text := range []string{`{{ printf "%s" (secret "x") }}`, `{{ secret "x" | indent 0 }}`, `{{ print (secret "x") }}`} {
		if err, _, _ := renderCost(t, text, big, time.Minute); err != nil {
			t.Errorf("%s on 15 MiB: %v", text, err)
		}
	}
}

// FuzzSizeBounds checks that the sizes computed before making a result
// are never below the result's length: printfSize for any format, and the
// growth of every escaping function for any text.
//
//	go test ./template -run '^$' -fuzz FuzzSizeBounds -fuzztime 60s -fuzzminimizetime 2s
func FuzzSizeBounds(f *testing.F) {
	f.Add("%s|%5d|%-6s|%q|%x|% #x|%v|%#v|%T|%*d|%.*f|%[2]s %[1]s|%d %%|%!|%z|%", "c\"\x01é\xff\u2028<>&='", 5)
	f.Add("%[1]*[2]d %[3]v %10.3[1]q %.[2]f", "", 1000)
	f.Fuzz(func(t *testing.T, format, s string, n int) {
		args := []any{s, n, []string{s, "x"}, 3.5, s + s}
		if bound := printfSize(format, args); bound < 1<<20 {
			if got := len(fmt.Sprintf(format, args...)); got > bound {
				t.Fatalf("printf %q: %d bytes, bound %d", format, got, bound)
			}
		}
		for name, c := range map[string]struct {
			f      func(string) string
			growth func(byte) int
			extra  int
		}{
			"quote":     {strconv.Quote, quoteGrowth, 2},
			"html":      {template.HTMLEscapeString, htmlGrowth, 0},
			"js":        {template.JSEscapeString, jsGrowth, 0},
			"urlquery":  {url.QueryEscape, urlGrowth, 0},
			"urlEncode": {func(s string) string { v, _ := urlEncode(s); return v }, urlGrowth, 0},
			"toJSON": {func(s string) string {
				v, _ := toJSON(s)
				return v
			}, jsonGrowth, 2},
		} {
			if got, bound := len(c.f(s)), grownLen(s, c.growth)+c.extra; got > bound {
				t.Fatalf("%s of %q: %d bytes, bound %d", name, s, got, bound)
			}
		}
	})
}
