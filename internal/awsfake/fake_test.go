package awsfake

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// signed builds a GetParameters request to the fake, signed with secret.
func signed(t testing.TB, f *Fake, secret, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.URL(), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AmazonSSM.GetParameters")
	sum := sha256.Sum256([]byte(body))
	creds := awssdk.Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "ssm", "eu-west-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	return req
}

func send(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestSignatureVerification(t *testing.T) {
	f := New()
	defer f.Close()
	f.PutParameter("eu-west-1", "/x", String, "value-x")
	body := `{"Names":["/x"],"WithDecryption":true}`

	if code, out := send(t, signed(t, f, SecretAccessKey, body)); code != 200 || !strings.Contains(out, `"Value":"value-x"`) {
		t.Fatalf("a valid request: %d %s", code, out)
	}
	if code, out := send(t, signed(t, f, "wrong-secret", body)); code != 400 || !strings.Contains(out, "InvalidSignatureException") {
		t.Errorf("a wrong key: %d %s", code, out)
	}
	req := signed(t, f, SecretAccessKey, body)
	req.Body = io.NopCloser(strings.NewReader(`{"Names":["/y"],"WithDecryption":true}`))
	if code, out := send(t, req); code != 400 || !strings.Contains(out, "InvalidSignatureException") {
		t.Errorf("a tampered body: %d %s", code, out)
	}
	req = signed(t, f, SecretAccessKey, body)
	req.Header.Set("X-Amz-Target", "AmazonSSM.GetParametersByPath")
	if code, out := send(t, req); code != 400 || !strings.Contains(out, "InvalidSignatureException") {
		t.Errorf("a tampered signed header: %d %s", code, out)
	}
	req = signed(t, f, SecretAccessKey, body)
	req.Header.Del("Authorization")
	if code, out := send(t, req); code != 400 || !strings.Contains(out, "MissingAuthenticationTokenException") {
		t.Errorf("no signature: %d %s", code, out)
	}
	// Only the valid request reached the store.
	if n := len(f.Calls()); n != 5 {
		t.Errorf("calls logged = %d, want 5", n)
	}
	for _, c := range f.Calls()[1:] {
		if c.Code == "" {
			t.Errorf("a forged call succeeded: %+v", c)
		}
	}
}

func TestTokenBucket(t *testing.T) {
	f := New()
	defer f.Close()
	f.PutParameter("eu-west-1", "/x", String, "v")
	f.SetRateLimit("AmazonSSM.GetParameters", 0.001, 2) // a burst of 2, then nothing
	body := `{"Names":["/x"]}`
	var codes []int
	for range 4 {
		code, _ := send(t, signed(t, f, SecretAccessKey, body))
		codes = append(codes, code)
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 400 || codes[3] != 400 {
		t.Errorf("codes = %v, want two answers then throttling", codes)
	}
}

// FuzzVerify: no header or body makes the fake accept a request that was
// not signed with its key, or panic.
func FuzzVerify(f *testing.F) {
	fake := New()
	defer fake.Close()
	good := signed(f, fake, SecretAccessKey, `{"Names":["/x"]}`)
	f.Add(good.Header.Get("Authorization"), good.Header.Get("X-Amz-Date"), `{"Names":["/y"]}`, "x-amz-target")
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDSHROUDFAKE000001/20260101/us-east-1/ssm/aws4_request, SignedHeaders=host;content-length;x-amz-date, Signature=00", "20260101T000000Z", "", "host")
	f.Add("AWS4-HMAC-SHA256 Credential=////, SignedHeaders=;;, Signature=", "x", "{}", ";")
	f.Fuzz(func(t *testing.T, auth, date, body, header string) {
		req, err := http.NewRequest(http.MethodPost, fake.URL(), bytes.NewReader([]byte(body)))
		if err != nil {
			return
		}
		req.Host = strings.TrimPrefix(fake.URL(), "http://")
		req.Header.Set("Authorization", auth)
		req.Header.Set("X-Amz-Date", date)
		if header != "" && !strings.ContainsAny(header, ":\r\n\x00 ") {
			req.Header.Set(header, "v")
		}
		if _, _, _, verr := fake.verify(req, []byte(body)); verr == nil && body != `{"Names":["/x"]}` {
			t.Fatalf("accepted a request not signed with the key: %q", auth)
		}
	})
}
