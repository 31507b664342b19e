package aws

import (
	"io"
	"net/http"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
)

// bodyRepair is the SDK's HTTP client with one repair: a request body
// offers only Read and Close (readOnly).
type bodyRepair struct{ awssdk.HTTPClient }

func (c bodyRepair) Do(req *http.Request) (*http.Response, error) {
	req.Body = readOnly(req.Body)
	return c.HTTPClient.Do(req)
}

// readOnly hides every method of a request body but Read and Close.
//
// The SDK closes a request's body as soon as the answer arrives. net/http's
// transport, meanwhile, may still be reading it once more after sending it,
// to catch a body longer than its Content-Length; it reads by io.Copy,
// which prefers the body's WriteTo, and the SDK's body answers WriteTo
// after its close with io.EOF — a failed read, where Read says a plain end.
// The transport then closes the connection under the answer the SDK is
// decoding: "failed to decode response body, ... use of closed network
// connection" (aws/aws-sdk-go-v2#1825), one start-up in a few dozen on a
// loaded machine.
func readOnly(body io.ReadCloser) io.ReadCloser {
	if body == nil || body == http.NoBody {
		return body
	}
	return struct{ io.ReadCloser }{body}
}
