package web

import (
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/api"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// The catalogues have the same keys, no empty message, and the same {placeholders} per key.
func TestCataloguesMatch(t *testing.T) {
	cat, err := loadCatalogues(files)
	if err != nil {
		t.Fatal(err)
	}
	en, zh := cat["en"], cat["zh-CN"]
	if missing := missingKeys(en, zh); len(missing) > 0 {
		t.Errorf("zh-CN lacks %v", missing)
	}
	if missing := missingKeys(zh, en); len(missing) > 0 {
		t.Errorf("en lacks %v", missing)
	}
	ph := regexp.MustCompile(`\{\w+\}`)
	for k, v := range en {
		if strings.TrimSpace(v) == "" || strings.TrimSpace(zh[k]) == "" {
			t.Errorf("%s is empty in a catalogue", k)
		}
		a, b := ph.FindAllString(v, -1), ph.FindAllString(zh[k], -1)
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) {
			t.Errorf("%s: en has %v, zh-CN %v", k, a, b)
		}
	}
	// A catalogue that lacks a key of the other does not load.
	broken := func(name string) error {
		_, err := loadCatalogues(overlay{files, map[string]string{"i18n/zh-CN.json": name}})
		return err
	}
	if err := broken(`{"app.name": "x"}`); err == nil || !strings.Contains(err.Error(), "zh-CN lacks") {
		t.Errorf("a short catalogue loaded: %v", err)
	}
}

// Every key the JavaScript names is in the catalogue: t('key') calls, and any quoted string
// shaped like a key (route titles, keys chosen by a condition); a key built at run time
// (t('rule.' + id)) has at least its prefix, and the prefixes whose values the server defines
// are checked against the server below.
func TestEveryKeyUsedExists(t *testing.T) {
	cat, err := loadCatalogues(files)
	if err != nil {
		t.Fatal(err)
	}
	en := cat["en"]
	literal := regexp.MustCompile(`'([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)'(\s*\+)?`)
	prefix := regexp.MustCompile(`\bt\(\s*'([a-z][a-z0-9_.]*\.?[a-z0-9_]*)'\s*\+`)
	found := 0
	err = fs.WalkDir(files, "static/app", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") {
			return err
		}
		b, err := fs.ReadFile(files, p)
		if err != nil {
			return err
		}
		src := string(b)
		for _, m := range literal.FindAllStringSubmatch(src, -1) {
			if m[2] != "" {
				continue // a prefix, below
			}
			found++
			if _, ok := en[m[1]]; !ok {
				t.Errorf("%s uses %q, which the catalogue lacks", p, m[1])
			}
		}
		for _, m := range prefix.FindAllStringSubmatch(src, -1) {
			if !slices.ContainsFunc(keysOf(en), func(k string) bool { return strings.HasPrefix(k, m[1]) }) {
				t.Errorf("%s builds keys from %q, of which the catalogue has none", p, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found < 100 {
		t.Errorf("found %d keys in the JavaScript; the pattern must be broken", found)
	}
}

// The words of what the server names: every rule of the catalogue, severity, state, category,
// event type, role and error code.
func TestServerVocabularyHasWords(t *testing.T) {
	cat, err := loadCatalogues(files)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"rule.": rules.RuleIDs()}
	for s := alerts.Info; s <= alerts.Critical; s++ {
		want["severity."] = append(want["severity."], s.String())
	}
	for _, st := range []alerts.State{alerts.Open, alerts.Acknowledged, alerts.Resolved} {
		want["state."] = append(want["state."], string(st))
	}
	for _, c := range []alerts.Category{alerts.Clinical, alerts.Fault} {
		want["category."] = append(want["category."], string(c))
	}
	want["subject."] = []string{alerts.SubjectPatient, alerts.SubjectDevice, alerts.SubjectSite}
	for _, e := range alerts.EventTypes {
		want["event."] = append(want["event."], string(e))
	}
	for _, r := range []access.Role{access.Doctor, access.FleetManager, access.Admin} {
		want["role."] = append(want["role."], string(r))
	}
	want["error."] = []string{errcode.Invalid, errcode.NotFound, errcode.Conflict, errcode.Unauthorized, errcode.Forbidden,
		errcode.Unavailable, errcode.Internal, api.CodeTooManyRequests, api.CodeUnsupportedMediaType}
	if len(want["rule."]) < 20 || len(want["severity."]) != 4 || len(want["event."]) != 6 {
		t.Fatalf("the server's vocabulary looks wrong: %v", want)
	}
	for lang, msgs := range cat {
		for p, ids := range want {
			for _, id := range ids {
				if strings.TrimSpace(msgs[p+id]) == "" {
					t.Errorf("%s lacks %s%s", lang, p, id)
				}
			}
		}
	}
}

func keysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// overlay is fsys with some files replaced.
type overlay struct {
	fs.FS
	files map[string]string
}

func (o overlay) Open(name string) (fs.File, error) {
	if body, ok := o.files[name]; ok {
		dir, err := os.MkdirTemp("", "overlay")
		if err != nil {
			return nil, err
		}
		p := dir + "/f"
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			return nil, err
		}
		return os.Open(p)
	}
	return o.FS.Open(name)
}
