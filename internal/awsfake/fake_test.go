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

// call signs a JSON 1.1 call of target with the given key pair and sends
// it; it returns the HTTP status and the error type answered, if any.
func call(t *testing.T, f *Fake, akid, secret, target, region, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.URL(), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	sum := sha256.Sum256([]byte(body))
	service := "ssm"
	if strings.HasPrefix(target, "secretsmanager.") {
		service = "secretsmanager"
	}
	creds := awssdk.Credentials{AccessKeyID: akid, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("X-Amzn-Errortype") == "ThrottlingException" && !strings.Contains(string(out), `"message":"Rate exceeded"`) {
		t.Errorf("a throttled answer without AWS's message: %s", out)
	}
	return resp.StatusCode, resp.Header.Get("X-Amzn-Errortype")
}

// TestQuotaPerAccountAndRegion: a quota is a bucket per account and
// region, shared by the APIs it names; users of one account share it.
func TestQuotaPerAccountAndRegion(t *testing.T) {
	f := New()
	defer f.Close()
	for _, r := range []string{"us-east-1", "eu-west-1"} {
		f.PutSecretString(r, "s", "v")
	}
	f.SetQuota(Quota{Name: "reads", APIs: []string{"secretsmanager.GetSecretValue", "secretsmanager.DescribeSecret"}, Rate: 0.001, Burst: 2})
	a1, s1 := f.AddAccountUser("111111111111", "a1")
	a2, s2 := f.AddAccountUser("111111111111", "a2")
	b1, t1 := f.AddAccountUser("222222222222", "b1")
	get, desc := "secretsmanager.GetSecretValue", "secretsmanager.DescribeSecret"
	body := `{"SecretId":"s"}`

	// Account 1, us-east-1: two tokens, spent by two users and two APIs.
	for i, c := range []struct{ akid, secret, api string }{{a1, s1, get}, {a2, s2, desc}} {
		if code, typ := call(t, f, c.akid, c.secret, c.api, "us-east-1", body); code != 200 {
			t.Fatalf("call %d within the burst: %d %s", i, code, typ)
		}
	}
	if code, typ := call(t, f, a2, s2, get, "us-east-1", body); code != 400 || typ != "ThrottlingException" {
		t.Errorf("a third call of the account in the region: %d %q, want 400 ThrottlingException", code, typ)
	}
	// Another region, another account: buckets of their own.
	if code, _ := call(t, f, a1, s1, get, "eu-west-1", body); code != 200 {
		t.Errorf("the same account in another region was throttled: %d", code)
	}
	if code, _ := call(t, f, b1, t1, get, "us-east-1", body); code != 200 {
		t.Errorf("another account in the same region was throttled: %d", code)
	}
	if n := f.Throttled(get, "us-east-1"); n != 1 {
		t.Errorf("Throttled = %d, want 1", n)
	}
	// SSM throttles with the same shape.
	f.PutParameter("us-east-1", "/p", String, "v")
	f.SetRateLimit("AmazonSSM.GetParameters", 0.001, 1)
	p := `{"Names":["/p"]}`
	if code, _ := call(t, f, a1, s1, "AmazonSSM.GetParameters", "us-east-1", p); code != 200 {
		t.Fatalf("first GetParameters: %d", code)
	}
	if code, typ := call(t, f, a1, s1, "AmazonSSM.GetParameters", "us-east-1", p); code != 400 || typ != "ThrottlingException" {
		t.Errorf("SSM over its quota: %d %q", code, typ)
	}
}
