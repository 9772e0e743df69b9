package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/api"
)

var sinkClient = &http.Client{Timeout: 60 * time.Second}

func getJSON(ctx context.Context, u string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := sinkClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// sandboxReceipts lists the messages the Twilio sandbox accepted (refused requests are not receipts)
// and counts its answers by HTTP status.
func sandboxReceipts(ctx context.Context, base string) ([]Receipt, map[int]int, error) {
	var out []Receipt
	answers := map[int]int{}
	for page := 0; page < 100000; page++ {
		var body struct {
			Messages []struct {
				Sid        string    `json:"sid"`
				To         string    `json:"to"`
				Status     string    `json:"status"`
				HTTPStatus int       `json:"http_status"`
				ReceivedAt time.Time `json:"received_at"`
			} `json:"messages"`
			NextPageURI *string `json:"next_page_uri"`
		}
		if err := getJSON(ctx, fmt.Sprintf("%s/sandbox/messages?page=%d&page_size=1000", base, page), &body); err != nil {
			return nil, nil, fmt.Errorf("twilio sandbox: %w", err)
		}
		for _, m := range body.Messages {
			answers[m.HTTPStatus]++
			if m.Sid == "" {
				continue
			}
			out = append(out, Receipt{To: m.To, At: m.ReceivedAt, ID: m.Sid, Status: m.Status})
		}
		if body.NextPageURI == nil {
			break
		}
	}
	return out, answers, nil
}

// mailpitReceipts lists every message mailpit holds, one receipt per recipient.
func mailpitReceipts(ctx context.Context, base string) ([]Receipt, error) {
	var out []Receipt
	const limit = 1000
	for start := 0; start < 10_000_000; start += limit {
		var body struct {
			Total    int `json:"total"`
			Messages []struct {
				MessageID string `json:"MessageID"`
				To        []struct {
					Address string `json:"Address"`
				} `json:"To"`
				Created time.Time `json:"Created"`
			} `json:"messages"`
		}
		if err := getJSON(ctx, fmt.Sprintf("%s/api/v1/messages?start=%d&limit=%d", base, start, limit), &body); err != nil {
			return nil, fmt.Errorf("mailpit: %w", err)
		}
		for _, m := range body.Messages {
			for _, to := range m.To {
				out = append(out, Receipt{To: strings.ToLower(to.Address), At: m.Created, ID: m.MessageID})
			}
		}
		if len(body.Messages) < limit || start+limit >= body.Total {
			break
		}
	}
	return out, nil
}

// households maps every household id to its phone and email.
func (r *run) households(ctx context.Context) (map[int64][2]string, error) {
	out := map[int64][2]string{}
	after := int64(0)
	for range 100000 {
		var page struct {
			Items     []api.Household `json:"items"`
			NextAfter int64           `json:"next_after"`
		}
		q := url.Values{"limit": {strconv.Itoa(relais.MaxPageLimit)}, "after": {strconv.FormatInt(after, 10)}}
		if err := r.c.Do(ctx, http.MethodGet, "/api/v1/households?"+q.Encode(), nil, "", http.StatusOK, &page); err != nil {
			return nil, fmt.Errorf("list households: %w", err)
		}
		for _, h := range page.Items {
			out[h.ID] = [2]string{h.Phone, strings.ToLower(h.Email)}
		}
		if page.NextAfter == 0 {
			break
		}
		after = page.NextAfter
	}
	return out, nil
}

// deliveries lists every delivery of a lesson on ch.
func (r *run) deliveries(ctx context.Context, lessonID int64, ch relais.ChannelName) ([]api.Delivery, error) {
	var out []api.Delivery
	after := int64(0)
	for range 100000 {
		var page struct {
			Items     []api.Delivery `json:"items"`
			NextAfter int64          `json:"next_after"`
		}
		q := url.Values{"lesson_id": {strconv.FormatInt(lessonID, 10)}, "channel": {string(ch)},
			"limit": {strconv.Itoa(relais.MaxPageLimit)}, "after": {strconv.FormatInt(after, 10)}}
		if err := r.c.Do(ctx, http.MethodGet, "/api/v1/deliveries?"+q.Encode(), nil, "", http.StatusOK, &page); err != nil {
			return nil, fmt.Errorf("list %s deliveries: %w", ch, err)
		}
		out = append(out, page.Items...)
		if page.NextAfter == 0 {
			break
		}
		after = page.NextAfter
	}
	return out, nil
}
