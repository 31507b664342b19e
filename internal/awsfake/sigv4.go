package awsfake

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// verify checks the request's SigV4 signature by signing a copy of it again
// with the SDK's own signer and the secret key the access key id stands
// for. It returns the service and region of the signature's scope and the
// principal that signed.
func (f *Fake) verify(r *http.Request, body []byte) (service, region, principal string, _ *apiError) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return "", "", "", clientErr("MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	algo, rest, _ := strings.Cut(auth, " ")
	if algo != "AWS4-HMAC-SHA256" {
		return "", "", "", clientErr("IncompleteSignatureException", "unsupported signature algorithm %q", algo)
	}
	fields := map[string]string{}
	for _, kv := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || fields["SignedHeaders"] == "" || fields["Signature"] == "" {
		return "", "", "", clientErr("IncompleteSignatureException", "Authorization header requires Credential, SignedHeaders and Signature")
	}
	akid, date, region, service := scope[0], scope[1], scope[2], scope[3]

	f.mu.Lock()
	cred, ok := f.creds[akid]
	f.mu.Unlock()
	if !ok {
		return service, region, "", clientErr("UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	if cred.token != "" && r.Header.Get("X-Amz-Security-Token") != cred.token {
		return service, region, "", clientErr("UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	signedAt, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil || signedAt.Format("20060102") != date {
		return service, region, "", clientErr("IncompleteSignatureException", "X-Amz-Date is missing or does not match the credential scope")
	}
	if d := time.Since(signedAt); d > 15*time.Minute || d < -15*time.Minute {
		return service, region, "", clientErr("InvalidSignatureException", "Signature expired: the request time is more than 15 minutes away from the server's")
	}

	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payloadHash {
		return service, region, "", clientErr("InvalidSignatureException", "X-Amz-Content-Sha256 does not match the body")
	}

	// A copy with exactly the headers the client signed.
	clone, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return service, region, "", clientErr("InvalidSignatureException", "cannot rebuild the request")
	}
	for _, h := range strings.Split(fields["SignedHeaders"], ";") {
		switch h {
		case "host":
		case "content-length":
			clone.ContentLength = int64(len(body))
		default:
			clone.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	creds := awssdk.Credentials{AccessKeyID: akid, SecretAccessKey: cred.secret, SessionToken: cred.token}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, clone, payloadHash, service, region, signedAt); err != nil {
		return service, region, "", clientErr("InvalidSignatureException", "cannot sign the request again")
	}
	want := signatureOf(clone.Header.Get("Authorization"))
	if subtle.ConstantTimeCompare([]byte(want), []byte(fields["Signature"])) != 1 {
		return service, region, "", &apiError{status: http.StatusBadRequest, code: "InvalidSignatureException",
			msg: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."}
	}
	return service, region, cred.principal, nil
}

func signatureOf(auth string) string {
	_, sig, _ := strings.Cut(auth, "Signature=")
	return sig
}
