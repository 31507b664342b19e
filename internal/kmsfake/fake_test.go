package kmsfake

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	kms "github.com/alibabacloud-go/kms-20160120/v3/client"
	util "github.com/alibabacloud-go/tea-utils/v2/service"
	"github.com/alibabacloud-go/tea/tea"
)

func stages(s *Server, region, name string) map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]string{}
	for _, v := range s.secrets[region][name].versions {
		out[v.id] = slices.Clone(v.stages)
	}
	return out
}

// TestPutMovesStages: a put is a rotation; ACSCurrent moves to the new
// version, the old current becomes ACSPrevious, the old previous loses its
// label. A put with explicit stages moves only those.
func TestPutMovesStages(t *testing.T) {
	s, err := New("cn-hangzhou")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Put("cn-hangzhou", "db", []byte("1"))
	s.Put("cn-hangzhou", "db", []byte("2"))
	s.Put("cn-hangzhou", "db", []byte("3"), WithStages(StagePending))
	s.Put("cn-hangzhou", "db", []byte("4"))
	s.Put("cn-hangzhou", "db", []byte("5"), WithStages("blue"), WithVersionID("custom"))
	want := map[string][]string{"v1": {}, "v2": {StagePrevious}, "v3": {StagePending}, "v4": {StageCurrent}, "custom": {"blue"}}
	got := stages(s, "cn-hangzhou", "db")
	for id, w := range want {
		if !slices.Equal(got[id], w) {
			t.Errorf("%s stages = %v, want %v (all: %v)", id, got[id], w, got)
		}
	}
	if _, ok := s.secrets["cn-shanghai"]["db"]; ok {
		t.Error("regions share secrets")
	}
}

// TestUnsignedRefused: a KMS request without a valid signature is refused
// before anything is looked up.
func TestUnsignedRefused(t *testing.T) {
	s, err := New("cn-hangzhou")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Put("cn-hangzhou", "db", []byte("secret"))
	for _, auth := range []string{"", "ACS3-HMAC-SHA256 Credential=LTAIx,SignedHeaders=host,Signature=00", "HMAC-SHA1 x"} {
		req, _ := http.NewRequest("POST", s.URL()+"/?SecretName=db", nil)
		req.Header.Set("x-acs-action", "GetSecretValue")
		req.Header.Set("x-acs-version", "2016-01-20")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Code, SecretData string }
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode/100 != 4 || body.SecretData != "" || !(strings.HasPrefix(body.Code, "IncompleteSignature") || strings.HasPrefix(body.Code, "InvalidAccessKeyId")) {
			t.Errorf("auth %q: %d %+v", auth, resp.StatusCode, body)
		}
	}
	if s.Calls("GetSecretValue") != 3 {
		t.Errorf("calls = %d", s.Calls("GetSecretValue"))
	}
}

// TestQuotaScopes: a shared-gateway quota is a bucket per account and
// region; an instance quota one per instance, whoever calls; a call over
// it is answered as KMS documents it.
func TestQuotaScopes(t *testing.T) {
	s, err := New("cn-hangzhou")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Put("cn-hangzhou", "x", []byte("v"))
	s.AddAccountAccessKey("111", "ak-a1", "sk-a1")
	s.AddAccountAccessKey("111", "ak-a2", "sk-a2")
	s.AddAccountAccessKey("222", "ak-b1", "sk-b1")
	reads := []string{"GetSecretValue", "ListSecretVersionIds"}
	s.SetQuota(Quota{Name: "reads", Actions: reads, Rate: 0.001, Burst: 2})

	get := func(ak, sk string) (int, string) { return getSecret(t, s.URL(), ak, sk, "x") }
	for _, k := range [][2]string{{"ak-a1", "sk-a1"}, {"ak-a2", "sk-a2"}} {
		if code, body := get(k[0], k[1]); code != 200 {
			t.Fatalf("within the burst: %d %s", code, body)
		}
	}
	if code, body := get("ak-a1", "sk-a1"); code != 429 || !strings.Contains(body, `"Code":"Rejected.Throttling"`) || !strings.Contains(body, "QPS Limit Exceeded") {
		t.Errorf("over the account's quota: %d %s", code, body)
	}
	if code, _ := get("ak-b1", "sk-b1"); code != 200 {
		t.Errorf("another account shares the bucket: %d", code)
	}
	if n := s.Throttled("GetSecretValue"); n != 1 {
		t.Errorf("Throttled = %d, want 1", n)
	}

	s.SetQuota(Quota{Name: "instance", Actions: reads, Rate: 0.001, Burst: 1, PerInstance: true})
	if code, _ := get("ak-a1", "sk-a1"); code != 200 {
		t.Fatalf("the instance's first call: %d", code)
	}
	if code, _ := get("ak-b1", "sk-b1"); code != 429 {
		t.Errorf("another account on the same instance was not throttled: %d", code)
	}
}

// getSecret reads the secret name through Alibaba's SDK, signed with the
// key pair, and returns the HTTP status and the answer's body.
func getSecret(t *testing.T, url, ak, sk, name string) (int, string) {
	t.Helper()
	host := strings.TrimPrefix(url, "http://")
	client, err := kms.NewClient(&openapi.Config{AccessKeyId: tea.String(ak), AccessKeySecret: tea.String(sk),
		Endpoint: tea.String(host), Protocol: tea.String("http"), RegionId: tea.String("cn-hangzhou")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.GetSecretValueWithOptions(&kms.GetSecretValueRequest{SecretName: tea.String(name)},
		&util.RuntimeOptions{Autoretry: tea.Bool(false)})
	var sdkErr *tea.SDKError
	switch {
	case err == nil:
		return http.StatusOK, ""
	case errors.As(err, &sdkErr):
		return tea.IntValue(sdkErr.StatusCode), tea.StringValue(sdkErr.Data)
	}
	t.Fatal(err)
	return 0, ""
}

// TestCallLog: every signed call is logged with its action, region and
// the code of a throttled answer.
func TestCallLog(t *testing.T) {
	s, err := New("cn-hangzhou")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Put("cn-hangzhou", "x", []byte("v"))
	s.AddAccessKey("ak", "sk")
	getSecret(t, s.URL(), "ak", "sk", "x")
	s.ThrottleNext(1)
	getSecret(t, s.URL(), "ak", "sk", "x")
	log := s.CallLog()
	if len(log) != 2 || log[0].Action != "GetSecretValue" || log[0].Region != "cn-hangzhou" || log[0].Code != "" || log[1].Code != "Rejected.Throttling" {
		t.Errorf("call log = %+v", log)
	}
}
