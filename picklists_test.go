package relais

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPickLists(t *testing.T) {
	open := PickLists{}
	set := PickLists{Subjects: []string{"maths", "physics"}, Regions: []string{"Almaty", "Aktobe"}}
	for _, tc := range []struct {
		name string
		err  error
		code string
		msg  string
	}{
		{"no list: any subject", open.CheckSubject("astrology"), "", ""},
		{"no list: any region", open.CheckRegion("Atlantis"), "", ""},
		{"listed subject", set.CheckSubject("physics"), "", ""},
		{"any subject where allowed", set.CheckSubject(""), "", ""},
		{"every region", set.CheckRegion(""), "", ""},
		{"subject outside the list", set.CheckSubject("Maths"), EINVALID,
			`Subject "Maths" is not in the configured list: pick one of maths, physics (an operator adds subjects with RELAIS_SUBJECTS).`},
		{"region outside the list", set.CheckRegion("Astana"), EINVALID,
			`Region "Astana" is not in the configured list: pick one of Almaty, Aktobe (an operator adds regions with RELAIS_REGIONS).`},
	} {
		if got := ErrorCode(tc.err); got != tc.code {
			t.Errorf("%s: code %q (%v), want %q", tc.name, got, tc.err, tc.code)
		}
		if tc.msg != "" && ErrorMessage(tc.err) != tc.msg {
			t.Errorf("%s: message %q, want %q", tc.name, ErrorMessage(tc.err), tc.msg)
		}
	}
	if diff := cmp.Diff(append(slices.Clone(DefaultSubjects), "art", "zoology"), open.SubjectChoices("zoology", "maths", "art", "")); diff != "" {
		t.Errorf("default subjects with those in use (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"maths", "physics", "french"}, set.SubjectChoices("french", "maths")); diff != "" {
		t.Errorf("configured subjects with a stored one (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Almaty", "Aktobe", "Astana"}, set.RegionChoices("Astana", "Almaty", "Astana")); diff != "" {
		t.Errorf("regions (-want +got):\n%s", diff)
	}
}

func TestParseList(t *testing.T) {
	got, err := ParseList("RELAIS_SUBJECTS", " maths, physics ,,art ")
	if err != nil || !slices.Equal(got, []string{"maths", "physics", "art"}) {
		t.Errorf("ParseList = %v, %v", got, err)
	}
	if got, err := ParseList("RELAIS_SUBJECTS", ""); err != nil || got != nil {
		t.Errorf("empty list = %v, %v; want none", got, err)
	}
	if _, err := ParseList("RELAIS_REGIONS", "Almaty,Aktobe,Almaty"); err == nil || !strings.Contains(err.Error(), `RELAIS_REGIONS: "Almaty" is given twice`) {
		t.Errorf("a region twice: %v", err)
	}
}

// TestTimeZonesCoverIANA: the zone pick list holds every zone of the tz database's zone tables (Debian's
// tzdata package, installed by scripts/test.sh), each loads from Go's embedded database, and the list is
// sorted without duplicates.
func TestTimeZonesCoverIANA(t *testing.T) {
	if !slices.IsSorted(TimeZones) || len(slices.Compact(slices.Clone(TimeZones))) != len(TimeZones) {
		t.Error("TimeZones is not sorted or holds a zone twice")
	}
	for _, z := range TimeZones {
		if _, err := time.LoadLocation(z); err != nil {
			t.Errorf("zone %s does not load: %v", z, err)
		}
	}
	n := 0
	for _, table := range []string{"/usr/share/zoneinfo/zone1970.tab", "/usr/share/zoneinfo/zone.tab"} {
		f, err := os.Open(table)
		if err != nil {
			t.Fatalf("%v (install Debian's tzdata: scripts/test.sh does)", err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Split(sc.Text(), "\t")
			if strings.HasPrefix(sc.Text(), "#") || len(fields) < 3 {
				continue
			}
			n++
			if _, found := slices.BinarySearch(TimeZones, fields[2]); !found {
				t.Errorf("%s lists %s, which TimeZones lacks (run scripts/gen-zones.sh)", table, fields[2])
			}
		}
		f.Close()
	}
	if n < 300 {
		t.Errorf("only %d zones read from the zone tables", n)
	}
}
