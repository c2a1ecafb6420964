package console

import (
	"strconv"
	"strings"

	"github.com/keyward/keyward"
)

// outcomeInfo names an outcome for people, and the CSS class of its colour.
type outcomeInfo struct {
	Code, Label, Class string
	Refused            bool
	// Short heads the numbers table's column (the full label is its
	// abbreviation's title), so nine outcomes fit beside the day.
	Short string
}

// outcomes are keyward.UsageOutcomes in words, in the same (stacking) order.
var outcomes = []outcomeInfo{
	{keyward.CodeValid, "Valid", "o-valid", false, "Valid"},
	{keyward.CodeInsufficientPermissions, "Insufficient permissions", "o-perms", true, "Perms"},
	{keyward.CodeRateLimited, "Rate limited", "o-rate", true, "Limited"},
	{keyward.CodeUsageExceeded, "Credits spent", "o-credits", true, "Credits"},
	{keyward.CodeIPNotAllowed, "Address not allowed", "o-ip", true, "Address"},
	{keyward.CodeDisabled, "Disabled", "o-disabled", true, "Disabled"},
	{keyward.CodeExpired, "Expired", "o-expired", true, "Expired"},
	{keyward.CodeInvalidSignature, "Invalid signature", "o-sig", true, "Signature"},
	{keyward.CodeNotFound, "Unknown key asked about", "o-notfound", true, "Unknown"},
}

// usageChart is a key's verifications per day stacked by outcome, drawn as
// SVG bars, with a legend and a table of the same numbers.
type usageChart struct {
	Days            []usageDay
	Legend          []legendItem
	Requests        int64 // requests the key authenticated (the counts of before outcomes)
	Total, Max      int64 // verifications: all, and the busiest day's
	Width, Base     int
	Summary         string
	OutcomesColumns []outcomeInfo
}

type usageDay struct {
	X, W       int
	Day, Label string
	Total      int64
	Counts     []int64 // per outcome, in outcomes order
	Segs       []usageSeg
	Tick       bool // label this bar on the axis
}

type usageSeg struct {
	Y, H         int
	Class, Title string
}

type legendItem struct {
	outcomeInfo
	Count int64
}

func newUsageChart(u *keyward.KeyUsage) usageChart {
	const barW, gap, height = 26, 8, 120
	ch := usageChart{Requests: u.Total, Width: len(u.Days) * (barW + gap), Base: height, OutcomesColumns: outcomes}
	for _, d := range u.Days {
		var t int64
		for _, o := range outcomes {
			t += d.Outcomes[o.Code]
		}
		ch.Max = max(ch.Max, t)
		ch.Total += t
	}
	for _, o := range outcomes {
		ch.Legend = append(ch.Legend, legendItem{o, u.Outcomes[o.Code]})
	}
	for i, d := range u.Days {
		day := usageDay{X: i*(barW+gap) + gap/2, W: barW, Day: d.Start.Format("2006-01-02"), Label: d.Start.Format("Jan 2"),
			Tick: (len(u.Days)-1-i)%2 == 0}
		y := height
		for _, o := range outcomes {
			n := d.Outcomes[o.Code]
			day.Counts = append(day.Counts, n)
			day.Total += n
			if n == 0 || ch.Max == 0 {
				continue
			}
			h := int(n * (height - 10) / ch.Max)
			if h < 2 {
				h = 2
			}
			y -= h
			day.Segs = append(day.Segs, usageSeg{Y: y, H: h, Class: o.Class,
				Title: day.Day + ": " + strconv.FormatInt(n, 10) + " " + strings.ToLower(o.Label)})
		}
		ch.Days = append(ch.Days, day)
	}
	ch.Summary = outcomeSummary(ch.Total, u.Outcomes, len(u.Days))
	return ch
}

// outcomeSummary says in one sentence what a period's outcomes were.
func outcomeSummary(total int64, counts map[string]int64, days int) string {
	if total == 0 {
		return "No verifications in the last " + strconv.Itoa(days) + " days"
	}
	var parts []string
	for _, o := range outcomes {
		if n := counts[o.Code]; n > 0 {
			parts = append(parts, strconv.FormatInt(n, 10)+" "+strings.ToLower(o.Label))
		}
	}
	return plural(int(total), "verification") + " in the last " + strconv.Itoa(days) + " days: " + strings.Join(parts, ", ")
}

// sparkline is a row's verifications per day as tiny bars: valid and
// refused stacked.
type sparkline struct {
	Bars  []sparkBar
	Width int
	Label string
}

type sparkBar struct {
	X, YValid, HValid, YRefused, HRefused int
	Empty                                 bool // no verifications that day: a baseline dot
}

const sparkH = 20

func newSparkline(u *keyward.KeyUsage) *sparkline {
	if u == nil {
		return nil
	}
	const barW, gap = 4, 1
	sp := &sparkline{Width: len(u.Days) * (barW + gap)}
	var maxDay, valid, refused int64
	type vr struct{ v, r int64 }
	per := make([]vr, len(u.Days))
	for i, d := range u.Days {
		for _, o := range outcomes {
			if o.Refused {
				per[i].r += d.Outcomes[o.Code]
			} else {
				per[i].v += d.Outcomes[o.Code]
			}
		}
		valid += per[i].v
		refused += per[i].r
		maxDay = max(maxDay, per[i].v+per[i].r)
	}
	for i, c := range per {
		b := sparkBar{X: i * (barW + gap)}
		if maxDay > 0 {
			hv := int(c.v * (sparkH - 2) / maxDay)
			hr := int(c.r * (sparkH - 2) / maxDay)
			if c.v > 0 && hv < 1 {
				hv = 1
			}
			if c.r > 0 && hr < 1 {
				hr = 1
			}
			b.HValid, b.YValid = hv, sparkH-hv
			b.HRefused, b.YRefused = hr, sparkH-hv-hr
		}
		b.Empty = b.HValid == 0 && b.HRefused == 0
		sp.Bars = append(sp.Bars, b)
	}
	days := strconv.Itoa(len(u.Days))
	if valid+refused == 0 {
		sp.Label = "No verifications in the last " + days + " days"
	} else {
		sp.Label = "Last " + days + " days: " + plural(int(valid+refused), "verification") + ", " +
			strconv.FormatInt(valid, 10) + " valid, " + strconv.FormatInt(refused, 10) + " refused"
	}
	return sp
}
