package ui

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/relais-edu/relais/api"
	"github.com/relais-edu/relais/channels"
)

// TestSendersPage: the admin sees each sender and each country's summed rate, in the session's language.
func TestSendersPage(t *testing.T) {
	pool := channels.Pool{
		{Name: "fr-1", Country: "FR", Kind: "short_code", Address: "38101", Account: "AC1", Rate: 20},
		{Name: "fr-2", Country: "FR", Kind: "alphanumeric", Address: "Ecole", Account: "AC2", Rate: 10},
		{Name: "Relais", Country: "*", Kind: "long_code", Address: "+33757000000", Account: "AC1", Rate: 1},
	}
	f := newFixtureWith(t, func(c *api.Config) { c.Plan.SMSPool, c.Plan.SMSLoadBound = pool, 1.5 }, nil)
	admin := f.browser("a")
	status, page := admin.get("/ui/admin/senders")
	if status != http.StatusOK {
		t.Fatalf("senders page: %d %.300s", status, page)
	}
	cells := func(id string) []string {
		table := regexp.MustCompile(`(?s)<table id="` + id + `">.*?</table>`).FindString(page)
		var out []string
		for _, row := range regexp.MustCompile(`(?s)<tr data-[a-z]+="[^"]*">(.*?)</tr>`).FindAllStringSubmatch(table, -1) {
			out = append(out, strings.ReplaceAll(regexp.MustCompile(`<td>([^<]*)</td>`).ReplaceAllString(strings.TrimSpace(row[1]), "$1|"), "\n", ""))
		}
		return out
	}
	if diff := cmp.Diff([]string{"FR|2|30|", "Other countries|1|1|"}, cells("sms-countries")); diff != "" {
		t.Errorf("countries (-want +got):\n%s", diff)
	}
	want := []string{"fr-1|FR|Short code|38101|20|AC1|", "fr-2|FR|Alphanumeric ID|Ecole|10|AC2|", "Relais|Other countries|Long code|&#43;33757000000|1|AC1|"}
	if diff := cmp.Diff(want, cells("sms-senders")); diff != "" {
		t.Errorf("senders (-want +got):\n%s", diff)
	}
	if !strings.Contains(page, `<p id="senders-bound">The senders share each fan-out page of 1,000 households so that they finish together: a family that has no sender yet goes to its next choice when its first already has its share of the page (families that have a sender keep it). Most a sender takes of a page, as a multiple of its share (RELAIS_SMS_LOAD_BOUND): 1.5</p>`) {
		t.Errorf("page lacks the load bound: %s", regexp.MustCompile(`(?s)<p id="senders-bound">.*?</p>`).FindString(page))
	}
	// Without SMS configured, the page says so.
	_, page = newFixture(t, nil).browser("a").get("/ui/admin/senders")
	if !strings.Contains(page, `id="senders-none"`) {
		t.Errorf("no pool: page lacks the notice: %.500s", page)
	}
}
