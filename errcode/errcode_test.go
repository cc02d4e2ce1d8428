package errcode

import (
	"errors"
	"fmt"
	"testing"
)

func TestOf(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"plain error", errors.New("disk full"), ""},
		{"coded", Errorf(NotFound, "device %s not found", "gm-1"), NotFound},
		{"wrapped", fmt.Errorf("load: %w", Errorf(Conflict, "site s1 already exists")), Conflict},
	} {
		if got := Of(tt.err); got != tt.want {
			t.Errorf("%s: Of(%v) = %q; want %q", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestErrorf(t *testing.T) {
	err := Errorf(Invalid, "birth_year %d is not a year", 1800)
	if got, want := err.Error(), "invalid: birth_year 1800 is not a year"; got != want {
		t.Errorf("Errorf(...).Error() = %q; want %q", got, want)
	}
}

func TestRoot(t *testing.T) {
	disk := errors.New("disk full")
	for _, tt := range []struct {
		name string
		err  error
		want error
	}{
		{"nil", nil, nil},
		{"plain", disk, disk},
		{"wrapped twice", fmt.Errorf("get patient P-1: %w", fmt.Errorf("query: %w", disk)), disk},
	} {
		if got := Root(tt.err); got != tt.want {
			t.Errorf("%s: Root(%v) = %v; want %v", tt.name, tt.err, got, tt.want)
		}
	}
}
