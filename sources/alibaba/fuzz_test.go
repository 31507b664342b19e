package alibaba

import (
	"bufio"
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/shroud-dev/shroud/internal/kmsfake"
	"github.com/shroud-dev/shroud/sources"
)

var (
	fuzzOnce   sync.Once
	fuzzSource *Source
)

// FuzzKMSReference drives the path a kms: or acs:kms: reference takes here:
// parsed fields become an SDK request, which the SDK encodes and signs, the
// fake verifies the signature and looks the secret up. Whatever the name,
// stage or version id, a secret stored under the parsed fields must come
// back byte for byte, and no error may carry the value.
//
//	go test ./sources/alibaba -run '^$' -fuzz FuzzKMSReference -fuzztime 60s -fuzzminimizetime 2s
func FuzzKMSReference(f *testing.F) {
	if data, err := os.ReadFile("../testdata/references.tsv"); err == nil {
		for sc := bufio.NewScanner(strings.NewReader(string(data))); sc.Scan(); {
			ref, _, _ := strings.Cut(sc.Text(), "\t")
			if tail, ok := strings.CutPrefix(ref, "kms:"); ok {
				f.Add(tail)
			} else if i := strings.Index(ref, ":secret/"); strings.HasPrefix(ref, "acs:kms:") && i > 0 {
				f.Add(ref[i+len(":secret/"):])
			}
		}
	}
	for _, s := range []string{
		"prod/db", "prod/db:password", "db:AccountPassword:ACSPrevious:", "db:::v-1", "db::blue",
		"a+b*c~d%2F e=f@g", "名前/秘密:キー", "x:y:z", "acs/ram/user/app:AccessKeyId", "a b:c d:e f",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tail string) {
		// The API speaks JSON, which cannot carry names that are not UTF-8.
		if !utf8.ValidString(tail) {
			return
		}
		fuzzOnce.Do(func() {
			// For the rest of the process: the source is shared by every input.
			os.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", akID)
			os.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", akSec)
			fuzzSource = newSource(Options{Credentials: Credentials{Type: "env"}})
		})
		for _, raw := range []string{"kms:" + tail, "acs:kms:" + home + ":" + account + ":secret/" + tail} {
			ref, err := sources.Parse(raw)
			if err != nil {
				continue
			}
			if ref.Backend != sources.KMS {
				t.Fatalf("%q parsed as %s", raw, ref.Backend)
			}
			name := ref.ID
			if ref.Region != "" {
				if ref.Region != home || ref.Account != account || !strings.HasPrefix(ref.ID, "acs:kms:") {
					t.Fatalf("%q: region %q account %q id %q", raw, ref.Region, ref.Account, ref.ID)
				}
				name = strings.TrimPrefix(ref.ID, "acs:kms:"+home+":"+account+":secret/")
			}
			value := []byte("fuzz-" + canary)
			var opts []kmsfake.PutOption
			if ref.VersionID != "" {
				opts = append(opts, kmsfake.WithVersionID(ref.VersionID))
			}
			if ref.Stage != "" {
				opts = append(opts, kmsfake.WithStages(kmsfake.StageCurrent, ref.Stage))
			}
			version := cloud.Put(home, name, value, opts...)

			res := fuzzSource.Fetch(context.Background(), []sources.Ref{ref.Object()})
			if res[0].Err != nil {
				t.Fatalf("%q: %v", raw, res[0].Err)
			}
			if string(res[0].Value.Data) != string(value) || res[0].Value.Version != version {
				t.Fatalf("%q: got %q version %q, want the stored value, version %q", raw, res[0].Value.Data, res[0].Value.Version, version)
			}
			// A JSON key of a value that is no JSON object: an error that
			// names the key, never the value.
			if ref.JSONKey != "" {
				r := sources.NewResolver()
				r.Register(sources.KMS, fuzzSource)
				_, err := r.Resolve(context.Background(), []sources.Ref{ref})
				if err == nil || strings.Contains(err.Error(), canary) {
					t.Fatalf("%q: json key on a plain value: %v", raw, err)
				}
			}
		}
	})
}
