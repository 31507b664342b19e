package inject

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shroud-dev/shroud/logdriver"
)

// TestMaskWhatFilesMake materializes README.md's files example, with a log
// driver and more files, and masks what a child would print of them with
// what Materialize gives the log pipeline. mask_encodings is empty: every
// form caught here is one shroud wrote itself.
func TestMaskWhatFilesMake(t *testing.T) {
	readme, outputs := readmeFilesExample(t)
	dsn := outputs["/run/secrets/database.url"]
	const pw, pin = "s3cr3t/p@ss w0rd", "4821"
	fake, r := awsFake(t)
	fake.PutSecretString("us-east-1", "prod/db", `{"username": "orders", "password": "`+pw+`", "host": "db.internal", "port": 5432}`)
	fake.PutSecretString("us-east-1", "prod/pin", pin)
	fake.PutSecretString("us-east-1", "prod/odd", "it's:a=pass#wd")
	fake.PutParameter("us-east-1", "/prod/payments/api-key", "SecureString", "pay-7f3a9c")
	path := filepath.Join(t.TempDir(), "shroud.toml")
	os.WriteFile(path, []byte(readme+`
[[files]]
path = "/run/secrets/app.conf"
template = '''
pin = {{ secret "sm:prod/pin" }}
port = {{ secret "sm:prod/db:port" }}
odd = {{ secret "sm:prod/odd" | squote }}
quoted = {{ secret "sm:prod/pin" | squote }}
'''

[[files]]
path = "/run/secrets/pin.json"
[files.values]
PIN = "sm:prod/pin"

[[files]]
path = "/run/secrets/app.properties"
[files.values]
odd = "sm:prod/odd"

[log]
driver = "json-file"
options = { path = "/dev/null" }
mask_encodings = []
`), 0o600)
	_, m := materializeConfig(t, path, r)
	cfg := m.Log
	if !cfg.Mask {
		t.Fatal("masking is off with a driver")
	}
	if slices.ContainsFunc(cfg.MaskValues, func(v []byte) bool { return string(v) == "orders" || string(v) == "db.internal" }) {
		t.Errorf("the values of sm:prod/db:username and :host are masked: %q", cfg.MaskValues)
	}
	masker := logdriver.NewMasker(cfg.MaskValues, cfg.MaskOptions)
	masker.AddForms(cfg.MaskForms)
	for printed, want := range map[string]string{
		strings.TrimSpace(dsn):                    "postgres://orders:*****@db.internal:5432/orders?sslmode=verify-full",
		"GET /orders/42 from db.internal":         "GET /orders/42 from db.internal",
		"DB_USER=orders DB_PASSWORD='" + pw + "'": "DB_USER=orders DB_PASSWORD=*****",
		"pin = " + pin:                            "*****",
		"job " + pin + " done":                    "job " + pin + " done", // too short alone
		"port = 5432":                             "port = 5432",
		`odd = 'it'\''s:a=pass#wd'`:               "odd = *****",
		`odd=it's\:a\=pass\#wd`:                   "odd=*****",
		"api key pay-7f3a9c":                      "api key *****",
		"password " + pw:                          "password *****",
	} {
		if got := masker.Redact(printed); got != want {
			t.Errorf("%q -> %q, want %q", printed, got, want)
		}
	}

	// Masking off: no forms are computed.
	os.WriteFile(path, []byte(readme+"\n[log]\ndriver = \"json-file\"\nmask = false\n"), 0o600)
	if _, m = materializeConfig(t, path, r); len(m.Log.MaskForms) != 0 {
		t.Errorf("mask = false, yet %d forms", len(m.Log.MaskForms))
	}
}
