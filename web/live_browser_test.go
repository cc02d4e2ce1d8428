package web_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vitalwatch/vitalwatch/internal/testsrv"
)

// Full page loads in one tab keep working: a page that goes into the back/forward cache closes
// its live feed, so the earlier loads' connections do not use up the few a browser allows to one
// host, and the page's feed opens again when it comes back.
func TestManyFullPageLoadsInOneTab(t *testing.T) {
	f := startFixture(t)
	ctx := f.browser(testsrv.BrowserOptions{})
	f.signIn(ctx, doctorA)
	for i := range 10 {
		path := "/app/inbox"
		ready := chromedp.WaitVisible(chromedp.CSS(".inbox [role=tabpanel][aria-busy=false]"))
		if i%2 == 1 {
			path = fmt.Sprintf("/app/alerts/%d", f.alerts["glucose"])
			ready = chromedp.WaitVisible(chromedp.CSS(".row-actions"))
		}
		f.do(ctx, fmt.Sprintf("load %d of %s", i+1, path), 15*time.Second, chromedp.Navigate(f.base+path), ready)
		f.waitJS(ctx, "the live feed open after load "+fmt.Sprint(i+1),
			`!!document.querySelector('.feed.feed-open')`, 5*time.Second)
	}
	// Back to the previous page, as from the cache: its feed opens again.
	eval[bool](t, ctx, `history.back(), true`)
	f.waitReload(ctx, "the inbox again, its feed open, after going back",
		`document.querySelector('.inbox [role=tabpanel][aria-busy=false]') && document.querySelector('.feed.feed-open')`)
}
