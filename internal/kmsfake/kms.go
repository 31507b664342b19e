package kmsfake

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// apiError is an error answer in the shape Alibaba Cloud APIs use.
type apiError struct {
	status  int
	code    string
	message string
}

func (s *Server) handler(listenerRegion string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Each request decides its own region: a proxied request names the
		// listener it goes to, and must not change the region of the next.
		region := listenerRegion
		if r.Method == http.MethodConnect {
			s.connect(w, r)
			return
		}
		if r.URL.IsAbs() { // a proxied request
			host := r.URL.Hostname()
			if host == MetadataHost {
				s.metadata(w, r)
				return
			}
			s.mu.Lock()
			target, ok := s.listeners[r.URL.Host]
			s.mu.Unlock()
			if !ok {
				writeError(w, r, &apiError{http.StatusBadGateway, "kmsfake.NoRoute", "the fake proxies only to itself and to " + MetadataHost})
				return
			}
			region = target
		}
		switch {
		case r.Header.Get("x-acs-action") != "":
			s.kms(w, r, region)
		case r.URL.Query().Get("Action") != "":
			s.sts(w, r)
		default:
			writeError(w, r, &apiError{http.StatusBadRequest, "MissingParameter", "the request has no action"})
		}
	})
}

// kms serves the KMS secrets API, version 2016-01-20, in the RPC style the
// SDK sends: POST /, the action and version in x-acs-action and
// x-acs-version, the parameters in the query, signed with ACS3-HMAC-SHA256.
func (s *Server) kms(w http.ResponseWriter, r *http.Request, region string) {
	action := r.Header.Get("x-acs-action")
	s.count(action)
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	key, e := s.verifyACS3(r, body)
	if e != nil {
		writeError(w, r, e)
		return
	}
	if v := r.Header.Get("x-acs-version"); v != "2016-01-20" {
		writeError(w, r, &apiError{http.StatusBadRequest, "InvalidVersion", "Specified parameter Version is not valid."})
		return
	}
	s.mu.Lock()
	latency := s.latency
	var fault *apiError
	switch {
	case !s.withinQuota(action, region, cmp.Or(key.account, s.Account)):
		s.calls["throttled:"+action]++
		fault = throttled()
	case s.throttle > 0:
		s.throttle--
		fault = throttled()
	case len(s.failures) > 0:
		status := s.failures[0]
		s.failures = s.failures[1:]
		fault = &apiError{status, "InternalFailure", "The request processing has failed due to some unknown error."}
		if status == http.StatusServiceUnavailable {
			fault.code = "ServiceUnavailableTemporary"
		}
	case s.denied["action:"+action]:
		fault = &apiError{http.StatusForbidden, "Forbidden.NoPermission", "This operation for this resource is forbidden by permission system."}
	}
	call := Call{Action: action, Region: region, At: time.Now()}
	if fault != nil {
		call.Code = fault.code
	}
	s.log = append(s.log, call)
	s.mu.Unlock()
	if latency > 0 {
		time.Sleep(latency)
	}
	if fault != nil {
		writeError(w, r, fault)
		return
	}
	q := r.URL.Query()
	if e := s.authorize(r, action, region, q.Get("SecretName")); e != nil {
		writeError(w, r, e)
		return
	}
	switch action {
	case "GetSecretValue":
		s.getSecretValue(w, r, region, q.Get("SecretName"), q.Get("VersionStage"), q.Get("VersionId"), q.Get("FetchExtendedConfig") == "true")
	case "ListSecretVersionIds":
		s.listSecretVersionIds(w, r, region, q.Get("SecretName"), q.Get("PageNumber"), q.Get("PageSize"))
	default:
		writeError(w, r, &apiError{http.StatusNotFound, "InvalidAction.NotFound", "Specified api is not found, please check your url and method."})
	}
}

// lookup finds a secret by name or ARN; the caller holds s.mu.
func (s *Server) lookup(region, nameOrARN string) (*secret, *apiError) {
	name := nameOrARN
	if strings.HasPrefix(nameOrARN, "acs:kms:") {
		parts := strings.SplitN(nameOrARN, ":", 5)
		rest, ok := strings.CutPrefix(parts[len(parts)-1], "secret/")
		if len(parts) != 5 || !ok {
			return nil, &apiError{http.StatusBadRequest, "InvalidParameter", "The specified parameter SecretName is not valid."}
		}
		if parts[3] != s.Account {
			return nil, &apiError{http.StatusForbidden, "Forbidden.NoPermission", "This operation for this resource is forbidden by permission system."}
		}
		if parts[2] != region {
			return nil, &apiError{http.StatusNotFound, "Forbidden.ResourceNotFound", "The resource not exists."}
		}
		name = rest
	}
	if name == "" {
		return nil, &apiError{http.StatusBadRequest, "MissingParameter", "The parameter SecretName needed but no provided."}
	}
	if s.denied[region+"/"+name] {
		return nil, &apiError{http.StatusForbidden, "Forbidden.NoPermission", "This operation for this resource is forbidden by permission system."}
	}
	sec := s.secrets[region][name]
	if sec == nil {
		return nil, &apiError{http.StatusNotFound, "Forbidden.ResourceNotFound", "The resource not exists."}
	}
	return sec, nil
}

func (s *Server) getSecretValue(w http.ResponseWriter, r *http.Request, region, name, stage, versionID string, extended bool) {
	s.mu.Lock()
	sec, e := s.lookup(region, name)
	if e != nil {
		s.mu.Unlock()
		writeError(w, r, e)
		return
	}
	if stage == "" && versionID == "" {
		stage = StageCurrent
	}
	var found *version
	for _, v := range sec.versions {
		if (versionID == "" || v.id == versionID) && (stage == "" || slices.Contains(v.stages, stage)) {
			found = v
		}
	}
	if found == nil {
		s.mu.Unlock()
		writeError(w, r, &apiError{http.StatusNotFound, "Forbidden.ResourceNotFound", "The resource not exists."})
		return
	}
	data := string(found.data)
	if sec.dataType == "binary" {
		data = base64.StdEncoding.EncodeToString(found.data)
	}
	resp := map[string]any{
		"RequestId":         newID("req-"),
		"SecretName":        sec.name,
		"SecretType":        sec.typ,
		"SecretDataType":    sec.dataType,
		"SecretData":        data,
		"VersionId":         found.id,
		"CreateTime":        found.created.Format(time.RFC3339),
		"VersionStages":     map[string]any{"VersionStage": slices.Clone(found.stages)},
		"AutomaticRotation": "Disabled",
	}
	if extended && sec.typ != TypeGeneric {
		cfg, _ := json.Marshal(map[string]any{"SecretSubType": sec.subType, "CustomData": map[string]any{}})
		resp["ExtendedConfig"] = string(cfg)
	}
	cut := s.malformed > 0
	if cut {
		s.malformed--
	}
	s.mu.Unlock()
	if cut {
		body, _ := json.Marshal(resp)
		i := strings.Index(string(body), `"SecretData":"`) + len(`"SecretData":"`) + len(data)/2
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		w.Write(body[:i])
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) listSecretVersionIds(w http.ResponseWriter, r *http.Request, region, name, page, size string) {
	pageNumber, _ := strconv.Atoi(page)
	pageSize, _ := strconv.Atoi(size)
	if pageNumber < 1 {
		pageNumber = 1
	}
	if pageSize < 1 || pageSize > 100 {
		pageSize = 10
	}
	s.mu.Lock()
	sec, e := s.lookup(region, name)
	if e != nil {
		s.mu.Unlock()
		writeError(w, r, e)
		return
	}
	// Without IncludeDeprecated, only versions with a stage label are listed.
	var listed []map[string]any
	for _, v := range sec.versions {
		if len(v.stages) > 0 {
			listed = append(listed, map[string]any{
				"VersionId":     v.id,
				"CreateTime":    v.created.Format(time.RFC3339),
				"VersionStages": map[string]any{"VersionStage": slices.Clone(v.stages)},
			})
		}
	}
	s.mu.Unlock()
	total := len(listed)
	from := min((pageNumber-1)*pageSize, total)
	to := min(from+pageSize, total)
	writeJSON(w, http.StatusOK, map[string]any{
		"RequestId":  newID("req-"),
		"SecretName": name,
		"TotalCount": total,
		"PageNumber": pageNumber,
		"PageSize":   pageSize,
		"VersionIds": map[string]any{"VersionId": listed[from:to]},
	})
}

// throttled is KMS's answer to a call over a QPS quota, as its performance
// page shows it: HTTP 429, Rejected.Throttling.
func throttled() *apiError {
	return &apiError{http.StatusTooManyRequests, "Rejected.Throttling", "QPS Limit Exceeded"}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, r *http.Request, e *apiError) {
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	writeJSON(w, e.status, map[string]any{
		"RequestId": newID("req-"),
		"HostId":    host,
		"Code":      e.code,
		"Message":   e.message,
	})
}
