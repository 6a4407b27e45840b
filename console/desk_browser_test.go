package console_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"votestream/schemas"
)

// The desk in a browser: races ranked, a decision refused without a reason, then approved
// by keyboard, and the call reaches the newsroom feed.
func TestBrowserDeskApprovesCall(t *testing.T) {
	ctx := browser(t, 1440, 1000)
	p := startPipeline(t)
	p.publishEstimate(deskEstimate("e1", 0))
	desk := p.desk()
	deskTok := p.enrol("desk-browser", schemas.RoleDesk, "")
	waitFor(t, "the desk reads e1", func() bool { d := p.deskView(desk); return d.Ready && d.EstimateID == "e1" })
	var text, sel string
	err := chromedp.Do(ctx,
		chromedp.Navigate(p.console+"/desk.html"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), deskTok),
		chromedp.SendKeys(chromedp.CSS("#code"), p.code("desk-browser")),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#race-C1")),
		into(chromedp.Evaluate[string](`document.querySelector('#races').innerText`), &text),
	)
	if err != nil {
		t.Fatalf("desk: %v", err)
	}
	if !strings.Contains(text, "พร้อมประกาศ") || !strings.Contains(text, "สมชาย ใจดี") || strings.Index(text, "C1") > strings.Index(text, "C2") && strings.Contains(text, "C2") {
		t.Fatalf("ready races: %q", text)
	}
	shot(t, ctx, "desk.png")

	// j moves from the national picture to the first ready race; a without a reason is
	// refused in the page, nothing is sent.
	err = chromedp.Do(ctx,
		chromedp.KeyEvent("j"),
		into(chromedp.Evaluate[string](`sel`), &sel),
		chromedp.KeyEvent("a"),
		chromedp.WaitVisible(chromedp.CSS("#deskmsg")),
		into(chromedp.Text(chromedp.CSS("#deskmsg")), &text),
	)
	if err != nil || sel != "C1" || !strings.Contains(text, "เหตุผล") {
		t.Fatalf("keyboard: selected %q, message %q (%v)", sel, text, err)
	}
	if c := p.feedConstituency("C1"); c.Call != nil {
		t.Fatalf("a call without a reason reached the feed: %+v", c.Call)
	}
	err = chromedp.Do(ctx,
		chromedp.KeyEvent("\x1b"), // out of the reason box, which the refusal focused
		chromedp.SetValue(chromedp.CSS("#reason"), "ผลที่ยืนยันแล้วเกินบัตรที่เหลือทั้งหมด"),
		chromedp.KeyEvent("a"),
		chromedp.WaitVisible(chromedp.CSS("#deskmsg.notice")),
		chromedp.WaitVisible(chromedp.CSS("#calllog .act-approve")),
	)
	if err != nil {
		t.Fatalf("approve by keyboard: %v", err)
	}
	waitFor(t, "the approved call in the newsroom feed", func() bool {
		c := p.feedConstituency("C1")
		return c.Call != nil && c.Call.State == schemas.CallCalled && c.Call.By == "desk-browser"
	})
	var top bool // the sticky header belongs at the top of the full-page shot
	if err := chromedp.Do(ctx, into(chromedp.Evaluate[bool](`window.scrollTo(0, 0), window.scrollY === 0`), &top)); err != nil || !top {
		t.Fatalf("scroll to top: %v", err)
	}
	shot(t, ctx, "desk-approved.png")
}
