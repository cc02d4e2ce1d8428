package testsrv

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// Chromium is a headless Chromium that tests drive with chromedp: Debian's /usr/bin/chromium,
// started once per StartChromium with its own profile in a temporary directory, no network of
// its own (no updates, sync or background requests) and no sandbox (tests run as root). Each
// Browser opened on it is a separate browser context, with its own cookies and storage, as two
// people at two machines would be.
type Chromium struct {
	Path    string
	browser context.Context // the first tab's: new browser contexts open from it
}

// chromiumFlags are the flags every test browser runs with.
func chromiumFlags(path, profile string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
	}
}

// StartChromium starts a headless Chromium for the test and stops it when the test ends. Without
// /usr/bin/chromium the test fails with the command that installs it (under -short it skips).
func StartChromium(tb testing.TB) *Chromium {
	tb.Helper()
	skipShort(tb, "chromium")
	path, ok := findExecutable("chromium", "/usr/bin/chromium")
	if !ok {
		tb.Fatalf("testsrv: chromium not found; install it with: apt-get install chromium (or make test-deps)")
	}
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), chromiumFlags(path, tb.TempDir())...)
	// Start the browser now, so that a browser that cannot start fails here, once.
	probe, stop := chromedp.NewContext(alloc)
	if err := chromedp.Do(probe); err != nil {
		stop()
		cancel()
		tb.Fatalf("testsrv: start %s: %v", path, err)
	}
	tb.Cleanup(func() {
		stop()
		cancel()
	})
	return &Chromium{Path: path, browser: probe}
}

// BrowserOptions set up a Browser.
type BrowserOptions struct {
	// Language, if set, is the browser's language: its Accept-Language and navigator.language.
	Language string
	// Width and Height, if set, are the viewport's size in CSS pixels (a phone: 360 x 740).
	Width, Height int64
}

// Browser opens a new browser context (own cookies, own storage) with one tab, closed at the
// end of the test. Run its actions with chromedp.Do(ctx, ...) and chromedp.Run.
func (c *Chromium) Browser(tb testing.TB, opts BrowserOptions) context.Context {
	tb.Helper()
	ctx, cancel := chromedp.NewContext(c.browser, chromedp.WithNewBrowserContext())
	tb.Cleanup(cancel)
	w, h := opts.Width, opts.Height
	if w == 0 {
		w, h = 1280, 900
	}
	err := chromedp.Do(ctx, chromedp.EmulateViewport(w, h))
	if err == nil && opts.Language != "" {
		_, err = chromedp.Call(ctx, emulation.SetUserAgentOverride,
			emulation.SetUserAgentOverrideParams{UserAgent: chromiumUserAgent, AcceptLanguage: opts.Language})
		if err == nil {
			_, err = chromedp.Call(ctx, emulation.SetLocaleOverride,
				emulation.SetLocaleOverrideParams{Locale: strings.ReplaceAll(opts.Language, "-", "_")})
		}
	}
	if err != nil {
		tb.Fatalf("testsrv: open a browser: %v", err)
	}
	return ctx
}

// chromiumUserAgent is the user agent set with a language (the override needs one).
const chromiumUserAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome Safari/537.36"

// WithTimeout is ctx with a deadline for a step of a test, so that a page that never shows
// what the test waits for fails the test instead of hanging it.
func WithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}
