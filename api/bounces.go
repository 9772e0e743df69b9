package api

import (
	"errors"
	"net/http"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
)

// maxBounceBytes bounds one posted report.
const maxBounceBytes = 10 << 20

// importBounce reads one raw delivery status report (RFC 3464) from the body, as a mail server's pipe
// or a mailbox poller hands it over, and applies it (see channels.ReportReader; the email channel reads RFC 3464 reports): a hard bounce suppresses
// the address and fails the delivery, a soft one is recorded, and sent again when the relay gave up.
func (s *Server) importBounce(w http.ResponseWriter, r *http.Request) error {
	rr, ok := s.cfg.Channels.ReportReader()
	if !ok {
		return errors.New("bounces: no channel that reads delivery status reports is registered")
	}
	res, err := rr.ReadReport(r.Context(), s.store, channels.NewLedger(s.store, nil), http.MaxBytesReader(w, r.Body, maxBounceBytes))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.Is(err, channels.ErrNotReport):
		return relais.Errorf(relais.EINVALID, "The body is not a delivery status report (multipart/report; report-type=delivery-status).")
	case errors.Is(err, channels.ErrUnreadableReport):
		return relais.Errorf(relais.EINVALID, "The body is not a readable mail message.")
	case err != nil:
		return err
	}
	for _, id := range res.Resend {
		if err := s.queue.Resend(r.Context(), id); err != nil {
			return err
		}
	}
	if res.Failed == nil {
		res.Failed = []int64{}
	}
	if res.Resend == nil {
		res.Resend = []int64{}
	}
	writeJSON(w, 200, res)
	return nil
}
