package storage

import (
	"maps"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestMetaWithPrefix(t *testing.T) {
	db, err := Open("db", WithFS(vfs.NewMem()), WithLogger(quietLogger{t}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx := db.Begin()
	for _, k := range []string{"source/1/0", "source/1/1", "source/10/0", "source/2/0", "source/1\xff", "source/1\xff\xff/x", "table/1"} {
		tx.PutMeta(k, []byte("v"))
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	for prefix, want := range map[string][]string{
		"source/1/":    {"source/1/0", "source/1/1"},
		"source/1\xff": {"source/1\xff", "source/1\xff\xff/x"},
		"source/3/":    nil,
		"":             {"source/1/0", "source/1/1", "source/10/0", "source/1\xff", "source/1\xff\xff/x", "source/2/0", "table/1"},
	} {
		got, err := db.MetaWithPrefix(prefix)
		if err != nil {
			t.Fatal(err)
		}
		if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, want) {
			t.Errorf("prefix %q: %q, want %q", prefix, keys, want)
		}
	}
}
