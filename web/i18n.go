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

// loadCatalogues reads i18n/<lang>.json for every language and checks that they have the same
// keys, so that no language shows a key where another shows words.
func loadCatalogues(fsys fs.FS) (catalogues, error) {
	cat := catalogues{}
	for _, l := range languages {
		b, err := fs.ReadFile(fsys, "i18n/"+l+".json")
		if err != nil {
			return nil, err
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("i18n/%s.json: %w", l, err)
		}
		cat[l] = m
	}
	for _, l := range languages[1:] {
		if missing := missingKeys(cat[languages[0]], cat[l]); len(missing) > 0 {
			return nil, fmt.Errorf("i18n/%s.json lacks %s", l, strings.Join(missing, ", "))
		}
		if extra := missingKeys(cat[l], cat[languages[0]]); len(extra) > 0 {
			return nil, fmt.Errorf("i18n/%s.json lacks %s", languages[0], strings.Join(extra, ", "))
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
