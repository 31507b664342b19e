package sources

import "testing"

// TestDotenvQuotedKeepsSpaces checks that a quoted value keeps the spaces
// that end its lines, the first one included.
func TestDotenvQuotedKeepsSpaces(t *testing.T) {
	fields, err := ParseDotenv([]byte("A='x \ny '  \nB=\"p \nq\"\nC= bare  \n"))
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"A": "x \ny ", "B": "p \nq", "C": "bare"} {
		if got := string(fields[k]); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}
