package logdriver

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestSplunkBodyAsDocker checks a request's body byte for byte: the events
// one after the other with no separator, each as json.Marshal writes it
// ('<', '>', '&' escaped), as Docker's splunk driver sends them.
func TestSplunkBodyAsDocker(t *testing.T) {
	bodies := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies <- string(b)
	}))
	defer srv.Close()
	d, err := newSplunk(splunkSettings{url: srv.URL, token: "t", format: "inline"}, driverEnv{
		info: Info{Hostname: "h"}, tag: "app", stop: context.Background(),
	})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1796519139, 213883000)
	msgs := []Message{
		{Line: []byte(`html <a href="x">&amp;</a>`), Stream: "stdout", Time: at},
		{Line: []byte("tab\tend"), Stream: "stderr", Time: at},
	}
	if n, err := d.log(msgs); n != 2 || err != nil {
		t.Fatalf("log = %d, %v", n, err)
	}
	want := `{"event":{"line":"html \u003ca href=\"x\"\u003e\u0026amp;\u003c/a\u003e","source":"stdout","tag":"app"},"time":"1796519139.213883","host":"h"}` +
		`{"event":{"line":"tab\tend","source":"stderr","tag":"app"},"time":"1796519139.213883","host":"h"}`
	if got := <-bodies; got != want {
		t.Errorf("body\n%s\nwant\n%s", got, want)
	}
}
