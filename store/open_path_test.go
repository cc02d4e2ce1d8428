package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestOpenPathWithSpecialCharacters(t *testing.T) {
	for _, name := range []string{"a#1", "b?x=1", "c%20d", "e f"} {
		dir := filepath.Join(t.TempDir(), name)
		os.MkdirAll(dir, 0o755)
		path := filepath.Join(dir, "vw.db")
		s, err := Open(context.Background(), path)
		if err != nil {
			t.Fatalf("Open(%q): %v", path, err)
		}
		s.Close()
		if _, err := os.Stat(path); err != nil {
			t.Errorf("Open(%q) did not create that file: %v", path, err)
		}
	}
}
