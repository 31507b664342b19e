package kmsfake

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
)

// verifyACS3 checks a request signed with ACS3-HMAC-SHA256, the signature
// darabonba-openapi computes for RPC and ROA calls (openapi-util
// GetAuthorization). It is written from the published algorithm, not from
// the SDK's code, so a signing bug in either shows up as a mismatch:
//
//	CanonicalRequest = METHOD \n URI \n sorted query \n headers \n signed names \n hex(sha256(body))
//	StringToSign     = "ACS3-HMAC-SHA256" \n hex(sha256(CanonicalRequest))
//	Signature        = hex(hmac-sha256(AccessKeySecret, StringToSign))
func (s *Server) verifyACS3(r *http.Request, body []byte) (*accessKey, *apiError) {
	incomplete := func(msg string) *apiError {
		return &apiError{http.StatusBadRequest, "IncompleteSignature", msg}
	}
	alg, rest, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if alg != "ACS3-HMAC-SHA256" {
		return nil, incomplete("The request signature does not conform to Aliyun standards: want ACS3-HMAC-SHA256.")
	}
	fields := map[string]string{}
	for _, f := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	keyID, signed, signature := fields["Credential"], fields["SignedHeaders"], fields["Signature"]
	if keyID == "" || signed == "" || signature == "" {
		return nil, incomplete("The Authorization header lacks Credential, SignedHeaders or Signature.")
	}

	s.mu.Lock()
	key := s.keys[keyID]
	s.mu.Unlock()
	if key == nil {
		return nil, &apiError{http.StatusNotFound, "InvalidAccessKeyId.NotFound", "Specified access key is not found."}
	}
	token := r.Header.Get("x-acs-security-token")
	switch {
	case key.token == "" && token != "":
		return nil, &apiError{http.StatusBadRequest, "InvalidSecurityToken.MismatchWithAccessKey", "The security token does not belong to the access key."}
	case key.token != "" && token != key.token:
		return nil, &apiError{http.StatusBadRequest, "InvalidSecurityToken.MismatchWithAccessKey", "The security token does not belong to the access key."}
	case key.token != "" && time.Now().After(key.expiry):
		return nil, &apiError{http.StatusBadRequest, "InvalidSecurityToken.Expired", "The security token you provided has expired."}
	}

	sum := sha256.Sum256(body)
	if r.Header.Get("x-acs-content-sha256") != hex.EncodeToString(sum[:]) {
		return nil, incomplete("x-acs-content-sha256 does not match the body.")
	}
	date, err := time.Parse("2006-01-02T15:04:05Z", r.Header.Get("x-acs-date"))
	if err != nil || time.Since(date).Abs() > 15*time.Minute {
		return nil, &apiError{http.StatusBadRequest, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."}
	}
	nonce := r.Header.Get("x-acs-signature-nonce")
	s.mu.Lock()
	replay := nonce == "" || s.nonces[nonce]
	s.nonces[nonce] = true
	s.mu.Unlock()
	if replay {
		return nil, &apiError{http.StatusBadRequest, "SignatureNonceUsed", "Specified signature nonce was used already."}
	}

	names := strings.Split(signed, ";")
	for _, must := range []string{"host", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce"} {
		if !slices.Contains(names, must) {
			return nil, incomplete("SignedHeaders must include " + must + ".")
		}
	}
	for name := range r.Header {
		if n := strings.ToLower(name); strings.HasPrefix(n, "x-acs-") && !slices.Contains(names, n) {
			return nil, incomplete("SignedHeaders must include every x-acs- header; " + n + " is not signed.")
		}
	}
	if !sort.StringsAreSorted(names) {
		return nil, incomplete("SignedHeaders must be sorted.")
	}
	var headers strings.Builder
	for _, name := range names {
		values := r.Header.Values(name)
		if name == "host" {
			values = []string{r.Host}
		}
		for i := range values {
			values[i] = strings.TrimSpace(values[i])
		}
		sort.Strings(values)
		headers.WriteString(name + ":" + strings.Join(values, ",") + "\n")
	}
	uri := r.URL.EscapedPath()
	if uri == "" {
		uri = "/"
	}
	canonical := strings.Join([]string{
		r.Method, uri, canonicalQuery(r.URL.Query()), headers.String(), signed, hex.EncodeToString(sum[:]),
	}, "\n")
	hashed := sha256.Sum256([]byte(canonical))
	mac := hmac.New(sha256.New, []byte(key.secret))
	mac.Write([]byte("ACS3-HMAC-SHA256\n" + hex.EncodeToString(hashed[:])))
	want := hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(signature)) {
		return nil, &apiError{http.StatusBadRequest, "SignatureDoesNotMatch", "Specified signature does not match our calculation."}
	}
	return key, nil
}

// canonicalQuery sorts the parameters by name and percent-encodes their
// values as RFC 3986 does.
func canonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, percentEncode(k)+"="+percentEncode(q.Get(k)))
	}
	return strings.Join(parts, "&")
}

func percentEncode(s string) string {
	e := url.QueryEscape(s)
	e = strings.ReplaceAll(e, "+", "%20")
	e = strings.ReplaceAll(e, "*", "%2A")
	return strings.ReplaceAll(e, "%7E", "~")
}

// verifyRPC checks an RPC signature version 1.0 (HMAC-SHA1), the one
// credentials-go computes for STS AssumeRole: every parameter of the query
// and the form except Signature, sorted and percent-encoded, signed with the
// AccessKey secret and "&".
func (s *Server) verifyRPC(r *http.Request, params url.Values) (*accessKey, *apiError) {
	if params.Get("SignatureMethod") != "HMAC-SHA1" || params.Get("SignatureVersion") != "1.0" {
		return nil, &apiError{http.StatusBadRequest, "IncompleteSignature", "want SignatureMethod HMAC-SHA1, SignatureVersion 1.0"}
	}
	s.mu.Lock()
	key := s.keys[params.Get("AccessKeyId")]
	nonce := params.Get("SignatureNonce")
	replay := nonce == "" || s.nonces[nonce]
	s.nonces[nonce] = true
	s.mu.Unlock()
	if key == nil {
		return nil, &apiError{http.StatusNotFound, "InvalidAccessKeyId.NotFound", "Specified access key is not found."}
	}
	if replay {
		return nil, &apiError{http.StatusBadRequest, "SignatureNonceUsed", "Specified signature nonce was used already."}
	}
	if key.token != params.Get("SecurityToken") || (key.token != "" && time.Now().After(key.expiry)) {
		return nil, &apiError{http.StatusBadRequest, "InvalidSecurityToken.Expired", "The security token you provided is invalid or expired."}
	}
	signed := url.Values{}
	for k, v := range params {
		if k != "Signature" {
			signed[k] = v
		}
	}
	stringToSign := r.Method + "&" + percentEncode("/") + "&" + percentEncode(canonicalQuery(signed))
	mac := hmac.New(sha1.New, []byte(key.secret+"&"))
	mac.Write([]byte(stringToSign))
	if !hmac.Equal([]byte(base64.StdEncoding.EncodeToString(mac.Sum(nil))), []byte(params.Get("Signature"))) {
		return nil, &apiError{http.StatusBadRequest, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation."}
	}
	return key, nil
}

// sts serves AssumeRole (signed) and AssumeRoleWithOIDC (anonymous, the
// OIDC token is the proof) of STS 2015-04-01.
func (s *Server) sts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	action := q.Get("Action")
	s.count(action)
	if err := r.ParseForm(); err != nil {
		writeError(w, r, &apiError{http.StatusBadRequest, "InvalidParameter", "malformed form"})
		return
	}
	params := url.Values{}
	for k, v := range q {
		params[k] = v
	}
	for k, v := range r.PostForm {
		params[k] = v
	}
	if params.Get("Version") != "2015-04-01" {
		writeError(w, r, &apiError{http.StatusBadRequest, "InvalidVersion", "Specified parameter Version is not valid."})
		return
	}
	roleARN := params.Get("RoleArn")
	s.mu.Lock()
	ttl := s.stsTTL
	s.mu.Unlock()
	switch action {
	case "AssumeRoleWithOIDC":
		token := params.Get("OIDCToken")
		s.mu.Lock()
		s.seenTokens = append(s.seenTokens, token)
		provider, roleOK := s.oidcRoles[roleARN]
		tokenOK := s.oidcTokens[token]
		s.mu.Unlock()
		switch {
		case !roleOK || provider != params.Get("OIDCProviderArn"):
			writeError(w, r, &apiError{http.StatusNotFound, "EntityNotExist.Role", "The specified role does not trust this OIDC provider."})
			return
		case !tokenOK:
			writeError(w, r, &apiError{http.StatusBadRequest, "AuthenticationFail.OIDCToken.Invalid", "The OIDC token is invalid or expired."})
			return
		}
	case "AssumeRole":
		if _, e := s.verifyRPC(r, params); e != nil {
			writeError(w, r, e)
			return
		}
		s.mu.Lock()
		ok := s.roles[roleARN]
		s.mu.Unlock()
		if !ok {
			writeError(w, r, &apiError{http.StatusNotFound, "EntityNotExist.Role", "The specified Role not exists."})
			return
		}
	default:
		writeError(w, r, &apiError{http.StatusNotFound, "InvalidAction.NotFound", "Specified api is not found."})
		return
	}
	id, secret, token, expiry := s.issue(ttl, roleARN)
	writeJSON(w, http.StatusOK, map[string]any{
		"RequestId": newID("req-"),
		"AssumedRoleUser": map[string]any{
			"Arn":           roleARN + "/" + params.Get("RoleSessionName"),
			"AssumedRoleId": newID(""),
		},
		"Credentials": map[string]any{
			"AccessKeyId":     id,
			"AccessKeySecret": secret,
			"SecurityToken":   token,
			"Expiration":      expiry,
		},
	})
}

// issue creates temporary STS credentials of roleARN valid for ttl.
func (s *Server) issue(ttl time.Duration, roleARN string) (id, secret, token, expiration string) {
	id, secret, token = newID("STS."), newID(""), newID("tok-")
	expiry := time.Now().Add(ttl).UTC()
	s.mu.Lock()
	s.keys[id] = &accessKey{secret: secret, token: token, expiry: expiry}
	s.bindRole(id, roleARN)
	s.mu.Unlock()
	return id, secret, token, expiry.Format("2006-01-02T15:04:05Z")
}

// metadata serves the ECS instance metadata credential endpoints in their
// hardened (IMDSv2) mode: every read needs a session token from
// PUT /latest/api/token.
func (s *Server) metadata(w http.ResponseWriter, r *http.Request) {
	text := func(status int, body string) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
	const credsPath = "/latest/meta-data/ram/security-credentials/"
	if r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" {
		s.count("metadata:token")
		if r.Header.Get("X-aliyun-ecs-metadata-token-ttl-seconds") == "" {
			text(http.StatusBadRequest, "missing X-aliyun-ecs-metadata-token-ttl-seconds")
			return
		}
		token := newID("imds-")
		s.mu.Lock()
		s.imdsTokens[token] = true
		s.mu.Unlock()
		text(http.StatusOK, token)
		return
	}
	if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, credsPath) {
		text(http.StatusNotFound, "not found")
		return
	}
	role := strings.TrimPrefix(r.URL.Path, credsPath)
	if role == "" {
		s.count("metadata:role")
	} else {
		s.count("metadata:credentials")
	}
	s.mu.Lock()
	tokenOK := s.imdsTokens[r.Header.Get("X-aliyun-ecs-metadata-token")]
	instance, ttl := s.instance, s.stsTTL
	s.mu.Unlock()
	switch {
	case !tokenOK:
		text(http.StatusUnauthorized, "a metadata session token is required")
	case instance == "" || (role != "" && role != instance):
		text(http.StatusNotFound, "not found")
	case role == "":
		text(http.StatusOK, instance)
	default:
		id, secret, token, expiry := s.issue(ttl, "acs:ram::"+s.Account+":role/"+instance)
		writeJSON(w, http.StatusOK, map[string]any{
			"Code":            "Success",
			"AccessKeyId":     id,
			"AccessKeySecret": secret,
			"SecurityToken":   token,
			"Expiration":      expiry,
			"LastUpdated":     time.Now().UTC().Format("2006-01-02T15:04:05Z"),
		})
	}
}
