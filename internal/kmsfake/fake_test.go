package kmsfake

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
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
