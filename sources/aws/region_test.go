package aws

import (
	"strings"
	"testing"

	"github.com/shroud-dev/shroud/sources"
)

func TestTaskRegion(t *testing.T) {
	for body, want := range map[string]string{
		`{"TaskARN":"arn:aws:ecs:eu-north-1:123456789012:task/c/abc"}`:           "eu-north-1",
		`{"TaskARN":"arn:aws-us-gov:ecs:us-gov-west-1:123456789012:task/c/abc"}`: "us-gov-west-1",
		`{"TaskARN":"arn:aws:ecs::123456789012:task/c/abc"}`:                     "",
		`{"Cluster":"c"}`: "",
		`[1,2]`:           "",
	} {
		got, err := taskRegion(strings.NewReader(body))
		if got != want || (want == "") != (err != nil) {
			t.Errorf("taskRegion(%s) = %q, %v; want %q", body, got, err, want)
		}
	}
}

// FuzzTaskRegion: whatever the metadata endpoint answers, the result is a
// valid region or an error, and the error never quotes the answer.
func FuzzTaskRegion(f *testing.F) {
	f.Add([]byte(`{"TaskARN":"arn:aws:ecs:eu-north-1:123456789012:task/c/abc","AvailabilityZone":"eu-north-1a"}`))
	f.Add([]byte(`{"TaskARN":"arn:aws:ecs:x:1:task"}`))
	f.Add([]byte(`{"TaskARN":5}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		region, err := taskRegion(strings.NewReader(string(body)))
		if err != nil {
			if len(body) > 3 && strings.Contains(err.Error(), string(body)) {
				t.Fatalf("the error quotes the answer: %v", err)
			}
			return
		}
		if !sources.ValidAWSRegion(region) {
			t.Fatalf("invalid region %q accepted", region)
		}
	})
}
