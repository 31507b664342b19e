package watch

import (
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/shroud-dev/shroud/inject"
	"github.com/shroud-dev/shroud/sources"
)

// TestWatchOnValuesGivesForms: OnValues gets the materialization when the
// loop starts and after a rotation, with the new value and what the
// template made of it, for the log pipeline to mask.
func TestWatchOnValuesGivesForms(t *testing.T) {
	dir := t.TempDir()
	v1, v2 := "first p@ss/"+canary, "second p@ss/"+canary
	replace(t, dir+"/src/pw", v1)
	w := newWorld(t, dir, `[rotation]
interval = "0"
on_change = "none"
[[files]]
path = "out/dsn"
template = 'postgres://app:{{ secret "file:src/pw" | urlEncode }}@db/orders'
[log]
driver = "json-file"
options = { path = "log/app.log" }
`, sources.NewResolver())
	var mu sync.Mutex
	var got []*inject.Materialized
	w.onValues = func(m *inject.Materialized) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, m)
	}
	holds := func(i int, value string) bool {
		mu.Lock()
		defer mu.Unlock()
		if i >= len(got) {
			return false
		}
		enc := strings.ReplaceAll(url.QueryEscape(value), "+", "%20")
		l := got[i].Log
		return slices.ContainsFunc(l.MaskValues, func(v []byte) bool { return string(v) == value }) &&
			slices.ContainsFunc(l.MaskForms, func(f []byte) bool { return string(f) == enc })
	}
	w.watch(t)
	w.await(t, "OnValues at the start, with the first value and its form", func() bool { return holds(0, v1) })
	w.put(t, "src/pw", v2)
	w.await(t, "OnValues after the rotation, with the new value and its form", func() bool { return holds(1, v2) })
}
