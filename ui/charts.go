package ui

// The dashboards' charts: a chart per channel of the deliveries sent, delivered, failed and opted out
// over time, drawn here as inline SVG, with its numbers in a table for screen readers and keyboards.

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
)

// timelineView is the charts of a dashboard.
type timelineView struct {
	Period      string // what is charted, in words
	Legend      []lineStyle
	Charts      []chartView
	Definitions []definition
}

// definition says what a line counts.
type definition struct{ Term, Text string }

// lineStyle is how one series is drawn: colour and dashes tell the lines apart, the legend and the
// data table name them.
type lineStyle struct {
	Key, Label, Color, Dash string
	statuses                []string // the timeline series it adds up
}

// chartSeries are the lines of every chart, in the order of the legend and the table's columns.
var chartSeries = []lineStyle{
	{Key: "sent", Color: "#0b5cad", statuses: []string{string(relais.DeliverySent)}},
	{Key: "delivered", Color: "#1a7f37", Dash: "", statuses: []string{string(relais.DeliveryDelivered)}},
	{Key: "failed", Color: "#b42318", Dash: "7 4", statuses: []string{string(relais.DeliveryFailed), string(relais.DeliveryUndelivered)}},
	{Key: "opted_out", Color: "#6e4a9e", Dash: "2 3", statuses: []string{relais.OptedOut}},
}

// chartView is one channel's chart: a line per series over the buckets, axes, and the same numbers
// as a table.
type chartView struct {
	ID, Title, Desc string
	Channel         relais.ChannelName
	ChannelName     string
	Buckets         int
	Lines           []lineView
	XTicks, YTicks  []tick
	Rows            []dataRow
}

type lineView struct {
	lineStyle
	Points string // the polyline's "x,y x,y ..."
	Dots   []dot  // a marker per bucket with its number, when the buckets are few enough to point at
	Total  int64
}

type dot struct{ X, Y, Title string }

type tick struct{ X, Y, Label string }

type dataRow struct {
	ISO, Label string
	Counts     []int64
}

// The chart's frame, in SVG user units (the template draws the same numbers).
const (
	chartLeft, chartRight, chartTop, chartBottom = 48.0, 628.0, 12.0, 204.0
	maxDots                                      = 120
)

// timeline reads the counts of f and draws a chart per channel that has any.
func (h *Handler) timeline(ctx context.Context, c *reqCtx, f relais.TimelineFilter, lessonID int64) (*timelineView, error) {
	f.LessonID = lessonID
	counts, err := h.store.DeliveryTimeline(ctx, f)
	if err != nil {
		return nil, err
	}
	tl := relais.NewTimeline(f, counts)
	loc := h.loc()
	bucketText := c.t("db_bucket_" + relais.BucketName(f.Bucket))
	tv := &timelineView{Period: fmt.Sprintf(c.t("db_period_text"), h.stamp(f.From), h.stamp(f.To), bucketText, loc.String())}
	for _, s := range chartSeries {
		s.Label = c.t("db_line_" + s.Key)
		tv.Legend = append(tv.Legend, s)
		tv.Definitions = append(tv.Definitions, definition{Term: s.Label, Text: c.t("db_def_" + s.Key)})
	}
	tv.Definitions = append(tv.Definitions, definition{Term: c.t("db_time"), Text: c.t("db_def_time")})

	var channels []relais.ChannelName
	byKey := map[relais.ChannelName]map[string][]int64{}
	for _, s := range tl.Series {
		if byKey[s.Channel] == nil {
			byKey[s.Channel] = map[string][]int64{}
			channels = append(channels, s.Channel)
		}
		byKey[s.Channel][s.Status] = s.Counts
	}
	n := len(tl.Buckets)
	sameDay := f.From.In(loc).Format(time.DateOnly) == f.To.Add(-time.Nanosecond).In(loc).Format(time.DateOnly)
	for _, ch := range channels {
		cv := chartView{ID: "chart-" + string(ch), Channel: ch, ChannelName: channelName(c, ch), Buckets: n}
		var top int64
		for _, s := range tv.Legend {
			lv := lineView{lineStyle: s}
			counts := make([]int64, n)
			for _, st := range s.statuses {
				for i, x := range byKey[ch][st] {
					counts[i] += x
				}
			}
			for _, x := range counts {
				lv.Total += x
				top = max(top, x)
			}
			cv.Lines = append(cv.Lines, lv)
			if len(cv.Rows) == 0 {
				cv.Rows = make([]dataRow, n)
				for i, t := range tl.Buckets {
					cv.Rows[i] = dataRow{ISO: t.Format(time.RFC3339), Label: h.stamp(t)}
				}
			}
			for i, x := range counts {
				cv.Rows[i].Counts = append(cv.Rows[i].Counts, x)
			}
		}
		step, yMax := yScale(top)
		x := func(i int) float64 { return chartLeft + (float64(i)+0.5)*(chartRight-chartLeft)/float64(n) }
		y := func(k int64) float64 { return chartBottom - float64(k)*(chartBottom-chartTop)/float64(yMax) }
		for k := int64(0); k <= yMax; k += step {
			cv.YTicks = append(cv.YTicks, tick{Y: coord(y(k)), Label: strconv.FormatInt(k, 10)})
		}
		every := (n + 5) / 6
		for i, t := range tl.Buckets {
			if i%every == 0 {
				cv.XTicks = append(cv.XTicks, tick{X: coord(x(i)), Label: axisLabel(t.In(loc), f.Bucket, sameDay)})
			}
		}
		for li := range cv.Lines {
			lv := &cv.Lines[li]
			pts := make([]string, n)
			for i, row := range cv.Rows {
				k := row.Counts[li]
				pts[i] = coord(x(i)) + "," + coord(y(k))
				if n <= maxDots {
					lv.Dots = append(lv.Dots, dot{X: coord(x(i)), Y: coord(y(k)), Title: fmt.Sprintf("%s · %s: %d", row.Label, lv.Label, k)})
				}
			}
			lv.Points = strings.Join(pts, " ")
		}
		cv.Title = fmt.Sprintf(c.t("db_chart_title"), cv.ChannelName, bucketText)
		cv.Desc = fmt.Sprintf(c.t("db_chart_desc"), h.stamp(f.From), h.stamp(f.To), loc.String(),
			cv.Lines[0].Total, cv.Lines[1].Total, cv.Lines[2].Total, cv.Lines[3].Total)
		if i, k := busiest(cv.Rows, 0); k > 0 {
			cv.Desc += " " + fmt.Sprintf(c.t("db_chart_peak"), k, cv.Rows[i].Label)
		}
		tv.Charts = append(tv.Charts, cv)
	}
	return tv, nil
}

// busiest returns the row with the highest count in column col.
func busiest(rows []dataRow, col int) (int, int64) {
	best, top := 0, int64(0)
	for i, r := range rows {
		if r.Counts[col] > top {
			best, top = i, r.Counts[col]
		}
	}
	return best, top
}

// yScale picks a round tick step (1, 2 or 5 times a power of ten) giving at most five steps up to top,
// and the axis's top.
func yScale(top int64) (step, yMax int64) {
	if top <= 0 {
		return 1, 1
	}
	raw := float64(top) / 4
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if step = int64(math.Max(1, m*pow)); float64(step) >= raw {
			break
		}
	}
	return step, (top + step - 1) / step * step
}

func coord(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

// stamp writes a time for people, in the UI's time zone.
func (h *Handler) stamp(t time.Time) string { return t.In(h.loc()).Format("2006-01-02 15:04") }

// axisLabel is a short label under the chart: the time of day when the period is one day, the date
// for day buckets, both otherwise.
func axisLabel(t time.Time, bucket time.Duration, sameDay bool) string {
	switch {
	case bucket >= 24*time.Hour:
		return t.Format("2006-01-02")
	case sameDay:
		return t.Format("15:04")
	}
	return t.Format("01-02 15:04")
}
