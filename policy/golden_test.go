package policy_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shroud-dev/shroud/policy"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from what Generate writes")

// TestExamplesGolden writes the policies of every example, without asking
// AWS, and compares them with testdata/golden (go test ./policy -update
// rewrites them; review the diff). Every document must be valid policy
// grammar, merged and sorted. cmd/shroud's TestPolicyGoldenCLI checks that
// shroud policy prints the same.
func TestExamplesGolden(t *testing.T) {
	k8s := kubernetesConfig(t)
	for _, ex := range []struct {
		name, config, ecs, container, region string
		clouds                               []string
	}{
		{name: "local", config: "../examples/local/shroud.toml"},
		{name: "docker", config: "../examples/docker/shroud.toml", clouds: []string{policy.AWS}},
		{name: "ecs", config: "../examples/ecs/shroud.toml", region: "us-east-1", clouds: []string{policy.AWS}},
		{name: "kubernetes", config: k8s, clouds: []string{policy.Alibaba, policy.Alibaba}},
	} {
		t.Run(ex.name, func(t *testing.T) {
			refs, cfg := loadSpec(t, ex.config, ex.ecs, ex.container)
			docs := policy.Generate(inputOf(refs, cfg, ex.region))
			var clouds []string
			for _, d := range docs {
				checkGrammar(t, d)
				clouds = append(clouds, d.Cloud)
			}
			if strings.Join(clouds, " ") != strings.Join(ex.clouds, " ") {
				t.Errorf("documents for %q, want %q", clouds, ex.clouds)
			}
			got := render(t, docs)
			golden := filepath.Join("testdata", "golden", ex.name+".txt")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("%s differs from what Generate writes now (go test ./policy -update rewrites it):\n%s", golden, got)
			}
		})
	}
}

// kubernetesConfig extracts the shroud.toml of the ConfigMap in
// examples/kubernetes/alibaba-rrsa-sidecar.yaml.
func kubernetesConfig(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../examples/kubernetes/alibaba-rrsa-sidecar.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(data), "  shroud.toml: |\n")
	block, _, _ = strings.Cut(block, "\n---")
	if !ok {
		t.Fatal("no shroud.toml in examples/kubernetes/alibaba-rrsa-sidecar.yaml")
	}
	var b strings.Builder
	for _, line := range strings.Split(block, "\n") {
		b.WriteString(strings.TrimPrefix(line, "    ") + "\n")
	}
	path := filepath.Join(t.TempDir(), "shroud.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
