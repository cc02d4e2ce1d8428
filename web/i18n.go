package web

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The languages of the app, by their catalogue's name (i18n/<code>.json); the first is the
// default.
var languages = []string{"en", "zh-CN"}

// LangCookie is the cookie that holds the language a person chose with the switch in the header;
// it beats Accept-Language.
const LangCookie = "vw_lang"

// catalogues holds each language's messages, by key.
type catalogues map[string]map[string]string

// loadCatalogues reads each language's messages: i18n/<lang>.json, and the files of its folder
// i18n/<lang>/*.json, one per area of the app (patients, fleet, admin, ...), so that the areas'
// words are kept apart. A key given in two files is an error. It checks that every language has
// the same keys, so that no language shows a key where another shows words.
func loadCatalogues(fsys fs.FS) (catalogues, error) {
	cat := catalogues{}
	for _, l := range languages {
		files, err := fs.Glob(fsys, "i18n/"+l+"/*.json")
		if err != nil {
			return nil, err
		}
		m := map[string]string{}
		from := map[string]string{}
		for _, name := range append([]string{"i18n/" + l + ".json"}, files...) {
			b, err := fs.ReadFile(fsys, name)
			if err != nil {
				return nil, err
			}
			part := map[string]string{}
			if err := json.Unmarshal(b, &part); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			for k, v := range part {
				if prev, dup := from[k]; dup {
					return nil, fmt.Errorf("%s: key %q is also in %s", name, k, prev)
				}
				m[k], from[k] = v, name
			}
		}
		cat[l] = m
	}
	for _, l := range languages[1:] {
		if missing := missingKeys(cat[languages[0]], cat[l]); len(missing) > 0 {
			return nil, fmt.Errorf("i18n/%s lacks %s", l, strings.Join(missing, ", "))
		}
		if extra := missingKeys(cat[l], cat[languages[0]]); len(extra) > 0 {
			return nil, fmt.Errorf("i18n/%s lacks %s", languages[0], strings.Join(extra, ", "))
		}
	}
	return cat, nil
}

// missingKeys lists the keys of want that got lacks, sorted.
func missingKeys(want, got map[string]string) []string {
	var out []string
	for k := range want {
		if _, ok := got[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// chooseLanguage picks the language of a request: the vw_lang cookie if it names one of ours,
// else the first language of Accept-Language, by preference, that is Chinese (zh-CN) or English;
// else English.
func chooseLanguage(r *http.Request) string {
	if c, err := r.Cookie(LangCookie); err == nil && slices.Contains(languages, c.Value) {
		return c.Value
	}
	type pref struct {
		tag string
		q   float64
	}
	var prefs []pref
	for part := range strings.SplitSeq(r.Header.Get("Accept-Language"), ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if tag != "" && q > 0 {
			prefs = append(prefs, pref{strings.ToLower(tag), q})
		}
	}
	slices.SortStableFunc(prefs, func(a, b pref) int {
		switch {
		case a.q > b.q:
			return -1
		case a.q < b.q:
			return 1
		}
		return 0
	})
	for _, p := range prefs {
		switch {
		case p.tag == "zh" || strings.HasPrefix(p.tag, "zh-"):
			return "zh-CN"
		case p.tag == "en" || strings.HasPrefix(p.tag, "en-"):
			return "en"
		}
	}
	return languages[0]
}
