package ingest

import (
	"os"
	"testing"
)

// checkTSTables reads the PSI/SI tables of a transport stream the way a receiver does, independently of
// FFmpeg: the SDT's service descriptor must announce an H.264 HD service (EN 300 468 service_type 0x19),
// and the PMT must give the sound an ISO 639 language descriptor with lang (none when lang is empty).
func checkTSTables(t *testing.T, path, lang string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sections := tsSections(b, 500)
	serviceType := -1
	for _, s := range sections[0x11] {
		if s[0] != 0x42 { // SDT, actual transport stream
			continue
		}
		// table header (8 bytes) + original_network_id (2) + reserved (1), then the services.
		for p := 11; p+5 <= len(s)-4; {
			loop := int(s[p+3]&0x0f)<<8 | int(s[p+4])
			for d := p + 5; d+2 <= p+5+loop; d += 2 + int(s[d+1]) {
				if s[d] == 0x48 { // service_descriptor
					serviceType = int(s[d+2])
				}
			}
			p += 5 + loop
		}
	}
	if serviceType != 0x19 {
		t.Errorf("SDT service_type = %#x, want 0x19 (H.264 HD digital television)", serviceType)
	}
	var pmtPID = -1
	for _, s := range sections[0x00] { // PAT
		for p := 8; p+4 <= len(s)-4; p += 4 {
			if prog := int(s[p])<<8 | int(s[p+1]); prog != 0 {
				pmtPID = int(s[p+2]&0x1f)<<8 | int(s[p+3])
			}
		}
	}
	if pmtPID < 0 || len(sections[pmtPID]) == 0 {
		t.Fatalf("no PMT found (PAT names PID %d)", pmtPID)
	}
	var langs []string
	s := sections[pmtPID][0]
	progInfo := int(s[10]&0x0f)<<8 | int(s[11])
	for p := 12 + progInfo; p+5 <= len(s)-4; {
		streamType := s[p]
		esInfo := int(s[p+3]&0x0f)<<8 | int(s[p+4])
		for d := p + 5; d+2 <= p+5+esInfo; d += 2 + int(s[d+1]) {
			if s[d] == 0x0a && streamType != 0x1b { // ISO_639_language_descriptor, not on the H.264 video
				langs = append(langs, string(s[d+2:d+5]))
			}
		}
		p += 5 + esInfo
	}
	switch {
	case lang == "" && len(langs) != 0:
		t.Errorf("PMT gives the sound languages %v, want none", langs)
	case lang != "" && (len(langs) != 1 || langs[0] != lang):
		t.Errorf("PMT gives the sound languages %v, want [%s]", langs, lang)
	}
}

// tsSections returns, per PID, the PSI sections that start in the first n packets of a transport
// stream (sections that span packets are not reassembled: Relais' tables fit in one).
func tsSections(b []byte, n int) map[int][][]byte {
	out := map[int][][]byte{}
	for i := 0; i+188 <= len(b) && i/188 < n; i += 188 {
		pkt := b[i : i+188]
		if pkt[0] != 0x47 || pkt[1]&0x40 == 0 { // sync byte; payload_unit_start_indicator
			continue
		}
		pid := int(pkt[1]&0x1f)<<8 | int(pkt[2])
		if pid != 0x00 && pid != 0x11 && pid < 0x1000 || pid > 0x1fff {
			continue
		}
		p := 4
		if pkt[3]&0x20 != 0 { // adaptation field
			p += 1 + int(pkt[4])
		}
		if pkt[3]&0x10 == 0 || p >= 188 {
			continue
		}
		p += 1 + int(pkt[p]) // pointer_field
		if p+3 > 188 {
			continue
		}
		length := int(pkt[p+1]&0x0f)<<8 | int(pkt[p+2])
		if p+3+length > 188 {
			continue
		}
		out[pid] = append(out[pid], pkt[p:p+3+length])
	}
	return out
}
