package config

import (
	"fmt"
	"io"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// exampleHeader opens vitalwatch.example.yaml.
const exampleHeader = `# VitalWatch configuration. Every key can also be set by an environment variable named
# VITALWATCH_ plus the key in capitals with dots as underscores: influx.url is VITALWATCH_INFLUX_URL.
# Values shown are the defaults. Start with: vitalwatch serve --config vitalwatch.example.yaml
# This file is written by: vitalwatch config --example > vitalwatch.example.yaml

`

// WriteExample writes vitalwatch.example.yaml: every key with its default and what it means.
func WriteExample(w io.Writer) error {
	_, err := io.WriteString(w, exampleHeader+render(func(k Key) any { return k.Default }, true))
	return err
}

// Print writes the effective configuration as YAML, in the keys and the layout of
// vitalwatch.example.yaml, with durations as written there (15m, 50ms) and secrets hidden:
// broker.password and influx.token as (set), a password in store.dsn as xxxxx.
func Print(w io.Writer, cfg *Config) error {
	_, err := io.WriteString(w, render(func(k Key) any {
		v := field(cfg, k.Name).Interface()
		if hide, ok := secrets[k.Name]; ok {
			return hide(v.(string))
		}
		return v
	}, false))
	return err
}

// secrets are the keys Print hides, and how.
var secrets = map[string]func(string) string{
	"broker.password": hideSet,
	"influx.token":    hideSet,
	"store.dsn":       redactDSN,
}

// hideSet says whether a secret is set, not what it is.
func hideSet(s string) string {
	if s == "" {
		return ""
	}
	return "(set)"
}

// redactDSN hides the password of a postgres:// URL (as xxxxx) or of a key=value DSN.
func redactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		return u.Redacted()
	}
	return dsnPassword.ReplaceAllString(dsn, "${1}xxxxx")
}

// dsnPassword is the password of a key=value DSN, quoted or not.
var dsnPassword = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// docColumn is where a key's one-line doc starts.
const docColumn = 33

// render writes every key as YAML in the order of keys, each section opened once, with the
// value value gives; with docs, each key's and section's doc as a comment.
func render(value func(Key) any, docs bool) string {
	var b strings.Builder
	var open []string // the sections of the previous key
	for i, k := range keys {
		path := strings.Split(k.Name, ".")
		secs, leaf := path[:len(path)-1], path[len(path)-1]
		same := 0
		for same < len(open) && same < len(secs) && open[same] == secs[same] {
			same++
		}
		if i > 0 && same == 0 {
			b.WriteString("\n") // a blank line between top-level groups
		}
		for d := same; d < len(secs); d++ {
			indent := strings.Repeat("  ", d)
			if docs {
				comment(&b, indent, sections[strings.Join(secs[:d+1], ".")])
			}
			fmt.Fprintf(&b, "%s%s:\n", indent, secs[d])
		}
		open = secs
		indent := strings.Repeat("  ", len(secs))
		line := indent + leaf + ": " + scalar(value(k))
		if docs && strings.Contains(k.Doc, "\n") {
			comment(&b, indent, k.Doc)
		} else if docs && k.Doc != "" {
			line += strings.Repeat(" ", max(docColumn-len(line), 2)) + "# " + k.Doc
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// comment writes doc, if any, as comment lines at indent.
func comment(b *strings.Builder, indent, doc string) {
	if doc == "" {
		return
	}
	for line := range strings.SplitSeq(doc, "\n") {
		b.WriteString(indent + "# " + line + "\n")
	}
}

// scalar writes v as a YAML scalar that Load reads back as v.
func scalar(v any) string {
	switch v := v.(type) {
	case time.Duration:
		return formatDuration(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case string:
		out, err := yaml.Marshal(v)
		if err != nil {
			return strconv.Quote(v)
		}
		return strings.TrimSuffix(string(out), "\n")
	default:
		return fmt.Sprint(v)
	}
}

// formatDuration writes d as it is usually written: 15m and 192h rather than 15m0s and
// 192h0m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// field returns the field of cfg that key names, following the mapstructure tags.
func field(cfg *Config, key string) reflect.Value {
	v := reflect.ValueOf(cfg).Elem()
	for part := range strings.SplitSeq(key, ".") {
		v = fieldByTag(v, part)
	}
	return v
}

// fieldByTag returns the field of struct v tagged name, or the zero Value.
func fieldByTag(v reflect.Value, name string) reflect.Value {
	if v.Kind() != reflect.Struct {
		return reflect.Value{}
	}
	for i := range v.NumField() {
		if v.Type().Field(i).Tag.Get("mapstructure") == name {
			return v.Field(i)
		}
	}
	return reflect.Value{}
}
