package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/store"
)

// TestMain removes the binaries that the process tests build.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, built := range []func() (string, error){binary, vitalsim} {
		if bin, err := built(); err == nil {
			os.RemoveAll(filepath.Dir(bin))
		}
	}
	os.Exit(code)
}

// seedDevices registers active home devices at one site in the store of dataDir and returns
// each one's MQTT secret.
func seedDevices(tb testing.TB, dataDir string, ids ...string) map[string]string {
	tb.Helper()
	ctx := audit.WithActor(context.Background(), "test")
	st, err := store.Open(ctx, filepath.Join(dataDir, dbFile))
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	if _, err := st.GetSite(ctx, "test-site"); err != nil {
		if err := st.CreateSite(ctx, devices.Site{ID: "test-site", Name: "Test centre", TimeZone: "Asia/Shanghai"}); err != nil {
			tb.Fatal(err)
		}
	}
	secrets := map[string]string{}
	var devs []devices.Device
	for _, id := range ids {
		secret := devices.NewSecret()
		devs = append(devs, devices.Device{ID: id, Kind: devices.Oximeter, SiteID: "test-site", Mode: devices.Home,
			Status: devices.Active, SecretHash: devices.HashSecret(secret)})
		secrets[id] = secret
	}
	if err := st.CreateDevices(ctx, devs); err != nil {
		tb.Fatal(err)
	}
	return secrets
}
