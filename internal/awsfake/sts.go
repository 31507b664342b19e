package awsfake

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

type assumeRoleResult struct {
	Credentials struct {
		AccessKeyID     string `xml:"AccessKeyId"`
		SecretAccessKey string `xml:"SecretAccessKey"`
		SessionToken    string `xml:"SessionToken"`
		Expiration      string `xml:"Expiration"`
	} `xml:"Credentials"`
	AssumedRoleUser struct {
		Arn           string `xml:"Arn"`
		AssumedRoleID string `xml:"AssumedRoleId"`
	} `xml:"AssumedRoleUser"`
}

// assumeRole issues temporary credentials for an allowed role; requests
// signed with them are made by the role. Called with f.mu held.
func (f *Fake) assumeRole(req *request) (any, *apiError) {
	roleARN := first(req.form["RoleArn"])
	session := first(req.form["RoleSessionName"])
	if roleARN == "" || session == "" {
		return nil, clientErr("ValidationError", "RoleArn and RoleSessionName are required")
	}
	if isRole(req.principal) {
		return nil, &apiError{status: http.StatusForbidden, code: "AccessDenied", msg: "role chaining is not allowed by the fake"}
	}
	if aerr := f.mayAssume(req, roleARN, first(req.form["ExternalId"])); aerr != nil {
		return nil, aerr
	}
	f.nextID++
	akid := fmt.Sprintf("ASIAFAKE%012d", f.nextID)
	cred := credential{
		secret:    fmt.Sprintf("fake-role-secret-%d", f.nextID),
		token:     fmt.Sprintf("fake-session-token-%d", f.nextID),
		principal: roleARN,
	}
	f.creds[akid] = cred
	var out assumeRoleResult
	out.Credentials.AccessKeyID = akid
	out.Credentials.SecretAccessKey = cred.secret
	out.Credentials.SessionToken = cred.token
	out.Credentials.Expiration = time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	role := roleARN[strings.LastIndexByte(roleARN, '/')+1:]
	out.AssumedRoleUser.Arn = fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", Account, role, session)
	out.AssumedRoleUser.AssumedRoleID = "AROAFAKE:" + session
	return out, nil
}

func parseForm(body []byte) (map[string][]string, error) {
	v, err := url.ParseQuery(string(body))
	return v, err
}

// writeQuery answers in the AWS query protocol (XML).
func writeQuery(w http.ResponseWriter, api string, out any, aerr *apiError) {
	w.Header().Set("Content-Type", "text/xml")
	id := requestID()
	if aerr != nil {
		w.WriteHeader(aerr.status)
		fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>`,
			xmlText(aerr.code), xmlText(aerr.msg), id)
		return
	}
	action := strings.TrimPrefix(api, "sts.")
	body, _ := xml.Marshal(out)
	inner := string(body) // without the element Marshal wraps it in
	inner = inner[strings.IndexByte(inner, '>')+1 : strings.LastIndex(inner, "</")]
	fmt.Fprintf(w, `<%sResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><%sResult>%s</%sResult><ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>`,
		action, action, inner, action, id, action)
}

func xmlText(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
