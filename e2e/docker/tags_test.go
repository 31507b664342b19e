package docker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tagTemplate uses every field of Docker's log tag template, and one of
// its functions.
const tagTemplate = "{{.ID}}|{{.FullID}}|{{.Name}}|{{.ImageName}}|{{.ImageID}}|{{.ImageFullID}}|{{.Command}}|{{.Hostname}}|{{.DaemonName}}|{{upper .DaemonName}}"

// TestTagTemplatesAsDocker renders the tag template on both sides (the
// fluentd tag shows it whole) and compares each field; and the tag when
// none is given.
func TestTagTemplatesAsDocker(t *testing.T) {
	requireDocker(t)
	srv := startFluentd(t)
	hostname, _ := os.Hostname()
	tag := func(opts []opt) (docker, shroud, id, name string) {
		name = containerName(t)
		opts = append([]opt{{"fluentd-address", srv.addr}}, opts...)
		id = runDocker(t, name, "fluentd", opts, nil, "echo one")
		d := srv.take(t, 1)
		runShroud(t, "fluentd", opts, nil, "echo one")
		s := srv.take(t, 1)
		return d[0].Tag, s[0].Tag, id, name
	}
	tb := newTable(t, "tag")
	d, s, id, _ := tag(nil)
	tb.intended("default (no tag option)", d, id[:12], s, "busybox", "Docker's is {{.ID}}, shroud's {{.Name}}: shroud has no container id")

	// json-file records a tag only when the option asks for one.
	opts := []opt{{"max-size", "100m"}, {"max-file", "1"}}
	dRecs := readJSONFile(t, dockerLogPath(t, runDocker(t, containerName(t), "json-file", opts, nil, "echo one")))["stdout"]
	path := filepath.Join(t.TempDir(), "app-json.log")
	runShroud(t, "json-file", append(opts, opt{"path", path}), nil, "echo one")
	sRecs := readJSONFile(t, path)["stdout"]
	if len(dRecs) != 1 || len(sRecs) != 1 {
		t.Fatalf("json-file records: %d and %d, want 1", len(dRecs), len(sRecs))
	}
	dAttrs, _ := get(dRecs[0].Fields, "attrs")
	sAttrs, _ := get(sRecs[0].Fields, "attrs")
	tb.same("json-file attrs with no tag option", dAttrs.Raw, sAttrs.Raw)

	d, s, id, name := tag([]opt{{"tag", tagTemplate}})
	image := strings.TrimSpace(mustDocker(t, "inspect", "--format", "{{.Image}}", id))
	df, sf := strings.Split(d, "|"), strings.Split(s, "|")
	if len(df) != 10 || len(sf) != 10 {
		t.Fatalf("tags %q and %q: want 10 fields each", d, s)
	}
	why := "shroud has no container: the hostname (a container's short id)"
	tb.intended("{{.ID}}", df[0], id[:12], sf[0], hostname[:min(12, len(hostname))], why)
	tb.intended("{{.FullID}}", df[1], id, sf[1], hostname, why)
	tb.intended("{{.Name}}", df[2], name, sf[2], "busybox", "the container's name in Docker, the command's in shroud")
	why = "shroud has no image"
	tb.intended("{{.ImageName}}", df[3], bbImage, sf[3], "", why)
	tb.intended("{{.ImageID}}", df[4], image[:12], sf[4], "", why) // "sha256:" and 5 digits, as Docker cuts it
	tb.intended("{{.ImageFullID}}", df[5], image, sf[5], "", why)
	tb.same("{{.Command}}", df[6], sf[6])
	if df[6] != busybox+" sh -c echo one" && df[6] != "/bin/busybox sh -c echo one" {
		t.Errorf("{{.Command}} = %q, want the entrypoint and its arguments", df[6])
	}
	tb.same("{{.Hostname}}", df[7], sf[7])
	tb.intended("{{.DaemonName}}", df[8], "docker", sf[8], "shroud", "the sender's name")
	tb.intended("{{upper .DaemonName}}", df[9], "DOCKER", sf[9], "SHROUD", "the sender's name")
}
