//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shroud-dev/shroud/internal/awsfake"
)

// TestRenderTemplateOneBatchedPlan: a template that reads 30 Secrets Manager
// secrets (and the previous version of one) is rendered from one batched
// plan, counted at the AWS fake: two BatchGetSecretValue calls in flight
// together (20 + 10 secrets) and one GetSecretValue for the AWSPREVIOUS
// stage, never a call per template action.
func TestRenderTemplateOneBatchedPlan(t *testing.T) {
	f := awsfake.New()
	t.Cleanup(f.Close)
	var tmpl strings.Builder
	for i := range 30 {
		name := fmt.Sprintf("app/s%02d", i)
		if i == 0 {
			f.PutSecretString("us-east-1", name, `{"password":"old-`+awsCanaryPW+`"}`)
		}
		f.PutSecretString("us-east-1", name, fmt.Sprintf(`{"password":"pw-%02d-%s"}`, i, awsCanaryPW))
		fmt.Fprintf(&tmpl, "S%02d={{ secret %q }}\n", i, "sm:"+name+":password")
	}
	tmpl.WriteString(`OLD={{ secretPrevious "sm:app/s00:password" }}` + "\n")
	// Latency makes calls that belong to one round overlap visibly.
	f.SetFaults("", awsfake.Faults{Latency: 200 * time.Millisecond})

	dir := t.TempDir()
	write(t, dir, "app.env.tmpl", tmpl.String())
	write(t, dir, "shroud.toml", `
[[files]]
path = "out/app.env"
template_file = "app.env.tmpl"
`)
	r := shroud(t, dir, append(f.Env(), "AWS_REGION=us-east-1"), "render", "--config", "shroud.toml")
	if r.code != 0 {
		t.Fatalf("render: exit %d\n%s", r.code, r.stderr)
	}
	noCanary(t, "render", r.stdout, r.stderr)
	data, err := os.ReadFile(filepath.Join(dir, "out", "app.env"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "S29=pw-29-"+awsCanaryPW+"\n") || !strings.Contains(string(data), "OLD=old-"+awsCanaryPW+"\n") {
		t.Fatalf("rendered file:\n%s", data)
	}

	counts := f.Counts()
	if counts["secretsmanager.BatchGetSecretValue"] != 2 || counts["secretsmanager.GetSecretValue"] != 1 || len(counts) != 2 {
		t.Errorf("calls %v: want 2 BatchGetSecretValue (30 secrets) and 1 GetSecretValue (the AWSPREVIOUS stage)", counts)
	}
	if n := f.MaxInFlight("secretsmanager.BatchGetSecretValue"); n != 2 {
		t.Errorf("%d batch calls in flight at once, want both: one plan, one round", n)
	}
}
