package console_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"votestream/schemas"
)

// The queue grouped by subdistrict: the war room presses g and sees one row per
// subdistrict with what is open there, opens one (Enter) to see its items alone, and goes
// back with Esc; a lead's grouped queue has their constituency's subdistricts only.
func TestBrowserQueueBySubdistrict(t *testing.T) {
	ctx := browser(t, 1366, 900)
	p := startPipeline(t)
	p.playNight()
	var text string
	err := chromedp.Do(ctx,
		chromedp.Navigate(p.console+"/#/"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		p.signIn("war-room-areas", schemas.RoleWarRoom, ""),
		chromedp.WaitVisible(chromedp.CSS(`#queue li[data-key="S01/constituency"]`)),
		chromedp.KeyEvent("g"),
		chromedp.WaitVisible(chromedp.CSS(`#areas li[data-area="C1/ลุมพินี"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#areas li[data-area="C2/บางรัก"]`)),
		into(chromedp.Evaluate[string](`document.querySelector('#areas').innerText`), &text),
	)
	if err != nil {
		t.Fatalf("war room's areas: %v", err)
	}
	if !strings.Contains(text, "ตำบล ลุมพินี") || !strings.Contains(text, "โต้แย้ง 1") {
		t.Fatalf("areas show %q; want ตำบล ลุมพินี with one disputed item", text)
	}
	shot(t, ctx, "console-areas.png")
	var first string
	err = chromedp.Do(ctx,
		into(chromedp.Evaluate[string](`queueState.areas[0].subdistrict`), &first),
		chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS("#area-head")),
		into(chromedp.Evaluate[string](`document.querySelector('#queue').innerText`), &text),
	)
	if err != nil {
		t.Fatalf("open an area: %v", err)
	}
	want, other := "S01", "S21"
	if first == "บางรัก" {
		want, other = other, want
	}
	if !strings.Contains(text, want) || strings.Contains(text, other) {
		t.Fatalf("area %s shows %q; want %s alone", first, text, want)
	}
	shot(t, ctx, "console-area-items.png")
	err = chromedp.Do(ctx,
		chromedp.KeyEvent("\x1b"),
		chromedp.WaitVisible(chromedp.CSS(`#areas li[data-area="C2/บางรัก"]`)),
		signOut(),
		p.signIn("lead-areas-C1", schemas.RoleDistrictLead, "C1"),
		chromedp.WaitVisible(chromedp.CSS(`#queue li[data-key="S01/constituency"]`)),
		chromedp.KeyEvent("g"),
		chromedp.WaitVisible(chromedp.CSS(`#areas li[data-area="C1/ลุมพินี"]`)),
		into(chromedp.Evaluate[string](`document.querySelector('#areas').innerText`), &text),
	)
	if err != nil {
		t.Fatalf("lead's areas: %v", err)
	}
	if strings.Contains(text, "บางรัก") {
		t.Fatalf("C1 lead's areas show C2's subdistrict: %q", text)
	}
}
