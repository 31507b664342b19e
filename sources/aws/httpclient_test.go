package aws

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// TestRequestBodyReadAfterClose: net/http's transport reads a request body
// once more after sending it (io.Copy, for bytes beyond Content-Length),
// and the SDK may have closed the body by then, the answer having arrived.
// That read must see a plain end, not a failure that makes the transport
// close the connection under the answer.
func TestRequestBodyReadAfterClose(t *testing.T) {
	// A request body as the SDK builds it, sent whole, then closed.
	sent := func() io.ReadCloser {
		req := smithyhttp.NewStackRequest().(*smithyhttp.Request)
		req.Method = http.MethodPost
		req.ContentLength = 4
		req, err := req.SetStream(bytes.NewReader([]byte("{}\n\n")))
		if err != nil {
			t.Fatal(err)
		}
		body := readOnly(req.Build(context.Background()).Body)
		if _, err := io.Copy(io.Discard, io.LimitReader(body, req.ContentLength)); err != nil {
			t.Fatal(err)
		}
		body.Close()
		return body
	}
	if _, err := io.Copy(io.Discard, sent()); err != nil {
		t.Errorf("reading the closed body: %v, want a plain end", err)
	}
	if readOnly(nil) != nil || readOnly(http.NoBody) != http.NoBody {
		t.Error("readOnly must keep no body as it is: net/http tells it apart")
	}
}
