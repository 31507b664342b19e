// Package examples_test checks that every example works as written: the
// Kubernetes manifests decode strictly into the Kubernetes API's own types,
// the ECS task definition into the ECS API's, every shroud config in them
// loads as `shroud check` loads it, every shroud command line parses, and
// every policy grants exactly what its config reads.
package examples_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	ecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/shroud-dev/shroud/config"
	"github.com/shroud-dev/shroud/inject"
	"github.com/shroud-dev/shroud/sources"
)

// shroudBin is the binary the command lines are checked with.
var shroudBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "shroud-examples-")
	if err != nil {
		panic(err)
	}
	shroudBin = filepath.Join(dir, "shroud")
	build := exec.Command("go", "build", "-trimpath", "-tags", "urfave_cli_no_docs", "-o", shroudBin, "../cmd/shroud")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building shroud: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// loadConfig validates a shroud config as `shroud check` does before it
// resolves anything: parsed, checked, and made into the spec (references
// parsed, templates compiled). name says where the text comes from.
func loadConfig(t *testing.T, name string, data []byte) *inject.Plan {
	t.Helper()
	cfg, err := config.ParseFile(name, data)
	if err != nil {
		t.Errorf("%s does not load: %v", name, err)
		return nil
	}
	return inject.NewPlan(cfg)
}

// checkCommandLine parses a shroud command line with shroud itself: argv
// is what the container runs, argv[0] shroud. Flags and the command's
// name must exist; nothing is run (--help stops it).
func checkCommandLine(t *testing.T, where string, argv []string) {
	t.Helper()
	if len(argv) < 2 || path.Base(argv[0]) != "shroud" {
		t.Errorf("%s: %q does not run shroud", where, argv)
		return
	}
	// The flags alone: after "--" comes the command shroud runs, and
	// --help would take the first argument for a help topic.
	flags := argv[2:]
	if i := slices.Index(flags, "--"); i >= 0 {
		flags = flags[:i]
	}
	args := append([]string{argv[1], "--help"}, flags...)
	if out, err := exec.Command(shroudBin, args...).CombinedOutput(); err != nil {
		t.Errorf("%s: shroud does not take %q: %v\n%s", where, argv[1:], err, out)
	}
}

// configFlag returns the value of --config in argv, or "".
func configFlag(argv []string) string {
	for i, a := range argv {
		if a == "--" {
			break
		}
		if v, ok := strings.CutPrefix(a, "--config="); ok {
			return v
		}
		if a == "--config" && i+1 < len(argv) {
			return argv[i+1]
		}
	}
	return ""
}

// manifest is one file's Kubernetes objects, decoded.
type manifest struct {
	name            string
	configMaps      map[string]*corev1.ConfigMap // by namespace/name
	serviceAccounts map[string]bool
	pods            map[string]*corev1.PodSpec // by kind/name
}

// decodeManifest decodes every document of a file strictly: a field the
// API type does not have is an error, as kubectl's strict validation
// makes it.
func decodeManifest(t *testing.T, file string) *manifest {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	m := &manifest{name: file, configMaps: map[string]*corev1.ConfigMap{},
		serviceAccounts: map[string]bool{}, pods: map[string]*corev1.PodSpec{}}
	for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("%s: document %d: %v", file, i+1, err)
		}
		var obj any
		switch tm.APIVersion + " " + tm.Kind {
		case "v1 Namespace":
			obj = &corev1.Namespace{}
		case "v1 ServiceAccount":
			obj = &corev1.ServiceAccount{}
		case "v1 ConfigMap":
			obj = &corev1.ConfigMap{}
		case "v1 Pod":
			obj = &corev1.Pod{}
		case "apps/v1 Deployment":
			obj = &appsv1.Deployment{}
		default:
			t.Fatalf("%s: document %d: no type for %q %q here", file, i+1, tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("%s: document %d (%s): %v", file, i+1, tm.Kind, err)
		}
		switch o := obj.(type) {
		case *corev1.ServiceAccount:
			m.serviceAccounts[o.Namespace+"/"+o.Name] = true
		case *corev1.ConfigMap:
			m.configMaps[o.Namespace+"/"+o.Name] = o
		case *corev1.Pod:
			m.pods[o.Namespace+"/Pod/"+o.Name] = &o.Spec
		case *appsv1.Deployment:
			if !reflectEqual(o.Spec.Selector.MatchLabels, o.Spec.Template.Labels) {
				t.Errorf("%s: Deployment %s: the selector does not select its pods", file, o.Name)
			}
			m.pods[o.Namespace+"/Deployment/"+o.Name] = &o.Spec.Template.Spec
		}
	}
	return m
}

func reflectEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// kubernetesExample is a manifest and the policy of the role its pods use.
type kubernetesExample struct {
	file, policy string
	// account is the example's account, region its default one for names.
	account, region string
}

var kubernetesExamples = []kubernetesExample{
	{"kubernetes/eks-irsa.yaml", "kubernetes/eks-irsa-policy.json", "123456789012", "us-east-1"},
	{"kubernetes/eks-pod-identity-sidecar.yaml", "kubernetes/eks-pod-identity-policy.json", "123456789012", "us-east-1"},
	{"kubernetes/render-init.yaml", "kubernetes/render-init-policy.json", "123456789012", "us-east-1"},
	{"kubernetes/alibaba-rrsa-sidecar.yaml", "kubernetes/alibaba-rrsa-ram-policy.json", "1234567890123456", "cn-hangzhou"},
}

func TestKubernetesExamples(t *testing.T) {
	files, _ := filepath.Glob("kubernetes/*.yaml")
	var listed []string
	for _, ex := range kubernetesExamples {
		listed = append(listed, ex.file)
	}
	slices.Sort(listed)
	if !slices.Equal(files, listed) {
		t.Errorf("kubernetes/ has %q; this test checks %q", files, listed)
	}
	for _, ex := range kubernetesExamples {
		t.Run(filepath.Base(ex.file), func(t *testing.T) {
			m := decodeManifest(t, ex.file)
			if len(m.pods) == 0 {
				t.Fatal("no pod")
			}
			var refs []sources.Ref
			for name, spec := range m.pods {
				ns, _, _ := strings.Cut(name, "/")
				refs = append(refs, checkPod(t, m, ns, name, spec)...)
			}
			checkPolicy(t, ex.policy, refs, ex.account, ex.region)
		})
	}
}

// checkPod checks what a pod refers to (service account, volumes,
// ConfigMaps) and every shroud container in it: its command line, and the
// config it reads from its ConfigMap. It returns the references the
// configs resolve.
func checkPod(t *testing.T, m *manifest, ns, name string, spec *corev1.PodSpec) []sources.Ref {
	if sa := spec.ServiceAccountName; sa != "" && !m.serviceAccounts[ns+"/"+sa] {
		t.Errorf("%s uses service account %q, which the file does not define", name, sa)
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
		if v.ConfigMap != nil && m.configMaps[ns+"/"+v.ConfigMap.Name] == nil {
			t.Errorf("%s: volume %s: no ConfigMap %s/%s in the file", name, v.Name, ns, v.ConfigMap.Name)
		}
		if v.EmptyDir != nil && v.EmptyDir.Medium != corev1.StorageMediumMemory {
			t.Errorf("%s: volume %s: secrets on the node's disk (emptyDir without medium: Memory)", name, v.Name)
		}
	}
	var refs []sources.Ref
	shrouds := 0
	for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
		for _, vm := range c.VolumeMounts {
			if _, ok := volumes[vm.Name]; !ok {
				t.Errorf("%s: container %s mounts volume %q, which the pod does not have", name, c.Name, vm.Name)
			}
		}
		argv := slices.Concat(c.Command, c.Args)
		if strings.Contains(c.Image, "/shroud:") && len(c.Command) == 0 {
			argv = append([]string{"/shroud"}, c.Args...) // the image's ENTRYPOINT
		}
		if len(argv) == 0 || path.Base(argv[0]) != "shroud" {
			continue
		}
		shrouds++
		where := fmt.Sprintf("%s: container %s", name, c.Name)
		checkCommandLine(t, where, argv)
		data := mountedConfig(t, where, m, ns, volumes, c.VolumeMounts, configFlag(argv))
		if s := loadConfig(t, fmt.Sprintf("%s: %s: %s", m.name, where, configFlag(argv)), data); s != nil {
			refs = append(refs, s.Refs()...)
		}
	}
	if shrouds == 0 {
		t.Errorf("%s runs no shroud", name)
	}
	return refs
}

// mountedConfig returns the file at path in a container, from the
// ConfigMap volume mounted over it.
func mountedConfig(t *testing.T, where string, m *manifest, ns string, volumes map[string]corev1.Volume, mounts []corev1.VolumeMount, file string) []byte {
	t.Helper()
	for _, vm := range mounts {
		key, ok := strings.CutPrefix(file, vm.MountPath+"/")
		v := volumes[vm.Name]
		if !ok || v.ConfigMap == nil {
			continue
		}
		if cm := m.configMaps[ns+"/"+v.ConfigMap.Name]; cm != nil {
			if data, ok := cm.Data[key]; ok {
				return []byte(data)
			}
		}
	}
	t.Errorf("%s: --config %q is in no ConfigMap mounted there", where, file)
	return nil
}

// dockerfile is what the tests read of an example's Dockerfile.
type dockerfile struct {
	entrypoint []string
	env        map[string]string
	copies     map[string]string // source ("--from=STAGE SRC" or SRC) -> destination
}

func readDockerfile(t *testing.T, file string) dockerfile {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	d := dockerfile{env: map[string]string{}, copies: map[string]string{}}
	for _, line := range strings.Split(string(data), "\n") {
		instr, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch instr {
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(rest), &d.entrypoint); err != nil {
				t.Fatalf("%s: ENTRYPOINT is not an exec form: %v", file, err)
			}
		case "ENV":
			k, v, _ := strings.Cut(rest, "=")
			d.env[k] = v
		case "COPY":
			if f := strings.Fields(rest); len(f) >= 2 {
				d.copies[strings.Join(f[:len(f)-1], " ")] = f[len(f)-1]
			}
		}
	}
	return d
}

func TestECSExample(t *testing.T) {
	data, err := os.ReadFile("ecs/task-definition.json")
	if err != nil {
		t.Fatal(err)
	}
	var td ecs.RegisterTaskDefinitionInput
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&td); err != nil {
		t.Fatalf("ecs/task-definition.json is no RegisterTaskDefinition input: %v", err)
	}
	// What ECS checks when it registers a Fargate task definition.
	if !slices.Contains(td.RequiresCompatibilities, ecstypes.CompatibilityFargate) ||
		td.NetworkMode != ecstypes.NetworkModeAwsvpc || td.Cpu == nil || td.Memory == nil {
		t.Error("not a Fargate task definition: it needs FARGATE, awsvpc, cpu and memory")
	}
	checkEnum(t, "networkMode", td.NetworkMode, td.NetworkMode.Values())
	for _, c := range td.RequiresCompatibilities {
		checkEnum(t, "requiresCompatibilities", c, c.Values())
	}
	if td.TaskRoleArn == nil {
		t.Error("no task role: shroud fetches with it")
	}
	if len(td.ContainerDefinitions) != 1 {
		t.Fatalf("%d containers, want 1", len(td.ContainerDefinitions))
	}
	c := td.ContainerDefinitions[0]
	// ECS resolves nothing itself: with secrets or secretOptions it would
	// fetch them with the execution role before shroud starts.
	if len(c.Secrets) > 0 || c.LogConfiguration != nil && len(c.LogConfiguration.SecretOptions) > 0 {
		t.Errorf("container %s has secrets or secretOptions for ECS to resolve", *c.Name)
	}
	if c.LogConfiguration != nil {
		checkEnum(t, "logDriver", c.LogConfiguration.LogDriver, c.LogConfiguration.LogDriver.Values())
	}
	if len(c.EntryPoint) > 0 {
		t.Errorf("container %s sets entryPoint; the image's runs shroud", *c.Name)
	}

	// The image runs shroud with the config baked in (Fargate mounts no
	// host file): the command follows the image's entry point.
	d := readDockerfile(t, "ecs/Dockerfile")
	if bin := d.copies["--from=shroud /shroud"]; bin == "" || bin != d.entrypoint[0] {
		t.Errorf("ecs/Dockerfile does not run the /shroud it copies from shroud's image: %v", d.copies)
	}
	config := d.env["SHROUD_CONFIG"]
	if config == "" || d.copies["shroud.toml"] != config {
		t.Errorf("ecs/Dockerfile: SHROUD_CONFIG %q is not where shroud.toml is copied (%q)", config, d.copies["shroud.toml"])
	}
	argv := slices.Concat(d.entrypoint, c.Command)
	checkCommandLine(t, "ecs: the image's entry point and the task's command", argv)
	if !slices.Contains(argv, "--") || argv[slices.Index(argv, "--")+1] != c.Command[0] {
		t.Errorf("ecs: %q does not run the task's command after --", argv)
	}

	text, err := os.ReadFile("ecs/shroud.toml")
	if err != nil {
		t.Fatal(err)
	}
	if spec := loadConfig(t, "ecs/shroud.toml", text); spec != nil {
		checkPolicy(t, "ecs/task-role-policy.json", spec.Refs(), "123456789012", "us-east-1")
	}
}

func checkEnum[E ~string](t *testing.T, field string, v E, values []E) {
	t.Helper()
	if !slices.Contains(values, v) {
		t.Errorf("%s %q is none of %q", field, v, values)
	}
}

func TestDockerExample(t *testing.T) {
	d := readDockerfile(t, "docker/Dockerfile")
	checkCommandLine(t, "docker: the image's entry point", d.entrypoint)
	config := configFlag(d.entrypoint)
	if config == "" || d.copies["shroud.toml"] != config {
		t.Errorf("docker/Dockerfile: --config %q is not where shroud.toml is copied (%q)", config, d.copies["shroud.toml"])
	}
	if bin := d.copies["--from=shroud /shroud"]; bin == "" || bin != d.entrypoint[0] {
		t.Errorf("docker/Dockerfile does not run the /shroud it copies from shroud's image: %v", d.copies)
	}
	text, err := os.ReadFile("docker/shroud.toml")
	if err != nil {
		t.Fatal(err)
	}
	if spec := loadConfig(t, "docker/shroud.toml", text); spec != nil {
		checkPolicy(t, "docker/iam-policy.json", spec.Refs(), "123456789012", "us-east-1")
	}
}

func TestLocalExample(t *testing.T) {
	text, err := os.ReadFile("local/shroud.toml")
	if err != nil {
		t.Fatal(err)
	}
	loadConfig(t, "local/shroud.toml", text)
}
