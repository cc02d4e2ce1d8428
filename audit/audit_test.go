package audit

import (
	"context"
	"testing"
)

func TestActor(t *testing.T) {
	for _, tt := range []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"none", context.Background(), ""},
		{"named", WithActor(context.Background(), "admin"), "admin"},
		{"spaces trimmed", WithActor(context.Background(), "  token:ci \n"), "token:ci"},
		{"only spaces", WithActor(context.Background(), "   "), ""},
	} {
		if got := Actor(tt.ctx); got != tt.want {
			t.Errorf("%s: Actor() = %q; want %q", tt.name, got, tt.want)
		}
	}
}
